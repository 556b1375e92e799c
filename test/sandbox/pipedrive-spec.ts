import { OpenAPIBackend } from 'openapi-backend';
import { specDeviations } from '../../src/sandbox/pipedrive/spec-deviations.ts';

export const specPath = new URL('../../specs/pipedrive-v2.yaml', import.meta.url).pathname;

let backend: OpenAPIBackend | undefined;

/** The official Pipedrive v2 OpenAPI document, loaded once per test file. */
async function spec(): Promise<OpenAPIBackend> {
  if (backend) return backend;
  backend = new OpenAPIBackend({
    definition: specPath,
    quick: true,
    customizeAjv: (ajv) => {
      ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
      ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
      ajv.addFormat('uuid', /^[0-9a-f-]{36}$/i);
      return ajv;
    },
  });
  await backend.init();
  return backend;
}

/**
 * Validation errors of a response body against the operation's schema for that status, minus
 * the documented deviations (a null where the spec says string, on the listed paths only).
 */
export async function specErrors(operationId: string, status: number, body: unknown): Promise<string[]> {
  const result = (await spec()).validateResponse(body, operationId, status);
  return (result.errors ?? [])
    .filter((error) => {
      const path = error.instancePath.replaceAll('/', '.');
      const tolerated = specDeviations.some((d) => d.path && d.path.test(path));
      return !(tolerated && error.keyword === 'type' && valueAt(body, error.instancePath) === null);
    })
    .map((error) => `${error.instancePath} ${error.message}`);
}

function valueAt(body: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .filter(Boolean)
    .reduce<unknown>((value, key) => (value as Record<string, unknown> | null)?.[key], body);
}

/** `x-token-cost` of every operation, keyed "METHOD /api/v2/path/:param" like the sandbox's table. */
export async function specTokenCosts(): Promise<Record<string, number>> {
  const document = (await spec()).definition as unknown as { paths: Record<string, Record<string, { 'x-token-cost'?: number }>> };
  const costs: Record<string, number> = {};
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (operation['x-token-cost'] === undefined) continue;
      costs[`${method.toUpperCase()} /api/v2${path.replace(/\{(\w+)\}/g, ':$1')}`] = operation['x-token-cost'];
    }
  }
  return costs;
}
