import { defaultReadProperties } from './defaults.ts';
import type { Deal } from './model.ts';

export interface ReadOptions {
  properties?: string[];
  propertiesWithHistory?: string[];
}

/** Query parameters may repeat (`properties=a&properties=b`) or be comma-separated. */
export function listParam(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const values = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
  const names = values.map((v) => v.trim()).filter(Boolean);
  return names.length ? names : undefined;
}

/** A deal as the API returns it: requested properties present, `null` when unset. */
export function serializeDeal(deal: Deal, options: ReadOptions = {}, baseline = defaultReadProperties) {
  const names = options.properties ?? baseline;
  const properties: Record<string, string | null> = {};
  for (const name of new Set([...names, 'hs_object_id', 'createdate', 'hs_lastmodifieddate'])) {
    properties[name] = deal.properties[name] ?? null;
  }
  const body: Record<string, unknown> = {
    id: deal.id,
    properties,
    createdAt: deal.createdAt.toISOString(),
    updatedAt: deal.updatedAt.toISOString(),
    archived: deal.archived,
  };
  if (deal.archivedAt) body.archivedAt = deal.archivedAt.toISOString();
  if (options.propertiesWithHistory) {
    body.propertiesWithHistory = Object.fromEntries(options.propertiesWithHistory.map((name) => [name, deal.history[name] ?? []]));
  }
  return body;
}
