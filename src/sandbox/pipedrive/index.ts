import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { noApiFaults, takeFault, withTransportFaults, type ApiFaults } from '../shared/faults.ts';
import { OAuthTokens } from '../shared/oauth.ts';
import { seededRandom } from '../shared/random.ts';
import { RequestCounter } from '../shared/requests.ts';
import { credential, oauthRoutes } from './auth.ts';
import { Company } from './company.ts';
import { pipedriveControlRoutes } from './control.ts';
import { tokenCosts } from './costs.ts';
import { overLimit, PipedriveError, unauthorized } from './errors.ts';
import { dailyTokenBudget, defaultPipedriveLimits, PipedriveLimiter, type PipedriveLimitSettings } from './limits.ts';
import { v1Routes } from './routes-v1.ts';
import { v2Routes } from './routes-v2.ts';
import { PipedriveWebhookDispatcher } from './webhook-delivery.ts';

export interface PipedriveSandboxOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Every id, token and field key derives from it. */
  seed?: number;
  /** Tokens a day for the company; default 30,000 × 4 (Professional) × 5 seats. */
  dailyTokenBudget?: number;
  /** Requests per rolling 2 seconds per token; default 80 (Professional, API token). */
  burstLimit?: number;
  /** All limits at once; the two options above win over it. */
  limits?: Partial<PipedriveLimitSettings>;
  /** Derives the daily budget from the plan as Pipedrive does, unless `dailyTokenBudget` is given. */
  plan?: { multiplier: number; seats: number };
  /** Pipedrive retries after 3, 30 and 150 seconds; tests compress the schedule. */
  webhookRetryDelaysMs?: number[];
  /** A delivery not answered in this long counts as failed (Pipedrive: 10 seconds). */
  webhookTimeoutMs?: number;
}

export interface PipedriveSandbox {
  /** Like https://api.pipedrive.com: the v2 SDK's basePath is `${baseUrl}/api/v2`, v1's `${baseUrl}/v1`. */
  baseUrl: string;
  /** An API token of user 1, the company's admin. */
  token: string;
  /** The OAuth app: codes come from POST /_sandbox/oauth/code, tokens from POST /oauth/token. */
  clientId: string;
  clientSecret: string;
  companyId: number;
  company: Company;
  close(): Promise<void>;
}

function sendError(error: unknown, reply: FastifyReply) {
  if (error instanceof PipedriveError) return reply.code(error.statusCode).send(error.body());
  const status = (error as { statusCode?: number }).statusCode ?? 500;
  return reply.code(status).send(new PipedriveError(status, (error as Error).message).body());
}

function limitSettings(options: PipedriveSandboxOptions): PipedriveLimitSettings {
  const settings = { ...defaultPipedriveLimits, ...options.limits };
  if (options.plan) settings.dailyTokenBudget = dailyTokenBudget(options.plan.multiplier, options.plan.seats);
  if (options.dailyTokenBudget !== undefined) settings.dailyTokenBudget = options.dailyTokenBudget;
  if (options.burstLimit !== undefined) settings.burstLimit = options.burstLimit;
  return settings;
}

interface Gate {
  apiFaults: ApiFaults;
  limiter: PipedriveLimiter;
  /** True for the API token and for live OAuth access tokens, until the control API revokes them. */
  accepts(token: string): boolean;
}

/** What stands before every API route: injected faults, authentication, then the limits. */
function admit(gate: Gate, request: FastifyRequest, reply: FastifyReply) {
  if (takeFault(gate.apiFaults, 'fail5xx')) throw new PipedriveError(502, 'Bad Gateway', 'The server is temporarily unavailable.');
  const given = credential(request);
  if (!gate.accepts(given.value)) throw unauthorized();
  if (takeFault(gate.apiFaults, 'fail429')) throw overLimit();
  const route = request.routeOptions.url ?? '';
  const verdict = gate.limiter.charge({
    token: given.value,
    cost: tokenCosts[`${request.method} ${route}`] ?? 1,
    search: route.endsWith('/search'),
    apiTokenWrite: given.kind === 'api_token' && ['POST', 'PUT', 'PATCH'].includes(request.method),
  });
  reply.headers(verdict.headers);
  if (!verdict.allowed) throw overLimit();
}

function guard(app: FastifyInstance, gate: Gate) {
  app.addHook('preHandler', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    if (request.url.startsWith('/_sandbox') || request.url.startsWith('/oauth/')) return done();
    withTransportFaults(gate.apiFaults, request, () => {
      try {
        admit(gate, request, reply);
        done();
      } catch (error) {
        sendError(error, reply);
      }
    });
  });
  // Live, an unknown path without a valid token answers the same 401 as a known one.
  app.setNotFoundHandler((request, reply) =>
    sendError(gate.accepts(credential(request).value) ? new PipedriveError(404, 'Unknown method .') : unauthorized(), reply),
  );
  app.setErrorHandler((error, _request, reply) => sendError(error, reply));
}

export async function startPipedriveSandbox(options: PipedriveSandboxOptions = {}): Promise<PipedriveSandbox> {
  const seed = options.seed ?? 1;
  // Offset so that the two sandboxes started with one seed do not share secrets.
  const random = seededRandom(seed + 1_000_003);
  const token = random.hex(40);
  // The admin's API token; regenerating it in Pipedrive (Personal preferences → API) ends the old one at once.
  let apiToken = token;
  const clientId = random.hex(16);
  const clientSecret = random.hex(40);
  const oauth = new OAuthTokens(random, 'pd-oauth', 3599);
  const limiter = new PipedriveLimiter(limitSettings(options));
  const apiFaults = noApiFaults();
  // Set by the control API: the token was regenerated or the app uninstalled in Pipedrive.
  let revoked = false;
  const dispatcher = new PipedriveWebhookDispatcher(() => company, random, options.webhookRetryDelaysMs ?? [3000, 30_000, 150_000], options.webhookTimeoutMs ?? 10_000);
  const company: Company = new Company(10_000 + seed, seed, (event) => dispatcher.enqueue(event));

  const app = Fastify({ logger: false });
  const requests = new RequestCounter();
  requests.attach(app);
  guard(app, { apiFaults, limiter, accepts: (given) => !revoked && (given === apiToken || oauth.validAccessToken(given)) });
  oauthRoutes(app, { clientId, clientSecret, oauth, apiDomain: () => baseUrl });
  v2Routes(app, company);
  v1Routes(app, company);
  pipedriveControlRoutes(app, {
    company,
    dispatcher,
    apiFaults,
    reset() {
      company.reset();
      revoked = false;
      dispatcher.reset();
      limiter.reset();
      requests.reset();
      Object.assign(apiFaults, noApiFaults());
    },
    requests: () => requests.snapshot(),
    spentToday: () => limiter.spentToday,
    issueAuthorizationCode: () => oauth.issueCode(),
    revokeTokens: () => {
      revoked = true;
    },
    oauthGrants: () => oauth.minted,
    regenerateApiToken: () => {
      apiToken = random.hex(40);
      return apiToken;
    },
  });

  const baseUrl = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  return { baseUrl, token, clientId, clientSecret, companyId: company.companyId, company, close: () => app.close() };
}
