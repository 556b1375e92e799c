import { describe, expect, it } from 'vitest';
import { connectionSettingsSchema } from '../../src/sync/settings.ts';
import type { opportunities } from '../../src/model/store/schema.ts';
import { decideUpdate, pullProblems, type LinkState, type RemoteDeal } from '../../src/sync/apply-decision.ts';

/** The inbound decision for one linked deal, without I/O: the rules applyRemoteState carries out. */

type Row = typeof opportunities.$inferSelect;

const ANA = '11111111-1111-4111-8111-111111111111';
const settings = connectionSettingsSchema.parse({ owners: [{ userId: ANA, ownerId: '77' }] });
const at = (iso: string) => new Date(iso);

const row = (over: Partial<Row> = {}): Row => ({
  id: '22222222-2222-4222-8222-222222222222',
  accountId: '33333333-3333-4333-8333-333333333333',
  externalRef: null,
  title: 'Deal',
  description: null,
  amount: '100',
  currency: 'EUR',
  closeDate: null,
  state: 'open',
  stage: 'qualified',
  pipeline: 'default',
  probability: null,
  source: null,
  lostReason: null,
  assigneeId: null,
  closedById: null,
  closedAt: null,
  attributes: {},
  version: 3,
  fieldChangedAt: { title: '2026-01-01T10:00:00.000Z', amount: '2026-01-01T10:00:00.000Z' },
  createdAt: at('2026-01-01T09:00:00Z'),
  updatedAt: at('2026-01-01T10:00:00Z'),
  deletedAt: null,
  ...over,
});

const base: RemoteDeal['fields'] = { title: 'Deal', amount: '100', state: 'open', stage: 'qualified', pipeline: 'default' };
const link = (over: Partial<LinkState> = {}): LinkState => ({ remoteVersion: at('2026-01-01T10:00:00Z'), remoteDeletedAt: null, baseSnapshot: base, lastError: null, ...over });
const remote = (fields: RemoteDeal['fields'], over: Partial<RemoteDeal> = {}): RemoteDeal => ({ remoteId: '9', version: at('2026-01-01T11:00:00Z'), fields, problems: [], ...over });

const decide = (over: { link?: LinkState; row?: Row; state: RemoteDeal }) => decideUpdate({ link: over.link ?? link(), row: over.row ?? row(), state: over.state, settings });
/** The column changes a decision makes, exactly (toMatchObject would accept any superset). */
const changesOf = (decision: ReturnType<typeof decide>) => (decision.outcome === 'stale' ? undefined : decision.changes);

