import { defineConfig } from 'vitest/config';
import LongestFirst from './test/support/sequencer.ts';

export default defineConfig({
  test: {
    // Deadlines only bound a failing test (speed is never asserted): with 8 files at once on 2
    // cores, a test that starts CLI child processes can take tens of seconds to pass.
    testTimeout: 90_000,
    hookTimeout: 90_000,
    // Files run in parallel: each integration file has a database of its own
    // (test/support/database.ts) and a Redis key prefix or server of its own. vitest's default on
    // this 2-core machine is one worker (cores - 1), so the files ran one after another; most of
    // their time is spent waiting (on Postgres, Redis, the sandboxes' HTTP, timers, child
    // processes), so more workers than cores pay off. 6: the 5 convergence shards start at once
    // with one worker for the other files while they run; 8 was no faster (CPU is the limit) and
    // took PostgreSQL closer to its 100 connections.
    maxWorkers: 6,
    // PostgreSQL takes 100 connections, and files at once (plus their `crm-sync work` children,
    // which inherit this) kept up to 20 pooled connections each, mostly idle: "too many clients".
    // postgres.js reads its idle_timeout default from PGIDLE_TIMEOUT, so every pool a test opens
    // lets a connection go after 2 idle seconds.
    env: { PGIDLE_TIMEOUT: '2' },
    sequence: { sequencer: LongestFirst },
    // Children a test started and could not stop (it timed out first) are killed when the run ends.
    globalSetup: ['test/support/reap-children.ts'],
    projects: [
      {
        // Pure tests: no PostgreSQL, no Redis (`npm run test:unit` runs them without either).
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        // On real PostgreSQL and Redis, the sandboxes over HTTP, child processes; the convergence
        // proof's shards (test/convergence/shard-*.test.ts) too. A worker runs file after file in
        // one process (isolate: false), so the server, BullMQ, the CRM SDKs and zod are loaded
        // once per worker instead of once per file: that loading was about half of these files'
        // CPU time, and CPU is what a 2-core machine runs out of. Files share no state: each
        // makes its own database, Redis prefix, sandboxes and server in beforeAll.
        test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: ['test/unit/**'], isolate: false },
      },
    ],
  },
});
