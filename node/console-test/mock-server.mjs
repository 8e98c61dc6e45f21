// TEST DOUBLE ONLY: a throwaway, in-memory imitation of the Fulcrum REST API
// (proto3 JSON, lowerCamel paths under /v1/, errors as {code, status,
// message} with the field first, bearer tokens, Server-Sent Events for
// events:watch) plus the console's static files, so that the console and
// guide.test.mjs run end to end in a real browser before the agent serves the
// real API. It forwards no traffic and checks only what the console shows.
//
//   node mock-server.mjs [--port N]   (prints "mock listening on <url>")
//   tokens: operator-secret (operator), viewer-secret (viewer)

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../console');
const TOKENS = { 'operator-secret': 'operator', 'viewer-secret': 'viewer' };
const EIP_POOL = '203.0.113.0/28';
/** How long a new resource stays PENDING_CREATE: the data plane "applying" it. */
const PROVISION_MS = 400;
const HTTP_OF = { RESOURCE_EXHAUSTED: 429, INTERNAL: 500, INVALID_ARGUMENT: 400, FAILED_PRECONDITION: 400, OUT_OF_RANGE: 400, UNAUTHENTICATED: 401, PERMISSION_DENIED: 403, NOT_FOUND: 404, ALREADY_EXISTS: 409, ABORTED: 409 };
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

class Refusal extends Error {
  constructor(status, field, message) {
    super(field ? `${field}: ${message}` : message);
    this.status = status;
  }
}
const invalid = (field, message) => new Refusal('INVALID_ARGUMENT', field, message);

// ---- state -----------------------------------------------------------------
let revision = 0;
const counters = {};
const kinds = { networks: new Map(), subnets: new Map(), instances: new Map(), eips: new Map(), loadBalancers: new Map(), listeners: new Map(), groups: new Map(), certificates: new Map() };
const events = [];
const watchers = new Set();
const newId = (prefix) => `${prefix}-${(counters[prefix] = (counters[prefix] || 0) + 1).toString().padStart(4, '0')}`;

function base(prefix, body) {
  const now = String(Date.now());
  return { id: newId(prefix), name: body.name || '', description: body.description || '', tags: body.tags || {}, createdAtUnixMs: now, updatedAtUnixMs: now, revision: String(revision + 1) };
}
/** Applies one "command": bumps the revision, stamps the resources, emits its events. */
function commit(list) {
  revision += 1;
  const applied = list.map(([type, resourceField, resource, parentId, resourceId]) => {
    if (resource && resource.revision !== undefined) { resource.revision = String(revision); resource.updatedAtUnixMs = String(Date.now()); }
    return { revision: String(revision), occurredAtUnixMs: String(Date.now()), type: `EVENT_TYPE_${type}`, resourceId: resourceId || resource?.id || '', parentId: parentId || '', principal: 'operator', ...(resource ? { [resourceField]: structuredClone(resource) } : {}) };
  });
  events.push(...applied);
  for (const send of watchers) send(applied);
  return String(revision);
}
function provision(...items) {
  setTimeout(() => {
    for (const item of items) {
      item.provisioningStatus = 'PROVISIONING_STATUS_ACTIVE';
      if (item.members) {
        item.operatingStatus = item.healthCheck ? 'OPERATING_STATUS_ONLINE' : 'OPERATING_STATUS_NO_MONITOR';
        for (const m of item.members) Object.assign(m, { provisioningStatus: 'PROVISIONING_STATUS_ACTIVE', operatingStatus: item.operatingStatus });
      } else item.operatingStatus = 'OPERATING_STATUS_ONLINE';
    }
  }, PROVISION_MS).unref();
}

// ---- validation helpers ------------------------------------------------------
const ip = (text) => {
  const parts = String(text).split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
};
function cidr(field, text) {
  const [addr, bits] = String(text || '').split('/');
  const start = ip(addr);
  const prefix = Number(bits);
  if (start === null || !/^\d+$/.test(bits || '') || prefix > 32) throw invalid(field, `"${text}" is not an IPv4 CIDR like 10.0.0.0/16`);
  const size = 2 ** (32 - prefix);
  return { start: start - (start % size), end: start - (start % size) + size - 1 };
}
const inside = (inner, outer) => inner.start >= outer.start && inner.end <= outer.end;
function name(value, required = true) {
  if (!value && !required) return;
  if (!/^[\p{L}\p{N}_-]{1,32}$/u.test(value || '')) throw invalid('name', 'must be 1 to 32 letters, digits, _ or -');
}
function find(kind, field, id, noun) {
  const item = kinds[kind].get(id);
  if (!item) throw new Refusal('NOT_FOUND', field, `no ${noun} ${id || '""'}`);
  return item;
}
function allowed(body, fields, message) {
  for (const key of Object.keys(body)) if (!fields.includes(key)) throw invalid(key, `not a field of fulcrum.v1.${message}`);
}
const camel = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const number = (value) => (value === undefined || value === '' ? undefined : Number(value));

