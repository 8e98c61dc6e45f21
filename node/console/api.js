// @ts-check
//! The console's only door to the REST API: every path lives in PATHS below,
//! every request goes through `call`, and every failure comes back as an
//! ApiError that names the field the server blamed.

/**
 * Every REST route the console uses: operation -> [method, path template].
 * `{name}` in a template is filled from `call`'s `path` argument. The shapes
 * follow the proto contract's google.api.http annotations (proto3 JSON,
 * lowerCamel fields); adjusting a route to the server is a change here only.
 * @type {Record<string, [string, string]>}
 */
export const PATHS = {
  listNetworks: ['GET', '/v1/networks'],
  createNetwork: ['POST', '/v1/networks'],
  deleteNetwork: ['DELETE', '/v1/networks/{id}'],
  listSubnets: ['GET', '/v1/subnets'],
  createSubnet: ['POST', '/v1/subnets'],
  deleteSubnet: ['DELETE', '/v1/subnets/{id}'],
  listInstances: ['GET', '/v1/instances'],
  createInstance: ['POST', '/v1/instances'],
  deleteInstance: ['DELETE', '/v1/instances/{id}'],
  listEips: ['GET', '/v1/eips'],
  allocateEip: ['POST', '/v1/eips'],
  releaseEip: ['DELETE', '/v1/eips/{id}'],
  listLoadBalancers: ['GET', '/v1/loadBalancers'],
  getLoadBalancer: ['GET', '/v1/loadBalancers/{id}'],
  createLoadBalancer: ['POST', '/v1/loadBalancers'],
  updateLoadBalancer: ['PATCH', '/v1/loadBalancers/{id}'],
  deleteLoadBalancer: ['DELETE', '/v1/loadBalancers/{id}'],
  associateEip: ['POST', '/v1/loadBalancers/{loadBalancerId}:associateEip'],
  disassociateEip: ['POST', '/v1/loadBalancers/{loadBalancerId}:disassociateEip'],
  getStatusTree: ['GET', '/v1/loadBalancers/{loadBalancerId}/statusTree'],
  listListeners: ['GET', '/v1/listeners'],
  createListener: ['POST', '/v1/listeners'],
  updateListener: ['PATCH', '/v1/listeners/{id}'],
  deleteListener: ['DELETE', '/v1/listeners/{id}'],
  listGroups: ['GET', '/v1/groups'],
  createGroup: ['POST', '/v1/groups'],
  deleteGroup: ['DELETE', '/v1/groups/{id}'],
  addMember: ['POST', '/v1/groups/{groupId}/members'],
  updateMember: ['PATCH', '/v1/groups/{groupId}/members/{memberId}'],
  removeMember: ['DELETE', '/v1/groups/{groupId}/members/{memberId}'],
  listCertificates: ['GET', '/v1/certificates'],
  uploadCertificate: ['POST', '/v1/certificates'],
  deleteCertificate: ['DELETE', '/v1/certificates/{id}'],
  listEvents: ['GET', '/v1/events'],
  watchEvents: ['GET', '/v1/events:watch'],
  clusterStatus: ['GET', '/v1/cluster/status'],
  clusterSettings: ['GET', '/v1/cluster/settings'],
};

/**
 * The listable resources: the list operation and the field of its answer
 * holding the items, and the field of a create answer holding the new one.
 * @type {Record<string, {list: string, items: string, one: string}>}
 */
export const KINDS = {
  networks: { list: 'listNetworks', items: 'networks', one: 'network' },
  subnets: { list: 'listSubnets', items: 'subnets', one: 'subnet' },
  instances: { list: 'listInstances', items: 'instances', one: 'instance' },
  eips: { list: 'listEips', items: 'eips', one: 'eip' },
  loadBalancers: { list: 'listLoadBalancers', items: 'loadBalancers', one: 'loadBalancer' },
  listeners: { list: 'listListeners', items: 'listeners', one: 'listener' },
  groups: { list: 'listGroups', items: 'groups', one: 'group' },
  certificates: { list: 'listCertificates', items: 'certificates', one: 'certificate' },
};

/** The session's path (outside the contract: node/src/rest/session.rs). */
const SESSION_PATH = '/console/session';
/** The most items one list page asks for, and the most pages followed. */
const PAGE_SIZE = 500;
const MAX_PAGES = 40;

/** A refusal or failure, with the field the server's message names first. */
export class ApiError extends Error {
  /**
   * @param {number} httpStatus 0 when the server could not be reached
   * @param {string} status the gRPC code name, e.g. "ALREADY_EXISTS"
   * @param {string} message the server's words, whole
   */
  constructor(httpStatus, status, message) {
    super(message);
    this.httpStatus = httpStatus;
    this.status = status;
    const parsed = splitField(message);
    /** The field named first ("port", "members[1].weight"), or "". */
    this.field = parsed.field;
    /** The message without its field prefix. */
    this.detail = parsed.detail;
  }
}

/**
 * "port: port 80 is already used" -> {field: "port", detail: "port 80 ..."}.
 * @param {string} message
 */
export function splitField(message) {
  const match = /^([A-Za-z_][\w]*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*): ([\s\S]*)$/.exec(message || '');
  return match ? { field: match[1], detail: match[2] } : { field: '', detail: message || '' };
}

