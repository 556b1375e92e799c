import { isIP } from 'node:net';

/**
 * Which addresses an event subscription may reach (SSRF). Events go to the public receivers of
 * workflow tools; an address that is not globally reachable (loopback, this host, link-local with
 * the cloud metadata service, private networks, CGNAT, multicast, documentation and reserved
 * ranges) reaches something of the operator's instead, so it is refused unless the operator's
 * allow-list (EVENT_TARGET_ALLOWED) admits it. Pure: it classifies, it resolves and sends nothing.
 * Ranges from the IANA IPv4 and IPv6 special-purpose address registries.
 */

interface Range {
  base: bigint;
  bits: number;
  why: string;
}

type Family = 4 | 6;

const IPV4_RANGES: [string, string][] = [
  ['0.0.0.0/8', 'this host on this network'],
  ['10.0.0.0/8', 'a private network (RFC 1918)'],
  ['100.64.0.0/10', 'shared carrier-grade NAT space'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (where cloud metadata services answer)'],
  ['172.16.0.0/12', 'a private network (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'the 6to4 relay anycast'],
  ['192.168.0.0/16', 'a private network (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved (and broadcast)'],
];

const IPV6_RANGES: [string, string][] = [
  ['::/128', 'the unspecified address'],
  ['::1/128', 'loopback'],
  ['::/96', 'IPv4-compatible (deprecated)'],
  ['100::/64', 'discard-only'],
  ['64:ff9b:1::/48', 'local-use IPv4/IPv6 translation'],
  ['2001::/23', 'IETF protocol assignments (Teredo among them)'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'segment routing'],
  ['fc00::/7', 'unique-local (a private network)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['ff00::/8', 'multicast'],
];

/** IPv6 prefixes that carry an IPv4 address in their last 32 bits: that address is what gets reached. */
const EMBEDDING_V4: [string, string][] = [
  ['::ffff:0:0/96', 'IPv4-mapped'],
  ['::ffff:0:0:0/96', 'IPv4-translated'],
  ['64:ff9b::/96', 'NAT64'],
];

function v4ToBigint(address: string): bigint {
  return address.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

/** 128 bits of an IPv6 address, a trailing dotted quad included. */
function v6ToBigint(address: string): bigint {
  let text = address;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v4 = v4ToBigint(quad[1]!);
    text = `${text.slice(0, -quad[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function parseRange(cidr: string, why: string): Range & { family: Family } {
  const [address, bits] = cidr.split('/') as [string, string];
  const family = isIP(address) as Family;
  return { family, base: family === 4 ? v4ToBigint(address) : v6ToBigint(address), bits: Number(bits), why };
}

const ranges = (list: [string, string][]) => list.map(([cidr, why]) => parseRange(cidr, why));
const V4 = ranges(IPV4_RANGES);
const V6 = ranges(IPV6_RANGES);
const EMBEDDING = ranges(EMBEDDING_V4);

function inRange(value: bigint, family: Family, range: Range): boolean {
  const shift = BigInt((family === 4 ? 32 : 128) - range.bits);
  return value >> shift === range.base >> shift;
}

/** An address without brackets or zone id (`fe80::1%eth0`), or undefined when it is not an IP address. */
export function plainAddress(host: string): { address: string; family: Family } | undefined {
  const address = host.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const family = isIP(address);
  return family === 0 ? undefined : { address: address.toLowerCase(), family: family as Family };
}

function v4FromBits(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/**
 * Why an address may not be sent events by default (a short description of its range), or null
 * for a globally reachable address. An IPv6 address carrying an IPv4 one is judged by that one,
 * and 6to4 (2002::/16) by the IPv4 address in its bits 16 to 48.
 */
export function refusedRange(ip: string): string | null {
  const parsed = plainAddress(ip);
  if (!parsed) return 'not an IP address';
  if (parsed.family === 4) return V4.find((r) => inRange(v4ToBigint(parsed.address), 4, r))?.why ?? null;
  const value = v6ToBigint(parsed.address);
  const embedding = EMBEDDING.find((r) => inRange(value, 6, r));
  if (embedding) {
    const inner = refusedRange(v4FromBits(value & 0xffffffffn));
    return inner ? `${inner}, ${embedding.why}` : null;
  }
  if (inRange(value, 6, { base: 0x2002n << 112n, bits: 16, why: '' })) {
    const inner = refusedRange(v4FromBits((value >> 80n) & 0xffffffffn));
    return inner ? `${inner}, through 6to4` : null;
  }
  return V6.find((r) => inRange(value, 6, r))?.why ?? null;
}

/** One entry of EVENT_TARGET_ALLOWED: a host name (`*.` for its subdomains), an address, either with a port, or a CIDR range. */
type AllowEntry = { kind: 'range'; range: Range; family: Family } | { kind: 'host'; host: string; port: number | undefined };

function parseEntry(entry: string): AllowEntry | undefined {
  if (entry.includes('/')) {
    const [address, bits] = entry.split('/');
    const plain = plainAddress(address ?? '');
    const max = plain?.family === 4 ? 32 : 128;
    if (!plain || !/^\d{1,3}$/.test(bits ?? '') || Number(bits) > max) return undefined;
    const range = parseRange(`${plain.address}/${bits}`, 'allowed');
    return { kind: 'range', range, family: range.family };
  }
  // host:port, [v6]:port, or a bare host / address (a bare IPv6 address has several colons).
  const withPort = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(entry);
  const host = (withPort ? withPort[1]! : entry).replace(/^\[(.*)\]$/, '$1');
  return { kind: 'host', host: plainAddress(host)?.address ?? host, port: withPort ? Number(withPort[2]) : undefined };
}

export interface AllowList {
  entries: AllowEntry[];
}

/** The operator's allow-list as config.ts parses it (lower-cased strings); entries that fit no form are ignored. */
export function allowList(entries: readonly string[] | undefined): AllowList {
  return { entries: (entries ?? []).map(parseEntry).filter((e): e is AllowEntry => e !== undefined) };
}

const hostMatches = (pattern: string, host: string) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : pattern === host);

/** The target as a URL names it (host lower-cased, brackets off, the effective port). */
export interface TargetName {
  host: string;
  port: number;
}

export function targetName(url: URL): TargetName {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host, port };
}

/** The operator admits this name (with its port) whatever it resolves to. */
export function nameAllowed(list: AllowList, target: TargetName): boolean {
  return list.entries.some((e) => e.kind === 'host' && hostMatches(e.host, target.host) && (e.port === undefined || e.port === target.port));
}

function addressAllowed(list: AllowList, address: string, port: number): boolean {
  const parsed = plainAddress(address);
  if (!parsed) return false;
  const value = parsed.family === 4 ? v4ToBigint(parsed.address) : v6ToBigint(parsed.address);
  return list.entries.some((e) =>
    e.kind === 'range'
      ? e.family === parsed.family && inRange(value, parsed.family, e.range)
      : e.host === parsed.address && (e.port === undefined || e.port === port),
  );
}

/**
 * Why events may not go to this target resolved to these addresses, or null when they may. Every
 * address must pass: a name with one public and one private address could reach either.
 */
export function refusedTarget(list: AllowList, target: TargetName, addresses: readonly string[]): string | null {
  if (nameAllowed(list, target)) return null;
  if (addresses.length === 0) return `${target.host} has no address`;
  for (const address of addresses) {
    const why = refusedRange(address);
    if (why && !addressAllowed(list, address, target.port)) {
      const shown = address === target.host ? address : `${target.host} (${address})`;
      return `${shown} is not a public address (${why}): events go only to public addresses unless EVENT_TARGET_ALLOWED admits it`;
    }
  }
  return null;
}
