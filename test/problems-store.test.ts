import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/model/accounts/accounts.ts';
import { insertConnection } from '../src/model/connections/connections.ts';
import { createOpportunity } from '../src/model/opportunities/opportunities.ts';
import { countProblemRecords, listConnectionProblems, problemsOfOpportunity, setRecordProblems } from '../src/model/sync-state/problems.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let database: TestDatabase;
let connectionId: string;
let opportunities: string[];

beforeAll(async () => {
  database = await createTestDatabase();
  const account = await createAccount(database.db, { name: 'Problems' });
  const connection = await insertConnection(database.db, {
    accountId: account.accountId, provider: 'hubspot', credentials: 'sealed', credentialsKeyId: 'k', webhookSecret: null, remoteAccountId: 'portal-problems', settings: {},
  });
  connectionId = connection.id;
  opportunities = [];
  for (const title of ['First', 'Second', 'Third']) opportunities.push((await createOpportunity(database.db, account.accountId, { title })).id);
});
afterAll(() => database.drop());

const key = (i: number, direction: 'push' | 'pull') => ({ connectionId, opportunityId: opportunities[i]!, direction });
const fieldsOf = async (i: number) => (await problemsOfOpportunity(database.db, opportunities[i]!)).map((p) => `${p.direction}:${p.field ?? '*'}=${p.value}`).sort();

describe('sync problems per record', () => {
  it('keeps a push problem and a pull problem of one record apart: neither clears the other', async () => {
    await setRecordProblems(database.db, key(0, 'push'), [{ field: 'pipeline', value: 'enterprise', cause: 'no pipeline mapped' }]);
    await setRecordProblems(database.db, key(0, 'pull'), [{ field: 'assignee', value: 'owner 7', cause: 'no user with that email' }]);
    expect(await fieldsOf(0)).toEqual(['pull:assignee=owner 7', 'push:pipeline=enterprise']);
    await setRecordProblems(database.db, key(0, 'pull'), []);
    expect(await fieldsOf(0)).toEqual(['push:pipeline=enterprise']);
  });

  it('keeps since while the same problem is seen again, starts again when its value changes, and clears what is gone', async () => {
    await setRecordProblems(database.db, key(1, 'push'), [{ field: 'stage', value: 'demo', cause: 'unmapped stage' }, { field: null, value: null, cause: 'refused' }]);
    await database.sql`UPDATE sync_problems SET since = now() - interval '1 hour' WHERE opportunity_id = ${opportunities[1]!}`;
    await setRecordProblems(database.db, key(1, 'push'), [{ field: 'stage', value: 'demo', cause: 'unmapped stage' }, { field: null, value: null, cause: 'refused again' }]);
    const [whole, stage] = await problemsOfOpportunity(database.db, opportunities[1]!);
    expect(stage).toMatchObject({ field: 'stage', value: 'demo' });
    expect(Date.now() - Date.parse(stage!.since)).toBeGreaterThan(50 * 60_000);
    expect(whole).toMatchObject({ field: null, cause: 'refused again' });
    expect(Date.now() - Date.parse(whole!.since)).toBeLessThan(50 * 60_000);
    await setRecordProblems(database.db, key(1, 'push'), [{ field: 'stage', value: 'trial', cause: 'unmapped stage' }]);
    const [changed, ...rest] = await problemsOfOpportunity(database.db, opportunities[1]!);
    expect(rest).toEqual([]);
    expect(Date.now() - Date.parse(changed!.since)).toBeLessThan(50 * 60_000);
  });

  it('lists a connection\'s problems page by page and counts records, not problems', async () => {
    await setRecordProblems(database.db, key(2, 'pull'), [{ field: 'amount', value: 'abc', cause: 'not a number' }]);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listConnectionProblems(database.db, connectionId, { limit: 1, cursor });
      seen.push(...page.data.map((p) => `${p.title}:${p.direction}:${p.field}`));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen.sort()).toEqual(['First:push:pipeline', 'Second:push:stage', 'Third:pull:amount']);
    expect(await countProblemRecords(database.db, connectionId)).toBe(3);
    await expect(listConnectionProblems(database.db, connectionId, { limit: 1, cursor: 'nonsense' })).rejects.toThrow();
  });
});
