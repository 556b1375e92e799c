import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { connectRedis, readyWithin } from '../jobs/redis.ts';
import { createLogger } from '../log.ts';
import { buildServer } from '../api/server.ts';
import { keyring as configuredKeyring, type Config } from '../config.ts';
import { closeQueues, createQueues, type Queues } from '../jobs/queues.ts';
import { startWorkers, type Workers } from '../jobs/worker.ts';
import { createAccount } from '../model/accounts/accounts.ts';
import { connectDatabase, type DatabaseHandle } from '../model/store/db.ts';
import { migrateDatabase } from '../model/store/migrate.ts';
import { registerConnectionSubscriptions } from '../orchestration/webhook-subscriptions.ts';
import type { RegistrationOutcome } from '../providers/types.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../sandbox/hubspot/index.ts';
import { startPipedriveSandbox, type PipedriveSandbox } from '../sandbox/pipedrive/index.ts';
import { demoDatabaseUrl, dropDemoDatabase } from './database.ts';

// Bodies the API and the sandboxes answer.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

async function freePort(host: string): Promise<number> {
  const server = createServer().listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

const request = async (url: string, method: string, body: unknown, headers: Record<string, string> = {}): Promise<Json> => {
  const response = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
};

/** A sandbox as a person in its UI and as the demo reads it back. */
export function sandboxControl(baseUrl: string) {
  return {
    ui: (method: string, path: string, body: unknown = {}) => request(`${baseUrl}/_sandbox/ui${path}`, method, body),
    state: (): Promise<Json> => request(`${baseUrl}/_sandbox/state`, 'GET', undefined),
    faults: (faults: Record<string, number>) => request(`${baseUrl}/_sandbox/faults`, 'POST', faults),
  };
}

export interface DemoWorld {
  databaseUrl: string;
  publicUrl: string;
  adminToken: string;
  database: DatabaseHandle;
  redis: Redis;
  queues: Queues;
  app: FastifyInstance;
  workers: Workers;
  hubspot: HubSpotSandbox;
  pipedrive: PipedriveSandbox;
  /** The demo account's API, as an ERP calls it. */
  api: (method: string, path: string, body?: unknown) => Promise<Json>;
  users: { ana: Json; ben: Json };
  connections: { hubspot: Json; pipedrive: Json };
  /** What registering the HubSpot app's webhook subscriptions did. */
  subscriptions: RegistrationOutcome;
  close(): Promise<void>;
}

/** The sandboxes' own people: the connections match them to the demo's users by email. */
const PEOPLE = { ana: { name: 'Ana Silva', email: 'ana@sandbox.example' }, ben: { name: 'Ben Seller', email: 'ben@sandbox.example' } };

async function connect(world: Pick<DemoWorld, 'api' | 'hubspot' | 'pipedrive'>) {
  const { api, hubspot: hs, pipedrive: pd } = world;
  const hubspot = await api('POST', '/connections', { provider: 'hubspot', credentials: { accessToken: hs.token, clientSecret: hs.clientSecret }, baseUrl: hs.baseUrl });
  const pipedrive = await api('POST', '/connections', { provider: 'pipedrive', credentials: { apiToken: pd.token }, baseUrl: pd.baseUrl });
  return { hubspot, pipedrive };
}

/** Canonical stage → HubSpot's and Pipedrive's, as an ops team maps them: the CRMs' defaults share no labels. */
const STAGES: [stage: string, hubspot: string, pipedrive: string][] = [
  ['contact_made', 'appointmentscheduled', '2'],
  ['qualified', 'qualifiedtobuy', '1'],
  ['demo', 'presentationscheduled', '3'],
  ['proposal', 'contractsent', '4'],
  ['negotiation', 'decisionmakerboughtin', '5'],
];

async function mapStages(api: DemoWorld['api'], connections: { hubspot: Json; pipedrive: Json }) {
  const map = (pipelineId: string, pick: (row: (typeof STAGES)[number]) => string) => STAGES.map((row) => ({ stage: row[0], pipelineId, stageId: pick(row) }));
  await api('PATCH', `/connections/${connections.hubspot.id}`, { stages: map('default', (row) => row[1]) });
  await api('PATCH', `/connections/${connections.pipedrive.id}`, { stages: map('1', (row) => row[2]) });
}

/** Everything on this machine: a fresh demo database, both sandboxes, the API and the workers, an account connected to both CRMs. */
export async function startDemoWorld(cfg: Config, options: { port?: number; seed: number }): Promise<DemoWorld> {
  const databaseUrl = demoDatabaseUrl(cfg.DATABASE_URL);
  await dropDemoDatabase(databaseUrl);
  await migrateDatabase(databaseUrl);
  const database = connectDatabase(databaseUrl);
  const [hubspot, pipedrive] = await Promise.all([startHubSpotSandbox({ seed: options.seed, limits: { tenSecondLimit: 190 } }), startPipedriveSandbox({ seed: options.seed })]);
  const host = '127.0.0.1';
  const port = options.port || (await freePort(host));
  const publicUrl = `http://${host}:${port}`;
  // The story holds stdout: Redis's reconnect lines go to stderr.
  const redis = connectRedis(cfg.REDIS_URL, { role: 'producer', logger: createLogger(cfg.LOG_LEVEL, process.stderr), name: 'demo' });
  await readyWithin(redis, 5000);
  const prefix = `${cfg.QUEUE_PREFIX}-demo:${new URL(databaseUrl).pathname.slice(1)}`;
  const queues = createQueues(redis, prefix);
  // Jobs a previous demo left behind belong to connections that no longer exist.
  await Promise.all(Object.values(queues).map((queue) => queue.obliterate({ force: true })));
  const keyring = cfg.ENCRYPTION_KEY ? configuredKeyring(cfg) : { current: randomBytes(32) };
  // The demo's operator lets connections point at its two sandboxes, and nowhere else.
  const crmBaseUrlHosts = [hubspot.baseUrl, pipedrive.baseUrl].map((url) => new URL(url).host);
  const deps = { db: database.db, redis, prefix, keyring, publicUrl, leaseMs: 15_000, eventTargetsAllowed: cfg.EVENT_TARGET_ALLOWED, crmBaseUrlHosts };
  // The dashboard must open in the demo: without ADMIN_TOKEN it gets a token of its own, printed at the end.
  const adminToken = cfg.ADMIN_TOKEN ?? randomBytes(16).toString('hex');
  const sync = { setup: deps, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile, events: queues.events };
  const app = await buildServer({ db: database.db, logger: false, sync, admin: { token: adminToken, queues: Object.values(queues) } });
  await app.listen({ host, port });
  const workers = await startWorkers(deps, { sweepEveryMs: 1000 });
  const account = await createAccount(database.db, { name: 'Demo Co', defaultCurrency: 'EUR' });
  const api = (method: string, path: string, body?: unknown) => request(`${publicUrl}/v1${path}`, method, body, { authorization: `Bearer ${account.apiKey}` });
  const users = { ana: await api('POST', '/users', PEOPLE.ana), ben: await api('POST', '/users', PEOPLE.ben) };
  const connections = await connect({ api, hubspot, pipedrive });
  await mapStages(api, connections);
  // What an ops person does once with `crm-sync webhook-subscriptions <id> --register`: the HubSpot app is
  // pointed at the receiver and subscribed to every event the connection's settings need (from the field registry).
  const subscriptions = await registerConnectionSubscriptions(deps, connections.hubspot.id, () => ({ appId: String(hubspot.appId), developerKey: hubspot.developerApiKey }));
  const close = async () => {
    await app.close();
    await workers.close();
    await closeQueues(queues);
    await redis.quit();
    await Promise.all([hubspot.close(), pipedrive.close()]);
    await database.close();
  };
  return { databaseUrl, publicUrl, adminToken, database, redis, queues, app, workers, hubspot, pipedrive, api, users, connections, subscriptions, close };
}
