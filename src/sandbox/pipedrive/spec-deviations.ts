/**
 * Where the sandbox follows the real Pipedrive API rather than the letter of its v2 OpenAPI spec.
 * Each entry says what differs and why; the fidelity test tolerates exactly these and nothing else.
 */
export const specDeviations = [
  {
    where: 'additional_data.next_cursor (every list)',
    what: 'null on the last page, though typed as a non-nullable string',
    why: 'the real API sends null when there is no next page; the spec’s own prose says so',
    path: /\.additional_data\.next_cursor$/,
  },
  {
    where: 'deal won_time, lost_time, close_time, stage_change_time, expected_close_date',
    what: 'null while the deal is not won / lost / closed / moved, though typed as non-nullable strings',
    why: 'the real API sends null for times that have not happened',
    path: /\.(won_time|lost_time|close_time|stage_change_time|expected_close_date)$/,
  },
  {
    where: 'deal person_id, org_id, origin_id, channel; stage days_to_rotten; field options and subfields; person org_id and picture_id; search items person and organization',
    what: 'null when unset, though some are typed non-nullable',
    why: 'the real API sends null for empty references',
    path: /\.(person_id|org_id|origin_id|channel|channel_id|days_to_rotten|options|subfields|picture_id|organization|person)$/,
  },
  {
    where: 'token costs of the v1 endpoints (users, webhooks)',
    what: 'not in the v2 spec; the sandbox charges assumed costs (20 per list, 10 per write, 2 for users/me, 6 per delete)',
    why: 'no machine-readable source for v1 costs was available; these were not checked against Pipedrive’s documentation',
    path: null,
  },
  {
    where: '401 and 429 error bodies',
    what: '{success: false, error, errorCode, error_info} with no data/additional_data; the spec has no 401/429 schema at all, only one error schema (on the deal-conversion 404)',
    why: 'the live 401 body, observed by integrators in 2026, comes from the gateway in that shape; the 429 is assumed to share it (not observed)',
    path: null,
  },
  {
    where: 'response headers x-daily-ratelimit-token-limit and x-daily-ratelimit-token-remaining',
    what: 'sent on every authorised response; neither the spec nor the rate-limiting page documents them',
    why: 'the live API sends them and clients read the remaining daily budget from them; x-daily-requests-left (documented, POST/PUT with an API token) is sent too',
    path: null,
  },
  {
    where: 'GET /api/v2/deals/{id} of a deleted deal',
    what: '404 with the API error body; the spec says only that a deleted deal "becomes inaccessible via standard APIs"',
    why: 'not checked against the live API; listing with status=deleted still returns it for 30 days, as documented',
    path: null,
  },
] as const;
