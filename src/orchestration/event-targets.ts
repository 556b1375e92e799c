import { lookup } from 'node:dns/promises';
import { invalid } from '../model/store/errors.ts';
import { within } from '../model/store/within.ts';
import { allowList, nameAllowed, plainAddress, refusedTarget, targetName, type AllowList } from './event-target-rule.ts';

/**
 * The address rule of event-target-rule.ts applied to a subscription URL: the name resolved the
 * way a connection resolves it (getaddrinfo, so /etc/hosts and `localhost` count), every address
 * checked. The sender then connects to one of exactly these addresses, so a name that resolves
 * differently a moment later (DNS rebinding) cannot slip through.
 */

export interface ResolvedAddress {
  address: string;
  family: number;
}
export type Resolve = (host: string) => Promise<ResolvedAddress[]>;

/** A name that does not resolve within this is treated as unresolved (the lookup itself cannot be cancelled). */
export const RESOLVE_TIMEOUT_MS = 5_000;

const systemResolve: Resolve = (host) => lookup(host, { all: true, verbatim: true });

export type TargetCheck =
  | { kind: 'allowed'; addresses: ResolvedAddress[] }
  | { kind: 'refused'; reason: string }
  | { kind: 'unresolved'; reason: string };

export interface TargetOptions {
  allowed: AllowList;
  resolve?: Resolve | undefined;
  timeoutMs?: number | undefined;
}

/** Resolves the URL's host and says whether events may go there, and to which addresses. */
export async function checkEventTarget(url: string, options: TargetOptions): Promise<TargetCheck> {
  const target = targetName(new URL(url));
  const literal = plainAddress(target.host);
  let addresses: ResolvedAddress[];
  if (literal) addresses = [literal];
  else {
    try {
      const timeoutMs = options.timeoutMs ?? RESOLVE_TIMEOUT_MS;
      addresses = await within((options.resolve ?? systemResolve)(target.host), timeoutMs, `${target.host} did not resolve within ${timeoutMs / 1000} s`);
    } catch (error) {
      const code = (error as { code?: string }).code;
      return { kind: 'unresolved', reason: code ? `${target.host} does not resolve (${code})` : (error as Error).message };
    }
  }
  const reason = refusedTarget(options.allowed, target, addresses.map((a) => a.address));
  return reason ? { kind: 'refused', reason } : { kind: 'allowed', addresses };
}

/**
 * At creation and update: a 400 naming `url` for a target the rule refuses. A name that does not
 * resolve now is accepted (a receiver's DNS may come later); the send-time check still applies.
 */
export async function refuseInternalTarget(url: string, allowed: readonly string[] | undefined, resolve?: Resolve): Promise<void> {
  const list = allowList(allowed);
  if (nameAllowed(list, targetName(new URL(url)))) return;
  const check = await checkEventTarget(url, { allowed: list, resolve });
  if (check.kind === 'refused') throw invalid([{ field: 'url', message: check.reason }]);
}
