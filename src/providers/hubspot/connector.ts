import { Client } from '@hubspot/api-client';
import type { MappingProblem, MappingSettings, SyncFields } from '../../sync/fields.ts';
import type { CrmConnector, DailyBudget, Pacer, PullCursor, PullPage, PushRequest, PushResult, RemoteAccount, RemoteField, RemoteState } from '../types.ts';
import { hubspotAccount } from './account.ts';
import { hubspotDealFields } from './deal-fields.ts';
import { boundedCall, crmAgentFor, type CrmTimeouts } from '../timeouts.ts';
import { hubspotError, isDailyLimit } from './errors.ts';
import { fromHubSpot, hubspotReadProperties, toHubSpot } from './mapping.ts';

export const HUBSPOT_CANONICAL_ID_PROPERTY = 'crm_sync_id';
const BATCH = 100;
/** Search pages hold at most 200 results, and no search reaches past its 10,000th. */
const SEARCH_PAGE = 200;
const SEARCH_CAP = 10_000;

const chunks = <T>(items: T[], size: number) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

type ReadDeal = { id: string; properties: Record<string, string | null>; updatedAt: Date };

function stateOf(deal: ReadDeal, settings: MappingSettings): RemoteState {
  const { fields, canonicalId, problems } = fromHubSpot(deal.properties, settings);
  const mergedFrom = deal.properties.hs_merged_object_ids?.split(';').filter(Boolean);
  const externalRef = settings.externalRefField ? deal.properties[settings.externalRefField] || undefined : undefined;
  return { remoteId: deal.id, version: versionOf(deal), canonicalId, fields, deleted: false, problems, mergedFrom, externalRef };
}

const versionOf = (deal: ReadDeal) => new Date(deal.properties.hs_lastmodifieddate ?? deal.updatedAt);

/**
 * The next page of a pull: a new window from the newest time seen (so no window nears the 10,000
 * cap), or the next page of this window when a whole page shares one time.
 */
function nextCursor(cursor: PullCursor, lastTime: number | undefined, after: string | undefined): PullCursor | null {
  if (lastTime === undefined || after === undefined) return null;
  if (lastTime > Date.parse(cursor.since)) return { since: new Date(lastTime).toISOString() };
  return Number(after) + SEARCH_PAGE <= SEARCH_CAP ? { since: cursor.since, after } : null;
}

/**
 * The account's daily request budget as HubSpot's answers state it (X-HubSpot-RateLimit-Daily and
 * -Daily-Remaining: https://developers.hubspot.com/changelog/2018-11-06-rate-limit-information-headers-will-be-included-in-http-responses).
 * Search endpoints send none.
 */
export function hubspotDaily(headers: Record<string, string> | undefined): DailyBudget | undefined {
  const limit = headers?.['x-hubspot-ratelimit-daily'];
  const remaining = headers?.['x-hubspot-ratelimit-daily-remaining'];
  if (limit === undefined || remaining === undefined || !Number.isFinite(Number(limit)) || !Number.isFinite(Number(remaining))) return undefined;
  return { limit: Number(limit), remaining: Number(remaining) };
}

export class HubSpotConnector implements CrmConnector {
  readonly provider = 'hubspot' as const;
  private readonly client: Client;
  private readonly pacer: Pacer;
  private readonly timeouts: CrmTimeouts | undefined;

  constructor(options: { baseUrl: string; accessToken: string; pacer: Pacer; timeouts?: CrmTimeouts | undefined }) {
    // Retries live in one layer (BullMQ), so the SDK's own retries are off. The agent bounds each call's connect and total time.
    const httpAgent = crmAgentFor(options.baseUrl, options.timeouts);
    // Every answer's daily-budget headers go to the pacer, which keeps to them and shows them.
    const observe = { pre: (context: unknown) => context, post: (context: unknown) => (this.observeDaily(context as { headers?: Record<string, string> }), context) };
    this.client = new Client({ accessToken: options.accessToken, basePath: options.baseUrl, numberOfApiCallRetries: 0, httpAgent, middleware: [observe] });
    this.pacer = options.pacer;
    this.timeouts = options.timeouts;
  }

