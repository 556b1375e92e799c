import type { Provider } from '../model/store/schema.ts';
import { hubspot } from './hubspot/index.ts';
import { pipedrive } from './pipedrive/index.ts';
import type { ProviderModule } from './types.ts';

/**
 * The CRMs crm-sync speaks to: the only place that lists them. `Record<Provider, …>` makes the
 * compiler ask for a module when a provider is added to the schema's list.
 */
export const providerModules: Record<Provider, ProviderModule> = { hubspot, pipedrive };

export function providerModule(provider: Provider): ProviderModule {
  return providerModules[provider];
}

/** Where a connection's CRM sends its webhooks. */
export function webhookUrl(publicUrl: string, provider: Provider, connectionId: string): string {
  const base = `${publicUrl}/webhooks/${provider}`;
  return providerModules[provider].webhooks.routedBy === 'connection' ? `${base}/${connectionId}` : base;
}