/**
 * Who the browser is signed in as. The token itself lives in an HttpOnly
 * cookie the server sets: no script here ever holds it after sign-in.
 * @typedef {{principal: string, role: string, authenticationRequired: boolean}} Session
 */

/**
 * The session of this browser, or an ApiError (401 when signed out).
 * @returns {Promise<Session>}
 */
export async function currentSession() {
  return answer(await reach(() => fetch(SESSION_PATH, { headers: headers(), cache: 'no-store' })));
}

/**
 * Signs in with an access token ("" for a cluster without authentication).
 * @param {string} token
 * @returns {Promise<Session>}
 */
export async function signIn(token) {
  return answer(await reach(() => fetch(SESSION_PATH, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({ token }),
  })), { signingIn: true });
}

/** Ends the session (the server clears the cookie). */
export async function signOut() {
  await reach(() => fetch(SESSION_PATH, { method: 'DELETE', headers: headers() })).catch(() => {});
}

/**
 * A fetch, its network failure as an ApiError.
 * @param {() => Promise<Response>} send
 */
async function reach(send) {
  try {
    return await send();
  } catch (error) {
    throw unreachable(error);
  }
}

/** @param {unknown} error a fetch's network failure */
function unreachable(error) {
  return new ApiError(0, 'UNAVAILABLE', `the server could not be reached (${error})`);
}

/** Called on any 401: the app signs the user out. */
let onUnauthorized = () => {};
/** @param {() => void} handler */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/**
 * The URL of an operation, its `{name}` parts filled from `path`.
 * @param {string} op
 * @param {Record<string, string>} [path]
 * @param {Record<string, string | number | boolean | undefined>} [query]
 */
export function url(op, path = {}, query = {}) {
  const route = PATHS[op];
  if (!route) throw new Error(`no route for ${op}`);
  const filled = route[1].replace(/\{(\w+)\}/g, (_, name) => {
    if (path[name] === undefined) throw new Error(`${op}: missing ${name}`);
    return encodeURIComponent(path[name]);
  });
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(key, String(value));
  }
  const search = params.toString();
  return search ? `${filled}?${search}` : filled;
}

/**
 * The request headers. `X-Fulcrum-Console` lets the session cookie stand
 * for the token (a page of another origin cannot send it).
 */
export function headers(extra = {}) {
  return { Accept: 'application/json', 'X-Fulcrum-Console': '1', ...extra };
}

/**
 * Calls one operation and answers its JSON.
 * @param {string} op a key of PATHS
 * @param {{path?: Record<string, string>, query?: Record<string, any>, body?: any, signal?: AbortSignal}} [options]
 */
export async function call(op, { path, query, body, signal } = {}) {
  const [method] = PATHS[op];
  let response;
  try {
    response = await fetch(url(op, path, query), {
      method,
      headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw unreachable(error);
  }
  return answer(response);
}

/**
 * The JSON of a response, or its error as an ApiError.
 * @param {Response} response
 * @param {{signingIn?: boolean}} [options] a sign-in's 401 is its form's to show
 */
export async function answer(response, { signingIn = false } = {}) {
  const text = await response.text();
  if (response.ok) return text ? JSON.parse(text) : {};
  if (response.status === 401 && !signingIn) onUnauthorized();
  let status = `HTTP_${response.status}`;
  let message = text.trim() || response.statusText;
  try {
    const parsed = JSON.parse(text);
    status = parsed.status || status;
    message = parsed.message || message;
  } catch {
    // Not JSON (a proxy's page, say): keep the text.
  }
  return Promise.reject(new ApiError(response.status, status, message));
}

/**
 * Every item of a kind, following page tokens, with the revision of the read.
 * @param {string} kind a key of KINDS
 * @param {Record<string, string>} [filter]
 * @returns {Promise<{items: any[], revision: number}>}
 */
export async function listAll(kind, filter = {}) {
  const { list, items } = KINDS[kind];
  const all = [];
  let pageToken = '';
  let revision = 0;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const reply = await call(list, { query: { ...filter, pageSize: PAGE_SIZE, pageToken } });
    all.push(...(reply[items] || []));
    revision = Math.max(revision, Number(reply.revision || 0));
    pageToken = reply.nextPageToken || '';
    if (!pageToken) break;
  }
  return { items: all, revision };
}

/**
 * Opens the event stream from `fromRevision` (inclusive); the caller reads
 * the body (live.js). Not `call`: the answer is a stream, not one JSON.
 * @param {number} fromRevision
 * @param {AbortSignal} signal
 */
export function openWatch(fromRevision, signal) {
  return fetch(url('watchEvents', {}, { fromRevision }), {
    headers: headers({ Accept: 'text/event-stream' }),
    signal,
    cache: 'no-store',
  });
}

/** A fresh idempotency token (64 characters at most), for a create retried after a lost answer. */
export function clientToken() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Runs a write with a client token kept across retries whose outcome is
 * unknown (unreachable, UNAVAILABLE, DEADLINE_EXCEEDED), so a retry applies
 * nothing twice; any definite answer retires the token, so a corrected form
 * is a new request.
 * @returns {<T>(send: (token: string) => Promise<T>) => Promise<T>}
 */
export function idempotent() {
  let current = clientToken();
  return async (send) => {
    try {
      return await send(current);
    } catch (error) {
      const unknown = error instanceof ApiError && ['UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(error.status);
      if (!unknown) current = clientToken();
      throw error;
    }
  };
}
