import { describe } from 'vitest';
import { convergenceShard } from './suite.ts';

// One of the shards of the convergence proof: suite.ts says what it does, seeds.ts which seeds run here.
describe('convergence under faults (shard 1)', () => convergenceShard(1));
