import { statSync } from 'node:fs';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The order files start in: the longest first, so that the long ones (the convergence shards, the
 * tests that run `crm-sync` child processes) are not left to start last while the other workers
 * sit idle: the run takes as long as its longest file plus whatever started late.
 *
 * vitest's own order puts the files that failed last time first, then ranks by the durations it
 * cached, and a file it has no duration for (a fresh clone, CI, a new file) by its size, and a
 * convergence shard is a file of four lines. Each of those can start a long file last: a file that
 * failed early (or a shard that broke off) has a short cached duration, and failing first means
 * a failed run is followed by a slow one. So: the cached duration, but never below the estimate
 * of the known slow files; any other file without one by its size (about a second per kilobyte,
 * the right order for this suite). No failed-first: total time is what this order is for.
 */
const SLOW: [RegExp, number][] = [
  [/test\/convergence\/shard-\d+\.test\.ts$/, 120_000],
  [/test\/outbound-resilience\.test\.ts$/, 100_000],
  [/test\/cli\.test\.ts$/, 30_000],
  [/test\/outbound\.test\.ts$/, 30_000],
  [/test\/reconcile\.test\.ts$/, 15_000],
];

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const estimate = (spec: TestSpecification): number => {
      const cached = this.ctx.cache.getTestSpecificationResult(spec)?.duration;
      const slow = SLOW.find(([pattern]) => pattern.test(spec.moduleId))?.[1];
      return Math.max(cached ?? 0, slow ?? 0) || statSync(spec.moduleId).size;
    };
    const ms = new Map(files.map((spec) => [spec, estimate(spec)]));
    return [...files].sort((a, b) => ms.get(b)! - ms.get(a)!);
  }
}
