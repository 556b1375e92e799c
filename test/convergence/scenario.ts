import { notifyAccount } from '../../src/jobs/notify.ts';
import { reconcileConnection } from '../../src/orchestration/reconcile.ts';
import { check, snapshot } from './checker.ts';
import { CRMS, Model, type Crm, type Opp, type Values } from './model.ts';
import { describe, Generator, type Operation } from './operations.ts';
import { Rng } from './random.ts';
import { SANDBOX_HOSTS } from '../support/sync.ts';
import { STAGES, startTenant, type SandboxFaults, type Tenant } from './tenant.ts';
import { PREFIX, sleep, type World } from './world.ts';

export interface ScenarioOptions {
  /** Run the reconciliation pass at the end (and allow dropped webhooks, which only it repairs). */
  reconcile: boolean;
}

export interface SeedReport {
  seed: number;
  problems: string[];
  /** The operation log, then the final states. */
  log: string[];
  ms: number;
}

const NO_FAULTS: SandboxFaults = { latencyMs: 0, fail429: 0, fail5xx: 0, dropWebhooks: 0, duplicateWebhooks: 0, delayWebhooksMs: 0, reorderWebhooks: false };
/** How long an operation waits for the deal it acts on to reach the CRM (or be imported) before it is skipped. */
const RESOLVE_MS = 3000;
/** How long a round may take to become quiet before the oracle stops assuming the rounds were apart. */
const ROUND_QUIET_MS = 15_000;
const FINAL_QUIET_MS = 60_000;

class Scenario {
  private readonly model = new Model();
  private readonly rng: Rng;
  private readonly generator: Generator;
  private readonly lines: string[] = [];
  private readonly started = Date.now();
  private readonly problems: string[] = [];
  private opIndex = 0;
  private restarting: Promise<void> | undefined;
  private readonly world: World;
  private readonly tenant: Tenant;
  private readonly seed: number;
  private readonly options: ScenarioOptions;

  constructor(world: World, tenant: Tenant, seed: number, options: ScenarioOptions) {
    this.world = world;
    this.tenant = tenant;
    this.seed = seed;
    this.options = options;
    this.rng = new Rng(seed);
    this.generator = new Generator(seed, this.rng, this.model, { drops: options.reconcile });
  }

  private log(line: string) {
    this.lines.push(`${String(Date.now() - this.started).padStart(6)}ms ${line}`);
  }

