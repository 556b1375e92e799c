import { dropDatabase } from '../model/store/migrate.ts';

/** The demo's own database beside the configured one (crm_sync → crm_sync_demo), never the real one. */
export function demoDatabaseUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}_demo`;
  return url.toString();
}

/** Every demo starts from an empty database: the story's ids and counts are then its own. */
export async function dropDemoDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!name.endsWith('_demo')) throw new Error(`refusing to drop ${name}: only a *_demo database is the demo's`);
  await dropDatabase(url);
}
