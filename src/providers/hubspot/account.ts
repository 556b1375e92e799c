import { z } from 'zod';
import { parseAnswer } from '../account-answer.ts';
import type { RemoteAccount } from '../types.ts';

const details = z.looseObject({ portalId: z.number().int().positive() });
const pipelines = z.looseObject({
  results: z.array(
    z.looseObject({
      id: z.string().min(1),
      label: z.string(),
      stages: z.array(z.looseObject({ id: z.string().min(1), label: z.string(), displayOrder: z.number(), metadata: z.record(z.string(), z.unknown()).nullish() })),
    }),
  ),
});
const owners = z.looseObject({ results: z.array(z.looseObject({ id: z.string().min(1), email: z.string().nullish() })) });

const check = <T extends z.ZodType>(what: string, schema: T, answer: unknown) => parseAnswer('hubspot', 'HubSpot', what, schema, answer);

/** The account lookup's three answers (account details, deal pipelines, owners), parsed, as one account. */
export function hubspotAccount(answers: { details: unknown; pipelines: unknown; owners: unknown }): RemoteAccount {
  const { portalId } = check('account details lookup', details, answers.details);
  const found = check('deal pipelines lookup', pipelines, answers.pipelines);
  const people = check('owners lookup', owners, answers.owners);
  return {
    remoteAccountId: String(portalId),
    pipelines: found.results.map((p) => ({
      id: p.id,
      label: p.label,
      stages: p.stages.map((s) => {
        const closed = s.metadata?.isClosed === 'true';
        const probability = Number(s.metadata?.probability);
        return { id: s.id, label: s.label, order: s.displayOrder, won: closed && probability === 1, lost: closed && probability === 0 };
      }),
    })),
    owners: people.results.flatMap((o) => (o.email ? [{ id: o.id, email: o.email.toLowerCase() }] : [])),
  };
}
