import type { FastifyInstance } from 'fastify';
import { InexactNumber, jsonNumberIsExact } from '../model/store/decimal.ts';
import { invalid } from '../model/store/errors.ts';
import { nestedDeeperThan, tooDeepMessage } from '../model/store/json-depth.ts';

/**
 * JSON bodies are parsed with the number's source text in hand (JSON.parse source access, Node 22+):
 * a number a double cannot hold exactly becomes an InexactNumber, so a schema can refuse it instead
 * of silently storing a rounded amount. Prototype keys are dropped as Fastify's own parser does.
 */
function reviver(this: unknown, key: string, value: unknown, context?: { source?: string }) {
  if (key === '__proto__' || key === 'constructor') return undefined;
  if (typeof value === 'number' && context?.source && !jsonNumberIsExact(context.source, value)) {
    return new InexactNumber(context.source);
  }
  return value;
}

export function registerJsonParser(app: FastifyInstance) {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json$/, { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    // Before parsing: the reviver and the schemas walk the value recursively.
    if (nestedDeeperThan(text)) return done(invalid([{ field: 'body', message: tooDeepMessage() }]), undefined);
    try {
      done(null, JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1]));
    } catch (error) {
      const problem = error as Error & { statusCode?: number; code?: string };
      problem.statusCode = 400;
      problem.code = 'FST_ERR_CTP_INVALID_JSON';
      done(problem, undefined);
    }
  });
}
