import { z } from 'zod';

/** A private app's access token (and its client secret, which signs its webhooks). */
export const hubspotTokenInput = z.strictObject({ accessToken: z.string().min(1), clientSecret: z.string().min(1).optional() });

/** As stored (sealed): a private-app token, or OAuth tokens, which carry an access token too. */
export const hubspotStoredCredentials = z.looseObject({ accessToken: z.string().min(1) });
