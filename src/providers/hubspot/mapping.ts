import type { MappingProblem, MappingSettings, SyncFields } from '../../sync/fields.ts';
import { propertiesRead, readFields, writeFields } from '../field-map.ts';
import { hubspotFields, type Properties } from './fields.ts';

/** Canonical fields (all, or only the changed ones) → HubSpot deal properties, with our id. `creating`: a new deal, which HubSpot must place. */
export function toHubSpot(canonicalId: string, fields: Partial<SyncFields>, settings: MappingSettings, creating = false) {
  const problems: MappingProblem[] = [];
  const properties = writeFields(hubspotFields, fields, { [settings.canonicalIdField]: canonicalId } as Properties, { settings, problems, creating });
  return { properties, problems };
}

/** A HubSpot deal's properties → canonical fields, with what could not be mapped. */
export function fromHubSpot(properties: Properties, settings: MappingSettings) {
  const problems: MappingProblem[] = [];
  const fields = readFields(hubspotFields, properties, { settings, problems });
  return { fields, canonicalId: properties[settings.canonicalIdField] ?? undefined, problems };
}

/** Every property a read asks for: the registered fields', our id, the ERP's reference, what versions and merges need. */
export function hubspotReadProperties(settings: MappingSettings): string[] {
  const externalRef = settings.externalRefField ? [settings.externalRefField] : [];
  return [...propertiesRead(hubspotFields, settings), 'hs_lastmodifieddate', 'hs_merged_object_ids', settings.canonicalIdField, ...externalRef];
}
