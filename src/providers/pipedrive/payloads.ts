import { z } from 'zod';

/**
 * Pipedrive webhook bodies: v2 `{meta, data, previous}` (meta.entity, meta.entity_id) and the v1
 * shape older registrations still send, `{meta, current, previous, event}` (meta.object, meta.id).
 * Only what the sync reads is declared; the rest passes through.
 * https://pipedrive.readme.io/docs/guide-for-webhooks-v2
 */
const status = z.looseObject({ status: z.unknown().optional() });

export const pipedriveWebhook = z.looseObject({
  meta: z.looseObject({
    entity: z.string().optional(),
    entity_id: z.union([z.string(), z.number()]).optional(),
    object: z.string().optional(),
    id: z.union([z.string(), z.number()]).optional(),
    action: z.string().optional(),
    user_id: z.union([z.string(), z.number()]).optional(),
  }),
  data: status.nullish(),
  current: status.nullish(),
  previous: status.nullish(),
});
export type PipedriveWebhook = z.infer<typeof pipedriveWebhook>;
