/**
 * Background load for bench/inbound.ts: another account whose opportunities keep syncing. Each time
 * its outbox is empty, every one of its opportunities gets a new amount and is marked dirty for both
 * of its connections, so its flushes (and the echoes they cause) never stop.
 */
import { sql } from 'drizzle-orm';
import { notifyAccount } from '../src/jobs/notify.ts';
import { markAllDirty } from '../src/model/sync-state/outbox.ts';
import { sleep, type Account, type Stack } from './inbound-stack.ts';

export interface Churn {
  /** Stops starting rounds; how many were started (the first is the export) and retried after a deadlock. */
  stop(): Promise<{ rounds: number; deadlocks: number }>;
}

/** Marks every opportunity of the account changed, for both its connections, and asks for flushes. */
async function changeAll(stack: Stack, account: Account) {
  await stack.db.execute(sql`UPDATE opportunities SET amount = amount + 1, version = version + 1, updated_at = now(),
                 field_changed_at = field_changed_at || jsonb_build_object('amount', now())
           WHERE account_id = ${account.accountId}`);
  for (const id of [account.hubspotId, account.pipedriveId]) await markAllDirty(stack.db, account.accountId, id);
  await notifyAccount(stack.db, stack.queues.outbound, account.accountId);
}

const DEADLOCK = '40P01';
const isDeadlock = (error: unknown) => (error as { cause?: { code?: string } }).cause?.code === DEADLOCK;

export function churn(stack: Stack, account: Account): Churn {
  let stopped = false;
  let rounds = 1;
  const pending = () => stack.count(sql`SELECT count(*)::int AS n FROM outbox WHERE connection_id IN (${account.hubspotId}::uuid, ${account.pipedriveId}::uuid)`);
  const loop = async () => {
    while (!stopped) {
      try {
        if ((await pending()) === 0) {
          rounds++;
          await changeAll(stack, account);
        }
      } catch (error) {
        // Marking 1,000 rows in one statement can deadlock with the workers' transactions: try again.
        if (!isDeadlock(error)) throw error;
        deadlocks++;
      }
      await sleep(200);
    }
  };
  let deadlocks = 0;
  let failure: unknown;
  // Kept until stop(), so that a failure still lets the bench clean up.
  const running = loop().catch((error: unknown) => {
    failure = error;
  });
  return {
    async stop() {
      stopped = true;
      await running;
      if (failure) throw failure;
      return { rounds, deadlocks };
    },
  };
}
