import { v1, v2 } from 'pipedrive';
import type { MappingSettings, SyncFields } from '../../sync/fields.ts';
import type { CrmConnector, Pacer, PullCursor, PullPage, PushRequest, PushResult, RemoteAccount, RemoteField, RemoteState } from '../types.ts';
import { pipedriveConfigurations, type PipedriveAuth } from './client.ts';
import { pipedriveAccount } from './account.ts';
import { pipedriveDealFields } from './deal-fields.ts';
import { pipedriveError } from './errors.ts';
import type { PipedriveDeal } from './fields.ts';
import { fromPipedrive, toPipedrive } from './mapping.ts';

export const PIPEDRIVE_CANONICAL_ID_FIELD_NAME = 'crm-sync id';

/**
 * Token cost of each call the connector makes: the x-token-cost of the operation in Pipedrive's v2
 * OpenAPI spec (test/connector-pipedrive.test.ts checks them). v1 costs are not in that spec.
 */
export const pipedriveCosts = {
  listDeals: 10,
  getDeal: 1,
  addDeal: 5,
  updateDeal: 5,
  deleteDeal: 3,
  searchDeals: 20,
  listDealFields: 10,
  addDealField: 5,
  listStages: 5,
  listPipelines: 5,
  searchPersons: 20,
  getPerson: 1,
  addPerson: 5,
  v1: 20,
} as const;

const IDS_PER_LIST = 100;
const PAGE = 500;

/** RFC3339 to the second, as Pipedrive's updated_since takes it; rounding down only re-reads a little. */
const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function stateOf(deal: PipedriveDeal, settings: MappingSettings): RemoteState {
  const { fields, canonicalId, problems } = fromPipedrive(deal, settings);
  const ref = settings.externalRefField ? deal.custom_fields?.[settings.externalRefField] : undefined;
  const externalRef = typeof ref === 'string' && ref ? ref : undefined;
  const contactRef = deal.person_id ? String(deal.person_id) : undefined;
  return { remoteId: String(deal.id), version: new Date(deal.update_time!), canonicalId, fields, deleted: false, problems, externalRef, contactRef };
}

/** A new window from the newest update time seen, or the next cursor page when a whole page shares one second. */
function nextCursor(cursor: PullCursor, lastTime: number | undefined, after: string | null | undefined): PullCursor | null {
  if (lastTime === undefined || !after) return null;
  const since = rfc3339(lastTime);
  return Date.parse(since) > Date.parse(cursor.since) ? { since } : { since: cursor.since, after };
}
export class PipedriveConnector implements CrmConnector {
  readonly provider = 'pipedrive' as const;
  private readonly deals: v2.DealsApi;
  private readonly fields: v2.DealFieldsApi;
  private readonly stages: v2.StagesApi;
  private readonly pipelines: v2.PipelinesApi;
  private readonly users: v1.UsersApi;
  private readonly webhooks: v1.WebhooksApi;
  private readonly persons: v2.PersonsApi;
  private readonly pacer: Pacer;

  constructor(auth: PipedriveAuth & { pacer: Pacer }) {
    const configs = pipedriveConfigurations({ ...auth, onDaily: (daily) => auth.pacer.observeDaily?.(daily) });
    this.deals = new v2.DealsApi(configs.v2);
    this.fields = new v2.DealFieldsApi(configs.v2);
    this.stages = new v2.StagesApi(configs.v2);
    this.pipelines = new v2.PipelinesApi(configs.v2);
    this.users = new v1.UsersApi(configs.v1);
    this.webhooks = new v1.WebhooksApi(configs.v1);
    this.persons = new v2.PersonsApi(configs.v2);
    this.pacer = auth.pacer;
  }

  /** Search endpoints have a window of their own (10 per 2 seconds), so the pacer counts them apart. */
  private async call<T>(cost: number, work: () => Promise<T>, kind?: 'search'): Promise<T> {
    await this.pacer.take(cost, kind);
    try {
      return await work();
    } catch (error) {
      throw pipedriveError(error);
    }
  }

