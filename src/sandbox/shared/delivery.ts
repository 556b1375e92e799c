/** What became of one webhook request. */
export type DeliveryStatus = number | 'timeout' | 'error';

/** POSTs a JSON body; a timeout or a network failure is an outcome, not an exception. */
export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<DeliveryStatus> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    return (error as Error).name === 'TimeoutError' ? 'timeout' : 'error';
  }
}

export const succeeded = (status: DeliveryStatus) => typeof status === 'number' && status >= 200 && status <= 299;

/** Pending timers of a dispatcher, so it can tell when it is idle and cancel everything on reset. */
export class Timers {
  private timers = new Set<NodeJS.Timeout>();

  schedule(ms: number, work: () => void) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    this.timers.add(timer);
  }

  get empty() {
    return this.timers.size === 0;
  }

  clear() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
