// @ts-check
//! The console's copy of the catalog: loaded once by listing every kind,
//! then kept current by the event stream and by status trees, so that pages
//! render from memory and change without a reload.

import { KINDS, listAll } from './api.js';

/** Event types that delete a resource, and the kind they delete from. */
const DELETED = {
  EVENT_TYPE_NETWORK_DELETED: 'networks',
  EVENT_TYPE_SUBNET_DELETED: 'subnets',
  EVENT_TYPE_INSTANCE_DELETED: 'instances',
  EVENT_TYPE_EIP_RELEASED: 'eips',
  EVENT_TYPE_LOAD_BALANCER_DELETED: 'loadBalancers',
  EVENT_TYPE_LISTENER_DELETED: 'listeners',
  EVENT_TYPE_VIRTUAL_SERVER_GROUP_DELETED: 'groups',
  EVENT_TYPE_CERTIFICATE_DELETED: 'certificates',
};
/** The resource field an event carries -> the kind it belongs to. */
const CARRIED = {
  network: 'networks',
  subnet: 'subnets',
  instance: 'instances',
  eip: 'eips',
  loadBalancer: 'loadBalancers',
  listener: 'listeners',
  virtualServerGroup: 'groups',
  certificate: 'certificates',
};
/** How many recent events the Events page can show. */
const RECENT_MAX = 200;

/** @type {Record<string, Map<string, any>>} */
const maps = Object.fromEntries(Object.keys(KINDS).map((kind) => [kind, new Map()]));
/** Status trees by Load Balancer id (for counters). @type {Map<string, any>} */
const trees = new Map();
/** @type {any[]} */
const recent = [];
/** @type {Set<() => void>} */
const listeners = new Set();
let scheduled = false;
let loaded = false;

function changed() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const listener of listeners) listener();
  });
}

/** @param {() => void} listener called (coalesced) after any change */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function isLoaded() {
  return loaded;
}

/** Forgets everything (sign-out). */
export function clear() {
  for (const map of Object.values(maps)) map.clear();
  trees.clear();
  recent.length = 0;
  loaded = false;
  changed();
}

/**
 * Lists every kind anew; answers the highest revision read.
 * @returns {Promise<number>}
 */
export async function loadAll() {
  const kinds = Object.keys(KINDS);
  const results = await Promise.all(kinds.map((kind) => listAll(kind)));
  let revision = 0;
  kinds.forEach((kind, index) => {
    maps[kind].clear();
    for (const item of results[index].items) maps[kind].set(item.id, item);
    revision = Math.max(revision, results[index].revision);
  });
  loaded = true;
  changed();
  return revision;
}

/** @param {string} kind @param {string} id */
export function get(kind, id) {
  return id ? maps[kind].get(id) : undefined;
}

/** @param {string} kind @returns {any[]} sorted by creation, oldest first */
export function all(kind) {
  return [...maps[kind].values()].sort(
    (a, b) => Number(a.createdAtUnixMs || 0) - Number(b.createdAtUnixMs || 0) || String(a.id).localeCompare(b.id),
  );
}

/** The name of a resource, or its id when unknown. @param {string} kind @param {string} id */
export function nameOf(kind, id) {
  const item = get(kind, id);
  return item ? item.name || item.address || item.id : id;
}

/**
 * Puts a resource in (a create's answer, an event's resource), unless the
 * copy held is newer; keeps EIP and Load Balancer links consistent.
 * @param {string} kind
 * @param {any} item
 */
export function upsert(kind, item) {
  if (!item || !item.id) return;
  const held = maps[kind].get(item.id);
  if (held && Number(held.revision || 0) > Number(item.revision || 0)) return;
  maps[kind].set(item.id, { ...held, ...item });
  if (kind === 'loadBalancers') linkFromLoadBalancer(item);
  if (kind === 'eips') linkFromEip(item);
  changed();
}

/** @param {string} kind @param {string} id */
export function remove(kind, id) {
  const held = maps[kind].get(id);
  maps[kind].delete(id);
  if (kind === 'loadBalancers') {
    for (const child of ['listeners', 'groups']) {
      for (const item of maps[child].values()) if (item.loadBalancerId === id) maps[child].delete(item.id);
    }
    for (const eip of maps.eips.values()) if (eip.loadBalancerId === id) maps.eips.set(eip.id, { ...eip, loadBalancerId: '' });
    trees.delete(id);
  }
  if (kind === 'eips' && held?.loadBalancerId) {
    const lb = maps.loadBalancers.get(held.loadBalancerId);
    if (lb && lb.eipId === id) maps.loadBalancers.set(lb.id, { ...lb, eipId: '', eipAddress: '' });
  }
  if (kind === 'groups') {
    for (const listener of maps.listeners.values()) {
      if (listener.defaultGroupId === id) maps.listeners.set(listener.id, { ...listener, defaultGroupId: '' });
    }
  }
  changed();
}