  async run(): Promise<SeedReport> {
    const rng = this.rng;
    const rounds = rng.int(3, 5);
    const killRound = rng.chance(0.4) ? rng.int(1, rounds) : undefined;
    this.log(`seed ${this.seed}: ${rounds} rounds${killRound ? `, worker killed in round ${killRound}` : ''}; HubSpot portal ${this.tenant.hubspot.portalId}, Pipedrive company ${this.tenant.pipedrive.companyId}`);

    // Round 0: the first opportunities, through the API and in each CRM.
    this.log('round 0');
    for (let i = rng.int(2, 3); i > 0; i--) await this.execute({ kind: 'create', side: 'api', values: this.generator.createValues() }, 0);
    if (rng.chance(0.5)) await this.execute({ kind: 'create', side: rng.pick(CRMS), values: this.generator.createValues() }, 0);
    await this.settle(1);

    const dropping = new Set<Crm>();
    for (let round = 1; round <= rounds; round++) {
      const faults = this.generator.faults();
      for (const { crm, faults: f } of faults) await this.tenant.faults(crm, f);
      for (const crm of CRMS) if (dropping.has(crm) || faults.some((f) => f.crm === crm && f.faults.dropWebhooks)) this.model.markDrops(crm, round);
      this.log(`round ${round}${faults.length ? `; faults ${faults.map((f) => `${f.crm} ${JSON.stringify(f.faults)}`).join(', ')}` : ''}`);
      const count = rng.int(2, 5);
      const killAt = round === killRound ? rng.int(0, count - 1) : -1;
      let hot: Opp | undefined;
      for (let i = 0; i < count; i++) {
        if (i === killAt) await this.kill(rng.int(0, 600));
        const op = this.generator.operation(hot);
        hot = 'opp' in op ? op.opp : op.kind === 'merge' ? op.keep : hot;
        await this.execute(op, round);
        await sleep(rng.int(0, 40));
      }
      for (const { crm } of faults) await this.tenant.faults(crm, { delayWebhooksMs: 0, reorderWebhooks: false, latencyMs: 0 });
      await this.settle(round + 1);
      for (const crm of CRMS) {
        // A drop count not used up yet may take the next round's events.
        const { dropsLeft } = await this.tenant.faults(crm, {});
        if (dropsLeft > 0) dropping.add(crm);
        else dropping.delete(crm);
      }
    }

    this.log('faults stop');
    for (const crm of CRMS) await this.tenant.faults(crm, NO_FAULTS);
    await this.restarting;
    const quiet = await this.quiet(FINAL_QUIET_MS, 5);
    if (!quiet.ok) this.problems.push(`never quiet after the faults stopped: ${quiet.reason}`);
    await this.checkByWebhooksAlone();
    if (this.options.reconcile) {
      const deps = { db: this.world.database.db, redis: this.world.redis, prefix: PREFIX, keyring: this.world.keyring, crmBaseUrlHosts: SANDBOX_HOSTS };
      const notify = (accountId: string) => notifyAccount(this.world.database.db, this.world.queues.outbound, accountId);
      for (const crm of CRMS) {
        const outcome = await reconcileConnection(deps, this.tenant.connectionIds[crm], { notify });
        this.log(`reconciled ${crm}: ${JSON.stringify(outcome)}`);
      }
      const again = await this.quiet(FINAL_QUIET_MS, 5);
      if (!again.ok) this.problems.push(`never quiet after reconciliation: ${again.reason}`);
    }

    const verdict = check(this.model, await snapshot(this.world, this.tenant));
    this.problems.push(...verdict.problems);
    this.lines.push('final states:', ...verdict.table);
    if (this.problems.length) await this.timelines(new Set(this.problems.join(' ').match(/\bo\d+\b/g) ?? []));
    return { seed: this.seed, problems: this.problems, log: this.lines, ms: Date.now() - this.started };
  }

  /**
   * Before any reconciliation: where no webhook was dropped, webhooks and flushes alone must have
   * brought every side to agreement (reconciliation would hide races between them). A seed that
   * dropped webhooks is checked after reconciliation only, which is what repairs those.
   */
  private async checkByWebhooksAlone() {
    if (this.model.droppedWebhooks()) {
      this.log('webhooks were dropped: convergence is checked after reconciliation only');
      return;
    }
    // A delivery the CRM gave up on (its compressed retry schedule spent while our receiver was
    // slow or answered 503 on a loaded machine) is a dropped webhook too: said, then the same rule.
    const lost = await this.tenant.undelivered();
    if (lost.length) {
      this.log(`the CRMs gave up on webhooks: ${lost.map((l) => `${l.crm} ${l.events} events (attempts answered ${l.statuses.join(', ')})`).join('; ')}: convergence is checked after reconciliation only`);
      return;
    }
    const verdict = check(this.model, await snapshot(this.world, this.tenant));
    this.log(`checked by webhooks alone (no webhook dropped): ${verdict.problems.length ? `${verdict.problems.length} problems` : 'converged'}`);
    if (verdict.problems.length === 0) return;
    this.problems.push(...verdict.problems.map((p) => `by webhooks alone, before reconciliation: ${p}`));
    this.lines.push('states by webhooks alone:', ...verdict.table);
  }

  /** The sync's own timeline (sync_events) of the opportunities a problem names, for the report. */
  private async timelines(names: Set<string>) {
    const sql = this.world.database.sql;
    for (const opp of this.model.opps.filter((o) => names.has(o.name) && o.canonicalId)) {
      const rows = await sql`
        SELECT e.created_at, e.kind, e.field, e.before, e.after, e.rule, e.detail, c.provider
          FROM sync_events e LEFT JOIN connections c ON c.id = e.connection_id
         WHERE e.opportunity_id = ${opp.canonicalId!} ORDER BY e.id`;
      this.lines.push(`sync timeline of ${opp.name}:`);
      for (const r of rows) {
        const at = String((r.created_at as Date).getTime() - this.started).padStart(6);
        const what = Object.fromEntries(Object.entries({ before: r.before, after: r.after, rule: r.rule, detail: r.detail }).filter(([, v]) => v !== null));
        this.lines.push(`  ${at}ms ${r.provider ?? '-'} ${r.kind}${r.field ? ` ${r.field}` : ''} ${JSON.stringify(what).slice(0, 240)}`);
      }
    }
  }

