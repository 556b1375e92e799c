import { describe, expect, it } from 'vitest';
import { appSecrets, developerApp, keyring, oauthApps, parseConfig } from '../../src/config.ts';

describe('configuration', () => {
  it('has working defaults for a fresh machine', () => {
    expect(parseConfig({})).toEqual({
      DATABASE_URL: 'postgres://127.0.0.1:5432/crm_sync',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: 3000,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      OUTBOUND_LEASE_SECONDS: 60,
      SWEEP_SECONDS: 15,
      CRM_CONNECT_TIMEOUT_MS: 5000,
      CRM_REQUEST_TIMEOUT_MS: 30000,
      QUEUE_PREFIX: 'crm-sync',
      ADMIN_SESSION_HOURS: 12,
      ADMIN_LOGIN_FAILURES_PER_MINUTE: 10,
    });
  });

  it('treats an empty variable as unset', () => {
    expect(parseConfig({ PORT: '' }).PORT).toBe(3000);
  });

  it.each([
    ['DATABASE_URL', 'mysql://localhost/db', 'DATABASE_URL must be a URL starting with postgres://'],
    ['REDIS_URL', 'localhost:6379', 'REDIS_URL must be a URL starting with redis://'],
    ['PORT', 'eighty', 'PORT must be a port number'],
    ['PORT', '70000', 'PORT'],
    ['ENCRYPTION_KEY', 'short', 'ENCRYPTION_KEY must be 32 bytes'],
    ['ADMIN_TOKEN', 'abc', 'ADMIN_TOKEN must be at least 16 characters'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL'],
    ['QUEUE_PREFIX', 'a:b', 'QUEUE_PREFIX must be letters'],
    ['QUEUE_PREFIX', '{a}{b}', 'QUEUE_PREFIX must hold at most one'],
    ['CRM_BASE_URL_HOSTS', 'a b', 'CRM_BASE_URL_HOSTS must be comma-separated hosts'],
    ['CRM_REQUEST_TIMEOUT_MS', '0', 'CRM_REQUEST_TIMEOUT_MS'],
  ])('names %s when it is %j', (variable, value, message) => {
    expect(() => parseConfig({ [variable]: value })).toThrow(message);
  });

  it('names every bad variable in one line', () => {
    let message = '';
    try {
      parseConfig({ PORT: 'x', LOG_LEVEL: 'loud' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/PORT.*LOG_LEVEL/);
    expect(message).not.toContain('\n');
  });

  it('accepts a 32-byte key as hex or base64', () => {
    expect(parseConfig({ ENCRYPTION_KEY: 'ab'.repeat(32) }).ENCRYPTION_KEY).toBe('ab'.repeat(32));
    const base64 = Buffer.alloc(32, 7).toString('base64');
    expect(parseConfig({ ENCRYPTION_KEY: base64 }).ENCRYPTION_KEY).toBe(base64);
  });

  it('builds the keyring from the current and retired keys, and names ENCRYPTION_KEY when it is missing', () => {
    const current = 'ab'.repeat(32);
    const retired = Buffer.alloc(32, 1).toString('base64');
    const ring = keyring(parseConfig({ ENCRYPTION_KEY: current, ENCRYPTION_KEYS_RETIRED: `${retired}, ${'cd'.repeat(32)}` }));
    expect(ring.current).toEqual(Buffer.from(current, 'hex'));
    expect(ring.retired.map((k) => k.toString('hex'))).toEqual([Buffer.alloc(32, 1).toString('hex'), 'cd'.repeat(32)]);
    expect(() => keyring(parseConfig({}))).toThrow('ENCRYPTION_KEY is required');
    expect(() => parseConfig({ ENCRYPTION_KEYS_RETIRED: 'nope' })).toThrow('ENCRYPTION_KEYS_RETIRED');
  });

  it('hands each CRM its own app secret and OAuth app, and none it was not given', () => {
    const cfg = parseConfig({ HUBSPOT_CLIENT_ID: 'hs-id', HUBSPOT_CLIENT_SECRET: 'hs-secret' });
    expect(appSecrets(cfg)).toEqual({ hubspot: 'hs-secret' });
    expect(oauthApps(cfg)).toEqual({ hubspot: { clientId: 'hs-id', clientSecret: 'hs-secret' }, pipedrive: undefined });
    expect(appSecrets(parseConfig({}))).toEqual({ hubspot: undefined });
  });

  it('gives the HubSpot developer app for registering webhook subscriptions, naming each missing variable', () => {
    expect(() => developerApp(parseConfig({}), 'hubspot')).toThrow('HUBSPOT_APP_ID and HUBSPOT_DEVELOPER_API_KEY are required to register HubSpot webhook subscriptions');
    expect(() => developerApp(parseConfig({ HUBSPOT_APP_ID: '7' }), 'hubspot')).toThrow(/^invalid environment: HUBSPOT_DEVELOPER_API_KEY is required/);
    expect(developerApp(parseConfig({ HUBSPOT_APP_ID: '7', HUBSPOT_DEVELOPER_API_KEY: 'dev-key' }), 'hubspot')).toEqual({ appId: '7', developerKey: 'dev-key' });
    expect(() => developerApp(parseConfig({ HUBSPOT_APP_ID: '7', HUBSPOT_DEVELOPER_API_KEY: 'dev-key' }), 'pipedrive')).toThrow(/no developer app/);
  });
});