// ---- operations ---------------------------------------------------------------
const ops = {
  'POST /v1/networks': (b) => {
    allowed(b, ['clientToken', 'name', 'description', 'tags', 'cidr'], 'CreateNetworkRequest');
    name(b.name); cidr('cidr', b.cidr);
    const network = { ...base('net', b), cidr: b.cidr };
    kinds.networks.set(network.id, network);
    return { network, revision: commit([['NETWORK_CREATED', 'network', network]]) };
  },
  'POST /v1/subnets': (b) => {
    allowed(b, ['clientToken', 'name', 'description', 'tags', 'networkId', 'cidr'], 'CreateSubnetRequest');
    name(b.name);
    const network = find('networks', 'network_id', b.networkId, 'network');
    const range = cidr('cidr', b.cidr);
    if (!inside(range, cidr('cidr', network.cidr))) throw invalid('cidr', `${b.cidr} is not inside network ${network.id} (${network.cidr})`);
    for (const other of kinds.subnets.values()) {
      const o = cidr('cidr', other.cidr);
      if (other.networkId === network.id && range.start <= o.end && o.start <= range.end) throw invalid('cidr', `${b.cidr} overlaps subnet ${other.id} (${other.cidr})`);
    }
    const subnet = { ...base('subnet', b), networkId: network.id, cidr: b.cidr };
    kinds.subnets.set(subnet.id, subnet);
    return { subnet, revision: commit([['SUBNET_CREATED', 'subnet', subnet]]) };
  },
  'POST /v1/instances': (b) => {
    allowed(b, ['clientToken', 'name', 'description', 'tags', 'subnetId', 'address'], 'CreateInstanceRequest');
    name(b.name);
    const subnet = find('subnets', 'subnet_id', b.subnetId, 'subnet');
    const address = ip(b.address);
    if (address === null) throw invalid('address', `"${b.address}" is not an IPv4 address`);
    const range = cidr('cidr', subnet.cidr);
    if (address < range.start || address > range.end) throw invalid('address', `${b.address} is not inside subnet ${subnet.id} (${subnet.cidr})`);
    for (const other of kinds.instances.values()) if (other.subnetId === subnet.id && other.address === b.address) throw new Refusal('ALREADY_EXISTS', 'address', `${b.address} is already instance ${other.id}`);
    const instance = { ...base('inst', b), subnetId: subnet.id, address: b.address };
    kinds.instances.set(instance.id, instance);
    return { instance, revision: commit([['INSTANCE_CREATED', 'instance', instance]]) };
  },
  'POST /v1/eips': (b) => {
    allowed(b, ['clientToken', 'name', 'description', 'tags', 'address'], 'AllocateEipRequest');
    name(b.name, false);
    const pool = cidr('eip_pool', EIP_POOL);
    const taken = new Set([...kinds.eips.values()].map((e) => e.address));
    let address = b.address;
    if (address) {
      const n = ip(address);
      if (n === null || n < pool.start || n > pool.end) throw invalid('address', `${address} is not in the EIP pool ${EIP_POOL}`);
      if (taken.has(address)) throw new Refusal('ALREADY_EXISTS', 'address', `EIP ${address} is already allocated`);
    } else {
      for (let n = pool.start + 1; n < pool.end && !address; n += 1) {
        const text = [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
        if (!taken.has(text)) address = text;
      }
      if (!address) throw new Refusal('RESOURCE_EXHAUSTED', 'eip_pool', `no free address left in ${EIP_POOL}`);
    }
    const eip = { ...base('eip', b), address, loadBalancerId: '' };
    kinds.eips.set(eip.id, eip);
    return { eip, revision: commit([['EIP_ALLOCATED', 'eip', eip]]) };
  },
  'POST /v1/loadBalancers': (b) => {
    allowed(b, ['clientToken', 'name', 'description', 'tags', 'networkId', 'subnetId', 'adminStateUp', 'deleteProtection'], 'CreateLoadBalancerRequest');
    name(b.name);
    for (const other of kinds.loadBalancers.values()) if (other.name === b.name) throw new Refusal('ALREADY_EXISTS', 'name', `load balancer ${other.id} is already named ${b.name}`);
    const network = find('networks', 'network_id', b.networkId, 'network');
    const subnet = find('subnets', 'subnet_id', b.subnetId, 'subnet');
    if (subnet.networkId !== network.id) throw invalid('subnet_id', `subnet ${subnet.id} is not in network ${network.id}`);
    const lb = { ...base('lb', b), networkId: network.id, subnetId: subnet.id, eipId: '', eipAddress: '', adminStateUp: b.adminStateUp ?? true, deleteProtection: !!b.deleteProtection,
      provisioningStatus: 'PROVISIONING_STATUS_PENDING_CREATE', operatingStatus: 'OPERATING_STATUS_OFFLINE' };
    kinds.loadBalancers.set(lb.id, lb);
    provision(lb);
    return { loadBalancer: lb, revision: commit([['LOAD_BALANCER_CREATED', 'loadBalancer', lb]]) };
  },
  'POST /v1/loadBalancers/{loadBalancerId}:associateEip': (b, p) => {
    allowed(b, ['clientToken', 'eipId', 'loadBalancerId'], 'AssociateEipRequest');
    const lb = find('loadBalancers', 'load_balancer_id', p.loadBalancerId, 'load balancer');
    const eip = find('eips', 'eip_id', b.eipId, 'EIP');
    if (lb.eipId) throw new Refusal('FAILED_PRECONDITION', 'load_balancer_id', `load balancer ${lb.id} already has EIP ${lb.eipId}; a load balancer has at most one EIP`);
    if (eip.loadBalancerId) throw new Refusal('FAILED_PRECONDITION', 'eip_id', `EIP ${eip.id} (${eip.address}) is already bound to load balancer ${eip.loadBalancerId}`);
    Object.assign(lb, { eipId: eip.id, eipAddress: eip.address });
    eip.loadBalancerId = lb.id;
    return { loadBalancer: lb, revision: commit([['EIP_ASSOCIATED', 'loadBalancer', lb, lb.id]]) };
  },
  'POST /v1/loadBalancers/{loadBalancerId}:disassociateEip': (b, p) => {
    const lb = find('loadBalancers', 'load_balancer_id', p.loadBalancerId, 'load balancer');
    if (!lb.eipId) throw new Refusal('FAILED_PRECONDITION', 'load_balancer_id', `load balancer ${lb.id} has no EIP`);
    kinds.eips.get(lb.eipId).loadBalancerId = '';
    Object.assign(lb, { eipId: '', eipAddress: '' });
    return { loadBalancer: lb, revision: commit([['EIP_DISASSOCIATED', 'loadBalancer', lb, lb.id]]) };
  },
  'GET /v1/loadBalancers/{loadBalancerId}/statusTree': (q, p) => {
    const lb = find('loadBalancers', 'load_balancer_id', p.loadBalancerId, 'load balancer');
    const status = (x) => ({ id: x.id, name: x.name, provisioningStatus: x.provisioningStatus, operatingStatus: x.operatingStatus });
    const listeners = [...kinds.listeners.values()].filter((l) => l.loadBalancerId === lb.id)
      .map((l) => ({ ...status(l), defaultGroupId: l.defaultGroupId, provisioningError: '', counters: { activeConnections: '0', totalConnections: '0', bytesIn: '0', bytesOut: '0', requests: '0', responsesByClass: [], errors: {} } }));
    const groups = [...kinds.groups.values()].filter((g) => g.loadBalancerId === lb.id)
      .map((g) => ({ ...status(g), members: g.members.map((m) => ({ id: m.id, address: m.address, port: m.port, provisioningStatus: m.provisioningStatus, operatingStatus: m.operatingStatus })) }));
    return { loadBalancer: { ...status(lb), listeners, groups }, revision: String(revision) };
  },
  'POST /v1/listeners': (b) => {
    allowed(b, ['clientToken', 'loadBalancerId', 'name', 'description', 'tags', 'protocol', 'port', 'connectionLimit', 'defaultGroupId', 'certificateId', 'idleTimeoutS', 'insertXForwardedFor', 'adminStateUp'], 'CreateListenerRequest');
    const lb = find('loadBalancers', 'load_balancer_id', b.loadBalancerId, 'load balancer');
    name(b.name);
    if (!['PROTOCOL_TCP', 'PROTOCOL_HTTP', 'PROTOCOL_HTTPS'].includes(b.protocol)) throw invalid('protocol', 'choose TCP, HTTP or HTTPS');
    const port = Number(b.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid('port', `${b.port} is not a port from 1 to 65535`);
    const limit = b.connectionLimit === undefined ? -1 : Number(b.connectionLimit);
    if (!(limit === -1 || (Number.isInteger(limit) && limit >= 1 && limit <= 1000000))) throw invalid('connection_limit', 'must be -1 (unlimited) or 1 to 1000000');
    const siblings = [...kinds.listeners.values()].filter((l) => l.loadBalancerId === lb.id);
    const clash = siblings.find((l) => l.port === port);
    if (clash) throw new Refusal('ALREADY_EXISTS', 'port', `port ${port} is already used by ${clash.protocol.replace('PROTOCOL_', '')} listener ${clash.id} on load balancer ${lb.id}; a listening port is unique within a load balancer, whatever the protocol`);
    if (siblings.some((l) => l.name === b.name)) throw new Refusal('ALREADY_EXISTS', 'name', `load balancer ${lb.id} already has a listener named ${b.name}`);
    if (b.protocol === 'PROTOCOL_HTTPS') find('certificates', 'certificate_id', b.certificateId, 'certificate');
    else if (b.certificateId) throw invalid('certificate_id', 'only HTTPS listeners take a certificate');
    if (b.defaultGroupId) {
      const group = find('groups', 'default_group_id', b.defaultGroupId, 'group');
      if (group.loadBalancerId !== lb.id) throw invalid('default_group_id', `group ${group.id} belongs to another load balancer`);
    }
    const listener = { ...base('lsn', b), loadBalancerId: lb.id, protocol: b.protocol, port, connectionLimit: String(limit), defaultGroupId: b.defaultGroupId || '', certificateId: b.certificateId || '',
      idleTimeoutS: 60, insertXForwardedFor: b.protocol !== 'PROTOCOL_TCP', adminStateUp: true, provisioningStatus: 'PROVISIONING_STATUS_PENDING_CREATE', operatingStatus: 'OPERATING_STATUS_OFFLINE', provisioningError: '' };
    kinds.listeners.set(listener.id, listener);
    provision(listener);
    return { listener, revision: commit([['LISTENER_CREATED', 'listener', listener, lb.id]]) };
  },
  'POST /v1/groups': (b) => {
    allowed(b, ['clientToken', 'loadBalancerId', 'name', 'description', 'tags', 'algorithm', 'healthCheck', 'members'], 'CreateGroupRequest');
    const lb = find('loadBalancers', 'load_balancer_id', b.loadBalancerId, 'load balancer');
    name(b.name);
    if ([...kinds.groups.values()].some((g) => g.loadBalancerId === lb.id && g.name === b.name)) throw new Refusal('ALREADY_EXISTS', 'name', `load balancer ${lb.id} already has a group named ${b.name}`);
    const seen = new Set();
    const members = (b.members || []).map((spec, i) => {
      allowed(spec, ['instanceId', 'port', 'weight', 'adminStateUp'], 'MemberSpec');
      const instance = find('instances', `members[${i}].instance_id`, spec.instanceId, 'instance');
      if (kinds.subnets.get(instance.subnetId)?.networkId !== lb.networkId) throw invalid(`members[${i}].instance_id`, `instance ${instance.id} is not in network ${lb.networkId}`);
      const port = Number(spec.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`members[${i}].port`, `${spec.port} is not a port from 1 to 65535`);
      const weight = spec.weight === undefined ? 10 : Number(spec.weight);
      if (!Number.isInteger(weight) || weight < 0 || weight > 100) throw invalid(`members[${i}].weight`, `${spec.weight} is not a weight from 0 to 100`);
      if (seen.has(`${instance.id}:${port}`)) throw new Refusal('ALREADY_EXISTS', `members[${i}]`, `instance ${instance.id} port ${port} is given twice`);
      seen.add(`${instance.id}:${port}`);
      return { id: newId('mbr'), instanceId: instance.id, address: instance.address, port, weight, adminStateUp: true, provisioningStatus: 'PROVISIONING_STATUS_PENDING_CREATE', operatingStatus: 'OPERATING_STATUS_OFFLINE' };
    });
    const group = { ...base('vsg', b), loadBalancerId: lb.id, algorithm: b.algorithm || 'ALGORITHM_WEIGHTED_ROUND_ROBIN', ...(b.healthCheck ? { healthCheck: { type: b.healthCheck.type } } : {}),
      members, provisioningStatus: 'PROVISIONING_STATUS_PENDING_CREATE', operatingStatus: 'OPERATING_STATUS_OFFLINE' };
    kinds.groups.set(group.id, group);
    provision(group);
    return { group, revision: commit([['VIRTUAL_SERVER_GROUP_CREATED', 'virtualServerGroup', group, lb.id]]) };
  },
  'POST /v1/certificates': (b) => {
    allowed(b, ['clientToken', 'name', 'description', 'tags', 'certificateChain', 'privateKey'], 'UploadCertificateRequest');
    name(b.name);
    if (!/-----BEGIN CERTIFICATE-----/.test(b.certificateChain || '')) throw invalid('certificate_chain', 'no PEM certificate found');
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(b.privateKey || '')) throw invalid('private_key', 'no PEM private key found');
    const certificate = { ...base('cert', b), certificateChain: b.certificateChain, fingerprint: 'ab'.repeat(32), notAfterUnixMs: String(Date.now() + 90 * 86400000) };
    kinds.certificates.set(certificate.id, certificate);
    return { certificate, revision: commit([['CERTIFICATE_UPLOADED', 'certificate', certificate]]) };
  },
  'GET /v1/events': (q) => {
    const from = Number(q.fromRevision || 0);
    const size = Math.min(Number(q.pageSize || 100), 1000);
    const page = events.filter((e) => Number(e.revision) >= from).slice(0, size);
    return { events: page, nextRevision: '0', compactedRevision: '0', revision: String(revision) };
  },
  'GET /v1/cluster/status': () => ({ nodeId: '1', leaderId: '1', term: '3', appliedIndex: String(revision + 7), revision: String(revision), clusterId: '00c0ffee00c0ffee',
    members: [{ nodeId: '1', raftAddress: '127.0.0.1:7401', apiAddress: '127.0.0.1:7400', role: 'CLUSTER_ROLE_VOTER', matchedIndex: String(revision + 7), lag: '0' }], stateDigest: '', stateLogIndex: '0' }),
  'GET /v1/cluster/settings': () => ({ settings: { eipPool: [EIP_POOL], quotas: { loadBalancers: 1000, listenersPerLoadBalancer: 50, groupsPerLoadBalancer: 50, membersPerGroup: 200 },
    clientTokenRetentionS: '86400', clientTokenCapacity: 100000, historyRetentionRevisions: '100000', revision: String(revision) }, revision: String(revision) }),
};

// Lists and deletions, the same for every kind.
const DELETE_RULES = {
  networks: ['NETWORK_DELETED', (n) => [...kinds.subnets.values()].some((s) => s.networkId === n.id) && 'subnets exist in the network'],
  subnets: ['SUBNET_DELETED', (s) => ([...kinds.instances.values()].some((i) => i.subnetId === s.id) || [...kinds.loadBalancers.values()].some((l) => l.subnetId === s.id)) && 'instances or load balancers use the subnet'],
  instances: ['INSTANCE_DELETED', (i) => [...kinds.groups.values()].some((g) => g.members.some((m) => m.instanceId === i.id)) && 'the instance is a member of a group'],
  eips: ['EIP_RELEASED', (e) => e.loadBalancerId && `the EIP is associated with load balancer ${e.loadBalancerId}`],
  loadBalancers: ['LOAD_BALANCER_DELETED', null],
  listeners: ['LISTENER_DELETED', null],
  groups: ['VIRTUAL_SERVER_GROUP_DELETED', (g) => [...kinds.listeners.values()].some((l) => l.defaultGroupId === g.id) && 'a listener uses the group'],
  certificates: ['CERTIFICATE_DELETED', (c) => [...kinds.listeners.values()].some((l) => l.certificateId === c.id) && 'a listener uses the certificate'],
};
for (const kind of Object.keys(kinds)) {
  ops[`GET /v1/${kind}`] = (q) => {
    const filter = ['loadBalancerId', 'networkId', 'subnetId'].find((f) => q[f]);
    const items = [...kinds[kind].values()].filter((item) => !filter || item[filter] === q[filter]);
    return { [kind]: items, nextPageToken: '', revision: String(revision) };
  };
  ops[`DELETE /v1/${kind}/{id}`] = (q, p) => {
    const item = find(kind, 'id', p.id, kind.replace(/s$/, ''));
    const [type, rule] = DELETE_RULES[kind];
    const cascade = q.cascade === 'true';
    if (kind === 'loadBalancers') {
      const children = [...kinds.listeners.values(), ...kinds.groups.values()].filter((c) => c.loadBalancerId === item.id);
      if (!cascade && (children.length || item.eipId)) throw new Refusal('FAILED_PRECONDITION', 'cascade', `load balancer ${item.id} still has listeners, groups or an EIP; delete them first or ask for cascade`);
      const list = children.map((c) => [c.members ? 'VIRTUAL_SERVER_GROUP_DELETED' : 'LISTENER_DELETED', null, null, item.id, c.id]);
      for (const c of children) (c.members ? kinds.groups : kinds.listeners).delete(c.id);
      if (item.eipId) { kinds.eips.get(item.eipId).loadBalancerId = ''; list.push(['EIP_DISASSOCIATED', 'eip', kinds.eips.get(item.eipId), item.id]); }
      kinds.loadBalancers.delete(item.id);
      return { revision: commit([...list, [type, null, null, '', item.id]]) };
    }
    const reason = rule && rule(item);
    if (reason && !(cascade && kind === 'groups')) throw new Refusal('FAILED_PRECONDITION', '', `cannot delete ${item.id}: ${reason}`);
    kinds[kind].delete(item.id);
    return { revision: commit([[type, null, null, item.loadBalancerId || '', item.id]]) };
  };
}

// ---- HTTP ------------------------------------------------------------------------
function route(method, pathname) {
  for (const [key, handler] of Object.entries(ops)) {
    const [m, template] = key.split(' ');
    if (m !== method) continue;
    const names = [];
    const pattern = new RegExp('^' + template.replace(/[.:]/g, '\\$&').replace(/\{(\w+)\}/g, (_, n) => (names.push(n), '([^/:]+)')) + '$');
    const match = pattern.exec(pathname);
    if (match) return { handler, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1])])), write: method !== 'GET' };
  }
  return null;
}
function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
const fail = (res, code, message) => send(res, HTTP_OF[code] || 500, { code: HTTP_OF[code] || 500, status: code, message });

