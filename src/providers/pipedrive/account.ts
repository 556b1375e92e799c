import { z } from 'zod';
import { parseAnswer } from '../account-answer.ts';
import type { RemoteAccount } from '../types.ts';

const me = z.looseObject({ data: z.looseObject({ company_id: z.number().int().positive() }) });
const users = z.looseObject({ data: z.array(z.looseObject({ id: z.number().int(), email: z.string().nullish() })).nullish() });
const pipelines = z.looseObject({ data: z.array(z.looseObject({ id: z.number().int(), name: z.string().nullish() })).nullish() });
const stages = z.looseObject({ data: z.array(z.looseObject({ id: z.number().int(), pipeline_id: z.number().int(), name: z.string().nullish(), order_nr: z.number().nullish() })).nullish() });

const check = <T extends z.ZodType>(what: string, schema: T, answer: unknown) => parseAnswer('pipedrive', 'Pipedrive', what, schema, answer);

/** The account lookup's answers (the token's user, the users, pipelines and stages), parsed, as one account. */
export function pipedriveAccount(answers: { me: unknown; users: unknown; pipelines: unknown; stages: unknown }): RemoteAccount {
  const company = check('current user lookup', me, answers.me).data.company_id;
  const people = check('users lookup', users, answers.users).data ?? [];
  const found = check('pipelines lookup', pipelines, answers.pipelines).data ?? [];
  const steps = check('stages lookup', stages, answers.stages).data ?? [];
  return {
    remoteAccountId: String(company),
    pipelines: found.map((p) => ({
      id: String(p.id),
      label: p.name ?? '',
      // Pipedrive closes deals by status, not by stage: no stage is a won or lost stage.
      stages: steps.filter((s) => s.pipeline_id === p.id).map((s) => ({ id: String(s.id), label: s.name ?? '', order: s.order_nr ?? 0, won: false, lost: false })),
    })),
    owners: people.flatMap((u) => (u.email ? [{ id: String(u.id), email: u.email.toLowerCase() }] : [])),
  };
}
