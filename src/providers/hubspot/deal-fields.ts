import { z } from 'zod';
import { parseAnswer } from '../account-answer.ts';
import type { RemoteField } from '../types.ts';

const properties = z.looseObject({ results: z.array(z.looseObject({ name: z.string().min(1), type: z.string() })) });

/** HubSpot's deal properties (GET /crm/v3/properties/deals), parsed. */
export function hubspotDealFields(answer: unknown): RemoteField[] {
  return parseAnswer('hubspot', 'HubSpot', 'deal properties lookup', properties, answer).results.map((p) => ({ key: p.name, type: p.type }));
}
