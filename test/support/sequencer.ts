import { statSync } from 'node:fs';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The order files start in: the longest first, so that the long ones (the convergence shards, the
 * tests that run `crm-sync` child processes) are not left to start last while the other workers
 * sit idle. vitest's own order uses the durations it cached from the last run; a file it has no
 * duration for (a fresh clone, CI, a new file) it would rank by its size, and a convergence shard
 * is a file of four lines. So a file without a cached duration gets an estimate: the known slow
 * ones by name, any other by its size (about a second per kilobyte, which is of the right order
 * for this suite). Failed files still go first, as vitest does.
 */
const SLOW: [RegExp, number][] = [
  [/test\/convergence\/shard-\d+\.test\.ts$/, 120_000],
  [/test\/outbound-resilience\.test\.ts$/, 60_000],
  [/test\/cli\.test\.ts$/, 30_000],
  [/test\/outbound\.test\.ts$/, 30_000],
  [/test\/reconcile\.test\.ts$/, 15_000],
];

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const estimate = (spec: TestSpecification): { failed: boolean; ms: number } => {
      const result = this.ctx.cache.getTestSpecificationResult(spec);
      if (result) return { failed: result.failed, ms: result.duration };
      const slow = SLOW.find(([pattern]) => pattern.test(spec.moduleId));
      return { failed: false, ms: slow ? slow[1] : statSync(spec.moduleId).size };
    };
    const known = new Map(files.map((spec) => [spec, estimate(spec)]));
    return [...files].sort((a, b) => {
      const x = known.get(a)!;
      const y = known.get(b)!;
      if (x.failed !== y.failed) return x.failed ? -1 : 1;
      return y.ms - x.ms;
    });
  }
}