  /** Waits for quiet; a round not seen quiet is merged with the next one in the oracle. */
  private async settle(nextRound: number) {
    const quiet = await this.quiet(ROUND_QUIET_MS, 3);
    if (!quiet.ok) {
      this.log(`not quiet after ${ROUND_QUIET_MS} ms (${quiet.reason}): round ${nextRound} counts as concurrent with the one before`);
      this.model.markUnsettled(nextRound);
    }
  }

  private async kill(downtimeMs: number) {
    const orphans = await this.world.killWorker();
    this.log(`worker SIGKILLed (${orphans} jobs in flight handed back to the queue); restarting in ${downtimeMs} ms`);
    this.restarting = sleep(downtimeMs).then(() => this.world.worker.start());
  }

  /** Quiet: the worker runs, no webhook on its way, nothing queued, nothing dirty; `stable` times in a row. */
  private async quiet(timeoutMs: number, stable: number): Promise<{ ok: boolean; reason?: string }> {
    const deadline = Date.now() + timeoutMs;
    let streak = 0;
    let reason = '';
    let noted = Date.now();
    while (Date.now() < deadline) {
      reason = await this.busy();
      streak = reason ? 0 : streak + 1;
      if (streak >= stable) return { ok: true };
      if (reason && Date.now() - noted > 2000) {
        this.log(`  still waiting: ${reason}`);
        noted = Date.now();
      }
      await sleep(40);
    }
    return { ok: false, reason };
  }

  private async busy(): Promise<string> {
    if (!this.world.worker.up) return 'the worker is not running';
    if (!(await this.tenant.idle())) return 'webhooks on their way';
    const queued = await this.world.queuedWork();
    if (queued) return `jobs queued (${queued})`;
    const ids = this.world.database.sql(Object.values(this.tenant.connectionIds));
    const [{ n }] = await this.world.database.sql`SELECT count(*)::int AS n FROM outbox WHERE connection_id IN ${ids}`;
    if (n) return `${n} outbox rows dirty`;
    const [{ received }] = await this.world.database.sql`SELECT count(*)::int AS received FROM inbox WHERE connection_id IN ${ids} AND failed_at IS NULL`;
    return received ? `${received} received webhooks not applied yet` : '';
  }

  // ---------- running one operation ----------

  private async execute(op: Operation, round: number) {
    const index = ++this.opIndex;
    const text = `#${index} ${describe(op)}`;
    try {
      const outcome = await this.perform(op, round, index);
      this.log(outcome ? `${text}: ${outcome}` : text);
    } catch (error) {
      this.log(`${text}: FAILED ${(error as Error).message}`);
      this.problems.push(`operation #${index} (${describe(op)}) failed: ${(error as Error).message}`);
    }
  }

