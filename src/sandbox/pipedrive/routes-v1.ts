import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Company } from './company.ts';
import { badRequest, notFound } from './errors.ts';
import { rfc3339, type Webhook } from './model.ts';

function webhookV1(w: Webhook, companyId: number) {
  return {
    id: w.id,
    name: w.name,
    company_id: companyId,
    owner_id: 1,
    user_id: 1,
    event_action: w.event_action,
    event_object: w.event_object,
    subscription_url: w.subscription_url,
    version: w.version,
    is_active: w.bannedUntil > Date.now() ? 0 : 1,
    add_time: rfc3339(w.add_time),
    remove_time: null,
    type: 'general',
    http_auth_user: w.http_auth_user,
    http_auth_password: w.http_auth_password,
    remove_reason: null,
    last_delivery_time: rfc3339(w.last_delivery_time),
    last_http_status: w.last_http_status,
    admin_id: 1,
  };
}

/** The v1 endpoints this project still needs: users (owner mapping, company id) and webhooks. */
export function v1Routes(app: FastifyInstance, company: Company) {
  const user = (u: Company['users'][number]) => ({ id: u.id, name: u.name, email: u.email, active_flag: true, is_admin: u.id === 1 ? 1 : 0, role_id: 1, timezone_name: 'Europe/London', lang: 1, locale: 'en_US', created: '2024-01-01 00:00:00', modified: '2024-01-01 00:00:00', has_created_company: u.id === 1, icon_url: null, is_you: u.id === 1 });

  app.get('/v1/users', async () => ({ success: true, data: company.users.map(user) }));
  app.get('/v1/users/me', async () => ({
    success: true,
    data: { ...user(company.users[0]!), company_id: company.companyId, company_name: 'Sandbox Company', company_domain: 'sandbox', company_country: 'GB', company_industry: null, language: { language_code: 'en', country_code: 'US' } },
  }));

  app.get('/v1/webhooks', async () => ({ success: true, status: 'ok', data: company.webhooks.map((w) => webhookV1(w, company.companyId)) }));
  app.post('/v1/webhooks', async (request: FastifyRequest<{ Body: Record<string, string | undefined> }>, reply) => {
    const b = request.body ?? {};
    if (!b.subscription_url || !/^https?:\/\//.test(b.subscription_url)) throw badRequest('subscription_url must be a valid URL');
    if (!b.name || !b.event_action || !b.event_object) throw badRequest('name, event_action and event_object are required');
    const webhook = company.addWebhook({
      name: b.name,
      subscription_url: b.subscription_url,
      event_action: b.event_action,
      event_object: b.event_object,
      http_auth_user: b.http_auth_user ?? null,
      http_auth_password: b.http_auth_password ?? null,
      version: b.version ?? '2.0',
    });
    return reply.code(201).send({ success: true, status: 'ok', data: webhookV1(webhook, company.companyId) });
  });
  app.delete('/v1/webhooks/:id', async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const index = company.webhooks.findIndex((w) => w.id === Number(request.params.id));
    if (index < 0) throw notFound('Webhook');
    company.webhooks.splice(index, 1);
    return { success: true, status: 'ok' };
  });
}
