import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { TokenStore } from './auth.ts';
import { contactRoutes } from './contact-routes.ts';
import { controlRoutes } from './control-routes.ts';
import { noApiFaults, takeFault, withTransportFaults, type ApiFaults } from '../shared/faults.ts';
import { dealRoutes } from './deal-routes.ts';
import { HubSpotError } from './errors.ts';
import { defaultLimits, Limiter, type LimitSettings } from './limits.ts';
import { metadataRoutes } from './metadata-routes.ts';
import { Portal } from './portal.ts';
import { seededRandom } from '../shared/random.ts';
import { RequestCounter } from '../shared/requests.ts';
import { WebhookDispatcher } from './webhook-delivery.ts';
import { webhookRoutes } from './webhook-routes.ts';

export interface HubSpotSandboxOptions {
  port?: number;
  host?: string;
  seed?: number;
  limits?: Partial<LimitSettings>;
  /** Delays between webhook retries; HubSpot spreads 10 retries over 24 hours. */
  webhookRetryDelaysMs?: number[];
  webhookTimeoutMs?: number;
  accessTokenSeconds?: number;
}

export interface HubSpotSandbox {
  baseUrl: string;
  token: string;
  appId: number;
  portalId: number;
  clientId: string;
  clientSecret: string;
  developerApiKey: string;
  portal: Portal;
  close(): Promise<void>;
}

// HubSpot's schedule: 1 min, then growing, 10 attempts in all over about a day.
const realRetrySchedule = [60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 21600].map((s) => s * 1000);

function sendError(error: unknown, reply: import('fastify').FastifyReply) {
  if (error instanceof HubSpotError) return reply.code(error.statusCode).send(error.body());
  const status = (error as { statusCode?: number }).statusCode ?? 500;
  const category = status < 500 ? 'VALIDATION_ERROR' : 'INTERNAL_ERROR';
  return reply.code(status).send(new HubSpotError(status, category, (error as Error).message).body());
}

function formParser(app: FastifyInstance) {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}

export async function startHubSpotSandbox(options: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
  const random = seededRandom(options.seed ?? 1);
  const appId = 1_000_000 + Math.floor(random.next() * 1_000_000);
  const portalId = 40_000_000 + Math.floor(random.next() * 1_000_000);
  const clientId = random.uuid();
  const clientSecret = random.uuid();
  const developerApiKey = random.uuid();
  const tokens = new TokenStore(random, options.accessTokenSeconds ?? 1800);
  const limiter = new Limiter({ ...defaultLimits, ...options.limits });
  const dispatcher = new WebhookDispatcher({
    appId,
    portalId,
    clientSecret,
    retryDelaysMs: options.webhookRetryDelaysMs ?? realRetrySchedule,
    timeoutMs: options.webhookTimeoutMs ?? 5000,
  });
  const apiFaults: ApiFaults = noApiFaults();
  const portal = new Portal(portalId, (event) => dispatcher.enqueue(event));

  // The SDK calls some collections with a trailing slash (/crm/v3/owners/), which HubSpot accepts.
  const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024, routerOptions: { ignoreTrailingSlash: true } });
  formParser(app);
  const requests = new RequestCounter();
  requests.attach(app);
  app.setErrorHandler((error, _request, reply) => sendError(error, reply));
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(new HubSpotError(404, 'OBJECT_NOT_FOUND', `No route for ${request.method} ${request.url}`).body()),
  );
  app.addHook('onRequest', (request, reply, done) => guard(request, reply, done));

  function guard(request: FastifyRequest, reply: import('fastify').FastifyReply, done: (error?: Error) => void) {
    const path = request.url.split('?')[0]!;
    if (path.startsWith('/_sandbox') || path.startsWith('/oauth/') || path.startsWith('/webhooks/')) return done();
    withTransportFaults(apiFaults, request, () => {
      try {
        if (takeFault(apiFaults, 'fail5xx')) throw new HubSpotError(502, 'INTERNAL_ERROR', 'Bad Gateway');
        const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
        if (!token || !tokens.valid(token)) {
          throw new HubSpotError(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found. This API supports OAuth 2.0 authentication.');
        }
        if (takeFault(apiFaults, 'fail429')) {
          throw new HubSpotError(429, 'RATE_LIMITS', 'You have reached your ten_secondly_rolling limit.', { errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
        }
        reply.headers(limiter.charge(token, path.endsWith('/search')));
        done();
      } catch (error) {
        sendError(error, reply);
      }
    });
  }

  dealRoutes(app, portal, appId, '/crm/v3/objects/deals');
  dealRoutes(app, portal, appId, '/crm/v3/objects/0-3');
  metadataRoutes(app, portal);
  contactRoutes(app, portal, appId);
  webhookRoutes(app, dispatcher, appId, developerApiKey);
  app.post('/oauth/v1/token', async (request: FastifyRequest<{ Body: Record<string, string> }>) =>
    tokens.grant(request.body ?? {}, clientId, clientSecret),
  );
  controlRoutes(app, {
    portal,
    dispatcher,
    apiFaults,
    reset() {
      portal.reset();
      tokens.revoked = false;
      dispatcher.reset();
      limiter.reset();
      requests.reset();
      Object.assign(apiFaults, noApiFaults());
    },
    requests: () => requests.snapshot(),
    issueAuthorizationCode: () => tokens.issueCode(),
    revokeTokens: () => {
      tokens.revoked = true;
    },
    rotateToken: (keepOld) => tokens.rotatePrivateAppToken(keepOld),
    oauthGrants: () => tokens.oauthGrants,
    // Requests today per private-app token (by its first 16 characters), oldest token first.
    usage: () => Object.fromEntries([...tokens.privateAppTokens.keys()].map((token) => [token.slice(0, 16), limiter.usedToday(token)])),
  });

  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  return {
    baseUrl: address.replace('[::1]', '127.0.0.1'),
    token: tokens.privateAppToken,
    appId,
    portalId,
    clientId,
    clientSecret,
    developerApiKey,
    portal,
    close: () => app.close(),
  };
}
