import type { AccountSide } from '../model/connections/settings-context.ts';
import type { FieldError } from '../model/store/errors.ts';
import type { RemoteAccount, RemoteField } from '../providers/types.ts';
import type { ConnectionSettings } from '../sync/settings.ts';

/** What the CRM says it has, read through the connector when settings name a pipeline, stage or field of it. */
export interface CrmSide {
  account: RemoteAccount;
  fields: RemoteField[];
}

/** The settings keys whose values name something in the CRM: only a change to one of these reads the CRM. */
export const CRM_NAMED_KEYS = ['pipelines', 'defaultPipelineId', 'stages', 'closedStages', 'attributes', 'externalRefField', 'sourceField'] as const;

type Check = (settings: ConnectionSettings, account: AccountSide, crm: CrmSide | undefined) => FieldError[];

const pipelineIn = (crm: CrmSide, id: string) => crm.account.pipelines.find((p) => p.id === id);

const pipelineChecks: Check = (s, _a, crm) => {
  if (!crm) return [];
  const errors = s.pipelines.flatMap((p, i) => (pipelineIn(crm, p.pipelineId) ? [] : [{ field: `pipelines.${i}.pipelineId`, message: `is not a pipeline of this CRM account (${p.pipelineId})` }]));
  if (s.defaultPipelineId && !pipelineIn(crm, s.defaultPipelineId)) errors.push({ field: 'defaultPipelineId', message: `is not a pipeline of this CRM account (${s.defaultPipelineId})` });
  return errors;
};

const stageChecks: Check = (s, _a, crm) => {
  if (!crm) return [];
  const stageIn = (pipelineId: string, stageId: string) => pipelineIn(crm, pipelineId)?.stages.some((st) => st.id === stageId);
  const errors: FieldError[] = [];
  s.stages.forEach((st, i) => {
    if (!pipelineIn(crm, st.pipelineId)) errors.push({ field: `stages.${i}.pipelineId`, message: `is not a pipeline of this CRM account (${st.pipelineId})` });
    else if (!stageIn(st.pipelineId, st.stageId)) errors.push({ field: `stages.${i}.stageId`, message: `is not a stage of pipeline ${st.pipelineId} (${st.stageId})` });
  });
  for (const [pipelineId, closed] of Object.entries(s.closedStages)) {
    if (!pipelineIn(crm, pipelineId)) errors.push({ field: `closedStages.${pipelineId}`, message: 'is not a pipeline of this CRM account' });
    else for (const which of ['won', 'lost'] as const) if (!stageIn(pipelineId, closed[which])) errors.push({ field: `closedStages.${pipelineId}.${which}`, message: `is not a stage of pipeline ${pipelineId} (${closed[which]})` });
  }
  return errors;
};

const attributeChecks: Check = (s, account, crm) =>
  s.attributes.flatMap((a, i) => {
    const type = account.attributes.get(a.key);
    if (!type) return [{ field: `attributes.${i}.key`, message: `is not an attribute of this account (${a.key})` }];
    const errors: FieldError[] = [];
    if (type !== a.type) errors.push({ field: `attributes.${i}.type`, message: `is ${a.type}, but the account's attribute ${a.key} is ${type}` });
    if (crm && !crm.fields.some((f) => f.key === a.remote)) errors.push({ field: `attributes.${i}.remote`, message: `is not a deal field of this CRM account (${a.remote})` });
    return errors;
  });

const fieldChecks: Check = (s, _a, crm) =>
  (['externalRefField', 'sourceField'] as const).flatMap((key) => {
    const value = s[key];
    return crm && value && !crm.fields.some((f) => f.key === value) ? [{ field: key, message: `is not a deal field of this CRM account (${value})` }] : [];
  });

const ownerChecks: Check = (s, account) =>
  s.owners.flatMap((o, i) => (account.userIds.has(o.userId) ? [] : [{ field: `owners.${i}.userId`, message: 'is not a user of this account' }]));

/** Which checks a settings key triggers. */
const checksByKey: Record<string, Check[]> = {
  pipelines: [pipelineChecks],
  defaultPipelineId: [pipelineChecks],
  stages: [stageChecks],
  closedStages: [stageChecks],
  attributes: [attributeChecks],
  externalRefField: [fieldChecks],
  sourceField: [fieldChecks],
  owners: [ownerChecks],
};

/**
 * Settings checked against the account (attribute keys and types, users) and the CRM (pipelines,
 * stages, deal fields), for the keys given only: a PATCH of `limits` is not refused because a stage
 * was removed in the CRM since. Field paths are relative to the settings object.
 */
export function settingsProblems(settings: ConnectionSettings, keys: Iterable<string>, account: AccountSide, crm: CrmSide | undefined): FieldError[] {
  const checks = new Set([...keys].flatMap((k) => checksByKey[k] ?? []));
  const errors = [...checks].flatMap((check) => check(settings, account, crm));
  return [...new Map(errors.map((e) => [`${e.field}\n${e.message}`, e])).values()];
}

export const needsCrm = (keys: Iterable<string>) => [...keys].some((k) => (CRM_NAMED_KEYS as readonly string[]).includes(k));
