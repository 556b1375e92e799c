import type { ContactSet } from './opportunity-contacts.ts';
import type { OpportunityView } from './opportunity-schema.ts';
import type { opportunities } from '../store/schema.ts';

type Row = typeof opportunities.$inferSelect;

/** An opportunity as the API shows it and outbound events carry it. */
export function toView(row: Row, contacts: ContactSet): OpportunityView {
  return {
    id: row.id,
    externalRef: row.externalRef,
    title: row.title,
    description: row.description,
    amount: row.amount,
    currency: row.currency,
    closeDate: row.closeDate,
    state: row.state,
    stage: row.stage,
    pipeline: row.pipeline,
    probability: row.probability,
    source: row.source,
    lostReason: row.lostReason,
    assigneeId: row.assigneeId,
    contactId: contacts.contactId,
    contactIds: contacts.contactIds,
    attributes: row.attributes,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    closedAt: row.closedAt?.toISOString() ?? null,
    closedById: row.closedById,
  };
}
