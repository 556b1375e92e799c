import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { createLogger } from '../src/log.ts';
import { hashApiKey } from '../src/model/accounts/accounts.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

/** Everything the server's pino logger writes, line by line, as the process would print it. */
let lines: string[] = [];
const captured = () => lines.join('');
const destination = new Writable({
  write(chunk, _encoding, done) {
    lines.push(String(chunk));
    done();
  },
});

let database: TestDatabase;
let app: FastifyInstance;
let client: Client;

beforeAll(async () => {
  database = await createTestDatabase();
  app = await buildServer({ db: database.db, logger: createLogger('info', destination) });
  await app.ready();
  client = await newAccount({ database, app } as TestApi, 'Logged');
});
afterAll(async () => {
  await app.close();
  await database.drop();
});
beforeEach(() => {
  lines = [];
});

describe('request logs', () => {
  it('carry the path but no query value, whatever the client puts in the URL', async () => {
    const secret = 'secret-in-the-url-4f1d9c';
    for (const url of [`/v1/opportunities?token=${secret}`, `/v1/opportunities?limit=5&access_token=${secret}&x=${secret}`, `/nowhere?api_key=${secret}`]) {
      await client.request('GET', url);
    }
    await app.inject({ method: 'GET', url: `/v1/opportunities?key=${secret}`, headers: { authorization: `Bearer ${secret}` } });
    await client.request('GET', `/v1/%zz?${secret}`);
    expect(captured()).toContain('"url":"/v1/opportunities?');
    expect(captured()).toContain('/nowhere');
    expect(captured()).not.toContain(secret);
  });

  it('never carry the API key, nor its hash', async () => {
    await client.request('GET', '/v1/opportunities');
    expect(captured()).toContain('incoming request');
    expect(captured()).not.toContain(client.apiKey);
    expect(captured()).not.toContain(hashApiKey(client.apiKey));
  });
});

describe('database errors', () => {
  it('are logged with their code and without their parameters (the API key hash) or the key', async () => {
    // A real database error on the query that looks the key up: the table is gone for a moment.
    await database.sql`ALTER TABLE api_keys RENAME TO api_keys_away`;
    try {
      const response = await client.request('GET', '/v1/opportunities?cursor=abc');
      expect(response.statusCode).toBe(500);
    } finally {
      await database.sql`ALTER TABLE api_keys_away RENAME TO api_keys`;
    }
    const errorLine = lines.find((line) => line.includes('"level":50'));
    expect(errorLine, captured()).toBeDefined();
    expect(captured()).not.toContain(client.apiKey);
    expect(captured()).not.toContain(hashApiKey(client.apiKey));
    expect(errorLine).toContain('42P01');
  });

  it('are logged without the values of a unique violation', async () => {
    const ref = 'erp-ref-value-9d2e71';
    // A unique index that makes the second write fail in the database, naming the value in its detail.
    await database.sql`CREATE UNIQUE INDEX opportunities_title_test_uq ON opportunities (title)`;
    try {
      expect((await client.request('POST', '/v1/opportunities', { title: ref })).statusCode).toBe(201);
      expect((await client.request('POST', '/v1/opportunities', { title: ref })).statusCode).toBe(500);
    } finally {
      await database.sql`DROP INDEX opportunities_title_test_uq`;
    }
    const errorLine = lines.find((line) => line.includes('"level":50'));
    expect(errorLine, captured()).toBeDefined();
    expect(captured()).not.toContain(ref);
    expect(errorLine).toContain('23505');
    expect(errorLine).toContain('opportunities_title_test_uq');
  });
});
