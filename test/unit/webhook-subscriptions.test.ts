import { describe, expect, it } from 'vitest';
import { providerModules } from '../../src/providers/index.ts';
import { subscriptionName } from '../../src/providers/webhook-subscription-name.ts';
import { connectionSettingsSchema } from '../../src/sync/settings.ts';

/** What a HubSpot app must subscribe to, derived from the field registry and a connection's settings. */

const names = (settings: Record<string, unknown>) => providerModules.hubspot.webhooks.subscriptions!(connectionSettingsSchema.parse(settings)).map(subscriptionName);

describe('HubSpot webhook subscriptions', () => {
  it('covers every deal event the sync acts on, contact associations included', () => {
    expect(names({})).toEqual(expect.arrayContaining(['deal.creation', 'deal.deletion', 'deal.restore', 'deal.merge', 'deal.associationChange']));
  });

  it('has a property change for every property a synced field reads: owner, pipeline, stage, description, close reason…', () => {
    const list = names({});
    for (const property of ['dealname', 'description', 'amount', 'deal_currency_code', 'closedate', 'pipeline', 'dealstage', 'closed_lost_reason', 'hubspot_owner_id']) {
      expect(list).toContain(`deal.propertyChange:${property}`);
    }
    // Each once, and nothing HubSpot computes from the stage (probability is not synced to HubSpot).
    expect(new Set(list).size).toBe(list.length);
    expect(list).not.toContain('deal.propertyChange:hs_deal_stage_probability');
  });

  it('adds the custom properties the connection maps: attributes, source and the ERP reference', () => {
    const settings = {
      attributes: [{ key: 'region', remote: 'sales_region', type: 'enum' }, { key: 'seats', remote: 'seat_count', type: 'number' }],
      sourceField: 'lead_source',
      externalRefField: 'erp_order_ref',
    };
    expect(names(settings)).toEqual(expect.arrayContaining(['deal.propertyChange:sales_region', 'deal.propertyChange:seat_count', 'deal.propertyChange:lead_source', 'deal.propertyChange:erp_order_ref']));
    // Unmapped, they are not subscribed.
    expect(names({}).some((name) => /sales_region|lead_source|erp_order_ref/.test(name))).toBe(false);
  });
});
