import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { demoDatabaseUrl } from '../src/demo/database.ts';
import { dropDatabase } from './support/database.ts';
import { spawnReaped } from './support/children.ts';

// The end state the demo prints, as the store and each sandbox hold it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const cli = new URL('../src/cli.ts', import.meta.url).pathname;
// A database name of this test's own: the demo works in "<name>_demo", never in the configured one.
const configured = new URL(process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/crm_sync');
configured.pathname = `/crm_sync_test_${randomBytes(6).toString('hex')}`;
const demoUrl = demoDatabaseUrl(configured.toString());

afterAll(() => dropDatabase(demoUrl));

function runDemo(args = ['--exit'], onOutput?: (out: string, stop: () => void) => void): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawnReaped(process.execPath, [cli, 'demo', ...args, '--port', '0'], {
    env: { ...process.env, DATABASE_URL: configured.toString(), LOG_LEVEL: 'error' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk;
    onOutput?.(out, () => child.kill('SIGINT'));
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

describe('crm-sync demo', () => {
  it('--exit plays the story to its end state in the store and both sandboxes, then says its servers are closed', { timeout: 120_000 }, async () => {
    const { code, out, err } = await runDemo();
    expect(code, `${out}\n${err}`).toBe(0);
    for (const chapter of ['1. An ERP creates', '2. A person edits the amount in HubSpot', '3. A person marks it won in Pipedrive', '4. Both sides edit', '5. A webhook is lost']) {
      expect(out).toContain(chapter);
    }
    // The HubSpot app got the whole derived list: the object events plus one property change per property read.
    expect(Number(/HubSpot app subscribed to the (\d+) webhook events/.exec(out)?.[1])).toBeGreaterThanOrEqual(14);
    // With --exit the servers are closed when the story ends: no URLs to open, only that they are closed.
    expect(out).not.toMatch(/https?:\/\/127\.0\.0\.1:\d+\/(docs|admin|metrics|_sandbox)/);
    expect(out).toContain('Stopped (--exit): the API, the workers and both sandboxes are closed');
    const end: Json = JSON.parse(out.split('\n').find((line) => line.startsWith('END '))!.slice(4));

    const sql = postgres(demoUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`SELECT o.*, u.email AS closer FROM opportunities o LEFT JOIN users u ON u.id = o.closed_by_id WHERE o.external_ref = 'SO-1001'`;
      expect(row).toMatchObject({ state: 'won', amount: '1800', closer: 'ben@sandbox.example' });
      expect(row!.closed_at).not.toBeNull();
      expect(end.canonical).toMatchObject({ id: row!.id, state: 'won', amount: '1800', title: row!.title });
      // Both CRMs hold what the store holds.
      expect(end.hubspot.properties).toMatchObject({ dealname: row!.title, amount: '1800', dealstage: 'closedwon', crm_sync_id: row!.id });
      expect(end.pipedrive).toMatchObject({ title: row!.title, value: 1800, status: 'won' });
      const kinds = (await sql`SELECT DISTINCT kind FROM sync_events WHERE opportunity_id = ${row!.id}`).map((r) => r.kind);
      expect(kinds).toEqual(expect.arrayContaining(['push_create', 'pull_update', 'conflict', 'echo_suppressed']));
      const drift = await sql`SELECT reconcile_cursor->'lastPass'->>'drift' AS drift FROM connections WHERE provider = 'pipedrive'`;
      expect(Number(drift[0]!.drift)).toBeGreaterThanOrEqual(1);
      expect((await sql`SELECT count(*)::int AS n FROM opportunities`)[0]!.n).toBe(1);
    } finally {
      await sql.end();
    }
  });

  it('without --exit, prints where to look while its servers run, and stops cleanly on Ctrl-C', { timeout: 120_000 }, async () => {
    let urlsServed: boolean | undefined;
    let checking = false;
    const { code, out, err } = await runDemo([], (sofar, stop) => {
      if (checking || !sofar.includes('Running until Ctrl-C')) return;
      checking = true;
      // The URLs it prints answer while it runs.
      const docs = /API docs\s+(http:\/\/127\.0\.0\.1:\d+\/docs)/.exec(sofar)?.[1];
      const sandbox = /HubSpot sandbox\s+(http:\/\/127\.0\.0\.1:\d+\/_sandbox\/state)/.exec(sofar)?.[1];
      void Promise.all([docs, sandbox].map((url) => (url ? fetch(url).then((r) => r.ok) : false)))
        .then((ok) => (urlsServed = ok.every(Boolean)), () => (urlsServed = false))
        .finally(stop);
    });
    expect(code, `${out}\n${err}`).toBe(0);
    expect(urlsServed).toBe(true);
    expect(out).not.toContain('Stopped (--exit)');
  });
});