  async account(): Promise<RemoteAccount> {
    const me = await this.call(pipedriveCosts.v1, () => this.users.getCurrentUser());
    const users = await this.call(pipedriveCosts.v1, () => this.users.getUsers());
    const pipelines = await this.call(pipedriveCosts.listPipelines, () => this.pipelines.getPipelines({ limit: 500 }));
    const stages = await this.call(pipedriveCosts.listStages, () => this.stages.getStages({ limit: 500 }));
    return pipedriveAccount({ me, users, pipelines, stages });
  }

  /** The deal fields (custom ones by their key), for checking a connection's settings against them. */
  async dealFields(): Promise<RemoteField[]> {
    const found = await this.call(pipedriveCosts.listDealFields, () => this.fields.getDealFields({ limit: 500 }));
    return pipedriveDealFields(found);
  }

  async prepare(): Promise<string> {
    const existing = await this.call(pipedriveCosts.listDealFields, () => this.fields.getDealFields({ limit: 500 }));
    const found = existing.data?.find((f) => f.field_name === PIPEDRIVE_CANONICAL_ID_FIELD_NAME);
    if (found?.field_code) return found.field_code;
    const created = await this.call(pipedriveCosts.addDealField, () =>
      this.fields.addDealField({ AddDealFieldRequest: { field_name: PIPEDRIVE_CANONICAL_ID_FIELD_NAME, field_type: 'varchar' as never } }),
    );
    return created.data!.field_code!;
  }

  /**
   * An interrupted create (the deal was made, the link was not saved) is recovered by searching the
   * canonical-id field before creating again: a retried create never makes a second deal.
   */
  private async findByCanonicalId(canonicalId: string): Promise<number | undefined> {
    const found = await this.call(
      pipedriveCosts.searchDeals,
      () => this.deals.searchDeals({ term: canonicalId, fields: 'custom_fields', exact_match: true }),
      'search',
    );
    return found.data?.items?.[0]?.item?.id;
  }

  async push(requests: PushRequest[], settings: MappingSettings): Promise<PushResult[]> {
    const results: PushResult[] = [];
    for (const request of requests) {
      const { input, problems } = toPipedrive(request.canonicalId, request.fields, settings, !request.remoteId);
      if (request.fields.contact !== undefined) input.person_id = await this.personFor(request.fields.contact, problems);
      // Searching costs 20 tokens, so only a create that may have happened before searches first.
      const remoteId = request.remoteId ? Number(request.remoteId) : request.mayExist ? await this.findByCanonicalId(request.canonicalId) : undefined;
      const written = remoteId
        ? await this.call(pipedriveCosts.updateDeal, () => this.deals.updateDeal({ id: remoteId, UpdateDealRequest: input as never }))
        : await this.call(pipedriveCosts.addDeal, () => this.deals.addDeal({ AddDealRequest: { title: '', ...input } as never }));
      results.push({
        canonicalId: request.canonicalId,
        remoteId: String(written.data!.id),
        version: new Date(written.data!.update_time!),
        fields: fromPipedrive(written.data as unknown as PipedriveDeal, settings).fields,
        problems,
      });
    }
    return results;
  }

  /** The primary contact as a Pipedrive person: found by email, or created. */
  private async personFor(contact: { email: string | null; name: string } | null, problems: PushResult['problems']): Promise<number | null> {
    if (!contact) return null;
    if (!contact.email) {
      problems.push({ field: 'contact', value: contact.name, message: 'a contact without an email is not synced to Pipedrive' });
      return null;
    }
    const email = contact.email;
    const found = await this.call(pipedriveCosts.searchPersons, () => this.persons.searchPersons({ term: email, fields: 'email', exact_match: true }), 'search');
    const existing = found.data?.items?.[0]?.item?.id;
    if (existing) return existing;
    const created = await this.call(pipedriveCosts.addPerson, () =>
      this.persons.addPerson({ AddPersonRequest: { name: contact.name, emails: [{ value: email, primary: true, label: 'work' }] } }),
    );
    return created.data!.id!;
  }

