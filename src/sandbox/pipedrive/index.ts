import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { Company } from './company.ts';
import { pipedriveControlRoutes } from './control.ts';
import { noApiFaults, takeFault, withTransportFaults } from '../shared/faults.ts';
import { tokenCosts } from './costs.ts';
import { PipedriveError } from './errors.ts';
import { dailyTokenBudget, defaultPipedriveLimits, PipedriveLimiter, type PipedriveLimitSettings } from './limits.ts';
import { v1Routes } from './routes-v1.ts';
import { v2Routes } from './routes-v2.ts';
import { PipedriveWebhookDispatcher } from './webhook-delivery.ts';
import { OAuthTokens } from '../shared/oauth.ts';
import { seededRandom } from '../shared/random.ts';

export interface PipedriveSandboxOptions {
  port?: number;
  host?: string;
  seed?: number;
  /** Burst limit and daily budget; or give `plan` to derive the budget as Pipedrive does. */
  limits?: Partial<PipedriveLimitSettings>;
  plan?: { multiplier: number; seats: number };
  /** Pipedrive retries after 3, 30 and 150 seconds; tests compress the schedule. */
  webhookRetryDelaysMs?: number[];
  webhookTimeoutMs?: number;
}

export interface PipedriveSandbox {
  /** Like https://api.pipedrive.com: the v2 SDK's basePath is `${baseUrl}/api/v2`, v1's `${baseUrl}/v1`. */
  baseUrl: string;
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
  return reply.code(status).send(new PipedriveError(status, (error as Error).message, 'Please check developers.pipedrive.com for more information about Pipedrive API.').body());
}

/** An API token (header or query parameter) or an OAuth bearer token. */
function credential(request: FastifyRequest): string {
  const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  return String(bearer ?? request.headers['x-api-token'] ?? (request.query as Record<string, string>).api_token ?? '');
}

/** POST /oauth/token: client credentials in HTTP basic auth, the grant in the form body. */
function grant(request: FastifyRequest<{ Body: Record<string, string> }>, oauth: OAuthTokens, clientId: string, clientSecret: string) {
  const basic = Buffer.from((request.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
  if (basic !== `${clientId}:${clientSecret}`) throw new PipedriveError(401, 'invalid_client', 'Client authentication failed');
  const form = request.body ?? {};
  const issued = form.grant_type === 'authorization_code' ? oauth.exchangeCode(form.code) : form.grant_type === 'refresh_token' ? oauth.refresh(form.refresh_token) : undefined;
  if (!issued) throw new PipedriveError(400, 'invalid_grant', 'The authorization code or refresh token is invalid, used or expired');
  return issued;
}

const unauthorized = () => new PipedriveError(401, 'unauthorized access', 'Please check developers.pipedrive.com for more information about Pipedrive API.');

export async function startPipedriveSandbox(options: PipedriveSandboxOptions = {}): Promise<PipedriveSandbox> {
  const seed = options.seed ?? 1;
  // Offset so that the two sandboxes started with one seed do not share secrets.
  const random = seededRandom(seed + 1_000_003);
  const token = random.hex(40);
  const clientId = random.hex(16);
  const clientSecret = random.hex(40);
  const oauth = new OAuthTokens(random, 'pd-oauth', 3599);
  const planBudget = options.plan && { dailyTokenBudget: dailyTokenBudget(options.plan.multiplier, options.plan.seats) };
  const limiter = new PipedriveLimiter({ ...defaultPipedriveLimits, ...planBudget, ...options.limits });
  const apiFaults = noApiFaults();
  // Set by the control API: the token was regenerated or the app uninstalled in Pipedrive.
  let revoked = false;
  const dispatcher = new PipedriveWebhookDispatcher(() => company, random, options.webhookRetryDelaysMs ?? [3000, 30_000, 150_000], options.webhookTimeoutMs ?? 10_000);
  const company: Company = new Company(10_000 + seed, seed, (event) => dispatcher.enqueue(event));

  const app = Fastify({ logger: false });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.setErrorHandler((error, _request, reply) => sendError(error, reply));
  app.setNotFoundHandler((_request, reply) => sendError(new PipedriveError(404, 'Unknown method .', 'Please check developers.pipedrive.com for more information about Pipedrive API.'), reply));

  app.addHook('preHandler', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    if (request.url.startsWith('/_sandbox') || request.url.startsWith('/oauth/')) return done();
    withTransportFaults(apiFaults, request, () => {
      try {
        if (takeFault(apiFaults, 'fail5xx')) throw new PipedriveError(502, 'Bad Gateway', 'The server is temporarily unavailable.');
        const given = credential(request);
        if (revoked || (given !== token && !oauth.validAccessToken(given))) throw unauthorized();
        if (takeFault(apiFaults, 'fail429')) throw new PipedriveError(429, 'Request over limit', 'Please check developers.pipedrive.com for more information about Pipedrive API.');
        const cost = tokenCosts[`${request.method} ${request.routeOptions.url}`] ?? 1;
        reply.headers(limiter.charge(given, cost));
        done();
      } catch (error) {
        sendError(error, reply);
      }
    });
  });

  app.post('/oauth/token', async (request: FastifyRequest<{ Body: Record<string, string> }>) => {
    const issued = grant(request, oauth, clientId, clientSecret);
    return { access_token: issued.accessToken, token_type: 'Bearer', refresh_token: issued.refreshToken, scope: 'base,deals:full,users:read,webhooks:full', expires_in: issued.expiresIn, api_domain: baseUrl };
  });
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
      Object.assign(apiFaults, noApiFaults());
    },
    spentToday: () => limiter.spentToday,
    issueAuthorizationCode: () => oauth.issueCode(),
    revokeTokens: () => {
      revoked = true;
    },
    oauthGrants: () => oauth.minted,
  });

  const baseUrl = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  return { baseUrl, token, clientId, clientSecret, companyId: company.companyId, company, close: () => app.close() };
}
