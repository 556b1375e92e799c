import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

/** CRM_CONNECT_TIMEOUT_MS and CRM_REQUEST_TIMEOUT_MS: the longest a CRM call may take to connect, and in all. */
export interface CrmTimeouts {
  connectMs: number;
  requestMs: number;
}

export const DEFAULT_CRM_TIMEOUTS: CrmTimeouts = { connectMs: 5_000, requestMs: 30_000 };

/** What a socket is destroyed with when its CRM call runs out of time; errors.ts makes it a `timeout` CrmError. */
export class CrmTimeoutError extends Error {
  readonly code = 'CRM_TIMEOUT';
  readonly phase: 'connect' | 'request';
  readonly ms: number;

  constructor(phase: 'connect' | 'request', ms: number) {
    super(phase === 'connect' ? `no connection within ${ms} ms` : `no complete answer within ${ms} ms`);
    this.name = 'CrmTimeoutError';
    this.phase = phase;
    this.ms = ms;
  }
}

/** The timeout somewhere in an error's cause chain (the SDKs wrap what the socket failed with). */
export function timeoutIn(error: unknown): CrmTimeoutError | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof CrmTimeoutError) return e;
  }
  return undefined;
}

type Connecting = { createConnection(options: object, callback?: (error: Error | null, socket: Socket) => void): Socket };

/** Destroys a socket that is not connected (TLS: handshake done) within `connectMs`. */
function boundConnect(socket: Socket, connectMs: number, secure: boolean): Socket {
  const timer = setTimeout(() => socket.destroy(new CrmTimeoutError('connect', connectMs)), connectMs);
  timer.unref();
  const done = () => clearTimeout(timer);
  socket.once(secure ? 'secureConnect' : 'connect', done);
  socket.once('close', done);
  return socket;
}

/** Destroys a request (its socket) whose answer is not complete within `requestMs` of being sent. */
function boundRequest(request: http.ClientRequest, requestMs: number) {
  const timer = setTimeout(() => request.destroy(new CrmTimeoutError('request', requestMs)), requestMs);
  timer.unref();
  request.once('close', () => clearTimeout(timer));
}

/**
 * Node http(s) agents that bound every CRM call: the connection (DNS, TCP and TLS) by connectMs,
 * and the whole call, from sending the request to the last byte of the answer, by requestMs. Both
 * SDKs send through node:http when given an agent (the Pipedrive SDK's axios, HubSpot's transport).
 * Sockets are kept alive, so the connect bound applies to new sockets and the total to each call.
 */
function timedAgents({ connectMs, requestMs }: CrmTimeouts) {
  const make = <A extends http.Agent>(Base: new (options: http.AgentOptions) => A, secure: boolean): A => {
    const agent = new Base({ keepAlive: true });
    const base = agent as unknown as Connecting & { addRequest(request: http.ClientRequest, options: object): void };
    const createConnection = base.createConnection.bind(agent);
    const addRequest = base.addRequest.bind(agent);
    base.createConnection = (options, callback) => boundConnect(createConnection(options, callback), connectMs, secure);
    base.addRequest = (request, options) => {
      boundRequest(request, requestMs);
      addRequest(request, options);
    };
    return agent;
  };
  return { http: make(http.Agent, false), https: make(https.Agent, true) };
}

const agents = new Map<string, ReturnType<typeof timedAgents>>();

/** One pair of agents per pair of bounds, shared by every connector, so kept-alive sockets are reused across jobs. */
export function crmAgents(timeouts: CrmTimeouts = DEFAULT_CRM_TIMEOUTS) {
  const key = `${timeouts.connectMs}:${timeouts.requestMs}`;
  let found = agents.get(key);
  if (!found) agents.set(key, (found = timedAgents(timeouts)));
  return found;
}

/** The agent for a URL's protocol. */
export const crmAgentFor = (url: string, timeouts?: CrmTimeouts): http.Agent => (new URL(url).protocol === 'https:' ? crmAgents(timeouts).https : crmAgents(timeouts).http);

/**
 * A bound around a call whose HTTP layer takes no agent (HubSpot's generic apiRequest goes through
 * global fetch, which takes no signal from the SDK): the caller stops waiting once the whole call
 * (connecting included) has taken requestMs, with the same error. The request itself is left to
 * end when the CRM answers or closes the connection.
 */
export async function boundedCall<T>(work: Promise<T>, timeouts: CrmTimeouts = DEFAULT_CRM_TIMEOUTS): Promise<T> {
  const ms = timeouts.requestMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CrmTimeoutError('request', ms)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
