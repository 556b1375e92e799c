import { describe, expect, it } from 'vitest';
import { baseAfterPush, baseAfterWrite, changedSince, outboundFields } from '../../src/sync/diff.ts';

describe('outbound diff', () => {
  it('finds changed fields and changed attribute keys only', () => {
    const base = { title: 'a', amount: '1.00', attributes: { seats: 1, region: 'emea' } };
    const now = { title: 'a', amount: '2.00', attributes: { seats: 1, tier: 'gold' } };
    expect(changedSince(base, now)).toEqual({ amount: '2.00', attributes: { region: null, tier: 'gold' } });
    expect(changedSince(now, now)).toEqual({});
  });

  it('sees the primary contact unchanged when its base came back from jsonb with its keys reordered', () => {
    const base = JSON.parse('{"contact": {"name": "Carla", "email": "carla@example.com"}}');
    expect(changedSince(base, { contact: { email: 'carla@example.com', name: 'Carla' } })).toEqual({});
    expect(changedSince(base, { contact: { email: 'dora@example.com', name: 'Carla' } })).toEqual({ contact: { email: 'dora@example.com', name: 'Carla' } });
  });

  it('sends everything against an empty base (a create)', () => {
    expect(changedSince({}, { title: 't', description: null, attributes: {} })).toEqual({ title: 't' });
  });

  it('lays pushed values over the base, dropping removed attributes', () => {
    expect(baseAfterPush({ title: 'a', attributes: { x: 1, y: 2 } }, { title: 'b', attributes: { y: null } })).toEqual({ title: 'b', attributes: { x: 1 } });
  });

  it('leaves inbound-only fields out', () => {
    expect(Object.keys(outboundFields({ title: 't', description: null, amount: null, currency: 'EUR', closeDate: null, state: 'open', stage: null, pipeline: null, probability: null, source: null, lostReason: null, assigneeId: null, attributes: {}, contact: null }, { stage: 'inbound', amount: 'outbound' }))).not.toContain('stage');
  });
});

describe('the base after a write', () => {
  it('takes what the CRM answered over what was sent, unless it holds the same thing its own way', () => {
    const base = baseAfterWrite({}, { stage: 'demo', amount: '1200.00', state: 'abandoned', title: 'T' }, { stage: 'qualified', amount: '1200', state: 'lost', title: 'T' });
    expect(base).toMatchObject({ stage: 'qualified', amount: '1200.00', state: 'abandoned', title: 'T', unheld: { stage: 'demo' } });
    // Not sent again while canonical still says demo; sent once canonical says something else.
    expect(changedSince(base, { stage: 'demo', title: 'T' })).toEqual({});
    expect(changedSince(base, { stage: 'proposal', title: 'T' })).toEqual({ stage: 'proposal' });
    expect(baseAfterWrite(base, { stage: 'proposal' }, { stage: 'proposal' }).unheld).toBeUndefined();
  });
});
