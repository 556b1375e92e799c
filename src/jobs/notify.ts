import type { Queue } from 'bullmq';
import { connectionIdsOfAccount } from '../model/connections/connections.ts';
import type { Database } from '../model/store/db.ts';
import { subscriptionsWithDueDeliveries } from '../model/events/delivery-claims.ts';
import { enqueueEventDelivery, enqueueFlush } from './queues.ts';

/**
 * After a canonical change has committed: ask for a flush of each of the account's connections,
 * and (given the events queue) a delivery run for each subscription with events due. If Redis
 * cannot take it, nothing is lost: dirty rows and deliveries are in Postgres and the sweeper finds them.
 */
export async function notifyAccount(db: Database, outbound: Queue, accountId: string, events?: Queue): Promise<void> {
  for (const connectionId of await connectionIdsOfAccount(db, accountId)) await enqueueFlush(outbound, connectionId);
  if (!events) return;
  for (const subscriptionId of await subscriptionsWithDueDeliveries(db, accountId)) await enqueueEventDelivery(events, subscriptionId);
}
