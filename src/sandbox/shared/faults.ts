import type { FastifyRequest } from 'fastify';

/** Faults injected into a sandbox's API through its control API. */
export interface ApiFaults {
  latencyMs: number;
  /** The next n API requests answer 429 / 502 / have their connection reset. */
  fail429: number;
  fail5xx: number;
  reset: number;
}

export const noApiFaults = (): ApiFaults => ({ latencyMs: 0, fail429: 0, fail5xx: 0, reset: 0 });

/** Uses up one injected fault of a kind: true when this request is the one that gets it. */
export function takeFault(faults: ApiFaults, kind: 'fail429' | 'fail5xx' | 'reset'): boolean {
  if (faults[kind] <= 0) return false;
  faults[kind]--;
  return true;
}

/** A reset destroys the connection; latency delays the request; otherwise `admit` decides at once. */
export function withTransportFaults(faults: ApiFaults, request: FastifyRequest, admit: () => void) {
  if (takeFault(faults, 'reset')) {
    request.raw.socket.destroy();
    return;
  }
  if (faults.latencyMs > 0) setTimeout(admit, faults.latencyMs);
  else admit();
}