function watch(req, res, from) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
  res.flushHeaders();
  const write = (list) => res.write(`data: ${JSON.stringify({ events: list })}\n\n`);
  const byRevision = new Map();
  for (const e of events.filter((e) => Number(e.revision) >= from)) byRevision.set(e.revision, [...(byRevision.get(e.revision) || []), e]);
  for (const list of byRevision.values()) write(list);
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), 15000);
  watchers.add(write);
  req.on('close', () => { clearInterval(keepalive); watchers.delete(write); });
}

async function serveStatic(res, pathname) {
  const file = path.resolve(CONSOLE_DIR, '.' + (pathname === '/' ? '/index.html' : pathname));
  if (!file.startsWith(CONSOLE_DIR + path.sep)) return fail(res, 'NOT_FOUND', 'no such file');
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
    res.end(body);
  } catch {
    fail(res, 'NOT_FOUND', `${pathname}: no such file`);
  }
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://mock');
  if (!url.pathname.startsWith('/v1/')) return serveStatic(res, url.pathname);
  const role = TOKENS[(req.headers.authorization || '').replace(/^Bearer /, '')];
  if (!role) return fail(res, 'UNAUTHENTICATED', 'authorization: a bearer token is required');
  const query = Object.fromEntries([...url.searchParams].map(([k, v]) => [camel(k), v]));
  if (req.method === 'GET' && url.pathname === '/v1/events:watch') return watch(req, res, number(query.fromRevision) || 0);
  const found = route(req.method, url.pathname);
  if (!found) return fail(res, 'NOT_FOUND', `${req.method} ${url.pathname}: no such route`);
  if (found.write && role === 'viewer') return fail(res, 'PERMISSION_DENIED', `principal viewer has role viewer, which may not ${req.method} ${url.pathname}`);
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    let input = query;
    if (req.method === 'POST' || req.method === 'PATCH') {
      const parsed = text ? JSON.parse(text) : {};
      input = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [camel(k), v]));
    } else if (text) throw invalid('body', 'this method takes no body: its fields go in the query string');
    send(res, 200, found.handler(input, found.params));
  } catch (error) {
    if (error instanceof Refusal) fail(res, error.status, error.message);
    else if (error instanceof SyntaxError) fail(res, 'INVALID_ARGUMENT', `body: not JSON: ${error.message}`);
    else { console.error(error); fail(res, 'INTERNAL', String(error)); }
  }
});

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : Number(process.env.MOCK_PORT || 0);
server.listen(port, '127.0.0.1', () => {
  console.log(`mock listening on http://127.0.0.1:${server.address().port}/`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
