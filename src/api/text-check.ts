import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid, type FieldError } from '../model/store/errors.ts';

// PostgreSQL text cannot hold NUL, and an unpaired UTF-16 surrogate is not text at all: both would
// otherwise reach the database and fail there as a 500.
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const BAD_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function badStrings(value: unknown, path: string[], found: FieldError[]) {
  // Raw bytes (the webhook receivers' bodies) are not text fields: walking them byte by byte would
  // cost milliseconds per request before their signature is even checked.
  if (value instanceof Uint8Array) return;
  if (typeof value === 'string') {
    if (BAD_TEXT.test(value)) found.push({ field: path.join('.'), message: 'contains a NUL character or an unpaired surrogate' });
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => badStrings(item, [...path, String(i)], found));
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (BAD_TEXT.test(key)) found.push({ field: [...path, key].join('.'), message: 'the key contains a NUL character or an unpaired surrogate' });
      badStrings(item, [...path, key], found);
    }
  }
}

/** Refuses, before validation, any string in the body, query or path that no database column can store. */
export function refuseUnstorableText(app: FastifyInstance) {
  app.addHook('preValidation', async (request: FastifyRequest) => {
    const found: FieldError[] = [];
    badStrings(request.body, [], found);
    badStrings(request.query, ['querystring'], found);
    badStrings(request.params, ['params'], found);
    if (found.length) throw invalid(found);
  });
}
