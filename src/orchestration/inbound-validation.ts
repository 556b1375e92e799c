import type { z } from 'zod';
import { checkAttributes } from '../model/accounts/attributes.ts';
import { opportunityCloseSchema, opportunityPatchSchema } from '../model/opportunities/opportunity-schema.ts';
import type { Executor } from '../model/store/db.ts';
import type { RemoteState } from '../providers/types.ts';
import type { MappingProblem, SyncFields } from '../sync/fields.ts';

/**
 * The API's own schema of each field a CRM may write. State comes from a closed list the mappings
 * produce; the primary contact is matched by email, not written as a field.
 */
const apiSchemas: Partial<Record<keyof SyncFields, z.ZodType>> = {
  ...Object.fromEntries((['title', 'description', 'amount', 'currency', 'closeDate', 'stage', 'pipeline', 'probability', 'source', 'assigneeId'] as const).map((k) => [k, opportunityPatchSchema.shape[k]])),
  lostReason: opportunityCloseSchema.shape.reason.unwrap().nullable(),
};

const shown = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** The fields of a CRM's deal that the API itself would refuse, with why. */
function refusedColumns(fields: Partial<SyncFields>): MappingProblem[] {
  const problems: MappingProblem[] = [];
  for (const [name, schema] of Object.entries(apiSchemas)) {
    const value = fields[name as keyof SyncFields];
    if (value === undefined) continue;
    const checked = schema.safeParse(value);
    if (!checked.success) problems.push({ field: name, value: shown(value), message: `${checked.error.issues[0]?.message ?? 'is not valid'}; not taken from the CRM` });
  }
  return problems;
}

/**
 * A CRM's deal, validated as API input is before anything of it is written (DESIGN §4): the fields
 * and attribute values the API would refuse (an enum option the attribute does not have, a
 * malformed amount, an unknown currency) are left out, each a mapping problem of this pull, so the
 * canonical value and the base stay as they are and the other fields and CRMs sync on.
 */
export async function validInbound(tx: Executor, accountId: string, state: RemoteState): Promise<RemoteState> {
  if (state.deleted) return state;
  const problems = refusedColumns(state.fields);
  const attributes = state.fields.attributes ?? {};
  const present = Object.fromEntries(Object.entries(attributes).filter(([, value]) => value !== null));
  for (const error of await checkAttributes(tx, accountId, present)) {
    problems.push({ field: error.field, value: shown(attributes[error.field.slice('attributes.'.length)]), message: `${error.message}; not taken from the CRM` });
  }
  if (problems.length === 0) return state;
  const fields: Record<string, unknown> = { ...state.fields };
  const keptAttributes = { ...attributes };
  for (const problem of problems) {
    if (problem.field.startsWith('attributes.')) delete keptAttributes[problem.field.slice('attributes.'.length)];
    else delete fields[problem.field];
  }
  if (state.fields.attributes) fields.attributes = keptAttributes;
  return { ...state, fields: fields as Partial<SyncFields>, problems: [...state.problems, ...problems] };
}
