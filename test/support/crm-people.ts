import { expect } from 'vitest';
import type { startSandboxes } from './sync.ts';

// Bodies read back from the sandboxes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

type Sandboxes = Awaited<ReturnType<typeof startSandboxes>>;

/** The sandbox's whole state, as its control API shows it. */
export const sandboxState = async (baseUrl: string): Promise<Json> => (await fetch(`${baseUrl}/_sandbox/state`)).json();

/** A person acting in the CRM's own UI (the sandboxes' control routes): their changes are not ours. */
export async function asPerson(baseUrl: string, method: string, path: string, body: unknown = {}): Promise<Json> {
  const response = await fetch(`${baseUrl}/_sandbox/ui${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status, `${method} ${path}`).toBeLessThan(300);
  return response.json();
}

/** The deals carrying a canonical id, in each CRM. */
export function dealsOf(sandboxes: Sandboxes, pipedriveIdField: string) {
  return {
    hubspot: async (id: string): Promise<Json> => (await sandboxState(sandboxes.hubspot.baseUrl)).deals.find((d: Json) => d.properties.crm_sync_id === id),
    pipedrive: async (id: string): Promise<Json> => (await sandboxState(sandboxes.pipedrive.baseUrl)).deals.find((d: Json) => d.custom_fields[pipedriveIdField] === id),
  };
}
