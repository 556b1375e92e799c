import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../../src/model/store/json-depth.ts';

const nested = (levels: number, open = '[', close = ']') => open.repeat(levels) + close.repeat(levels);

describe('the JSON depth limit', () => {
  it('counts arrays and objects inside each other, on strings and on UTF-8 bytes', () => {
    expect(nestedDeeperThan(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(nestedDeeperThan(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(nestedDeeperThan(Buffer.from(nested(MAX_JSON_DEPTH + 1)))).toBe(true);
    expect(nestedDeeperThan('{"a":{"b":{"c":[1]}}}', 4)).toBe(false);
    expect(nestedDeeperThan('{"a":{"b":{"c":[1]}}}', 3)).toBe(true);
    // Siblings do not add up.
    expect(nestedDeeperThan(`[${Array(100).fill('[]').join(',')}]`, 2)).toBe(false);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    expect(nestedDeeperThan(JSON.stringify({ text: nested(1000) }), 2)).toBe(false);
    expect(nestedDeeperThan(JSON.stringify({ text: `say "${nested(50)}" \\` }), 2)).toBe(false);
    expect(nestedDeeperThan(Buffer.from(JSON.stringify({ text: `é ✓ ${nested(50)}` })), 2)).toBe(false);
  });

  it('handles a megabyte of nesting without recursion', () => {
    expect(nestedDeeperThan(nested(500_000))).toBe(true);
  });
});
