import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import { createAccount } from '../../src/model/accounts/accounts.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestApi {
  database: TestDatabase;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** The real server on a fresh database, driven through Fastify's inject (no socket needed). */
export async function startTestApi(): Promise<TestApi> {
  const database = await createTestDatabase();
  const app = await buildServer({ db: database.db, logger: false });
  await app.ready();
  return {
    database,
    app,
    async close() {
      await app.close();
      await database.drop();
    },
  };
}

export interface Client {
  accountId: string;
  keyId: string;
  apiKey: string;
  request(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
}

/** A new account with its API key, and a request helper that authenticates as it. */
export async function newAccount(api: TestApi, name = 'Test account'): Promise<Client> {
  const created = await createAccount(api.database.db, { name });
  return {
    ...created,
    request(method, url, body, headers = {}) {
      // A string body is sent as written, so tests can send malformed JSON or exact number literals.
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const contentType = payload === undefined ? {} : { 'content-type': 'application/json' };
      return api.app.inject({
        method,
        url,
        payload,
        headers: { authorization: `Bearer ${created.apiKey}`, ...contentType, ...headers },
      });
    },
  };
}
