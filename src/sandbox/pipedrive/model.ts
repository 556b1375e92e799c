/** The sandbox's in-memory Pipedrive company. Times are Dates here, RFC 3339 strings on the wire. */
export type DealStatus = 'open' | 'won' | 'lost';

export interface Deal {
  id: number;
  title: string;
  creator_user_id: number;
  owner_id: number;
  value: number;
  currency: string;
  person_id: number | null;
  org_id: number | null;
  stage_id: number;
  pipeline_id: number;
  probability: number | null;
  lost_reason: string | null;
  expected_close_date: string | null;
  status: DealStatus;
  add_time: Date;
  update_time: Date;
  stage_change_time: Date | null;
  won_time: Date | null;
  lost_time: Date | null;
  close_time: Date | null;
  deleted_time: Date | null;
  custom_fields: Record<string, unknown>;
}

export interface DealField {
  field_code: string;
  field_name: string;
  field_type: string;
  options: { id: number; label: string }[] | null;
  is_custom_field: boolean;
}

export interface Stage {
  id: number;
  name: string;
  order_nr: number;
  pipeline_id: number;
  deal_probability: number;
}

export interface Pipeline {
  id: number;
  name: string;
  order_nr: number;
}

export interface Person {
  id: number;
  name: string;
  owner_id: number;
  emails: { value: string; primary: boolean; label: string }[];
  add_time: Date;
  update_time: Date;
}

export interface User {
  id: number;
  name: string;
  email: string;
}

export interface Webhook {
  id: number;
  name: string;
  subscription_url: string;
  event_action: string;
  event_object: string;
  http_auth_user: string | null;
  http_auth_password: string | null;
  version: string;
  add_time: Date;
  /** Consecutive failed first attempts; ten ban the webhook for 30 minutes. */
  failedFirstAttempts: number;
  bannedUntil: number;
  last_http_status: number | null;
  last_delivery_time: Date | null;
}

/** 'api' for changes made through the API, 'app' for a person in Pipedrive's own UI. */
export type ChangeSource = 'api' | 'app';

export const rfc3339 = (date: Date | null) => (date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : null);
