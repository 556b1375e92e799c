import type { Config } from '../config.ts';
import { startDemoWorld } from './setup.ts';
import { playStory } from './story.ts';
import { Timeline } from './timeline.ts';

export interface DemoOptions {
  /** Stop after the story (tests, CI) instead of running until Ctrl-C. */
  exit: boolean;
  /** 0 picks a free port. */
  port?: number;
  seed: number;
}

/** A database URL without its credentials. */
const shownUrl = (databaseUrl: string) => databaseUrl.replace(/\/\/[^@/]*@/, '//');

function printWhereToLook(publicUrl: string, world: Awaited<ReturnType<typeof startDemoWorld>>) {
  console.log(`
Look around:
  API docs          ${publicUrl}/docs
  queue dashboard   ${publicUrl}/admin/queues   (log in with the admin token ${world.adminToken === process.env.ADMIN_TOKEN ? 'from ADMIN_TOKEN' : world.adminToken})
  metrics           ${publicUrl}/metrics        (Authorization: Bearer <admin token>)
  HubSpot sandbox   ${world.hubspot.baseUrl}/_sandbox/state
  Pipedrive sandbox ${world.pipedrive.baseUrl}/_sandbox/state
  demo database     ${shownUrl(world.databaseUrl)}`);
}

/** `crm-sync demo`: everything on this machine against the sandboxes, and a story told as it happens. */
export async function runDemo(cfg: Config, options: DemoOptions): Promise<void> {
  const t = new Timeline();
  console.log('crm-sync demo: a fresh database, both CRM sandboxes, the API and the workers on this machine');
  const world = await startDemoWorld(cfg, { port: options.port, seed: options.seed });
  t.say('crm-sync', `API on ${world.publicUrl}; account "Demo Co" connected to HubSpot and Pipedrive, stages mapped, Ana and Ben matched to both CRMs' owners by email`);
  t.say('crm-sync', `HubSpot app subscribed to the ${world.subscriptions.created.length + world.subscriptions.present.length} webhook events the connection needs (as \`crm-sync webhook-subscriptions ${world.connections.hubspot.id} --register\` does)`);
  let end: Awaited<ReturnType<typeof playStory>>;
  try {
    end = await playStory(world, t);
    if (!options.exit) {
      printWhereToLook(world.publicUrl, world);
      console.log('\nRunning until Ctrl-C: edit deals in the sandboxes or call the API and watch them sync.');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      return;
    }
  } finally {
    await world.close();
  }
  // One line for scripts and the demo's test: the story's end state as each side holds it. No URLs
  // to open: with --exit the servers are closed by now.
  console.log(`END ${JSON.stringify(end)}`);
  console.log(`\nStopped (--exit): the API, the workers and both sandboxes are closed; the demo database stays: ${shownUrl(world.databaseUrl)}`);
}
