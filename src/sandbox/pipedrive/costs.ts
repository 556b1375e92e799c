/**
 * Token cost of each endpoint: the `x-token-cost` of the operation in Pipedrive's v2 OpenAPI spec
 * (test/sandbox-pipedrive.test.ts checks every v2 entry against specs/pipedrive-v2.yaml). The v1
 * endpoints are not in that spec; see spec-deviations.ts.
 */
export const tokenCosts: Record<string, number> = {
  'GET /api/v2/deals': 10,
  'POST /api/v2/deals': 5,
  'GET /api/v2/deals/search': 20,
  'GET /api/v2/deals/:id': 1,
  'PATCH /api/v2/deals/:id': 5,
  'DELETE /api/v2/deals/:id': 3,
  'GET /api/v2/dealFields': 10,
  'POST /api/v2/dealFields': 5,
  'GET /api/v2/dealFields/:field_code': 1,
  'GET /api/v2/stages': 5,
  'GET /api/v2/stages/:id': 1,
  'GET /api/v2/pipelines': 5,
  'GET /api/v2/pipelines/:id': 1,
  'GET /api/v2/persons': 10,
  'POST /api/v2/persons': 5,
  'GET /api/v2/persons/search': 20,
  'GET /api/v2/persons/:id': 1,
  'GET /v1/users': 20,
  'GET /v1/users/me': 2,
  'GET /v1/webhooks': 20,
  'POST /v1/webhooks': 10,
  'DELETE /v1/webhooks/:id': 6,
};
