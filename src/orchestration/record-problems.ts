import type { MappingProblem } from '../sync/fields.ts';
import type { RecordProblem } from '../model/sync-state/problems.ts';

/** A connector's mapping problems as the store keeps them. */
export const fromMapping = (problems: MappingProblem[]): RecordProblem[] => problems.map((p) => ({ field: p.field, value: p.value, cause: p.message }));

/** The record as a whole could not be written or read: the cause, no field. */
export const wholeRecord = (cause: string): RecordProblem[] => [{ field: null, value: null, cause }];
