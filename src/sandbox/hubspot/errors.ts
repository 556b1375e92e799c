import { randomUUID } from 'node:crypto';

/** HubSpot's error body: {status: "error", message, correlationId, category, ...}. */
export class HubSpotError extends Error {
  readonly statusCode: number;
  readonly category: string;
  readonly extra: Record<string, unknown>;

  constructor(statusCode: number, category: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.statusCode = statusCode;
    this.category = category;
    this.extra = extra;
  }

  body() {
    return { status: 'error', message: this.message, correlationId: randomUUID(), category: this.category, ...this.extra };
  }
}

export const notFound = (id: string) =>
  new HubSpotError(404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.', { context: { id: [id] } });

export const invalidProperty = (name: string, message: string, code = 'INVALID_OPTION') =>
  new HubSpotError(400, 'VALIDATION_ERROR', `Property values were not valid: [{"isValid":false,"message":"${message}","error":"${code}","name":"${name}"}]`, {
    errors: [{ message, code, context: { propertyName: [name] } }],
  });

export const badRequest = (message: string) => new HubSpotError(400, 'VALIDATION_ERROR', message);