  /** Performs the operation and records it in the model; returns a note for the log, if any. */
  private async perform(op: Operation, round: number, index: number): Promise<string | undefined> {
    const api = this.tenant.client;
    const model = this.model;
    if (op.kind === 'create') return this.create(op, round, index);
    if (op.kind === 'merge') return this.merge(op, round, index);
    const opp = op.opp;
    if (op.side === 'api') {
      const id = opp.canonicalId ?? (await this.canonicalId(opp));
      if (!id) return 'skipped: not imported yet';
      const request = {
        edit: () => api.request('PATCH', `/v1/opportunities/${id}`, op.kind === 'edit' ? op.values : {}),
        won: () => api.request('POST', `/v1/opportunities/${id}/close`, { state: 'won' }),
        lost: () => api.request('POST', `/v1/opportunities/${id}/close`, { state: 'lost', reason: op.kind === 'lost' ? op.reason : undefined }),
        reopen: () => api.request('POST', `/v1/opportunities/${id}/reopen`),
        delete: () => api.request('DELETE', `/v1/opportunities/${id}`),
      }[op.kind as 'edit' | 'won' | 'lost' | 'reopen' | 'delete'];
      const response = await request();
      if (response.statusCode >= 300) throw new Error(`API ${response.statusCode} ${response.body.slice(0, 300)}`);
      if (op.kind === 'delete') opp.tombstone = { round, op: index };
      else model.write(opp, round, index, 'api', this.writes(op));
      return `(${id.slice(0, 8)})`;
    }
    const crm = op.side;
    const dealId = await this.remoteId(opp, crm, false);
    if (!dealId) return `skipped: no ${crm} deal yet`;
    await this.ui(crm, op, dealId);
    if (op.kind === 'delete') opp.remote[crm].gone = { how: 'deleted', round, op: index };
    else if (!opp.tombstone) model.write(opp, round, index, crm, this.writes(op));
    return `(deal ${dealId})`;
  }

  /** What an operation writes, in canonical terms. */
  private writes(op: Exclude<Operation, { kind: 'create' | 'merge' | 'delete' }>): Values {
    switch (op.kind) {
      case 'edit':
        return op.values;
      case 'stage':
        // HubSpot has one property for both: moving a deal to an open stage also (re)opens it.
        return op.side === 'hubspot' ? { stage: op.stage, state: 'open', lostReason: null } : { stage: op.stage };
      case 'won':
        return { state: 'won', lostReason: null };
      case 'lost':
        return { state: 'lost', lostReason: op.reason };
      case 'reopen':
        return { state: 'open', lostReason: null };
    }
  }

  private async ui(crm: Crm, op: Operation, dealId: string) {
    const ui = (method: string, path: string, body?: unknown) => this.tenant.ui(crm, method, path, body);
    const stage = (key: string) => STAGES.find((s) => s.key === key)!;
    switch (op.kind) {
      case 'edit': {
        const v = op.values;
        if (crm === 'hubspot') return ui('PATCH', `/deals/${dealId}`, { ...(v.title && { dealname: v.title }), ...(v.amount && { amount: v.amount }), ...(v.closeDate && { closedate: v.closeDate }) });
        return ui('PATCH', `/deals/${dealId}`, { ...(v.title && { title: v.title }), ...(v.amount && { value: Number(v.amount) }), ...(v.closeDate && { expected_close_date: v.closeDate }) });
      }
      case 'stage':
        if (crm === 'hubspot') return ui('POST', `/deals/${dealId}/stage`, { stageId: stage(op.stage).hubspot });
        return ui('PATCH', `/deals/${dealId}`, { stage_id: stage(op.stage).pipedrive });
      case 'won':
        return ui('POST', `/deals/${dealId}/won`, {});
      case 'lost':
        return ui('POST', `/deals/${dealId}/lost`, { reason: op.reason });
      case 'reopen':
        return ui('PATCH', `/deals/${dealId}`, { status: 'open' });
      case 'delete':
        return ui('DELETE', `/deals/${dealId}`);
      default:
        throw new Error(`not a deal operation: ${op.kind}`);
    }
  }

  private async create(op: Extract<Operation, { kind: 'create' }>, round: number, index: number) {
    const v = op.values;
    const stage = STAGES.find((s) => s.key === v.stage)!;
    if (op.side === 'api') {
      const response = await this.tenant.client.request('POST', '/v1/opportunities', v);
      if (response.statusCode !== 201) throw new Error(`API ${response.statusCode} ${response.body.slice(0, 300)}`);
      const opp = this.model.add('api', round, index, v);
      opp.canonicalId = response.json().id;
      return `→ ${opp.name} (${opp.canonicalId!.slice(0, 8)})`;
    }
    const deal =
      op.side === 'hubspot'
        ? await this.tenant.ui('hubspot', 'POST', '/deals', { dealname: v.title, amount: v.amount, pipeline: 'default', dealstage: stage.hubspot, closedate: v.closeDate })
        : await this.tenant.ui('pipedrive', 'POST', '/deals', { title: v.title, value: Number(v.amount), stage_id: stage.pipedrive, expected_close_date: v.closeDate });
    const opp = this.model.add(op.side, round, index, v, { [op.side]: String(deal.id) });
    return `→ ${opp.name} (deal ${deal.id})`;
  }

