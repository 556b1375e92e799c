import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Test instrumentation, not part of either CRM: how many API requests each route answered, by
 * method and route pattern (`POST /crm/v3/objects/contacts/search`, `GET /api/v2/persons/:id`),
 * whatever the answer (a 429 or 5xx counts too). The control API reads it (`GET /_sandbox/requests`),
 * so a test can count the calls a sync makes; its own routes are not counted.
 */
export class RequestCounter {
  private readonly counts = new Map<string, number>();

  /** Counts every answered request of `app`; register before the routes. */
  attach(app: FastifyInstance) {
    app.addHook('onResponse', (request: FastifyRequest, _reply, done) => {
      const path = request.url.split('?')[0]!;
      if (!path.startsWith('/_sandbox')) {
        const key = `${request.method} ${request.routeOptions.url ?? path}`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      }
      done();
    });
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }

  reset() {
    this.counts.clear();
  }
}
