import type { Queue } from 'bullmq';
import { connectionIdsOfAccount } from '../model/connections.ts';
import type { Database } from '../model/db.ts';
import { enqueueFlush } from './queues.ts';

/**
 * After a canonical change has committed: ask for a flush of each of the account's connections.
 * If Redis cannot take it, nothing is lost: the dirty rows are in Postgres and the sweeper finds them.
 */
export async function notifyAccount(db: Database, outbound: Queue, accountId: string): Promise<void> {
  for (const connectionId of await connectionIdsOfAccount(db, accountId)) await enqueueFlush(outbound, connectionId);
}
