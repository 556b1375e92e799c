import type { Database } from '../model/store/db.ts';
import { storeDeliveries, type ReceivedDelivery } from '../model/sync-state/inbox.ts';
import { within } from '../model/store/within.ts';

/**
 * How long a request waits for Postgres to take its webhooks before it is answered 503 (the CRM
 * then retries): well inside HubSpot's 5-second timeout, long enough for a busy database.
 */
export const INBOX_WRITE_WAIT_MS = 3000;

interface Waiting {
  deliveries: ReceivedDelivery[];
  resolve(): void;
  reject(error: unknown): void;
}

export interface InboxWriter {
  /** Resolves once Postgres has committed the deliveries: only then may the CRM get its 200. */
  store(deliveries: ReceivedDelivery[]): Promise<void>;
}

/**
 * Group commit for the receivers: the requests that arrive while one INSERT is being prepared are
 * written by the next one, in one statement and one commit (a commit per webhook request capped
 * the acknowledgements at what Postgres can flush to disk one by one).
 */
export function inboxWriter(db: Database, onStored: (connectionIds: Set<string>) => void): InboxWriter {
  let waiting: Waiting[] = [];
  const write = async () => {
    const batch = waiting;
    waiting = [];
    try {
      const deliveries = batch.flatMap((w) => w.deliveries);
      await within(storeDeliveries(db, deliveries), INBOX_WRITE_WAIT_MS, `Postgres did not store the webhook within ${INBOX_WRITE_WAIT_MS} ms`);
      for (const w of batch) w.resolve();
      onStored(new Set(deliveries.map((d) => d.connectionId)));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  };
  return {
    store(deliveries) {
      return new Promise<void>((resolve, reject) => {
        if (waiting.length === 0) setImmediate(() => void write());
        waiting.push({ deliveries, resolve, reject });
      });
    },
  };
}
