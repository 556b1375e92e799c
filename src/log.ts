import pino from 'pino';

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

export function createLogger(level: string) {
  return pino({ level, redact: { paths: redact, censor: '[redacted]' } });
}
