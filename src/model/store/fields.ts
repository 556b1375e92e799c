import { z } from 'zod';

/** Field schemas shared by the canonical objects. Inputs are trimmed; limits match the columns. */
export const name = z.string().trim().min(1, 'must not be empty').max(200);
export const email = z.email('must be an email address').max(320).transform((v) => v.toLowerCase());
export const phone = z.string().trim().min(1).max(50);
export const id = z.uuid('must be a UUID');

const isoCurrencies = new Set(Intl.supportedValuesOf('currency'));
export const currency = z
  .string()
  .transform((v) => v.toUpperCase())
  .refine((v) => isoCurrencies.has(v), 'must be an ISO 4217 currency code such as "EUR"')
  .meta({ type: 'string', example: 'EUR' });

// PostgreSQL dates have no year 0.
export const isoDate = z.iso.date('must be a date as YYYY-MM-DD').refine((d) => !d.startsWith('0000'), 'must be in year 1 or later');

/** Canonical keys for stages and pipelines: stable identifiers the stage maps refer to. */
export const key = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'may contain only letters, digits, "_", ".", ":" and "-"');

export const externalRef = z.string().min(1, 'must not be empty').max(255);

/** An RFC 3339 timestamp with its offset, in a year PostgreSQL can store. */
export const isoDateTime = z.iso
  .datetime({ offset: true, message: 'must be a timestamp such as 2026-01-31T09:00:00Z' })
  .refine((v) => {
    const year = new Date(v).getUTCFullYear();
    return Number.isNaN(year) || (year >= 1 && year <= 9999); // an unparsable value already failed above
  }, 'must be in year 1 or later');
