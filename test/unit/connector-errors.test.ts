import { Client } from '@hubspot/api-client';
import { v2 } from 'pipedrive';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrmError, retryAfterHeader } from '../../src/providers/errors.ts';
import { hubspotError } from '../../src/providers/hubspot/errors.ts';
import { pipedriveConfigurations } from '../../src/providers/pipedrive/client.ts';
import { pipedriveError } from '../../src/providers/pipedrive/errors.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { startPipedriveSandbox, type PipedriveSandbox } from '../../src/sandbox/pipedrive/index.ts';

let hubspotSandbox: HubSpotSandbox;
let pipedriveSandbox: PipedriveSandbox;

beforeAll(async () => {
  [hubspotSandbox, pipedriveSandbox] = await Promise.all([startHubSpotSandbox({ seed: 11 }), startPipedriveSandbox({ seed: 11 })]);
});
afterAll(() => Promise.all([hubspotSandbox.close(), pipedriveSandbox.close()]));

const faults = (baseUrl: string, body: object) =>
  fetch(`${baseUrl}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function failure(call: () => Promise<unknown>, normalise: (e: unknown) => CrmError): Promise<CrmError> {
  try {
    await call();
  } catch (error) {
    return normalise(error);
  }
  throw new Error('the call succeeded');
}

describe('HubSpot failures through the SDK become CrmErrors by status and headers', () => {
  const client = (token = hubspotSandbox.token) => new Client({ accessToken: token, basePath: hubspotSandbox.baseUrl, numberOfApiCallRetries: 0 });

  it.each([
    ['a revoked token', () => client('pat-revoked').crm.deals.basicApi.getPage(), { code: 'unauthorized', retryable: false, scope: 'connection', status: 401 }],
    ['a missing deal', () => client().crm.deals.basicApi.getById('999'), { code: 'not_found', retryable: false, scope: 'record', status: 404 }],
    ['an invalid property', () => client().crm.deals.basicApi.create({ properties: { nope: 'x' }, associations: [] }), { code: 'validation', retryable: false, status: 400 }],
  ] as const)('%s', async (_name, call, expected) => {
    expect(await failure(call, hubspotError)).toMatchObject(expected);
  });

  it('a 429 is retryable and says how long to wait; 5xx and resets are retryable', async () => {
    await faults(hubspotSandbox.baseUrl, { fail429: 1, fail5xx: 1, reset: 1 });
    const reset = await failure(() => client().crm.owners.ownersApi.getPage(), hubspotError);
    expect(reset).toMatchObject({ code: 'network', retryable: true, status: undefined });
    expect(await failure(() => client().crm.owners.ownersApi.getPage(), hubspotError)).toMatchObject({ code: 'server', retryable: true, status: 502 });
    const limited = await failure(() => client().crm.owners.ownersApi.getPage(), hubspotError);
    expect(limited).toMatchObject({ code: 'rate_limited', retryable: true, status: 429, retryAfterMs: 10_000 });
  });
});

describe('Pipedrive failures through the SDK recover their status', () => {
  const deals = (token = pipedriveSandbox.token) =>
    new v2.DealsApi(pipedriveConfigurations({ baseUrl: pipedriveSandbox.baseUrl, apiToken: token }).v2);

  it.each([
    ['a revoked token', () => deals('revoked').getDeals({}), { code: 'unauthorized', scope: 'connection', status: 401 }],
    ['a missing deal', () => deals().getDeal({ id: 999 }), { code: 'not_found', scope: 'record', status: 404 }],
    ['an unknown field', () => deals().addDeal({ AddDealRequest: { title: 'x', nope: 1 } as never }), { code: 'validation', retryable: false, status: 400 }],
  ] as const)('%s', async (_name, call, expected) => {
    expect(await failure(call, pipedriveError)).toMatchObject(expected);
  });

  it('a 429 waits for x-ratelimit-reset; 5xx and resets are retryable', async () => {
    await faults(pipedriveSandbox.baseUrl, { fail429: 1, fail5xx: 1, reset: 1 });
    expect(await failure(() => deals().getDeals({}), pipedriveError)).toMatchObject({ code: 'network', retryable: true });
    expect(await failure(() => deals().getDeals({}), pipedriveError)).toMatchObject({ code: 'server', status: 502, retryable: true });
    expect(await failure(() => deals().getDeals({}), pipedriveError)).toMatchObject({ code: 'rate_limited', status: 429, retryable: true });
  });

  it('still returns ordinary bodies unchanged', async () => {
    const added = await deals().addDeal({ AddDealRequest: { title: 'plain' } });
    expect(added).toMatchObject({ success: true, data: { title: 'plain' } });
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterHeader('3')).toBe(3000);
    expect(retryAfterHeader(new Date(1_000_000 + 5000).toUTCString(), 1_000_000)).toBe(5000);
    expect(retryAfterHeader(undefined)).toBeUndefined();
  });
});
