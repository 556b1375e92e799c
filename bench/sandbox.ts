/**
 * How many requests per second the sandboxes serve, so that they are never the bottleneck of a
 * benchmark. Fixed inputs: 100 deals, 20,000 GETs of one deal with 32 in flight, after a warm-up.
 * The load runs in this same process, so the figures are a lower bound.
 */
import { startHubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { startPipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';

const REQUESTS = 20_000;
const CONCURRENCY = 32;

async function load(url: string, headers: Record<string, string>, count: number) {
  let next = 0;
  const worker = async () => {
    while (next++ < count) {
      const response = await fetch(url, { headers });
      if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
      await response.arrayBuffer();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return count / ((performance.now() - started) / 1000);
}

async function measure(name: string, url: string, headers: Record<string, string>) {
  await load(url, headers, 2000);
  const perSecond = await load(url, headers, REQUESTS);
  console.log(`${name.padEnd(40)} ${Math.round(perSecond).toLocaleString('en')} requests/s`);
}

const hubspot = await startHubSpotSandbox({ limits: { tenSecondLimit: 1e9, dailyLimit: 1e9 } });
const pipedrive = await startPipedriveSandbox({ limits: { burstLimit: 1e9, dailyTokenBudget: 1e12 } });
try {
  const hs = { authorization: `Bearer ${hubspot.token}`, 'content-type': 'application/json' };
  const pd = { 'x-api-token': pipedrive.token, 'content-type': 'application/json' };
  for (let i = 0; i < 100; i++) {
    await fetch(`${hubspot.baseUrl}/crm/v3/objects/deals`, { method: 'POST', headers: hs, body: JSON.stringify({ properties: { dealname: `d${i}`, amount: String(i) } }) });
    await fetch(`${pipedrive.baseUrl}/api/v2/deals`, { method: 'POST', headers: pd, body: JSON.stringify({ title: `d${i}`, value: i }) });
  }
  const page = (await (await fetch(`${hubspot.baseUrl}/crm/v3/objects/deals?limit=1`, { headers: hs })).json()) as { results: { id: string }[] };
  const hsDeal = page.results[0]!.id;
  console.log(`node ${process.version}, ${REQUESTS} requests, ${CONCURRENCY} in flight`);
  await measure('HubSpot GET /crm/v3/objects/deals/{id}', `${hubspot.baseUrl}/crm/v3/objects/deals/${hsDeal}`, hs);
  await measure('Pipedrive GET /api/v2/deals/{id}', `${pipedrive.baseUrl}/api/v2/deals/1`, pd);
  await measure('Pipedrive GET /api/v2/deals?limit=100', `${pipedrive.baseUrl}/api/v2/deals?limit=100`, pd);
} finally {
  await Promise.all([hubspot.close(), pipedrive.close()]);
}
