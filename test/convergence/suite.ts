import { afterAll, beforeAll, it } from 'vitest';
import { runSeed } from './scenario.ts';
import { seedsOfShard } from './seeds.ts';
import { startWorld, type World } from './world.ts';

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
 * - then the faults stop and everything settles; in a seed that dropped no webhook, checker.ts
 *   compares canonical, HubSpot and Pipedrive with the model right then, by webhooks alone (a race
 *   between webhooks and flushes that only reconciliation repairs fails it);
 * - then one reconciliation pass runs per connection, it settles again, and checker.ts compares
 *   them again (every seed).
 * A failing seed prints `replay: npm run test:convergence -- --seed <n>`, its operation log, the
 * final values and the sync's own timeline of the opportunities concerned.
 * `npm run test:convergence -- --seeds N [--first S] | --seed S [--verbose]` runs other seeds.
 *
 * The seeds are dealt out to SHARDS test files (seeds.ts); each shard runs its seeds one after
 * another in a world of its own, and the shards run in parallel. Called inside a shard file's
 * describe (written out, so that `vitest list` finds the suite without running the file). A seed's tenant (account,
 * sandboxes, connections) is its own, so which world or shard runs it does not change the seed.
 */
export function convergenceShard(shard: number) {
  const seeds = seedsOfShard(shard);
  // A run of fewer seeds than shards (--seed S) leaves some without any: run.ts does not start
  // those, and one started by hand has no test, which vitest reports.
  if (seeds.length === 0) return;

  let world: World;

  // Five worlds start at once (a database, a Redis server, the API and a `crm-sync work` child
  // each): on a loaded 2-core machine that took over a minute.
  beforeAll(async () => {
    world = await startWorld();
  }, 180_000);

  afterAll(async () => {
    await world?.close();
  }, 60_000);

  for (const seed of seeds) {
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
}
