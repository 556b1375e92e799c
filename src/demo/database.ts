import postgres from 'postgres';

/** The demo's own database beside the configured one (crm_sync → crm_sync_demo), never the real one. */
export function demoDatabaseUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}_demo`;
  return url.toString();
}

/** Every demo starts from an empty database: the story's ids and counts are then its own. */
export async function dropDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name.endsWith('_demo')) throw new Error(`refusing to drop ${name}: only a *_demo database is the demo's`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP DATABASE IF EXISTS "${name.replaceAll('"', '""')}" WITH (FORCE)`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
