import { MAX_JSON_DEPTH, nestedDeeperThan, tooDeepMessage } from '../model/store/json-depth.ts';

/** The JSON of a webhook body, or undefined when it is not JSON (or nested too deep): the receiver answers 400 then. */
export function parseJsonBody(raw: Buffer): unknown {
  if (nestedDeeperThan(raw, MAX_JSON_DEPTH)) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * A body nested too deep to handle safely, refused (400) before it is parsed: queueing it would
 * overflow the stack and answer 503, and the CRM would retry that poisoned delivery for a day.
 */
export function tooDeep(raw: Buffer): { refused: { status: 400; message: string } } | undefined {
  return nestedDeeperThan(raw, MAX_JSON_DEPTH) ? { refused: { status: 400, message: `the body ${tooDeepMessage()}` } } : undefined;
}

/** One header's value, as Node hands headers that came more than once. */
export const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
