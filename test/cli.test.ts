import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnReaped } from './support/children.ts';
import { dropDatabase } from './support/database.ts';

const run = promisify(execFile);
const cli = new URL('../src/cli.ts', import.meta.url).pathname;
const server = new URL(process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/crm_sync');
const databaseUrl = new URL(server);
databaseUrl.pathname = `/crm_sync_cli_${randomBytes(6).toString('hex')}`;

async function crmSync(args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []) {
  try {
    const { stdout, stderr } = await run(process.execPath, [...nodeFlags, cli, ...args], {
      env: { ...process.env, DATABASE_URL: databaseUrl.toString(), ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Nothing listens on port 1: a command that tried the database or Redis would fail with a connection error. */
const unreachable = { DATABASE_URL: 'postgres://127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:1' };

/** The service's heavy packages: help and usage errors must answer before the CLI loads any of them. */
const servicePackages = ['fastify', 'bullmq', 'ioredis', 'drizzle-orm', 'postgres', 'pino', 'prom-client', '@hubspot/api-client', 'pipedrive'];

/** A module the child loads before the CLI: importing one of the service's packages then fails, naming it. */
const refuseServicePackages = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
const refused = ${JSON.stringify(servicePackages)};
registerHooks({
  resolve(specifier, context, next) {
    if (refused.some((name) => specifier === name || specifier.startsWith(name + '/'))) throw new Error('loaded ' + specifier);
    return next(specifier, context);
  },
});
`)}`;

const sql = postgres(databaseUrl.toString(), { max: 1, onnotice: () => {} });

afterAll(async () => {
  await sql.end();
  await dropDatabase(databaseUrl.toString());
});

describe('crm-sync CLI', () => {
  it('migrate creates the database, and running it twice is harmless', async () => {
    const first = await crmSync(['migrate']);
    expect(first).toMatchObject({ code: 0 });
    const second = await crmSync(['migrate']);
    expect(second).toMatchObject({ code: 0 });
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM drizzle.__drizzle_migrations`;
    expect(count).toBeGreaterThan(0);
  });

  it('accounts create prints one JSON line and stores only a hash of the key', async () => {
    const { code, stdout } = await crmSync(['accounts', 'create', '--name', 'Acme']);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const created = JSON.parse(stdout);
    expect(created).toMatchObject({ accountId: expect.any(String), keyId: expect.any(String), apiKey: expect.stringMatching(/^crm_/) });
    const keys = await sql`SELECT key_hash FROM api_keys WHERE account_id = ${created.accountId}`;
    expect(keys).toHaveLength(1);
    expect(keys[0]!.key_hash).not.toContain(created.apiKey);
    const [{ found }] = await sql`SELECT count(*)::int AS found FROM api_keys WHERE key_hash LIKE ${'%' + created.apiKey + '%'}`;
    expect(found).toBe(0);
  });

  it('keys create adds a key and keys revoke revokes it', async () => {
    const account = JSON.parse((await crmSync(['accounts', 'create', '--name', 'Keys'])).stdout);
    const key = JSON.parse((await crmSync(['keys', 'create', '--account', account.accountId])).stdout);
    expect(key.apiKey).not.toBe(account.apiKey);
    expect((await crmSync(['keys', 'revoke', key.keyId])).code).toBe(0);
    const [row] = await sql`SELECT revoked_at FROM api_keys WHERE id = ${key.keyId}`;
    expect(row!.revoked_at).not.toBeNull();
    const again = await crmSync(['keys', 'revoke', key.keyId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('not found');
  });

  // These stop before any service starts, so they run side by side: each costs little more than a process start.
  describe.concurrent('before anything starts', () => {
    it.for<[string[], string]>([
      [['accounts', 'create'], '--name'],
      [['keys', 'create'], '--account'],
      [['keys', 'create', '--account', 'not-a-uuid'], '--account'],
      [['accounts', 'create', '--name', 'x', '--colour', 'red'], '--colour'],
      [['frobnicate'], 'frobnicate'],
    ])('names the flag or command in a usage error: %j', async ([args, named], { expect }) => {
      const result = await crmSync(args);
      expect(result.code).toBe(2);
      expect(result.stderr.split('\n')[0]).toContain(named);
    });

    it.for<[string[], number, string]>([
      [['help'], 0, 'Usage: crm-sync <command>'],
      [['--help'], 0, 'Usage: crm-sync <command>'],
      [[], 0, 'Usage: crm-sync <command>'],
      [['frobnicate'], 2, 'crm-sync: unknown command "frobnicate"'],
      [['accounts', 'create'], 2, 'crm-sync: missing --name'],
      [['accounts', 'create', '--name', 'x', '--currency', 'XYZ'], 2, 'crm-sync: --currency must be an ISO 4217 currency code such as "EUR"'],
      [['keys', 'revoke', 'not-a-uuid'], 2, 'crm-sync: keys revoke needs a KEY_ID (a UUID)'],
      [['backfill', 'not-a-uuid'], 2, 'crm-sync: backfill needs a CONNECTION_ID (a UUID)'],
      [['status', '--account', 'not-a-uuid'], 2, 'crm-sync: --account must be an account id (a UUID)'],
      [['serve', '--colour', 'red'], 2, "crm-sync: Unknown option '--colour'"],
      [['demo', '--port', '70000'], 2, 'crm-sync: --port must be a whole number from 0 to 65535'],
      [['sandbox', '--pipedrive-port', '70000'], 2, 'crm-sync: --pipedrive-port must be a whole number from 0 to 65535'],
    ])('answers %j without the database, Redis or the service packages', async ([args, code, firstLine], { expect }) => {
      const result = await crmSync(args, unreachable, ['--import', refuseServicePackages]);
      expect(result.code).toBe(code);
      const output = code === 0 ? result.stdout : result.stderr;
      expect(output.split('\n')[0]).toContain(firstLine);
      expect(result.stderr).not.toMatch(/ECONNREFUSED|unreachable|loaded /);
    });

    it('stops with one line naming a bad environment variable', async ({ expect }) => {
      const result = await crmSync(['migrate'], { PORT: 'abc' });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe('crm-sync: invalid environment: PORT must be a port number');
    });
  });

  it('serve migrates, answers HTTP with the OpenAPI document at /docs, and exits 0 on SIGTERM', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const child = spawnReaped(process.execPath, [cli, 'serve'], {
      env: { ...process.env, DATABASE_URL: databaseUrl.toString(), PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    while (!output.includes('Server listening')) {
      if (child.exitCode !== null) throw new Error(`serve exited: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const spec = (await (await fetch(`http://127.0.0.1:${port}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/v1/opportunities', '/v1/opportunities/by-external-ref/{ref}', '/v1/contacts/{id}/opportunities', '/v1/metrics/opportunities']),
    );
    const unauthorised = await fetch(`http://127.0.0.1:${port}/v1/opportunities`);
    expect(unauthorised.status).toBe(401);
    expect(unauthorised.headers.get('content-type')).toContain('application/problem+json');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  it('sandbox prints one JSON line per sandbox with a working base URL and token, and stops on SIGTERM', async () => {
    const child = spawnReaped(process.execPath, [cli, 'sandbox', '--seed', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    while (output.split('\n').length < 3) {
      if (child.exitCode !== null) throw new Error(`sandbox exited: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const hubspot = JSON.parse(output.split('\n')[0]!);
    expect(hubspot).toMatchObject({ provider: 'hubspot', appId: expect.any(Number), clientSecret: expect.any(String) });
    const owners = await fetch(`${hubspot.baseUrl}/crm/v3/owners`, { headers: { authorization: `Bearer ${hubspot.token}` } });
    expect(owners.status).toBe(200);
    const pipedrive = JSON.parse(output.split('\n')[1]!);
    expect(pipedrive).toMatchObject({ provider: 'pipedrive', companyId: expect.any(Number) });
    const deals = await fetch(`${pipedrive.baseUrl}/api/v2/deals`, { headers: { 'x-api-token': pipedrive.token } });
    expect(deals.status).toBe(200);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