/** @param {any} lb */
function linkFromLoadBalancer(lb) {
  for (const eip of maps.eips.values()) {
    const bound = eip.id === lb.eipId;
    if (bound && eip.loadBalancerId !== lb.id) maps.eips.set(eip.id, { ...eip, loadBalancerId: lb.id });
    if (!bound && eip.loadBalancerId === lb.id) maps.eips.set(eip.id, { ...eip, loadBalancerId: '' });
  }
}

/** @param {any} eip */
function linkFromEip(eip) {
  for (const lb of maps.loadBalancers.values()) {
    const bound = lb.id === eip.loadBalancerId;
    if (bound && lb.eipId !== eip.id) maps.loadBalancers.set(lb.id, { ...lb, eipId: eip.id, eipAddress: eip.address });
    if (!bound && lb.eipId === eip.id) maps.loadBalancers.set(lb.id, { ...lb, eipId: '', eipAddress: '' });
  }
}

/**
 * Applies events from the stream, in order.
 * @param {any[]} events
 */
export function applyEvents(events) {
  for (const event of events) {
    recent.push(event);
    if (recent.length > RECENT_MAX) recent.shift();
    if (event.type === 'EVENT_TYPE_MEMBER_REMOVED') {
      patchMembers(event.parentId, (members) => members.filter((m) => m.id !== event.resourceId));
      continue;
    }
    if (event.member) {
      patchMembers(event.parentId, (members) => {
        const others = members.filter((m) => m.id !== event.member.id);
        const held = members.find((m) => m.id === event.member.id);
        return [...others, { ...held, ...event.member }];
      });
      continue;
    }
    const carried = Object.keys(CARRIED).find((field) => event[field]);
    if (carried) upsert(CARRIED[carried], event[carried]);
    else if (event.type in DELETED) remove(DELETED[/** @type {keyof DELETED} */ (event.type)], event.resourceId);
  }
  changed();
}

/** @param {string} groupId @param {(members: any[]) => any[]} change */
function patchMembers(groupId, change) {
  const group = maps.groups.get(groupId);
  if (group) maps.groups.set(groupId, { ...group, members: change(group.members || []) });
}

/** The events seen since sign-in, newest last. */
export function recentEvents() {
  return recent;
}

/**
 * Copies the statuses of a status tree onto the resources held.
 * @param {any} tree a LoadBalancerStatus
 */
export function applyTree(tree) {
  if (!tree || !tree.id) return;
  trees.set(tree.id, tree);
  const statusOf = (/** @type {any} */ s) => ({
    provisioningStatus: s.provisioningStatus,
    operatingStatus: s.operatingStatus,
    ...(s.provisioningError !== undefined ? { provisioningError: s.provisioningError } : {}),
  });
  const lb = maps.loadBalancers.get(tree.id);
  if (lb) maps.loadBalancers.set(lb.id, { ...lb, ...statusOf(tree) });
  for (const s of tree.listeners || []) {
    const listener = maps.listeners.get(s.id);
    if (listener) maps.listeners.set(s.id, { ...listener, ...statusOf(s) });
  }
  for (const s of tree.groups || []) {
    const group = maps.groups.get(s.id);
    if (!group) continue;
    const byId = new Map((s.members || []).map((/** @type {any} */ m) => [m.id, m]));
    const members = (group.members || []).map((/** @type {any} */ m) => (byId.has(m.id) ? { ...m, ...statusOf(byId.get(m.id)) } : m));
    maps.groups.set(s.id, { ...group, ...statusOf(s), members });
  }
  changed();
}

/** @param {string} lbId */
export function treeOf(lbId) {
  return trees.get(lbId);
}

/** @param {string} lbId */
export function listenersOf(lbId) {
  return all('listeners').filter((l) => l.loadBalancerId === lbId).sort((a, b) => a.port - b.port);
}

/** @param {string} lbId */
export function groupsOf(lbId) {
  return all('groups').filter((g) => g.loadBalancerId === lbId);
}

/** Instances whose subnet lies in `networkId`. @param {string} networkId */
export function instancesIn(networkId) {
  return all('instances').filter((i) => get('subnets', i.subnetId)?.networkId === networkId);
}

export function freeEips() {
  return all('eips').filter((e) => !e.loadBalancerId);
}

/** Load Balancers with something still being provisioned. @returns {string[]} */
export function pendingLoadBalancers() {
  const pending = (/** @type {any} */ item) => String(item.provisioningStatus || '').includes('PENDING');
  const ids = new Set();
  for (const lb of maps.loadBalancers.values()) if (pending(lb)) ids.add(lb.id);
  for (const listener of maps.listeners.values()) if (pending(listener)) ids.add(listener.loadBalancerId);
  for (const group of maps.groups.values()) {
    if (pending(group) || (group.members || []).some(pending)) ids.add(group.loadBalancerId);
  }
  return [...ids].filter((id) => maps.loadBalancers.has(id));
}