  private observeDaily(response: { headers?: Record<string, string> }) {
    const daily = hubspotDaily(response.headers);
    if (daily) this.pacer.observeDaily?.(daily);
  }

  private async call<T>(work: () => Promise<T>, kind?: 'search'): Promise<T> {
    await this.pacer.take(1, kind);
    try {
      return await work();
    } catch (error) {
      // Spent by this app or by others of the portal: either way nothing remains today.
      if (isDailyLimit(error)) this.pacer.observeDaily?.({ remaining: 0 });
      throw hubspotError(error);
    }
  }

  async account(): Promise<RemoteAccount> {
    // apiRequest sends through global fetch, not the agent: only an outer bound stops the wait.
    const details = await this.call(() => boundedCall(this.client.apiRequest({ method: 'GET', path: '/account-info/v3/details' }).then((r) => r.json()), this.timeouts));
    const pipelines = await this.call(() => this.client.crm.pipelines.pipelinesApi.getAll('deals'));
    const owners = await this.call(() => this.client.crm.owners.ownersApi.getPage(undefined, undefined, 500));
    return hubspotAccount({ details, pipelines, owners });
  }

  /** The deal properties, for checking a connection's settings against them. */
  async dealFields(): Promise<RemoteField[]> {
    const found = await this.call(() => this.client.crm.properties.coreApi.getAll('deals'));
    return hubspotDealFields(found);
  }

  async prepare(): Promise<string> {
    const name = HUBSPOT_CANONICAL_ID_PROPERTY;
    const exists = await this.call(() => this.client.crm.properties.coreApi.getByName('deals', name)).then(
      () => true,
      (error: { code?: string }) => (error.code === 'not_found' ? false : Promise.reject(error)),
    );
    if (!exists) {
      await this.call(() =>
        this.client.crm.properties.coreApi.create('deals', {
          name,
          label: 'crm-sync id',
          description: 'The canonical opportunity id in crm-sync. Do not edit.',
          type: 'string' as never,
          fieldType: 'text' as never,
          groupName: 'dealinformation',
          hasUniqueValue: true,
        }),
      );
    }
    return name;
  }

  /**
   * Creates go through batch upsert by the canonical id, so a retried create never duplicates;
   * updates go by HubSpot's own id (a deal made in HubSpot has no canonical id until we write it).
   */
  async push(requests: PushRequest[], settings: MappingSettings): Promise<PushResult[]> {
    const results: PushResult[] = [];
    for (const batch of chunks(requests, BATCH)) {
      const mapped = batch.map((r) => ({ request: r, ...toHubSpot(r.canonicalId, r.fields, settings, !r.remoteId) }));
      const creates = mapped.filter((m) => !m.request.remoteId);
      const updates = mapped.filter((m) => m.request.remoteId);
      const written = new Map<string, ReadDeal>();
      if (creates.length) {
        const inputs = creates.map(({ request, properties }) => ({ id: request.canonicalId, idProperty: settings.canonicalIdField, properties: properties as Record<string, string> }));
        const response = await this.call(() => this.client.crm.deals.batchApi.upsert({ inputs }));
        for (const deal of response.results) written.set(deal.properties[settings.canonicalIdField] ?? '', deal);
      }
      if (updates.length) {
        const inputs = updates.map(({ request, properties }) => ({ id: request.remoteId!, properties: properties as Record<string, string> }));
        const response = await this.call(() => this.client.crm.deals.batchApi.update({ inputs }));
        const byRemoteId = new Map(updates.map((u) => [u.request.remoteId!, u.request.canonicalId]));
        for (const deal of response.results) written.set(byRemoteId.get(deal.id) ?? '', deal);
      }
      await this.readBackWhatWasNotTaken(mapped, written, settings);
      for (const { request, problems } of mapped) {
        const deal = written.get(request.canonicalId);
        if (deal && request.replacedContact?.email && request.replacedContact.email !== request.fields.contact?.email) {
          await this.dissociateContact(deal.id, request.replacedContact.email, request.replacedContactRemoteId);
        }
        const associated = deal && request.fields.contact ? await this.associateContact(deal.id, request.fields.contact) : undefined;
        if (associated?.problem) problems.push(associated.problem);
        results.push({
          canonicalId: request.canonicalId,
          remoteId: deal?.id,
          contactRemoteId: associated?.contactId,
          version: deal ? new Date(deal.properties.hs_lastmodifieddate ?? deal.updatedAt) : undefined,
          fields: deal ? fromHubSpot(deal.properties, settings).fields : undefined,
          problems,
          error: deal ? undefined : new Error('HubSpot returned no result for this deal'),
        });
      }
    }
    return results;
  }

