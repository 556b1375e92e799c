import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'drizzle/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Folder boundaries from DESIGN.md §2: the model never reaches up into the layers above it.
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['src/model/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../api/*', '../jobs/*', '../sync/*', '../connectors/*', '../webhooks/*'], message: 'src/model may import only config (DESIGN.md §2)' }] },
      ],
    },
  },
);
