import type { MappingProblem, MappingSettings, SyncFields } from '../../sync/fields.ts';
import { readFields, writeFields } from '../field-map.ts';
import { pipedriveFields, type PipedriveDeal, type PipedriveDealInput } from './fields.ts';

/** Canonical fields (all, or only the changed ones) → a Pipedrive deal body, with our id. `creating`: a new deal. */
export function toPipedrive(canonicalId: string, fields: Partial<SyncFields>, settings: MappingSettings, creating = false) {
  const problems: MappingProblem[] = [];
  const input = writeFields(pipedriveFields, fields, { custom_fields: { [settings.canonicalIdField]: canonicalId } } as PipedriveDealInput, { settings, problems, creating });
  return { input, problems };
}

/** A Pipedrive deal → canonical fields, with what could not be mapped. */
export function fromPipedrive(deal: PipedriveDeal, settings: MappingSettings) {
  const problems: MappingProblem[] = [];
  const fields = readFields(pipedriveFields, deal, { settings, problems });
  const canonicalId = deal.custom_fields?.[settings.canonicalIdField];
  return { fields, canonicalId: typeof canonicalId === 'string' ? canonicalId : undefined, problems };
}
