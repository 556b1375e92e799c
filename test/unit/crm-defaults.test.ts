import { describe, expect, it } from 'vitest';
import { baseAfterWrite, changedSince, withCrmDefaults } from '../../src/sync/diff.ts';
import { mergeDeal, type MergeInput } from '../../src/sync/merge.ts';

/** Issue 11: a value the CRM filled in by default on our create is not a person's edit. */

const merge = (base: MergeInput['base'], local: MergeInput['local'], remote: MergeInput['remote'], policy: 'newest' | 'canonical' = 'canonical') =>
  mergeDeal({ base, local, remote, localChangedAt: {}, remoteChangedAt: new Date('2026-01-01'), policy: { default: policy, fields: {} }, directions: {} });

describe('a default the CRM filled in on our create', () => {
  it('goes into the base with canonical’s empty value unheld: its echo is nothing, no push clears it', () => {
    const sent = { title: 'T', state: 'open' as const };
    const base = withCrmDefaults(baseAfterWrite({}, sent, { title: 'T', state: 'open', assigneeId: 'user-ana', probability: null }), { title: 'T', state: 'open', assigneeId: 'user-ana', probability: null });
    expect(base).toMatchObject({ assigneeId: 'user-ana', probability: null, unheld: { assigneeId: null } });
    expect(base.unheld).not.toHaveProperty('probability');
    expect(changedSince(base, { title: 'T', state: 'open', assigneeId: null })).toEqual({});
    expect(merge(base, { assigneeId: null }, { assigneeId: 'user-ana' })).toMatchObject({ echo: true, toCanonical: {} });
  });

  it('a person’s later change of that field is taken, not a conflict, whatever the policy; and then it is no longer unheld', () => {
    const base = { assigneeId: 'user-ana', unheld: { assigneeId: null } };
    const merged = merge(base, { assigneeId: null }, { assigneeId: 'user-ben' });
    expect(merged).toMatchObject({ toCanonical: { assigneeId: 'user-ben' }, conflicts: [], pushBack: false });
    expect(merged.base).not.toHaveProperty('unheld');
    // Canonical set back to no assignee afterwards: sent, since the CRM now holds a person's choice.
    expect(changedSince(merged.base, { assigneeId: null })).toEqual({ assigneeId: null });
  });

  it('canonical’s own value is never replaced by the default when it set one', () => {
    const base = withCrmDefaults(baseAfterWrite({}, { assigneeId: 'user-ben' }, { assigneeId: 'user-ben' }), { assigneeId: 'user-ben' });
    expect(base).toEqual({ assigneeId: 'user-ben', attributes: {} });
  });
});
