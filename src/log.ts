import type { FastifyRequest } from 'fastify';
import pino from 'pino';
import { involvesDatabase, loggableDatabaseError } from './model/store/db-errors.ts';

/** Credentials never reach the logs, whichever object carries them. */
const redact = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.apiKey',
  '*.accessToken',
  '*.apiToken',
  '*.credentials',
  '*.password',
];

/** A client may put a token in a URL: the log keeps the path and the names of the query's values. */
export function loggableUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const names = url
    .slice(at + 1)
    .split('&')
    .map((part) => (part.includes('=') ? `${part.slice(0, part.indexOf('='))}=[redacted]` : '[redacted]'));
  return `${url.slice(0, at)}?${names.join('&')}`;
}

/** Fastify's request serializer, with the query values left out. */
function req(request: FastifyRequest) {
  return { method: request.method, url: loggableUrl(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort };
}

/** Database errors carry the query's parameters (API-key hashes among them): only their codes and names are logged. */
function err(error: unknown) {
  return involvesDatabase(error) ? loggableDatabaseError(error) : pino.stdSerializers.err(error as Error);
}

/** Writes to stdout unless given a destination (tests capture what the process would print). */
export function createLogger(level: string, destination?: pino.DestinationStream) {
  return pino({ level, redact: { paths: redact, censor: '[redacted]' }, serializers: { req, err } }, destination ?? pino.destination(1));
}
