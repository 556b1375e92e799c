import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { isoDateTime } from '../store/fields.ts';

export const metricsQuerySchema = z.strictObject({
  from: isoDateTime.optional().describe('Only opportunities closed at or after this time'),
  to: isoDateTime.optional().describe('Only opportunities closed before this time'),
  top: z.coerce.number().int().min(1).max(100).default(10).describe('How many contacts to rank'),
});
export type MetricsQuery = z.output<typeof metricsQuerySchema>;

const moneyByCurrency = z.record(z.string(), z.string());
export const metricsView = z
  .object({
    countsByState: z.object({ open: z.number(), won: z.number(), lost: z.number(), abandoned: z.number() }),
    wonValue: moneyByCurrency,
    averageValue: moneyByCurrency,
    conversionRate: z.number().nullable().describe('won / (won + lost); null when nothing was won or lost'),
    stages: z.array(z.object({ stage: z.string().nullable(), count: z.number(), value: moneyByCurrency })),
    topContacts: z.array(z.object({ contactId: z.uuid(), name: z.string(), opportunityCount: z.number() })),
  })
  .meta({ id: 'OpportunityMetrics' });
export type MetricsView = z.infer<typeof metricsView>;

/** The opportunities the metrics count: live ones, closed within [from, to) when a window is given. */
function scope(accountId: string, q: MetricsQuery): SQL {
  const conditions = [sql`account_id = ${accountId}`, sql`deleted_at IS NULL`];
  if (q.from) conditions.push(sql`closed_at >= ${q.from}::timestamptz`);
  if (q.to) conditions.push(sql`closed_at < ${q.to}::timestamptz`);
  return sql`SELECT * FROM opportunities WHERE ${sql.join(conditions, sql` AND `)}`;
}

type MoneyRow = { currency: string; value: string } & Record<string, unknown>;
const toMoney = (rows: MoneyRow[]) => Object.fromEntries(rows.map((r) => [r.currency, r.value]));

// All sums and averages are done by Postgres on numeric: exact, never via JavaScript floats.
export async function opportunityMetrics(db: Executor, accountId: string, q: MetricsQuery): Promise<MetricsView> {
  const s = scope(accountId, q);
  const states = await db.execute<{ state: string; count: number }>(
    sql`SELECT state, count(*)::int AS count FROM (${s}) o GROUP BY state`,
  );
  const won = await db.execute<MoneyRow>(
    sql`SELECT currency, sum(amount)::text AS value FROM (${s}) o WHERE state = 'won' AND amount IS NOT NULL GROUP BY currency ORDER BY currency`,
  );
  // Averages keep the scale the amounts were written with ("0.15", "16.67"), like the sums do.
  const average = await db.execute<MoneyRow>(
    sql`SELECT currency, round(avg(amount), max(scale(amount)))::text AS value FROM (${s}) o WHERE amount IS NOT NULL GROUP BY currency ORDER BY currency`,
  );
  const stages = await db.execute<{ stage: string | null; currency: string; count: number; value: string | null }>(
    sql`SELECT stage, currency, count(*)::int AS count, sum(amount)::text AS value FROM (${s}) o GROUP BY stage, currency ORDER BY stage NULLS LAST, currency`,
  );
  const contacts = await db.execute<{ contactId: string; name: string; opportunityCount: number }>(
    sql`SELECT c.id AS "contactId", c.name, count(*)::int AS "opportunityCount"
          FROM (${s}) o JOIN opportunity_contacts oc ON oc.opportunity_id = o.id JOIN contacts c ON c.id = oc.contact_id
         GROUP BY c.id, c.name ORDER BY count(*) DESC, c.id LIMIT ${q.top}`,
  );
  const counts = { open: 0, won: 0, lost: 0, abandoned: 0 } as MetricsView['countsByState'];
  for (const row of states) counts[row.state as keyof typeof counts] = row.count;
  const decided = counts.won + counts.lost;
  return {
    countsByState: counts,
    wonValue: toMoney([...won]),
    averageValue: toMoney([...average]),
    conversionRate: decided === 0 ? null : Number((counts.won / decided).toFixed(4)),
    stages: groupStages([...stages]),
    topContacts: [...contacts],
  };
}

function groupStages(rows: { stage: string | null; currency: string; count: number; value: string | null }[]) {
  const byStage = new Map<string | null, MetricsView['stages'][number]>();
  for (const row of rows) {
    const entry = byStage.get(row.stage) ?? { stage: row.stage, count: 0, value: {} };
    entry.count += row.count;
    if (row.value !== null) entry.value[row.currency] = row.value;
    byStage.set(row.stage, entry);
  }
  return [...byStage.values()];
}
