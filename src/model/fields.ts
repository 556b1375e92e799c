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

export const isoDate = z.iso.date('must be a date as YYYY-MM-DD');

/** Canonical keys for stages and pipelines: stable identifiers the stage maps refer to. */
export const key = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'may contain only letters, digits, "_", ".", ":" and "-"');

export const externalRef = z.string().min(1, 'must not be empty').max(255);
