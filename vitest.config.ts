import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file gets its own database (test/support/database.ts), so files run in parallel safely.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
