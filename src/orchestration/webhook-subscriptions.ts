import type { Database } from '../model/store/db.ts';
import type { Provider } from '../model/store/schema.ts';
import { DomainError, notFound } from '../model/store/errors.ts';
import { connectionForWorker } from '../model/connections/connections.ts';
import { providerModule, webhookUrl } from '../providers/index.ts';
import type { RegistrationOutcome, WebhookSubscription } from '../providers/types.ts';
import { connectionSettingsSchema } from '../sync/settings.ts';

/** The app whose webhooks are registered: its id and its developer API key (never stored). */
export interface DeveloperApp {
  appId: string;
  developerKey: string;
}

export interface SubscriptionDeps {
  db: Database;
  publicUrl: string;
  crmBaseUrlHosts?: readonly string[];
}

async function subscribingConnection(db: Database, connectionId: string) {
  const connection = await connectionForWorker(db, connectionId);
  if (!connection) throw notFound(`connection ${connectionId}`);
  const module = providerModule(connection.provider);
  const { subscriptions, registerSubscriptions } = module.webhooks;
  if (!subscriptions || !registerSubscriptions) {
    throw new DomainError(400, 'Bad Request', `${module.label} connections register their webhook themselves when they are made: there are no app subscriptions to manage`);
  }
  return { connection, settings: connectionSettingsSchema.parse(connection.settings), subscriptions, registerSubscriptions };
}

/** Every webhook subscription the connection's CRM app needs for what this connection syncs. */
export async function connectionSubscriptions(db: Database, connectionId: string): Promise<WebhookSubscription[]> {
  const { settings, subscriptions } = await subscribingConnection(db, connectionId);
  return subscriptions(settings);
}

/**
 * Points the CRM app's webhooks at our receiver and subscribes what the connection needs and the app
 * lacks. Running it again creates nothing; what the app has beyond that is reported, never removed.
 */
export async function registerConnectionSubscriptions(deps: SubscriptionDeps, connectionId: string, appOf: (provider: Provider) => DeveloperApp): Promise<RegistrationOutcome> {
  const { connection, settings, registerSubscriptions } = await subscribingConnection(deps.db, connectionId);
  return registerSubscriptions({
    ...appOf(connection.provider),
    baseUrl: settings.baseUrl,
    allowedHosts: deps.crmBaseUrlHosts ?? [],
    targetUrl: webhookUrl(deps.publicUrl, connection.provider, connection.id),
    settings,
  });
}
