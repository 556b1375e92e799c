import { afterAll, beforeAll, describe, it } from 'vitest';
import { runSeed } from './convergence/scenario.ts';
import { startWorld, type World } from './convergence/world.ts';

/**
 * The proof of convergence (issue 5). Per seed, on a fresh account with a HubSpot portal and a
 * Pipedrive company of its own (test/convergence/):
 * - operations.ts draws 3-5 rounds of 2-5 operations: API creates, edits (title, amount, close date,
 *   stage), wins, losses, reopens and deletes; people in each CRM's UI creating, editing, moving
 *   stages, winning, losing, reopening (Pipedrive), deleting and merging deals; and per round,
 *   per CRM, webhook faults (dropped, duplicated, delayed, reordered), API latency, 5xx and 429s;
 *   in some seeds the worker process is SIGKILLed mid-round and restarted (world.ts);
 * - between rounds the harness waits until nothing is queued, dirty or on its way, so the
 *   operations of one round are concurrent and rounds are ordered (model.ts explains the oracle);
 * - then the faults stop, everything settles, one reconciliation pass runs per connection, it
 *   settles again, and checker.ts compares canonical, HubSpot and Pipedrive with the model.
 * A failing seed prints `replay: npm run test:convergence -- --seed <n>`, its operation log, the
 * final values and the sync's own timeline of the opportunities concerned.
 * `npm run test:convergence -- --seeds N [--first S] | --seed S [--verbose]` runs other seeds.
 */

function seeds(): number[] {
  const single = process.env.CONVERGENCE_SEED;
  if (single) return [Number(single)];
  const count = Number(process.env.CONVERGENCE_SEEDS || 30);
  const first = Number(process.env.CONVERGENCE_FIRST_SEED || 1);
  return Array.from({ length: count }, (_, i) => first + i);
}

let world: World;

beforeAll(async () => {
  world = await startWorld();
}, 60_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

describe('convergence under faults', () => {
  for (const seed of seeds()) {
    it(`seed ${seed}`, { timeout: 240_000 }, async () => {
      const report = await runSeed(world, seed, { reconcile: true });
      if (process.env.CONVERGENCE_VERBOSE) console.log(report.log.join('\n'));
      if (report.problems.length === 0) return;
      const message = [
        `seed ${seed} did not converge (${report.ms} ms)`,
        `replay: npm run test:convergence -- --seed ${seed}`,
        'problems:',
        ...report.problems.map((p) => `  - ${p}`),
        'operations:',
        ...report.log.map((l) => `  ${l}`),
      ].join('\n');
      console.error(message);
      throw new Error(message);
    });
  }
});
