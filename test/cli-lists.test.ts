import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createApiKey, revokeApiKey } from '../src/model/accounts/accounts.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

/**
 * `accounts list` and `keys list`, run as the operator runs them: the CLI as a process on a fresh
 * database. Each run is a process start (seconds on a busy machine), hence the long deadlines;
 * what is listed is made through the model (test/cli.test.ts runs create and revoke as processes).
 */

const run = promisify(execFile);
const cli = new URL('../src/cli.ts', import.meta.url).pathname;
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

async function crmSync(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env: { ...process.env, DATABASE_URL: database.url } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
const lines = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));

describe('crm-sync accounts list and keys list', () => {
  it('list every account, and an account’s keys with id, prefix, created and revoked, never the key or its hash', { timeout: 240_000 }, async () => {
    expect(await crmSync('accounts', 'list')).toMatchObject({ code: 0, stdout: '' });
    const first = await createAccount(database.db, { name: 'First', defaultCurrency: 'EUR' });
    const second = await createAccount(database.db, { name: 'Second' });

    const accounts = await crmSync('accounts', 'list');
    expect(accounts.code, accounts.stderr).toBe(0);
    expect(lines(accounts.stdout)).toEqual([
      { accountId: first.accountId, name: 'First', defaultCurrency: 'EUR', createdAt: expect.any(String) },
      { accountId: second.accountId, name: 'Second', defaultCurrency: 'USD', createdAt: expect.any(String) },
    ]);

    const extra = await createApiKey(database.db, first.accountId);
    await revokeApiKey(database.db, first.keyId);
    const keys = await crmSync('keys', 'list', first.accountId);
    expect(keys.code, keys.stderr).toBe(0);
    const listed = lines(keys.stdout);
    expect(listed).toEqual([
      { keyId: first.keyId, prefix: first.apiKey.slice(0, 12), createdAt: expect.any(String), revokedAt: expect.any(String) },
      { keyId: extra.keyId, prefix: extra.apiKey.slice(0, 12), createdAt: expect.any(String), revokedAt: null },
    ]);
    const hashes = (await database.sql`SELECT key_hash FROM api_keys`).map((row) => row.key_hash as string);
    for (const secret of [first.apiKey, extra.apiKey, ...hashes]) expect(keys.stdout).not.toContain(secret);
    expect(lines((await crmSync('keys', 'list', second.accountId)).stdout).map((k) => k.keyId)).toEqual([second.keyId]);
  });

  it('keys list of an unknown account exits 1; without an account id, or with accounts list and a flag, 2', { timeout: 120_000 }, async () => {
    const unknown = await crmSync('keys', 'list', '00000000-0000-4000-8000-000000000000');
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr.trim()).toBe('crm-sync: account not found');
    const missing = await crmSync('keys', 'list');
    expect(missing.code).toBe(2);
    expect(missing.stderr.split('\n')[0]).toBe('crm-sync: keys list needs an ACCOUNT_ID (a UUID)');
    expect((await crmSync('accounts', 'list', '--name', 'x')).code).toBe(2);
  });
});
