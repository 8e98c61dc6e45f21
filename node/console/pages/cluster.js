// @ts-check
//! The cluster pages: the event history (live) and the cluster's status and
//! settings. Both read data that is not in the store, fetched on opening.

import { call } from '../api.js';
import * as store from '../store.js';
import { h, when, table, humanize } from '../ui.js';

/** How many past events the Events page fetches on opening. */
const HISTORY = 100;

/** @type {{events: any[], error: string, loading: boolean}} */
const history = { events: [], error: '', loading: false };
/** @type {{status: any, settings: any, error: string, loading: boolean}} */
const cluster = { status: null, settings: null, error: '', loading: false };

/**
 * Fetches the recent history; `done` re-renders.
 * @param {number} revision the revision the console has read up to
 * @param {() => void} done
 */
export function loadHistory(revision, done) {
  history.loading = true;
  call('listEvents', { query: { fromRevision: Math.max(0, revision - HISTORY + 1), pageSize: HISTORY } })
    .then((reply) => {
      history.events = reply.events || [];
      history.error = '';
    })
    .catch((error) => {
      history.error = String(error.message || error);
    })
    .finally(() => {
      history.loading = false;
      done();
    });
}

export function eventsPage() {
  const keyOf = (/** @type {any} */ e) => `${e.revision}/${e.type}/${e.resourceId}/${e.parentId || ''}`;
  const seen = new Set();
  const events = [...history.events, ...store.recentEvents()]
    .filter((e) => (seen.has(keyOf(e)) ? false : (seen.add(keyOf(e)), true)))
    .sort((a, b) => Number(b.revision) - Number(a.revision))
    .slice(0, 200);
  const columns = [
    { label: 'Revision', cell: (/** @type {any} */ e) => h('span', { class: 'mono', text: String(e.revision) }) },
    { label: 'Time', cell: (/** @type {any} */ e) => when(e.occurredAtUnixMs) },
    { label: 'Event', cell: (/** @type {any} */ e) => humanize(e.type) },
    { label: 'Resource', cell: (/** @type {any} */ e) => h('span', { class: 'mono', text: e.resourceId }) },
    { label: 'Parent', cell: (/** @type {any} */ e) => h('span', { class: 'mono', text: e.parentId || '—' }) },
    { label: 'By', cell: (/** @type {any} */ e) => e.principal || '—' },
  ];
  return {
    title: 'Events',
    nodes: [
      h('p', { class: 'muted', text: 'Every applied command, newest first; new ones appear as they are applied.' }),
      history.error ? h('p', { class: 'form-error', role: 'alert', text: history.error }) : null,
      table(columns, events, { caption: 'Events', empty: history.loading ? 'Loading…' : 'No event yet.', rowId: keyOf }),
    ].filter(Boolean),
  };
}

/** @param {() => void} done */
export function loadCluster(done) {
  cluster.loading = true;
  Promise.allSettled([call('clusterStatus'), call('clusterSettings')]).then(([status, settings]) => {
    cluster.status = status.status === 'fulfilled' ? status.value : null;
    cluster.settings = settings.status === 'fulfilled' ? settings.value.settings : null;
    const failed = [status, settings].find((r) => r.status === 'rejected');
    cluster.error = failed && failed.status === 'rejected' ? String(failed.reason?.message || failed.reason) : '';
    cluster.loading = false;
    done();
  });
}

/** @param {() => void} refresh */
export function clusterPage(refresh) {
  const s = cluster.status;
  const item = (/** @type {string} */ label, /** @type {any} */ value) => h('div', {}, h('dt', { text: label }), h('dd', {}, value));
  const members = s?.members || [];
  const settings = cluster.settings;
  const quotas = settings?.quotas || {};
  return {
    title: 'Cluster status',
    nodes: [
      h('div', { class: 'toolbar' }, h('button', { type: 'button', id: 'cluster-refresh', text: 'Refresh', on: { click: refresh } })),
      cluster.error ? h('p', { class: 'form-error', role: 'alert', text: cluster.error }) : null,
      s ? h('dl', { class: 'summary' },
        item('Answered by node', String(s.nodeId)),
        item('Leader', s.leaderId ? `node ${s.leaderId}` : 'none known'),
        item('Term', String(s.term)),
        item('Applied index', String(s.appliedIndex)),
        item('Revision', String(s.revision)),
        item('Cluster id', h('span', { class: 'mono', text: s.clusterId || '—' }))) : h('p', { class: 'muted', text: cluster.loading ? 'Loading…' : 'No status.' }),
      h('h2', { text: 'Nodes' }),
      table([
        { label: 'Node', cell: (m) => String(m.nodeId) + (s && String(m.nodeId) === String(s.leaderId) ? ' (leader)' : '') },
        { label: 'Role', cell: (m) => humanize(m.role) },
        { label: 'Raft address', cell: (m) => h('span', { class: 'mono', text: m.raftAddress }) },
        { label: 'API address', cell: (m) => h('span', { class: 'mono', text: m.apiAddress }) },
        { label: 'Lag', cell: (m) => (m.lag === undefined ? '—' : String(m.lag)) },
      ], members, { caption: 'Nodes', empty: 'No node known.', rowId: (m) => String(m.nodeId) }),
      h('h2', { text: 'Settings' }),
      settings ? h('dl', { class: 'summary' },
        item('EIP pool', (settings.eipPool || []).join(', ') || '—'),
        item('Load Balancers', String(quotas.loadBalancers ?? '—')),
        item('Listeners per Load Balancer', String(quotas.listenersPerLoadBalancer ?? '—')),
        item('Groups per Load Balancer', String(quotas.groupsPerLoadBalancer ?? '—')),
        item('Members per group', String(quotas.membersPerGroup ?? '—')),
        item('History kept (revisions)', String(settings.historyRetentionRevisions ?? '—'))) : h('p', { class: 'muted', text: 'No settings.' }),
    ].filter(Boolean),
  };
}
