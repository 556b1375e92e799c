import { z } from 'zod';
import type { Provider } from '../model/store/schema.ts';
import { invalid } from '../model/store/errors.ts';
import { providerModule, providerModules } from '../providers/index.ts';
import type { CrmConnector, RemoteAccount } from '../providers/types.ts';
import { crmReach, type Credentials } from './connectors.ts';
import { grantTokens } from './credentials.ts';
import type { SyncDeps } from './deps.ts';
import { fieldProblems, setupProblem } from './setup-problems.ts';

export const oauthCodeInput = z.strictObject({ oauthCode: z.string().min(1), redirectUri: z.url() });

/** Each CRM's own credentials (its provider module says which), or an OAuth code for its app. */
export const credentialsInput = z.union([oauthCodeInput, ...Object.values(providerModules).map((m) => m.credentialInput)]);

export interface CredentialDeps extends SyncDeps {
  /** The operator's app secret per CRM (a public app signs webhooks with it), from the environment. */
  appSecrets?: Partial<Record<Provider, string>>;
}

const isCodeGrant = (given: Record<string, unknown>) => 'oauthCode' in given;

/**
 * The credentials to store: as given, when they are this CRM's kind (else a 400 naming the field,
 * e.g. credentials.accessToken), or the tokens an OAuth code is worth.
 */
export async function credentialsOf(deps: CredentialDeps, provider: Provider, given: Record<string, unknown>, baseUrl: string | undefined): Promise<Credentials> {
  const module = providerModule(provider);
  if (isCodeGrant(given)) {
    const code = oauthCodeInput.safeParse(given);
    if (!code.success) throw fieldProblems('credentials', code.error.issues);
    const grant = { code: code.data.oauthCode, redirectUri: code.data.redirectUri };
    return grantTokens(provider, deps.oauthApps?.[provider], grant, baseUrl, crmReach(deps)).catch(setupProblem(provider, baseUrl));
  }
  const parsed = module.credentialInput.safeParse(given);
  if (!parsed.success) throw fieldProblems('credentials', parsed.error.issues.map((i) => ({ ...i, message: `${i.message} (${module.label} credentials)` })));
  const secretField = module.webhooks.secretField;
  // Without a secret no webhook of this connection could ever be verified: every one would be refused.
  if (secretField && !parsed.data[secretField] && !deps.appSecrets?.[provider]) {
    throw invalid([{ field: `credentials.${secretField}`, message: `is required: ${module.label} signs webhooks with it, and no operator app secret is configured to verify them` }]);
  }
  return parsed.data as Credentials;
}

/** The account the credentials open, parsed from the CRM's answers; refusals are a 400 on credentials, the rest a 502. */
export function accountOf(provider: Provider, connector: CrmConnector, baseUrl: string | undefined): Promise<RemoteAccount> {
  return connector.account().catch(setupProblem(provider, baseUrl));
}
