import { badRequest } from './errors.ts';
import type { Deal, PropertyDefinition } from './model.ts';

export interface Filter {
  propertyName: string;
  operator: string;
  value?: string;
  highValue?: string;
  values?: string[];
}
export interface SearchRequest {
  filterGroups?: { filters?: Filter[] }[];
  sorts?: ({ propertyName: string; direction?: 'ASCENDING' | 'DESCENDING' } | string)[];
  properties?: string[];
  limit?: number;
  after?: string | number;
  query?: string;
}

/** The search API never pages past the 10,000th result; it answers 400 instead. */
export const SEARCH_RESULT_CAP = 10_000;
export const SEARCH_PAGE_MAX = 200;

type Comparable = number | string;

/** Numbers and dates compare numerically (dates arrive as epoch milliseconds or ISO), the rest as text. */
function comparable(definition: PropertyDefinition | undefined, value: string): Comparable {
  if (definition?.type === 'number') return Number(value);
  if (definition?.type === 'datetime' || definition?.type === 'date') return /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return value.toLowerCase();
}

function matches(deal: Deal, filter: Filter, definitions: Map<string, PropertyDefinition>): boolean {
  const definition = definitions.get(filter.propertyName);
  const raw = filter.propertyName === 'hs_object_id' ? deal.id : deal.properties[filter.propertyName];
  if (filter.operator === 'HAS_PROPERTY') return raw !== undefined;
  if (filter.operator === 'NOT_HAS_PROPERTY') return raw === undefined;
  if (raw === undefined) return filter.operator === 'NEQ' || filter.operator === 'NOT_IN';
  const actual = comparable(definition, raw);
  const of = (v: string | undefined) => comparable(definition, v ?? '');
  switch (filter.operator) {
    case 'EQ': return actual === of(filter.value);
    case 'NEQ': return actual !== of(filter.value);
    case 'LT': return actual < of(filter.value);
    case 'LTE': return actual <= of(filter.value);
    case 'GT': return actual > of(filter.value);
    case 'GTE': return actual >= of(filter.value);
    case 'BETWEEN': return actual >= of(filter.value) && actual <= of(filter.highValue);
    case 'IN': return (filter.values ?? []).some((v) => actual === of(v));
    case 'NOT_IN': return !(filter.values ?? []).some((v) => actual === of(v));
    case 'CONTAINS_TOKEN': return String(actual).includes(String(of(filter.value)).replaceAll('*', ''));
    case 'NOT_CONTAINS_TOKEN': return !String(actual).includes(String(of(filter.value)).replaceAll('*', ''));
    default: throw badRequest(`Unsupported operator ${filter.operator}`);
  }
}

function sortKey(request: SearchRequest) {
  const sort = request.sorts?.[0];
  if (!sort) return { propertyName: 'hs_object_id', descending: false };
  if (typeof sort === 'string') return { propertyName: sort.replace(/^-/, ''), descending: sort.startsWith('-') };
  return { propertyName: sort.propertyName, descending: sort.direction === 'DESCENDING' };
}

function validate(request: SearchRequest) {
  const groups = request.filterGroups ?? [];
  if (groups.length > 5) throw badRequest('Too many filter groups: at most 5 are allowed');
  if (groups.some((g) => (g.filters ?? []).length > 6)) throw badRequest('Too many filters in a group: at most 6 are allowed');
  if ((request.limit ?? 10) > SEARCH_PAGE_MAX) throw badRequest(`limit must be at most ${SEARCH_PAGE_MAX}`);
}

/** Live deals matching any filter group (all filters of a group), sorted, one page from `after`. */
export function searchDeals(deals: Iterable<Deal>, request: SearchRequest, definitions: Map<string, PropertyDefinition>) {
  validate(request);
  const limit = request.limit ?? 10;
  const offset = Number(request.after ?? 0);
  if (offset + limit > SEARCH_RESULT_CAP) {
    throw badRequest(`Cannot page beyond ${SEARCH_RESULT_CAP} results`);
  }
  const groups = (request.filterGroups ?? []).filter((g) => (g.filters ?? []).length > 0);
  const found = [...deals].filter(
    (deal) =>
      !deal.archived &&
      !deal.mergedInto &&
      (groups.length === 0 || groups.some((g) => g.filters!.every((f) => matches(deal, f, definitions)))) &&
      (!request.query || (deal.properties.dealname ?? '').toLowerCase().includes(request.query.toLowerCase())),
  );
  const { propertyName, descending } = sortKey(request);
  const definition = definitions.get(propertyName);
  const key = (deal: Deal) => comparable(definition, propertyName === 'hs_object_id' ? deal.id : (deal.properties[propertyName] ?? ''));
  found.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    const order = x < y ? -1 : x > y ? 1 : Number(a.id) - Number(b.id);
    return descending ? -order : order;
  });
  const page = found.slice(offset, offset + limit);
  const next = offset + limit < found.length ? String(offset + limit) : undefined;
  return { total: found.length, page, next };
}
