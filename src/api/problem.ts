import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { databaseUnavailable } from '../model/store/db-errors.ts';
import { DomainError, type FieldError } from '../model/store/errors.ts';

/** RFC 9457 problem details, with the failing fields listed in `errors`. */
interface ProblemFields {
  title: string;
  status: number;
  detail: string;
  errors: FieldError[];
}
export type Problem = ProblemFields & Record<string, unknown>;

export function sendProblem(reply: FastifyReply, problem: Problem) {
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send({ type: 'about:blank', ...problem });
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
};

/** Long enough for a restart or a failover to finish, short enough that clients come back soon. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** Fastify's own 4xx errors, named by what was wrong with the request. */
const frameworkFieldErrors: Record<string, FieldError> = {
  FST_ERR_CTP_INVALID_JSON: { field: 'body', message: 'is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { field: 'body', message: 'is empty' },
  FST_ERR_CTP_BODY_TOO_LARGE: { field: 'body', message: 'is larger than 1 MiB' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { field: 'Content-Type', message: 'must be application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { field: 'Content-Length', message: 'does not match the body' },
};

type ValidationIssue = { instancePath: string; message?: string; params?: { keys?: string[] } };

/** Zod issues → one entry per failing field; unknown keys are named one by one. */
function fieldErrors(location: string, issues: ValidationIssue[]): FieldError[] {
  return issues.flatMap((issue) => {
    const base = issue.instancePath.split('/').filter(Boolean).join('.');
    const prefix = location === 'body' ? base : [location, base].filter(Boolean).join('.');
    if (issue.params?.keys?.length) {
      return issue.params.keys.map((key) => ({ field: [prefix, key].filter(Boolean).join('.'), message: 'is not a known field' }));
    }
    return [{ field: prefix || location, message: issue.message ?? 'is invalid' }];
  });
}

export function registerProblemHandlers(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DomainError) {
      return sendProblem(reply, { status: error.status, title: error.title, detail: error.message, errors: error.errors, ...error.extra });
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const location = (error as { validationContext?: string }).validationContext ?? 'body';
      const errors = fieldErrors(location, error.validation);
      const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
      return sendProblem(reply, { status: 400, title: 'Bad Request', detail, errors });
    }
    if (databaseUnavailable(error)) {
      // Not our bug and not the client's: the same request will work once the database is back.
      request.log.warn({ err: error }, 'database unavailable');
      reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      return sendProblem(reply, { status: 503, title: 'Service Unavailable', detail: 'the database cannot be reached; retry later', errors: [] });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'request failed');
    const detail = status === 500 ? 'an unexpected error occurred; it has been logged' : error.message;
    const errors = frameworkFieldErrors[error.code] ? [frameworkFieldErrors[error.code]!] : [];
    return sendProblem(reply, { status, title: titles[status] ?? 'Error', detail, errors });
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { status: 404, title: 'Not Found', detail: `no route for ${request.method} ${request.url.split('?')[0]}`, errors: [] }),
  );
}
