/**
 * How deep JSON from outside may nest. Our bodies need a handful of levels (a Pipedrive webhook's
 * custom field values sit at four); everything that walks a parsed value recursively (JSON.parse's
 * reviver, schema validation, JSON.stringify when a delivery is queued) overflows the stack at some
 * thousands. The limit is checked on the text before it is parsed.
 */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]); // [ {
const CLOSERS = new Set([0x5d, 0x7d]); // ] }

/**
 * Whether JSON text opens more than `max` arrays and objects inside each other. One pass, no
 * recursion, strings skipped; it does not validate (the parser does that after). Works on UTF-8
 * bytes as on strings: none of these characters occurs inside a multi-byte UTF-8 sequence.
 */
export function nestedDeeperThan(text: string | Uint8Array, max = MAX_JSON_DEPTH): boolean {
  const codeAt = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i]!;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = codeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) inString = true;
    else if (OPENERS.has(code)) {
      if (++depth > max) return true;
    } else if (CLOSERS.has(code)) depth--;
  }
  return false;
}

export const tooDeepMessage = (max = MAX_JSON_DEPTH) => `is nested deeper than ${max} levels`;
