import { z } from 'zod';
import { parseAnswer } from '../account-answer.ts';
import type { RemoteField } from '../types.ts';

const fields = z.looseObject({ data: z.array(z.looseObject({ field_code: z.string().min(1), field_type: z.string() })).nullish() });

/** Pipedrive's deal fields (GET /api/v2/dealFields), parsed: custom fields are keyed by their field_code. */
export function pipedriveDealFields(answer: unknown): RemoteField[] {
  return (parseAnswer('pipedrive', 'Pipedrive', 'deal fields lookup', fields, answer).data ?? []).map((f) => ({ key: f.field_code, type: f.field_type }));
}
