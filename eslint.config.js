import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

// ---------------------------------------------------------------------------------------------
// Architecture (DESIGN.md §2), checked on every `npm run lint`. test/unit/architecture.test.ts
// checks the CRM SDK and provider-folder rules a second time by reading the files, and checks
// that these rules still report what they should (so a rule that stops matching fails a test).
// ---------------------------------------------------------------------------------------------

/** One folder per CRM under src/providers/, and the SDK only that folder may import. */
const crms = { hubspot: ['@hubspot/api-client'], pipedrive: ['pipedrive'] };
const crmNames = Object.keys(crms);
const crmSdks = Object.values(crms).flat();
/** What "no I/O" means for src/sync: the store, the queues, the HTTP server, the network, files. */
const ioPackages = ['drizzle-orm', 'postgres', 'ioredis', 'bullmq', 'fastify', 'node:fs', 'node:net', 'node:http', 'node:https', 'node:http2', 'node:tls', 'node:dgram', 'node:dns', 'node:child_process'];


/**
 * Who may import what of ours, by the RESOLVED path of the import (so the depth of a file and of
 * its `../..` does not matter), and which packages each place may not import. A file belongs to
 * the first layer whose `files` matches. Paths are from the repository root: a trailing `/` means
 * "anything under that folder", `*` one path segment, anything else one file.
 * - `allow`: if present, the only files of ours this layer may import (values and types);
 * - `allowTypes`: files it may import with `import type` / `export type` only (erased at run time);
 * - `deny`: files it may never import; `denyPackages`: packages (and their subpaths) it may never import.
 */
const layers = [
  ...crmNames.map((crm) => ({
    files: `src/providers/${crm}/`,
    why: 'a provider imports only its own folder, the shared provider files (src/providers/*.ts but the registry), sync and model; never BullMQ, jobs, orchestration, api, webhooks or another provider',
    // DESIGN.md says "model types", but the providers' field mappings still call attributeFromRemote
    // (src/model/sync-state/sync-fields.ts): model values are allowed here until that moves.
    allow: [`src/providers/${crm}/`, 'src/providers/*.ts', 'src/sync/', 'src/model/'],
    deny: ['src/providers/index.ts'], // the registry imports the providers, not the other way round
    denyPackages: ['bullmq', ...crmNames.filter((other) => other !== crm).flatMap((other) => crms[other])],
  })),
  {
    files: 'src/providers/index.ts',
    why: 'the registry lists the provider modules; it imports them, the shared provider files and model',
    allow: ['src/providers/', 'src/model/'],
    denyPackages: ['bullmq', ...crmSdks],
  },
  {
    files: 'src/providers/',
    why: 'the shared provider files (types.ts, errors.ts, ...) import each other, model and sync, never the registry, a provider folder, BullMQ or an SDK',
    allow: ['src/providers/*.ts', 'src/sync/', 'src/model/'],
    deny: ['src/providers/index.ts'],
    denyPackages: ['bullmq', ...crmSdks],
  },
  {
    files: 'src/model/',
    why: 'src/model imports nothing of ours but src/config.ts',
    allow: ['src/model/', 'src/config.ts'],
    denyPackages: crmSdks,
  },
  {
    files: 'src/sync/',
    why: 'src/sync is pure rules: other sync files and model types only, no I/O',
    // The schema's enums (states, attribute types) are plain constants: importing them does no I/O.
    allow: ['src/sync/', 'src/model/store/schema.ts'],
    allowTypes: ['src/model/'],
    denyPackages: [...ioPackages, ...crmSdks],
  },
  {
    files: 'src/sandbox/',
    why: 'the sandboxes (local fake CRMs) import nothing of ours',
    allow: ['src/sandbox/'],
  },
  {
    files: 'src/',
    why: 'outside a provider folder, reach a provider through the registry src/providers/index.ts, never its files or its SDK',
    deny: ['src/providers/*/'],
    denyPackages: crmSdks,
  },
];

const root = import.meta.dirname;
const toPosix = (file) => file.split(path.sep).join('/');
const pathPattern = (pattern) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]+')}${pattern.endsWith('/') ? '' : '$'}`);
const compiled = layers.map((layer) => ({
  ...layer,
  filesRe: pathPattern(layer.files),
  allowRe: layer.allow?.map(pathPattern),
  allowTypesRe: (layer.allowTypes ?? []).map(pathPattern),
  denyRe: (layer.deny ?? []).map(pathPattern),
  denyPackages: (layer.denyPackages ?? []).map((name) => name.replace(/^node:/, '')),
}));

