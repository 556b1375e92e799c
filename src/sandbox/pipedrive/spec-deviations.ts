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
] as const;
