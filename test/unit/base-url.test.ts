import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { checkedCrmUrl, crmUrlAllowed, hostListed } from '../../src/providers/base-url.ts';
import { providerModules } from '../../src/providers/index.ts';

const listed = (hosts: string) => parseConfig({ CRM_BASE_URL_HOSTS: hosts }).CRM_BASE_URL_HOSTS!;

describe('the baseUrl host rule (CRM_BASE_URL_HOSTS)', () => {
  it('admits a listed host on any port, a listed host:port on that port only', () => {
    expect(hostListed('http://127.0.0.1:4010/x', listed('127.0.0.1'))).toBe(true);
    expect(hostListed('http://127.0.0.1:4010', listed('127.0.0.1:4010'))).toBe(true);
    expect(hostListed('http://127.0.0.1:4011', listed('127.0.0.1:4010'))).toBe(false);
    expect(hostListed('https://Sandbox.Example.test', listed('sandbox.example.test:443'))).toBe(true);
    expect(hostListed('http://sandbox.example.test', listed('sandbox.example.test:443'))).toBe(false);
    expect(hostListed('http://[::1]:9/', listed('[::1]'))).toBe(true);
    expect(hostListed('http://[::1]:9/', listed('[::1]:9'))).toBe(true);
  });

  it('compares names as written and refuses what is not http(s) or carries user info', () => {
    expect(hostListed('http://localhost:80', listed('127.0.0.1'))).toBe(false);
    expect(hostListed('http://127.0.0.1.evil.test', listed('127.0.0.1'))).toBe(false);
    expect(hostListed('http://evil.test/127.0.0.1', listed('127.0.0.1'))).toBe(false);
    expect(hostListed('http://127.0.0.1@evil.test', listed('127.0.0.1'))).toBe(false);
    expect(hostListed('http://user:pw@127.0.0.1', listed('127.0.0.1'))).toBe(false);
    expect(hostListed('ftp://127.0.0.1', listed('127.0.0.1'))).toBe(false);
    expect(hostListed('not a url', listed('127.0.0.1'))).toBe(false);
    expect(hostListed('http://127.0.0.1', [])).toBe(false);
  });

  it('lets each CRM’s credentials go to its own API root (https) and nowhere else unless listed', () => {
    for (const module of Object.values(providerModules)) {
      expect(crmUrlAllowed(module, module.apiRoot, [])).toBe(true);
      expect(crmUrlAllowed(module, module.apiRoot.replace('https:', 'http:'), [])).toBe(false);
      expect(crmUrlAllowed(module, 'https://any-host.test', [])).toBe(false);
      expect(crmUrlAllowed(module, 'https://any-host.test', listed('any-host.test'))).toBe(true);
    }
    const [hubspot, pipedrive] = [providerModules.hubspot, providerModules.pipedrive];
    expect(crmUrlAllowed(hubspot, providerModules.pipedrive.apiRoot, [])).toBe(false);
    expect(crmUrlAllowed(pipedrive, hubspot.apiRoot, [])).toBe(false);
    // An OAuth account's api_domain is one of Pipedrive's own hosts, or it is refused.
    expect(crmUrlAllowed(pipedrive, 'https://acme.pipedrive.com', [])).toBe(true);
    expect(crmUrlAllowed(pipedrive, 'https://acme.pipedrive.com.evil.test', [])).toBe(false);
    expect(crmUrlAllowed(pipedrive, 'https://evilpipedrive.com', [])).toBe(false);
  });

  it('refuses with a fatal connection error naming the host, not the path', () => {
    const refusal = (() => {
      try {
        checkedCrmUrl(providerModules.hubspot, 'http://any-host.test/secret-path?token=x', []);
      } catch (error) {
        return error as { code: string; scope: string; retryable: boolean; message: string };
      }
    })();
    expect(refusal).toMatchObject({ code: 'forbidden', scope: 'connection', retryable: false });
    expect(refusal!.message).toContain('any-host.test');
    expect(refusal!.message).not.toContain('secret-path');
  });
});
