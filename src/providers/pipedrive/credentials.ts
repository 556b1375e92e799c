import { z } from 'zod';

/** A personal API token. */
export const pipedriveTokenInput = z.strictObject({ apiToken: z.string().min(1) });

/** As stored (sealed): the API token, or OAuth tokens with the account's api_domain. */
export const pipedriveStoredCredentials = z
  .looseObject({ apiToken: z.string().min(1).optional(), accessToken: z.string().min(1).optional(), apiDomain: z.string().optional() })
  .refine((c) => c.apiToken || c.accessToken, 'a Pipedrive connection needs an API token or an OAuth access token');
