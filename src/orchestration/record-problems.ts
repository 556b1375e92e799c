import type { MappingProblem } from '../sync/fields.ts';
import { setRecordProblems, type ProblemKey, type RecordProblem } from '../model/sync-state/problems.ts';
import type { Executor } from '../model/store/db.ts';

/** A connector's mapping problems as the store keeps them. */
export const fromMapping = (problems: MappingProblem[]): RecordProblem[] => problems.map((p) => ({ field: p.field, value: p.value, cause: p.message }));

/** The record as a whole could not be written or read: the cause, no field. */
export const wholeRecord = (cause: string): RecordProblem[] => [{ field: null, value: null, cause }];

/** The deal is gone from the CRM (deleted, merged away): nothing about it is a problem any more. */
export async function clearRecordProblems(db: Executor, key: Omit<ProblemKey, 'direction'>): Promise<void> {
  await setRecordProblems(db, { ...key, direction: 'push' }, []);
  await setRecordProblems(db, { ...key, direction: 'pull' }, []);
}
