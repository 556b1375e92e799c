import { createServer, connect, type Server, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { closeQueues, createQueues } from '../src/jobs/queues.ts';
import { createAccount } from '../src/model/accounts/accounts.ts';
import { connectDatabase, type DatabaseHandle } from '../src/model/store/db.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { testRedis } from './support/redis.ts';
import { freePort } from './support/sync.ts';

const TOKEN = 'admin-token-for-database-down-0123';

/**
 * Postgres on a port of its own that the test can take away and give back: a TCP relay to the real
 * server. Down, nothing listens on the port (connections are refused, open ones are cut), which is
 * what a client of a stopped Postgres sees.
 */
function relay(port: number, target: URL) {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  return {
    async up() {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        track(client);
        track(upstream);
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    async down() {
      const closed = new Promise((resolve) => server?.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

let database: TestDatabase;
let redisHandle: ReturnType<typeof testRedis>;
let queues: ReturnType<typeof createQueues>;
const opened: { app: FastifyInstance; handle: DatabaseHandle }[] = [];
let apiKey: string;

/** The whole server (API, webhooks, admin) on a database at `url`. */
async function serverOn(url: string) {
  const handle = connectDatabase(url, { max: 4 });
  const redis = redisHandle.connect();
  const setup = { db: handle.db, redis, prefix: redisHandle.prefix, keyring: undefined, publicUrl: 'http://127.0.0.1:9' };
  const app = await buildServer({
    db: handle.db,
    logger: false,
    sync: { setup, outbound: queues.outbound, inbound: queues.inbound },
    admin: { token: TOKEN, queues: Object.values(queues) },
  });
  await app.ready();
  opened.push({ app, handle });
  return app;
}

/** One request of each kind: /v1, the admin API, the admin login and a webhook receiver. */
const requests = () => [
  { method: 'GET' as const, url: '/v1/opportunities', headers: { authorization: `Bearer ${apiKey}` } },
  { method: 'POST' as const, url: '/v1/opportunities', headers: { authorization: `Bearer ${apiKey}` }, payload: { title: 'Written while down' } },
  { method: 'GET' as const, url: '/admin/api/conflicts', headers: { authorization: `Bearer ${TOKEN}` } },
  { method: 'POST' as const, url: '/admin/login', payload: { token: TOKEN } },
  { method: 'POST' as const, url: '/webhooks/pipedrive/00000000-0000-4000-8000-000000000000', payload: { meta: {}, data: {} }, headers: { authorization: 'Basic dTpw' } },
];

async function expectUnavailable(app: FastifyInstance) {
  for (const request of requests()) {
    const response = await app.inject(request);
    expect(response.statusCode, `${request.method} ${request.url}: ${response.body}`).toBe(503);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toMatchObject({ status: 503, title: 'Service Unavailable' });
    expect(response.json().detail).toContain('database');
  }
}

beforeAll(async () => {
  database = await createTestDatabase();
  redisHandle = testRedis();
  queues = createQueues(redisHandle.connect(), redisHandle.prefix);
  apiKey = (await createAccount(database.db, { name: 'Down' })).apiKey;
});
afterAll(async () => {
  for (const { app, handle } of opened) {
    await app.close();
    await handle.close();
  }
  await closeQueues(queues);
  await redisHandle.close();
  await database.drop();
});

describe('with Postgres unreachable', () => {
  it('every API, admin and webhook request answers 503 with Retry-After when nothing listens on the database port', async () => {
    const url = new URL(database.url);
    url.port = String(await freePort());
    await expectUnavailable(await serverOn(url.toString()));
  });

  it('answers 503 while the database is down and works again once it is back', async () => {
    const port = await freePort();
    const target = new URL(database.url);
    const postgres = relay(port, target);
    await postgres.up();
    const url = new URL(database.url);
    url.port = String(port);
    const app = await serverOn(url.toString());
    const list = () => app.inject(requests()[0]!);
    expect((await list()).statusCode).toBe(200);

    await postgres.down();
    await expectUnavailable(app);

    await postgres.up();
    const back = await list();
    expect(back.statusCode, back.body).toBe(200);
    await postgres.down();
  });
});
