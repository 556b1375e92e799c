import { z } from 'zod';

/**
 * HubSpot webhook events (webhooks v3 "thin" events, up to 100 per request): they name what
 * changed, never its values. Only what the sync reads is declared; the rest passes through.
 * https://developers.hubspot.com/docs/api/webhooks#webhooks-payloads
 */
const objectId = z.union([z.number(), z.string()]);

export const hubspotEvent = z.looseObject({
  portalId: z.union([z.number(), z.string()]),
  subscriptionType: z.string().optional(),
  objectId: objectId.optional(),
  /** deal.merge: the surviving deal's id, and the ids merged into it. */
  newObjectId: objectId.optional(),
  mergedObjectIds: z.array(objectId).optional(),
  /** deal.associationChange: the deal, and the object associated with it or dissociated. */
  fromObjectId: objectId.optional(),
});
export type HubSpotEvent = z.infer<typeof hubspotEvent>;

export const HUBSPOT_BATCH_MAX = 100;

/** A request body: a JSON array of 1 to 100 events, each with the portal it comes from. */
export const hubspotBatch = z.array(hubspotEvent).min(1).max(HUBSPOT_BATCH_MAX);
