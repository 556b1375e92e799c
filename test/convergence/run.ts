import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { chosenSeeds, seedsOfShard, SHARDS } from './seeds.ts';

/**
 * `npm run test:convergence -- --seeds N` (seeds 1..N, or from --first), `--seed S` (one seed, to
 * replay a failure), `--verbose` (print every seed's operation log). vitest takes no unknown flags,
 * so the choice travels to the shards (test/convergence/shard-*.test.ts, seeds.ts) in environment
 * variables; the shards split the chosen seeds between them and run side by side.
 */
const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    seed: { type: 'string' },
    first: { type: 'string' },
    verbose: { type: 'boolean' },
  },
});

const integer = (name: string, value: string | undefined) => {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    console.error(`--${name} must be a whole number, got ${value}`);
    process.exit(2);
  }
  return value;
};

const env: NodeJS.ProcessEnv = { ...process.env };
const seeds = integer('seeds', values.seeds);
const seed = integer('seed', values.seed);
const first = integer('first', values.first);
if (seeds) env.CONVERGENCE_SEEDS = seeds;
if (seed) env.CONVERGENCE_SEED = seed;
if (first) env.CONVERGENCE_FIRST_SEED = first;
if (values.verbose) env.CONVERGENCE_VERBOSE = '1';

const vitest = new URL('../../node_modules/vitest/vitest.mjs', import.meta.url).pathname;
// Only the shards this run deals seeds to (a single --seed has one).
const chosen = chosenSeeds(env);
const shards = Array.from({ length: SHARDS }, (_, i) => i + 1).filter((shard) => seedsOfShard(shard, chosen).length > 0);
const files = shards.map((shard) => `test/convergence/shard-${shard}.test.ts`);
const child = spawn(process.execPath, [vitest, 'run', ...files], { env, stdio: 'inherit', cwd: new URL('../..', import.meta.url).pathname });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
