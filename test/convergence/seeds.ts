import { readdirSync } from 'node:fs';

/**
 * Which seeds a run takes, and how they are dealt out to the shards. `npm run test:convergence`
 * (run.ts) passes its choice in environment variables, since vitest takes no unknown flags; with
 * none, `npm test` runs seeds 1..30.
 */

/**
 * How many test files (test/convergence/shard-<n>.test.ts, n = 1..SHARDS) share the seeds: counted
 * from the folder, so a shard added or removed can never leave seeds unrun. Each shard is a world of
 * its own (world.ts: database, Redis server, API, `crm-sync work`), so the shards run side by side
 * in vitest's workers instead of 30 seeds one after another in one world.
 */
export const SHARDS = readdirSync(new URL('.', import.meta.url)).filter((name) => /^shard-\d+\.test\.ts$/.test(name)).length;

export function chosenSeeds(env: NodeJS.ProcessEnv = process.env): number[] {
  const single = env.CONVERGENCE_SEED;
  if (single) return [Number(single)];
  const count = Number(env.CONVERGENCE_SEEDS || 30);
  const first = Number(env.CONVERGENCE_FIRST_SEED || 1);
  return Array.from({ length: count }, (_, i) => first + i);
}

/** Shard `shard` (1..SHARDS) takes every SHARDS-th seed of the run, so the long seeds spread out. */
export function seedsOfShard(shard: number, seeds = chosenSeeds()): number[] {
  if (!Number.isInteger(shard) || shard < 1 || shard > SHARDS) throw new Error(`shard ${shard} is not one of shard-1..${SHARDS}.test.ts`);
  return seeds.filter((_, index) => index % SHARDS === shard - 1);
}
