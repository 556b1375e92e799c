import { z } from 'zod';

/**
 * Amounts are exact decimals. JSON numbers are accepted only when the number the client wrote
 * survives the trip through a double: the JSON body parser replaces every number that does not
 * with an InexactNumber, which no number schema accepts.
 */
export class InexactNumber {
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
  toJSON() {
    return this.source;
  }
}

const DECIMAL = /^(0|[1-9]\d{0,19})(\.\d{1,6})?$/;

/** `{ "amount": 12.5 }` → "12.5"; the parser has already refused numbers a double would change. */
function numberToDecimal(value: number): string | undefined {
  if (!Number.isFinite(value)) return undefined;
  const text = String(value);
  return /e/i.test(text) ? undefined : text;
}

export const amountSchema = z
  .union([z.string(), z.number(), z.instanceof(InexactNumber)])
  .transform((value, ctx) => {
    if (value instanceof InexactNumber) {
      ctx.addIssue({
        code: 'custom',
        message: `${value.source} cannot be represented exactly as a JSON number; send it as a decimal string`,
      });
      return z.NEVER;
    }
    const text = typeof value === 'number' ? numberToDecimal(value) : value;
    if (text === undefined || !DECIMAL.test(text)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a non-negative decimal with up to 20 integer and 6 fractional digits, e.g. "1234.50"',
      });
      return z.NEVER;
    }
    return text;
  })
  .meta({ type: 'string', example: '1234.50', description: 'Exact decimal as a string (a JSON number is accepted only when exact)' });

/** Does `source` (a JSON number literal) denote exactly the decimal that `value` prints as? */
export function jsonNumberIsExact(source: string, value: number): boolean {
  return normaliseDecimal(source) === normaliseDecimal(String(value));
}

/** Canonical form of a decimal literal: sign, significant digits and power of ten. */
function normaliseDecimal(literal: string): string {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return literal;
  const [, sign, intPart = '', fracPart = '', exp = '0'] = match;
  const digits = (intPart + fracPart).replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  const power = Number(exp) - fracPart.length + (digits.length - significant.length);
  return `${sign}${significant}e${power}`;
}

/** "1234.5" and "1234.50" are the same amount. */
export function sameDecimal(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return normaliseDecimal(a) === normaliseDecimal(b);
}
