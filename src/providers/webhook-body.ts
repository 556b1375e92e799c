/** The JSON of a webhook body, or undefined when it is not JSON: the receiver answers 400 then. */
export function parseJsonBody(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** One header's value, as Node hands headers that came more than once. */
export const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
