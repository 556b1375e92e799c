import type { z } from 'zod';
import { CrmError } from './errors.ts';
import type { Provider } from '../model/store/schema.ts';

/**
 * Parses what a CRM answered to the account lookup. An answer that does not fit (`{}`, a portal
 * without an id) is the CRM's failure, not ours and not the caller's: a CrmError the API answers
 * with 502, and never a connection with `remoteAccountId: "undefined"`.
 */
export function parseAnswer<T extends z.ZodType>(provider: Provider, label: string, what: string, schema: T, answer: unknown): z.output<T> {
  const parsed = schema.safeParse(answer);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(the body)'}: ${i.message}`);
  throw new CrmError(provider, 'server', `${label} answered the ${what} with something that is not one (${issues.join('; ')})`);
}
