import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { allowList, refusedRange, refusedTarget, targetName } from '../../src/orchestration/event-target-rule.ts';
import { checkEventTarget, refuseInternalTarget, type Resolve } from '../../src/orchestration/event-targets.ts';

// Classification only: nothing here resolves a name through DNS or opens a connection. Names are
// resolved by the table below, handed in as the resolver.
const names: Record<string, string[]> = {
  'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'rebound.example.com': ['93.184.215.14', '10.1.2.3'],
  'metadata.example.com': ['169.254.169.254'],
  localhost: ['127.0.0.1', '::1'],
  'hooks.internal': ['10.20.30.40'],
};
const table: Resolve = async (host) => {
  const addresses = names[host];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};
const operator = (value?: string) => allowList(parseConfig(value === undefined ? {} : { EVENT_TARGET_ALLOWED: value }).EVENT_TARGET_ALLOWED);
const target = (url: string) => targetName(new URL(url));

describe('the event target address rule', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '10.255.255.255',
    '100.64.0.1',
    '100.127.255.255',
    '169.254.169.254',
    '169.254.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '192.0.0.8',
    '192.0.2.10',
    '198.18.0.1',
    '198.51.100.7',
    '203.0.113.9',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '[::1]',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::ffff:10.0.0.1',
    '::ffff:0:192.168.0.1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::1',
    '::127.0.0.1',
    '2002:7f00:1::',
    '2002:a9fe:a9fe::1',
    'fc00::1',
    'fd12:3456:789a::1',
    'fe80::1',
    'fe80::1%eth0',
    'febf:ffff::1',
    'fec0::1',
    'ff02::1',
    'ff05::1:3',
    '2001:db8::1',
    '2001::1',
    '100::1',
    '3fff::1',
  ])('refuses %s', (address) => {
    expect(refusedRange(address)).not.toBeNull();
  });

  it.each(['93.184.215.14', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.255.0.1', '192.169.0.1', '11.0.0.1', '223.255.255.254', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '2606:4700:4700::1111', '2a00:1450:4001::200e'])(
    'admits the public address %s',
    (address) => {
      expect(refusedRange(address)).toBeNull();
    },
  );

  it('says which range refused an address', () => {
    expect(refusedRange('169.254.169.254')).toMatch(/link-local/);
    expect(refusedRange('::ffff:127.0.0.1')).toMatch(/loopback, IPv4-mapped/);
    expect(refusedRange('100.64.0.1')).toMatch(/carrier-grade NAT/);
  });

  it('refuses a target when any one of its addresses is refused', () => {
    expect(refusedTarget(operator(), target('https://rebound.example.com/x'), names['rebound.example.com']!)).toMatch(/rebound\.example\.com \(10\.1\.2\.3\) is not a public address/);
    expect(refusedTarget(operator(), target('https://hooks.example.com/x'), names['hooks.example.com']!)).toBeNull();
    expect(refusedTarget(operator(), target('https://nothing.example.com/x'), [])).toMatch(/no address/);
  });

  it('admits what the operator lists: addresses, address:port, CIDR ranges, names and *.names', () => {
    const loopback = target('http://127.0.0.1:8080/hooks');
    expect(refusedTarget(operator(), loopback, ['127.0.0.1'])).toMatch(/loopback/);
    expect(refusedTarget(operator('127.0.0.1'), loopback, ['127.0.0.1'])).toBeNull();
    expect(refusedTarget(operator('127.0.0.1:8080'), loopback, ['127.0.0.1'])).toBeNull();
    expect(refusedTarget(operator('127.0.0.1:9090'), loopback, ['127.0.0.1'])).not.toBeNull();
    expect(refusedTarget(operator('127.0.0.0/8'), loopback, ['127.0.0.1'])).toBeNull();
    expect(refusedTarget(operator('10.0.0.0/8'), loopback, ['127.0.0.1'])).not.toBeNull();
    // localhost resolves to both loopbacks: each must be admitted.
    expect(refusedTarget(operator('127.0.0.1'), target('http://localhost:1/'), names.localhost!)).toMatch(/::1/);
    expect(refusedTarget(operator('127.0.0.1, ::1'), target('http://localhost:1/'), names.localhost!)).toBeNull();
    expect(refusedTarget(operator('[::1]:8080'), target('http://[::1]:8080/'), ['::1'])).toBeNull();
    expect(refusedTarget(operator('::1'), target('http://[::1]:8080/'), ['::1'])).toBeNull();
    expect(refusedTarget(operator('fd00::/8'), target('http://[fd12::1]/'), ['fd12::1'])).toBeNull();
    expect(refusedTarget(operator('hooks.internal'), target('https://hooks.internal/x'), names['hooks.internal']!)).toBeNull();
    expect(refusedTarget(operator('hooks.internal:8443'), target('https://hooks.internal/x'), names['hooks.internal']!)).not.toBeNull();
    expect(refusedTarget(operator('*.corp.internal'), target('https://a.corp.internal/x'), ['10.0.0.5'])).toBeNull();
    expect(refusedTarget(operator('*.corp.internal'), target('https://corp.internal.evil.example/x'), ['10.0.0.5'])).not.toBeNull();
  });

  it('reads the URL as the sender does: odd IPv4 spellings are the addresses they spell', () => {
    for (const url of ['http://2130706433/', 'http://0x7f.0.0.1/', 'http://127.1/', 'http://[::ffff:127.0.0.1]/', 'http://0/']) {
      expect(refusedTarget(operator(), target(url), [target(url).host]), url).not.toBeNull();
    }
  });
});