  /** Webhooks v2 for every deal event, with HTTP basic auth that only this connection knows. */
  async registerWebhook(url: string, auth: { user: string; password: string }): Promise<string> {
    const created = await this.call(pipedriveCosts.v1, () =>
      this.webhooks.addWebhook({
        AddWebhookRequest: { name: 'crm-sync', subscription_url: url, event_action: '*' as never, event_object: 'deal' as never, http_auth_user: auth.user, http_auth_password: auth.password, version: '2.0' as never },
      }),
    );
    return String(created.data!.id);
  }

  async remove(remoteId: string): Promise<void> {
    await this.call(pipedriveCosts.deleteDeal, () => this.deals.deleteDeal({ id: Number(remoteId) }));
  }

  async read(remoteIds: string[], settings: MappingSettings): Promise<RemoteState[]> {
    const states: RemoteState[] = [];
    for (let i = 0; i < remoteIds.length; i += IDS_PER_LIST) {
      const ids = remoteIds.slice(i, i + IDS_PER_LIST);
      const listed = await this.call(pipedriveCosts.listDeals, () => this.deals.getDeals({ ids: ids.join(','), limit: IDS_PER_LIST }));
      const found = new Map((listed.data ?? []).map((d) => [String(d.id), d as unknown as PipedriveDeal]));
      for (const id of ids) {
        const deal = found.get(id);
        if (!deal) {
          states.push({ remoteId: id, version: new Date(0), canonicalId: undefined, fields: {}, deleted: true, problems: [] });
          continue;
        }
        states.push(stateOf(deal, settings));
      }
    }
    return states;
  }

  /** Each deal's person, read once per person (1 token each). */
  async contactsOf(states: RemoteState[]): Promise<Map<string, NonNullable<SyncFields['contact']>>> {
    const people = new Map<string, NonNullable<SyncFields['contact']>>();
    const contacts = new Map<string, NonNullable<SyncFields['contact']>>();
    for (const state of states) {
      const ref = state.contactRef;
      if (!ref) continue;
      if (!people.has(ref)) {
        const person = (await this.call(pipedriveCosts.getPerson, () => this.persons.getPerson({ id: Number(ref) }))).data;
        const email = person?.emails?.find((e) => e.primary)?.value ?? person?.emails?.[0]?.value;
        people.set(ref, { email: email?.toLowerCase() || null, name: person?.name || email || 'Unnamed contact' });
      }
      contacts.set(state.remoteId, people.get(ref)!);
    }
    return contacts;
  }

  async changedSince(cursor: PullCursor, settings: MappingSettings): Promise<PullPage> {
    return this.listSince(cursor, settings, undefined);
  }

  /** Deleted deals stay listable with status=deleted for 30 days. */
  async deletedSince(cursor: PullCursor, settings: MappingSettings): Promise<PullPage> {
    return this.listSince(cursor, settings, 'deleted');
  }

  private async listSince(cursor: PullCursor, settings: MappingSettings, status: 'deleted' | undefined): Promise<PullPage> {
    const since = rfc3339(Date.parse(cursor.since));
    const listed = await this.call(pipedriveCosts.listDeals, () =>
      this.deals.getDeals({ updated_since: since, sort_by: 'update_time', sort_direction: 'asc', limit: PAGE, cursor: cursor.after, status }),
    );
    const deals = (listed.data ?? []) as unknown as PipedriveDeal[];
    const states = deals.map((deal) => ({ ...stateOf(deal, settings), deleted: status === 'deleted' }));
    const last = states.at(-1)?.version.getTime();
    return { states, next: nextCursor({ since }, last, listed.additional_data?.next_cursor) };
  }
}
