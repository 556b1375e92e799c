import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionForWorker } from '../src/model/connections/connections.ts';
import { connectionSettingsSchema } from '../src/sync/settings.ts';
import { applyRemoteState } from '../src/orchestration/apply-remote.ts';
import { RetrySoon } from '../src/orchestration/retry-soon.ts';
import type { RemoteState } from '../src/providers/types.ts';
import { newAccount, startTestApi, type TestApi } from './support/api.ts';

/**
 * applyRemoteState on real Postgres, below the end-to-end tests: a remote deal state as a
 * connector would hand it over, applied to the canonical store. No CRM is involved, so each case
 * states exactly what the CRM said. Each test makes its own account and connection.
 */

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

const OWNER = '9001';

async function accountWithConnection(name: string) {
  const client = await newAccount(api, name);
  const user = (await client.request('POST', '/v1/users', { name: 'Closer', email: `closer-${client.accountId.slice(0, 8)}@example.com` })).json();
  const settings = connectionSettingsSchema.parse({ owners: [{ userId: user.id, ownerId: OWNER }], externalRefField: 'erp_ref' });
  const [row] = await api.database.sql`INSERT INTO connections (account_id, provider, credentials, credentials_key_id, remote_account_id, settings)
    VALUES (${client.accountId}, 'pipedrive', 'sealed', 'k', ${client.accountId}, ${api.database.sql.json(settings)}) RETURNING id`;
  const connection = (await connectionForWorker(api.database.db, row!.id))!;
  // Events are written only for subscribers; no worker runs here, so nothing is ever sent.
  await api.database.sql`INSERT INTO subscriptions (account_id, url, event_types, secret, secret_key_id)
    VALUES (${client.accountId}, 'http://127.0.0.1:9/events', ${['opportunity.updated']}, 'sealed', 'k')`;
  return { client, user, connection, settings };
}

const apply = (ctx: Awaited<ReturnType<typeof accountWithConnection>>, state: RemoteState) =>
  api.database.db.transaction((tx) => applyRemoteState(tx, ctx.connection, ctx.settings, state));

const remote = (remoteId: string, fields: RemoteState['fields'], extra: Partial<RemoteState> = {}): RemoteState => ({
  remoteId,
  version: new Date(),
  canonicalId: undefined,
  fields,
  deleted: false,
  problems: [],
  ...extra,
});

const updatedEvents = (opportunityId: string) =>
  api.database.sql`SELECT (payload->'data'->'opportunity'->>'version')::int AS version FROM event_deliveries
    WHERE type = 'opportunity.updated' AND opportunity_id = ${opportunityId} ORDER BY id`;

describe('applying a remote deal state', () => {
  it('gives a deal new to the account the external reference of a deleted opportunity', async () => {
    const ctx = await accountWithConnection('Reused reference');
    const old = (await ctx.client.request('POST', '/v1/opportunities', { title: 'Gone', externalRef: 'SO-1' })).json();
    expect((await ctx.client.request('DELETE', `/v1/opportunities/${old.id}`)).statusCode).toBe(204);

    expect(await apply(ctx, remote('501', { title: 'Born in the CRM', currency: 'EUR' }, { externalRef: 'SO-1' }))).toBe('created');

    const found = await ctx.client.request('GET', '/v1/opportunities/by-external-ref/SO-1');
    expect(found.statusCode).toBe(200);
    expect(found.json()).toMatchObject({ title: 'Born in the CRM', externalRef: 'SO-1' });
  });

  it('writes once when one event both names who closed a deal and changes other fields: one version, one event', async () => {
    const ctx = await accountWithConnection('Closer and title');
    const created = await apply(ctx, remote('601', { title: 'Deal', currency: 'EUR', state: 'open' }));
    expect(created).toBe('created');
    const [{ id }] = (await api.database.sql`SELECT opportunity_id AS id FROM remote_links WHERE connection_id = ${ctx.connection.id} AND remote_id = '601'`) as unknown as [{ id: string }];
    // The close came in first by another way (a reconciliation read): won, nobody known to have closed it.
    expect(await apply(ctx, remote('601', { title: 'Deal', currency: 'EUR', state: 'won' }))).toBe('applied');
    const before = (await ctx.client.request('GET', `/v1/opportunities/${id}`)).json();
    expect(before).toMatchObject({ state: 'won', closedById: null });

    // Then the event that moved the status arrives, naming its user, with a renamed title.
    expect(await apply(ctx, remote('601', { title: 'Deal, renamed', currency: 'EUR', state: 'won' }, { changedBy: OWNER }))).toBe('applied');

    const after = (await ctx.client.request('GET', `/v1/opportunities/${id}`)).json();
    expect(after).toMatchObject({ title: 'Deal, renamed', state: 'won', closedById: ctx.user.id, version: before.version + 1 });
    const versions = (await updatedEvents(id)).map((e) => e.version);
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions.at(-1)).toBe(after.version);
  });

  it('waits for its own create to be saved instead of adopting the deal and overwriting what the CRM changed', async () => {
    const ctx = await accountWithConnection('Own create in flight');
    const ours = (await ctx.client.request('POST', '/v1/opportunities', { title: 'Ours', source: 'Partner' })).json();
    // A flush holds the row: it has created the deal in the CRM and not saved the link yet.
    await api.database.sql`INSERT INTO outbox (connection_id, opportunity_id, claimed_until) VALUES (${ctx.connection.id}, ${ours.id}, now() + interval '1 minute')
      ON CONFLICT (connection_id, opportunity_id) DO UPDATE SET claimed_until = excluded.claimed_until`;
    const edited = remote('701', { title: 'Ours', source: 'Trade show', currency: 'EUR' }, { canonicalId: ours.id });
    await expect(apply(ctx, edited)).rejects.toBeInstanceOf(RetrySoon);

    // The flush saves the link and lets go of the row.
    await api.database.sql`DELETE FROM outbox WHERE opportunity_id = ${ours.id}`;
    await api.database.sql`INSERT INTO remote_links (connection_id, opportunity_id, remote_id, base_snapshot, remote_version)
      VALUES (${ctx.connection.id}, ${ours.id}, '701', ${api.database.sql.json({ title: 'Ours', source: 'Partner', currency: 'EUR', canonicalId: ours.id })}, now() - interval '1 second')`;
    // Now the event is an ordinary update with a base, and the CRM's change is taken.
    expect(await apply(ctx, edited)).toBe('applied');
    expect((await ctx.client.request('GET', `/v1/opportunities/${ours.id}`)).json().source).toBe('Trade show');
  });

  it('adopts a deal carrying our id when no create of it is on its way (an interrupted create)', async () => {
    const ctx = await accountWithConnection('Interrupted create');
    const ours = (await ctx.client.request('POST', '/v1/opportunities', { title: 'Ours' })).json();
    expect(await apply(ctx, remote('801', { title: 'Ours', currency: 'EUR' }, { canonicalId: ours.id }))).toBe('applied');
    const [link] = await api.database.sql`SELECT remote_id FROM remote_links WHERE connection_id = ${ctx.connection.id} AND opportunity_id = ${ours.id}`;
    expect(link!.remote_id).toBe('801');
  });
});
