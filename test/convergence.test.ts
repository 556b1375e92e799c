import { afterAll, beforeAll, describe, it } from 'vitest';
import { runSeed } from './convergence/scenario.ts';
import { startWorld, type World } from './convergence/world.ts';

/**
 * The proof of convergence (issue 5): per seed, a random mix of API edits, people working in each
 * CRM (edits, stage moves, wins, losses, deletes, merges), webhook faults (dropped, duplicated,
 * delayed, reordered), 429s, 5xx and a killed worker; then the faults stop, a reconciliation pass
 * runs, and canonical, HubSpot and Pipedrive must agree as the conflict policy says (checker.ts,
 * model.ts). `npm run test:convergence -- --seeds N | --seed S [--first S]` runs other seeds.
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