describe('the inbound decision for a linked deal', () => {
  it('ignores a state older than the one the link has seen', () => {
    expect(decide({ state: remote({ title: 'Old' }, { version: at('2026-01-01T09:00:00Z') }) })).toEqual({ outcome: 'stale' });
  });

  it('takes a person’s change as column changes, moves the base, and records it on the timeline', () => {
    const decision = decide({ state: remote({ ...base, title: 'Renamed' }) });
    expect(decision).toMatchObject({ outcome: 'applied', pushBack: false, link: { base: { title: 'Renamed' } } });
    expect(changesOf(decision)).toEqual({ title: 'Renamed' });
    if (decision.outcome === 'stale') throw new Error('not stale');
    expect(decision.timeline.map((t) => t.kind)).toEqual(['pull_update']);
    expect(decision.link.remoteVersion).toEqual(at('2026-01-01T11:00:00Z'));
  });

  it('sees its own write coming back as an echo: nothing to write, the echo on the timeline', () => {
    const decision = decide({ state: remote(base) });
    expect(decision).toMatchObject({ outcome: 'echoes', pushBack: false });
    expect(changesOf(decision)).toEqual({});
    if (decision.outcome === 'stale') throw new Error('not stale');
    expect(decision.timeline.map((t) => t.kind)).toEqual(['echo_suppressed']);
  });

  it('decides a conflict by the newest change, pushes canonical back when it wins, and says so', () => {
    const newer = row({ title: 'Ours', fieldChangedAt: { title: '2026-01-01T12:00:00.000Z' } });
    const decision = decide({ row: newer, state: remote({ ...base, title: 'Theirs' }) });
    expect(decision).toMatchObject({ outcome: 'applied', pushBack: true });
    expect(changesOf(decision)).toEqual({});
    if (decision.outcome === 'stale') throw new Error('not stale');
    expect(decision.timeline[0]).toMatchObject({ kind: 'conflict', field: 'title', before: 'Ours', after: 'Theirs', rule: 'newest', detail: { winner: 'canonical' } });
  });

  it('closes with the closer the event names, in the same changes as its other fields', () => {
    const decision = decide({ state: remote({ ...base, state: 'won', title: 'Won deal' }, { changedBy: '77' }) });
    expect(changesOf(decision)).toEqual({ state: 'won', title: 'Won deal', closedById: ANA, closedAt: expect.any(Date) });
  });

  it('fills in who closed a deal that was already closed without a closer, with the other fields in one write', () => {
    const closed = row({ state: 'won', closedAt: at('2026-01-01T10:30:00Z'), closedById: null });
    const decision = decide({ row: closed, link: link({ baseSnapshot: { ...base, state: 'won' } }), state: remote({ ...base, state: 'won', title: 'Renamed' }, { changedBy: '77' }) });
    expect(changesOf(decision)).toEqual({ title: 'Renamed', closedById: ANA });
    const echo = decide({ row: closed, link: link({ baseSnapshot: { ...base, state: 'won' } }), state: remote({ ...base, state: 'won' }, { changedBy: '77' }) });
    expect(echo.outcome).toBe('echoes');
    expect(changesOf(echo)).toEqual({ closedById: ANA });
  });

  it('leaves a known closer and an unmapped CRM user alone', () => {
    const BEN = '44444444-4444-4444-8444-444444444444';
    const closed = row({ state: 'won', closedAt: at('2026-01-01T10:30:00Z'), closedById: BEN });
    const linkWon = link({ baseSnapshot: { ...base, state: 'won' } });
    expect(changesOf(decide({ row: closed, link: linkWon, state: remote({ ...base, state: 'won' }, { changedBy: '77' }) }))).toEqual({});
    expect(changesOf(decide({ row: row({ state: 'won', closedAt: at('2026-01-01T10:30:00Z') }), link: linkWon, state: remote({ ...base, state: 'won' }, { changedBy: '78' }) }))).toEqual({});
  });

  it('relinks a deal the CRM restored, and asks for a push of what canonical changed while it was gone', () => {
    const edited = row({ title: 'Edited while deleted', fieldChangedAt: { title: '2026-01-01T10:20:00.000Z' } });
    const decision = decide({ row: edited, link: link({ remoteDeletedAt: at('2026-01-01T10:10:00Z') }), state: remote(base) });
    if (decision.outcome === 'stale') throw new Error('not stale');
    expect(decision).toMatchObject({ outcome: 'applied', pushBack: true, link: { base } });
    expect(changesOf(decision)).toEqual({});
    expect(decision.timeline.map((t) => t.kind)).toEqual(['remote_restore']);
  });

  it('reopens as the API would: the lost reason goes with the close', () => {
    const lost = row({ state: 'lost', closedAt: at('2026-01-01T10:30:00Z'), lostReason: 'price' });
    const decision = decide({ row: lost, link: link({ baseSnapshot: { ...base, state: 'lost', lostReason: 'price' } }), state: remote({ ...base, state: 'open', lostReason: 'price' }) });
    expect(changesOf(decision)).toEqual({ state: 'open', closedAt: null, closedById: null, lostReason: null });
  });
});

describe('the problems a pull leaves on a link', () => {
  const problem = { field: 'stage_id', value: '5', message: 'unmapped' };
  it('records its own, clears only what an earlier pull reported, and leaves a push’s problem', () => {
    expect(pullProblems(null, { problems: [problem] })).toEqual({ mapping: [problem], from: 'pull' });
    expect(pullProblems({ mapping: [problem], from: 'pull' }, { problems: [] })).toBeNull();
    expect(pullProblems({ mapping: [problem] }, { problems: [] })).toBeUndefined();
  });
});