  /**
   * A value the mapping could not send (an unmapped stage or owner) leaves the deal with whatever
   * HubSpot holds, which the write's answer does not show: read those deals back, once per batch,
   * so their base is what HubSpot really has and its echo is nothing new.
   */
  private async readBackWhatWasNotTaken(
    mapped: { request: PushRequest; problems: unknown[] }[],
    written: Map<string, ReadDeal>,
    settings: MappingSettings,
  ) {
    const untaken = mapped.filter((m) => m.problems.length && written.has(m.request.canonicalId)).map((m) => written.get(m.request.canonicalId)!);
    if (untaken.length === 0) return;
    const now = await this.batchRead(untaken.map((d) => d.id), settings);
    for (const deal of untaken) deal.properties = { ...deal.properties, ...now.get(deal.id)?.properties };
  }

  private async contactIdByEmail(email: string): Promise<string | undefined> {
    const found = await this.call(
      () => this.client.crm.contacts.searchApi.doSearch({ filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ' as never, value: email }] }], properties: ['email'], limit: 1 }),
      'search',
    );
    return found.results[0]?.id;
  }

  /** Only the association we made goes: contacts a person added in HubSpot stay. Its id, when a push learnt it, saves the search. */
  private async dissociateContact(dealId: string, email: string, knownId: string | undefined) {
    const contactId = knownId ?? (await this.contactIdByEmail(email));
    if (contactId) await this.call(() => this.client.crm.associations.v4.basicApi.archive('deals', dealId, 'contacts', contactId));
  }

  /** The primary contact, found by email or created, associated with the deal (HubSpot's default type); its id, for the link. */
  private async associateContact(dealId: string, contact: { email: string | null; name: string }): Promise<{ contactId?: string; problem?: MappingProblem }> {
    if (!contact.email) return { problem: { field: 'contact', value: contact.name, message: 'a contact without an email is not synced to HubSpot' } };
    const email = contact.email;
    const [firstname, ...rest] = contact.name.split(' ');
    const contactId =
      (await this.contactIdByEmail(email)) ??
      (await this.call(() => this.client.crm.contacts.basicApi.create({ properties: { email, firstname: firstname ?? '', lastname: rest.join(' ') }, associations: [] }))).id;
    await this.call(() => this.client.crm.associations.v4.basicApi.createDefault('deals', dealId, 'contacts', contactId));
    return { contactId };
  }

  async remove(remoteId: string): Promise<void> {
    await this.call(() => this.client.crm.deals.basicApi.archive(remoteId));
  }

  /** The deals as HubSpot holds them now, every property the sync reads, 100 ids a call. */
  private async batchRead(remoteIds: string[], settings: MappingSettings): Promise<Map<string, ReadDeal>> {
    const found = new Map<string, ReadDeal>();
    for (const ids of chunks(remoteIds, BATCH)) {
      const response = await this.call(() =>
        this.client.crm.deals.batchApi.read({ inputs: ids.map((id) => ({ id })), properties: hubspotReadProperties(settings), propertiesWithHistory: [] }),
      );
      for (const deal of response.results) found.set(deal.id, deal);
    }
    return found;
  }

  /**
   * HubSpot answers a merged-away id with the surviving deal, under the survivor's id: that id is
   * then the survivor's state (whose hs_merged_object_ids moves the links), never a deletion.
   */
  async read(remoteIds: string[], settings: MappingSettings): Promise<RemoteState[]> {
    const found = await this.batchRead(remoteIds, settings);
    const survivorOf = new Map([...found.values()].flatMap((deal) => (deal.properties.hs_merged_object_ids?.split(';') ?? []).map((old) => [old, deal] as const)));
    const states = new Map<string, RemoteState>();
    for (const id of remoteIds) {
      const deal = found.get(id) ?? survivorOf.get(id);
      const state = deal ? stateOf(deal, settings) : { remoteId: id, version: new Date(0), canonicalId: undefined, fields: {}, deleted: true, problems: [] };
      states.set(state.remoteId, state);
    }
    return [...states.values()];
  }

  /** One batch read of the deals' contact associations, then each first contact's email and name. */
  async contactsOf(states: RemoteState[]): Promise<Map<string, NonNullable<SyncFields['contact']>>> {
    const contacts = new Map<string, NonNullable<SyncFields['contact']>>();
    for (const batch of chunks(states, BATCH)) {
      const inputs = batch.map((s) => ({ id: s.remoteId }));
      const associations = await this.call(() => this.client.crm.associations.v4.batchApi.getPage('deals', 'contacts', { inputs }));
      for (const result of associations.results) {
        const contactId = result.to[0]?.toObjectId;
        if (contactId === undefined) continue;
        const contact = await this.call(() => this.client.crm.contacts.basicApi.getById(String(contactId), ['email', 'firstname', 'lastname']));
        const { email, firstname, lastname } = contact.properties;
        const name = [firstname, lastname].filter(Boolean).join(' ') || email || 'Unnamed contact';
        contacts.set(result._from.id, { email: email?.toLowerCase() || null, name });
      }
    }
    return contacts;
  }

  /** Search on hs_lastmodifieddate, ascending: HubSpot's own way to list what changed. */
  async changedSince(cursor: PullCursor, settings: MappingSettings): Promise<PullPage> {
    const filters = [{ propertyName: 'hs_lastmodifieddate', operator: 'GTE' as never, value: String(Date.parse(cursor.since)) }];
    const page = await this.call(
      () =>
        this.client.crm.deals.searchApi.doSearch({
          filterGroups: [{ filters }],
          sorts: [{ propertyName: 'hs_lastmodifieddate', direction: 'ASCENDING' } as never],
          properties: hubspotReadProperties(settings),
          limit: SEARCH_PAGE,
          after: cursor.after as never,
        }),
      'search',
    );
    const states = page.results.map((deal) => stateOf(deal, settings));
    const last = states.at(-1)?.version.getTime();
    return { states, next: nextCursor(cursor, last, page.paging?.next?.after), total: page.total };
  }

  /** Archived deals (the recycle bin), archived at or after the cursor; the list cannot filter by time, so it pages through all. */
  async deletedSince(cursor: PullCursor): Promise<PullPage> {
    const page = await this.call(() => this.client.crm.deals.basicApi.getPage(BATCH, cursor.after, ['hs_lastmodifieddate'], undefined, undefined, true));
    const since = Date.parse(cursor.since);
    const states = page.results
      .filter((deal) => (deal.archivedAt?.getTime() ?? 0) >= since)
      .map((deal) => ({ remoteId: deal.id, version: deal.archivedAt!, canonicalId: undefined, fields: {}, deleted: true, problems: [] }));
    const after = page.paging?.next?.after;
    return { states, next: after ? { since: cursor.since, after } : null };
  }
}