const architecture = {
  meta: { name: 'crm-sync-architecture' },
  rules: {
    /** The layer table above. */
    imports: {
      meta: {
        type: 'problem',
        schema: [],
        messages: {
          file: "{{file}} may not import '{{target}}': {{why}} (DESIGN.md §2)",
          typesOnly: "{{file}} may import '{{target}}' only with `import type`: {{why}} (DESIGN.md §2)",
          package: "{{file}} may not import the package '{{target}}': {{why}} (DESIGN.md §2)",
        },
      },
      create(context) {
        const file = toPosix(path.relative(root, context.filename));
        const layer = compiled.find((candidate) => candidate.filesRe.test(file));
        if (!layer) return {};
        const check = (node, source, typeOnly) => {
          if (source?.type !== 'Literal' || typeof source.value !== 'string') return;
          const specifier = source.value;
          const data = { file, target: specifier, why: layer.why };
          if (!specifier.startsWith('.')) {
            const name = specifier.replace(/^node:/, '');
            if (layer.denyPackages.some((denied) => name === denied || name.startsWith(`${denied}/`))) {
              context.report({ node, messageId: 'package', data });
            }
            return;
          }
          const target = toPosix(path.relative(root, path.resolve(path.dirname(context.filename), specifier)));
          if (layer.denyRe.some((re) => re.test(target))) return context.report({ node, messageId: 'file', data });
          if (!layer.allowRe || layer.allowRe.some((re) => re.test(target))) return;
          if (layer.allowTypesRe.some((re) => re.test(target))) {
            if (!typeOnly) context.report({ node, messageId: 'typesOnly', data });
            return;
          }
          context.report({ node, messageId: 'file', data });
        };
        return {
          ImportDeclaration: (node) => check(node, node.source, node.importKind === 'type'),
          ExportNamedDeclaration: (node) => check(node, node.source, node.exportKind === 'type'),
          ExportAllDeclaration: (node) => check(node, node.source, node.exportKind === 'type'),
          ImportExpression: (node) => check(node, node.source, false),
          TSImportType: (node) => check(node, node.source ?? node.argument?.literal, true), // `import('x').T`
        };
      },
    },
    /** No string naming a CRM outside the files that may (see the `files`/`ignores` below). Comments are fine. */
    'no-provider-names': {
      meta: {
        type: 'problem',
        schema: [],
        messages: {
          named:
            "'{{text}}' names a CRM: only src/providers/<crm>/ and the registry src/providers/index.ts name providers; go through the registry or the connection's provider (DESIGN.md §2)",
        },
      },
      create(context) {
        const names = new RegExp(crmNames.join('|'), 'i');
        const report = (node, text) => context.report({ node, messageId: 'named', data: { text: text.length > 60 ? `${text.slice(0, 57)}...` : text } });
        return {
          Literal(node) {
            if (typeof node.value === 'string' && names.test(node.value)) report(node, node.value);
            else if (node.regex && names.test(node.regex.pattern)) report(node, `/${node.regex.pattern}/`);
          },
          TemplateElement(node) {
            if (names.test(node.value.raw)) report(node, node.value.raw);
          },
        };
      },
    },
  },
};

export default tseslint.config(
  { ignores: ['node_modules/', 'drizzle/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // `import { type A } from './a.ts'` stays in the output as `import {} from './a.ts'` and still
      // loads a.ts: write `import type { A }`, so that "type-only" below means "erased at run time".
      '@typescript-eslint/no-import-type-side-effects': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { architecture, 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
    },
    rules: {
      'architecture/imports': 'error',
      // No import cycles in src/ (eslint-plugin-import-x, pinned; it supports ESLint 10 and flat
      // config). `import type` edges are not followed (the rule's default): Node erases them, so
      // they cannot change the order modules are evaluated in, and no-import-type-side-effects above
      // makes every type-only import an erased one. Packages are not traversed (ignoreExternal).
      // test/unit/architecture.test.ts checks on a scratch tree that a cycle is still reported.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: [
      ...crmNames.map((crm) => `src/providers/${crm}/**`),
      'src/providers/index.ts',
      'src/sandbox/**', // the fake CRMs
      'src/demo/**', // the story told against both sandboxes
      'src/config.ts', // env var names (HUBSPOT_CLIENT_SECRET, ...)
      'src/cli.ts', // starts the sandboxes
      'src/model/store/schema.ts', // the provider enum of the connections column
    ],
    rules: { 'architecture/no-provider-names': 'error' },
  },
);