  /** Merges need both deals tagged with our ids: the brief's merge semantics rest on the ids they carry. */
  private async merge(op: Extract<Operation, { kind: 'merge' }>, round: number, index: number) {
    const crm = op.side;
    const keepId = await this.remoteId(op.keep, crm, true);
    const awayId = keepId && (await this.remoteId(op.away, crm, true));
    if (!keepId || !awayId) return `skipped: deals not both in ${crm} with our ids yet`;
    if (crm === 'hubspot') {
      const survivor = await this.tenant.ui('hubspot', 'POST', '/deals/merge', { primaryId: keepId, mergeId: awayId });
      op.keep.remote.hubspot.id = String(survivor.id);
      // HubSpot fills the survivor's empty properties from the merged deal (a lost reason, say).
      op.keep.loose.set('lostReason', `round ${round}: HubSpot merge may fill an empty lost reason from ${op.away.name}`);
      op.away.remote.hubspot.gone = { how: 'merged', round, op: index };
      return `(deals ${keepId} + ${awayId} → ${survivor.id})`;
    }
    await this.tenant.ui('pipedrive', 'POST', `/deals/${awayId}/merge`, { merge_with_id: Number(keepId) });
    op.away.remote.pipedrive.gone = { how: 'merged', round, op: index };
    return `(deal ${awayId} into ${keepId})`;
  }

  // ---------- finding what an operation acts on ----------

  private async poll<T>(find: () => Promise<T | undefined>): Promise<T | undefined> {
    const deadline = Date.now() + RESOLVE_MS;
    for (;;) {
      const found = await find();
      if (found !== undefined || Date.now() > deadline) return found;
      await sleep(50);
    }
  }

  /** The canonical id of an opportunity born in a CRM: once the sync has imported its deal. */
  private async canonicalId(opp: Opp): Promise<string | undefined> {
    if (opp.canonicalId) return opp.canonicalId;
    const crm = opp.origin as Crm;
    const remoteId = opp.remote[crm].id!;
    const sql = this.world.database.sql;
    opp.canonicalId = await this.poll(async () => {
      const [row] = await sql`SELECT opportunity_id FROM remote_links WHERE connection_id = ${this.tenant.connectionIds[crm]} AND remote_id = ${remoteId}`;
      return row?.opportunity_id as string | undefined;
    });
    return opp.canonicalId;
  }

  /** The opportunity's live deal in a CRM (carrying our id when `tagged`), once it is there. */
  private async remoteId(opp: Opp, crm: Crm, tagged: boolean): Promise<string | undefined> {
    const id = await this.canonicalId(opp);
    if (!id) return undefined;
    const known = opp.remote[crm].id;
    if (known && !tagged) return known;
    const found = await this.poll(async () => {
      const state = await this.tenant.state(crm);
      const deal =
        crm === 'hubspot'
          ? state.deals.find((d: { archived: boolean; properties: Record<string, string> }) => !d.archived && d.properties.crm_sync_id === id)
          : state.deals.find((d: { status: string; custom_fields: Record<string, string> }) => d.status !== 'deleted' && d.custom_fields[this.tenant.pipedriveIdField] === id);
      return deal ? String(deal.id) : undefined;
    });
    if (found) opp.remote[crm].id = found;
    return found;
  }
}

/** Runs one seed on a fresh tenant (account, sandboxes, connections) of the shared world. */
export async function runSeed(world: World, seed: number, options: ScenarioOptions): Promise<SeedReport> {
  const started = Date.now();
  await world.worker.whenReady();
  const tenant = await startTenant(world, seed);
  try {
    return await new Scenario(world, tenant, seed, options).run();
  } catch (error) {
    return { seed, problems: [`the scenario broke off: ${(error as Error).stack}`], log: [], ms: Date.now() - started };
  } finally {
    await tenant.close();
    world.worker.warm();
  }
}
