import { syncFieldKeys, type MappingProblem, type MappingSettings, type SyncFieldName, type SyncFields } from '../sync/fields.ts';

export interface FieldContext {
  settings: MappingSettings;
  /** What could not be translated: recorded on the link and the connection, never dropped. */
  problems: MappingProblem[];
  /** The write makes a new deal: the CRM must place it somewhere, so defaults apply that an update never uses. */
  creating?: boolean;
}

/**
 * How one CRM reads and writes one registered field. Fields held together in the CRM (HubSpot's
 * pipeline + dealstage hold state and stage) share one `write` function, which then runs once.
 */
export interface FieldCodec<Raw, Out, Value> {
  /** The raw properties a read must ask for (HubSpot reads only what it names). */
  reads?: (settings: MappingSettings) => string[];
  /** The canonical value, or undefined when the deal says nothing about the field. */
  read(raw: Raw, context: FieldContext): Value | undefined;
  /** Adds the CRM's form of the given fields to `into`. */
  write(fields: Partial<SyncFields>, into: Out, context: FieldContext): void;
}

/** A field this CRM does not hold as a deal property, and why (the connector may handle it otherwise). */
export interface NotMapped {
  notMapped: string;
}

export const notMapped = (why: string): NotMapped => ({ notMapped: why });

/** Every registered field, mapped or said not to be: the compiler asks for each new field. */
export type FieldMap<Raw, Out> = { [K in SyncFieldName]: FieldCodec<Raw, Out, SyncFields[K]> | NotMapped };

type AnyCodec<Raw, Out> = FieldCodec<Raw, Out, unknown>;
const codecOf = <Raw, Out>(map: FieldMap<Raw, Out>, key: SyncFieldName) => {
  const entry = map[key] as AnyCodec<Raw, Out> | NotMapped;
  return 'notMapped' in entry ? undefined : entry;
};

/** The raw property names a read needs for every mapped field. */
export function propertiesRead<Raw, Out>(map: FieldMap<Raw, Out>, settings: MappingSettings): string[] {
  return [...new Set(syncFieldKeys.flatMap((key) => codecOf(map, key)?.reads?.(settings) ?? []))];
}

/** A raw deal → the canonical fields it speaks about, in registry order. */
export function readFields<Raw, Out>(map: FieldMap<Raw, Out>, raw: Raw, context: FieldContext): Partial<SyncFields> {
  const fields: Record<string, unknown> = {};
  for (const key of syncFieldKeys) {
    const value = codecOf(map, key)?.read(raw, context);
    if (value !== undefined) fields[key] = value;
  }
  return fields as Partial<SyncFields>;
}

/** The given canonical fields → the CRM's form, each writer once, in registry order. */
export function writeFields<Raw, Out>(map: FieldMap<Raw, Out>, fields: Partial<SyncFields>, into: Out, context: FieldContext): Out {
  const writers = new Set(syncFieldKeys.filter((key) => fields[key] !== undefined).flatMap((key) => codecOf(map, key)?.write ?? []));
  for (const write of writers) write(fields, into, context);
  return into;
}
