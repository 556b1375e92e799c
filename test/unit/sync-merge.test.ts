import { describe, expect, it } from 'vitest';
import { mergeDeal, type MergeInput } from '../../src/sync/merge.ts';

const at = (iso: string) => new Date(iso);
const input = (over: Partial<MergeInput>): MergeInput => ({
  base: { title: 'A', amount: '10', state: 'open', attributes: { seats: 1 } },
  local: { title: 'A', amount: '10', state: 'open', attributes: { seats: 1 } },
  remote: { title: 'A', amount: '10', state: 'open', attributes: { seats: 1 } },
  localChangedAt: { title: '2026-01-01T10:00:00Z', amount: '2026-01-01T10:00:00Z' },
  remoteChangedAt: at('2026-01-01T11:00:00Z'),
  policy: { default: 'newest', fields: {} },
  directions: {},
  ...over,
});

describe('three-way merge', () => {
  it('sees an echo of our own write as nothing to do', () => {
    expect(mergeDeal(input({}))).toMatchObject({ toCanonical: {}, conflicts: [], echo: true });
  });

  it('takes a remote change when canonical did not move', () => {
    const result = mergeDeal(input({ remote: { title: 'B', amount: '10' } }));
    expect(result).toMatchObject({ toCanonical: { title: 'B' }, conflicts: [], echo: false });
    expect(result.base.title).toBe('B');
  });

  it('keeps a canonical change when the remote did not move (outbound will push it)', () => {
    expect(mergeDeal(input({ local: { title: 'C', amount: '10' } }))).toMatchObject({ toCanonical: {}, echo: true });
  });

  it('agrees when both moved to the same value, without a conflict', () => {
    const result = mergeDeal(input({ local: { title: 'D' }, remote: { title: 'D' } }));
    expect(result).toMatchObject({ toCanonical: {}, conflicts: [], base: { title: 'D' } });
  });

  it('sees our own write that comes back before its push was saved as an echo that only moves the base', () => {
    const result = mergeDeal(input({ local: { title: 'E', state: 'abandoned' }, remote: { title: 'E', state: 'lost' } }));
    expect(result).toMatchObject({ toCanonical: {}, conflicts: [], echo: true, base: { title: 'E', state: 'abandoned' } });
  });

  it('knows its own unsaved push: a CRM value equal to the pending write is ours, and canonical, since moved on, goes back', () => {
    // Pushed won, the worker died before saving; canonical was reopened meanwhile.
    const result = mergeDeal(input({ base: { state: 'open', pending: { state: 'won' } }, local: { state: 'open' }, remote: { state: 'won' } }));
    expect(result).toMatchObject({ toCanonical: {}, conflicts: [], echo: true, pushBack: true, base: { state: 'won' } });
    // A person's different value is still a change of theirs.
    expect(mergeDeal(input({ base: { state: 'open', pending: { state: 'won' } }, local: { state: 'open' }, remote: { state: 'lost' } })).toCanonical).toEqual({ state: 'lost' });
  });

  it('decides a conflict by the newest change under the default policy, and reports it', () => {
    const remoteNewer = mergeDeal(input({ local: { amount: '20' }, remote: { amount: '30' } }));
    expect(remoteNewer.toCanonical).toEqual({ amount: '30' });
    expect(remoteNewer.conflicts).toEqual([{ field: 'amount', local: '20', remote: '30', rule: 'newest', winner: 'remote' }]);
    const canonicalNewer = mergeDeal(input({ local: { amount: '20' }, remote: { amount: '30' }, localChangedAt: { amount: '2026-01-01T12:00:00Z' } }));
    expect(canonicalNewer.toCanonical).toEqual({});
    expect(canonicalNewer.conflicts[0]).toMatchObject({ winner: 'canonical', rule: 'newest' });
    // The CRM's value is known now: the base records it, and the flush is asked to send canonical's.
    expect(canonicalNewer.base.amount).toBe('30');
    expect(canonicalNewer.pushBack).toBe(true);
    // The same state again (a duplicate webhook, a reconciliation) is nothing new: no second conflict.
    const again = mergeDeal(input({ base: canonicalNewer.base, local: { amount: '20' }, remote: { amount: '30' }, localChangedAt: { amount: '2026-01-01T12:00:00Z' } }));
    expect(again).toMatchObject({ conflicts: [], echo: true, pushBack: false });
  });

  it('compares amounts as decimals: 1200.00 and 1200 are one amount', () => {
    expect(mergeDeal(input({ base: { amount: '1200.00' }, local: { amount: '1200.00' }, remote: { amount: '1200' } }))).toMatchObject({ echo: true, conflicts: [] });
    expect(mergeDeal(input({ base: { amount: '1200.00' }, local: { amount: '1200.00' }, remote: { amount: '1200.5' } })).toCanonical).toEqual({ amount: '1200.5' });
  });

  it('follows a per-field policy over the default', () => {
    const result = mergeDeal(input({ local: { amount: '20', title: 'L' }, remote: { amount: '30', title: 'R' }, policy: { default: 'remote', fields: { amount: 'canonical' } } }));
    expect(result.toCanonical).toEqual({ title: 'R' });
    expect(result.conflicts.map((c) => [c.field, c.rule, c.winner])).toEqual([['amount', 'canonical', 'canonical'], ['title', 'remote', 'remote']]);
  });

  it('merges attributes key by key', () => {
    const result = mergeDeal(input({ local: { attributes: { seats: 1, tier: 'gold' } }, remote: { attributes: { seats: 5 } }, base: { attributes: { seats: 1 } } }));
    expect(result.toCanonical).toEqual({ attributes: { seats: 5 } });
    expect(result.base.attributes).toEqual({ seats: 5 });
  });

  it('ignores remote changes to outbound-only fields and lets inbound-only fields win', () => {
    const outbound = mergeDeal(input({ remote: { title: 'B' }, directions: { title: 'outbound' } }));
    expect(outbound.toCanonical).toEqual({});
    const inbound = mergeDeal(input({ local: { title: 'L' }, remote: { title: 'R' }, directions: { title: 'inbound' }, localChangedAt: { title: '2027-01-01T00:00:00Z' } }));
    expect(inbound.toCanonical).toEqual({ title: 'R' });
  });

  it('reads a lost deal whose base is abandoned as unchanged', () => {
    const result = mergeDeal(input({ base: { state: 'abandoned' }, local: { state: 'abandoned' }, remote: { state: 'lost' } }));
    expect(result).toMatchObject({ toCanonical: {}, echo: true });
  });
});