describe('checking a subscription URL', () => {
  const check = (url: string, allowed?: string) => checkEventTarget(url, { allowed: operator(allowed), resolve: table });

  it('resolves names and checks every address, and takes literal addresses as they are', async () => {
    expect(await check('https://hooks.example.com/x')).toMatchObject({ kind: 'allowed', addresses: [{ address: '93.184.215.14' }, { family: 6 }] });
    expect(await check('http://metadata.example.com/latest/meta-data')).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/169\.254\.169\.254.*link-local/) });
    expect(await check('http://localhost:3000/')).toMatchObject({ kind: 'refused' });
    expect(await check('http://169.254.169.254/')).toMatchObject({ kind: 'refused' });
    expect(await check('http://[fe80::1]/')).toMatchObject({ kind: 'refused' });
    expect(await check('http://93.184.215.14/')).toMatchObject({ kind: 'allowed', addresses: [{ address: '93.184.215.14', family: 4 }] });
    expect(await check('http://unknown.example.com/')).toMatchObject({ kind: 'unresolved', reason: expect.stringMatching(/ENOTFOUND/) });
  });

  it('gives up on a resolver that does not answer', async () => {
    const never: Resolve = () => new Promise(() => {});
    expect(await checkEventTarget('https://slow.example.com/', { allowed: operator(), resolve: never, timeoutMs: 10 })).toMatchObject({ kind: 'unresolved', reason: expect.stringMatching(/did not resolve/) });
  });

  it('answers a refused URL at creation with a 400 naming url; accepts a name that does not resolve yet', async () => {
    await expect(refuseInternalTarget('http://10.0.0.1:8080/x', undefined, table)).rejects.toMatchObject({ status: 400, errors: [{ field: 'url', message: expect.stringMatching(/private network/) }] });
    await expect(refuseInternalTarget('http://metadata.example.com/', undefined, table)).rejects.toMatchObject({ status: 400 });
    await expect(refuseInternalTarget('https://hooks.example.com/x', undefined, table)).resolves.toBeUndefined();
    await expect(refuseInternalTarget('https://unknown.example.com/x', undefined, table)).resolves.toBeUndefined();
    await expect(refuseInternalTarget('http://10.0.0.1:8080/x', ['10.0.0.1'], table)).resolves.toBeUndefined();
    // An allow-listed name is not even resolved.
    await expect(refuseInternalTarget('https://hooks.internal/x', ['hooks.internal'], () => Promise.reject(new Error('resolved')))).resolves.toBeUndefined();
  });
});
