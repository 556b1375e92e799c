import { CrmError } from './errors.ts';
import type { Provider } from '../model/store/schema.ts';

/** What the rule needs of a provider module: who it is and which URLs are its own API. */
export interface UrlOwner {
  readonly id: Provider;
  readonly label: string;
  /** True for the CRM's own API hosts (https only): its credentials may always go there. */
  ownsUrl(url: URL): boolean;
}

const withoutBrackets = (host: string) => host.replace(/^\[(.*)\]$/, '$1');

function parsed(url: string | URL): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * The operator's allow-list (CRM_BASE_URL_HOSTS): an entry `host` admits that host on any port,
 * `host:port` only that port (the scheme's default port when the URL names none). Names are
 * compared as written, never resolved: `localhost` does not admit `127.0.0.1`. Only http(s) URLs
 * without user info are admitted.
 */
export function hostListed(url: string | URL, allowed: readonly string[]): boolean {
  const u = parsed(url);
  if (!u || !['http:', 'https:'].includes(u.protocol) || u.username || u.password) return false;
  const hostname = withoutBrackets(u.hostname.toLowerCase());
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return allowed.some((entry) => {
    const e = entry.trim().toLowerCase();
    const at = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(e);
    if (at) return withoutBrackets(at[1]!) === hostname && at[2] === port;
    return withoutBrackets(e) === hostname;
  });
}

/** Whether a CRM's credentials may be sent to this URL: its own API, or a host the operator listed. */
export function crmUrlAllowed(owner: UrlOwner, url: string | URL, allowed: readonly string[]): boolean {
  const u = parsed(url);
  if (!u) return false;
  return (u.protocol === 'https:' && !u.username && !u.password && owner.ownsUrl(u)) || hostListed(u, allowed);
}

/** What the refusal says: the host only, never a path or query that could carry something secret. */
export function crmUrlRefusal(owner: UrlOwner, url: string | URL): string {
  const host = parsed(url)?.host || 'an invalid URL';
  return `${owner.label} credentials are sent only to ${owner.label}'s own API or to a host the operator lists in CRM_BASE_URL_HOSTS; ${host} is neither`;
}

/**
 * The URL, when a CRM's credentials may go there; otherwise a fatal connection error (a stored
 * connection whose baseUrl is refused stops and shows it), and no request is made.
 */
export function checkedCrmUrl(owner: UrlOwner, url: string, allowed: readonly string[]): string {
  if (crmUrlAllowed(owner, url, allowed)) return url;
  throw new CrmError(owner.id, 'forbidden', crmUrlRefusal(owner, url));
}
