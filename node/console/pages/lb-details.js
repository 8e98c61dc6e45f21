// @ts-check
//! Load Balancer Details: the summary with its EIP, the listeners tab, and
//! the Virtual Server Group tab with Create Virtual Server Group (step 3).

import { call, clientToken, idempotent } from '../api.js';
import * as store from '../store.js';
import { h, badge, when, table, writeButton, openDialog, confirmDialog, field, humanize } from '../ui.js';
import { SUCCESS, addListenerDialog, associateEipDialog, deleteLoadBalancerDialog } from './lb.js';

/**
 * @param {string} lbId
 * @param {'listeners' | 'groups'} tab
 */
export function loadBalancerDetails(lbId, tab) {
  const lb = store.get('loadBalancers', lbId);
  const crumbs = h('p', { class: 'crumbs' }, h('a', { href: '#/load-balancers', text: 'Load Balancer' }), ' › ', lb ? lb.name : lbId);
  if (!lb) {
    return {
      title: 'Load Balancer Details',
      nodes: [crumbs, h('p', { class: 'notice', text: store.isLoaded() ? `No Load Balancer ${lbId}: it may have been deleted.` : 'Loading…' })],
    };
  }
  const eipAddress = lb.eipAddress || store.get('eips', lb.eipId)?.address || '';
  const item = (/** @type {string} */ label, /** @type {any} */ value, /** @type {string} */ key) =>
    h('div', { 'data-item': key }, h('dt', { text: label }), h('dd', {}, value));
  const summary = h('dl', { class: 'summary' },
    item('Name', lb.name, 'name'),
    item('ID', h('span', { class: 'mono', text: lb.id }), 'id'),
    item('Status', [badge(lb.provisioningStatus), badge(lb.operatingStatus)], 'status'),
    item('EIP', eipAddress
      ? h('span', { class: 'mono', text: eipAddress })
      : [h('span', { text: 'None ' }), writeButton('Associate EIP', () => associateEipDialog(lb.id), { id: `details-associate-${lb.id}` })], 'eip'),
    item('Network', store.nameOf('networks', lb.networkId), 'network'),
    item('Subnet', store.nameOf('subnets', lb.subnetId), 'subnet'),
    item('Created', when(lb.createdAtUnixMs), 'created'),
    item('Description', lb.description || '—', 'description'));
  const base = `#/load-balancers/${encodeURIComponent(lb.id)}`;
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Load Balancer Details' },
    h('a', { href: base, id: 'tab-listeners', 'aria-current': tab === 'listeners' ? 'page' : undefined, text: 'Listeners' }),
    h('a', { href: `${base}/groups`, id: 'tab-groups', 'aria-current': tab === 'groups' ? 'page' : undefined, text: 'Virtual Server Group' }));
  return {
    title: 'Load Balancer Details',
    nodes: [
      crumbs,
      h('div', { class: 'toolbar' }, h('span', { class: 'grow' }),
        writeButton('Delete', () => deleteLoadBalancerDialog(lb), { id: `details-delete-${lb.id}`, danger: true, label: `Delete ${lb.name}` })),
      summary,
      tabs,
      ...(tab === 'groups' ? groupsTab(lb) : listenersTab(lb)),
    ],
  };
}

/** @param {any} lb */
function listenersTab(lb) {
  const tree = store.treeOf(lb.id);
  const countersOf = (/** @type {string} */ id) => (tree?.listeners || []).find((/** @type {any} */ l) => l.id === id)?.counters;
  const columns = [
    { label: 'Name', cell: (/** @type {any} */ l) => [h('span', { text: l.name }), h('span', { class: 'sub mono', text: l.id })] },
    { label: 'Protocol', cell: (/** @type {any} */ l) => humanize(l.protocol) },
    { label: 'Port', cell: (/** @type {any} */ l) => h('span', { class: 'mono', text: String(l.port) }) },
    { label: 'Connection limit', cell: (/** @type {any} */ l) => (Number(l.connectionLimit) < 0 ? 'Unlimited' : Number(l.connectionLimit).toLocaleString('en')) },
    { label: 'Virtual Server Group', cell: (/** @type {any} */ l) => (l.defaultGroupId ? store.nameOf('groups', l.defaultGroupId) : 'None') },
    { label: 'Access log', cell: (/** @type {any} */ l) => (l.accessLog ? 'On' : 'Off') },
    { label: 'Status', cell: (/** @type {any} */ l) => [badge(l.provisioningStatus), l.provisioningError ? h('span', { class: 'sub', text: l.provisioningError }) : null] },
    { label: 'Health', cell: (/** @type {any} */ l) => badge(l.operatingStatus) },
    { label: 'Traffic', cell: (/** @type {any} */ l) => traffic(countersOf(l.id)) },
    { label: 'Operations', cell: (/** @type {any} */ l) => h('div', { class: 'ops' },
      writeButton('Delete', () => deleteListenerDialog(l), { id: `delete-listener-${l.id}`, danger: true, label: `Delete listener ${l.name}` })) },
  ];
  return [
    h('div', { class: 'toolbar' }, writeButton('Add Listener', () => addListenerDialog(lb.id), { id: `details-add-listener-${lb.id}`, primary: true })),
    table(columns, store.listenersOf(lb.id), { caption: 'Listeners', empty: 'No listener yet: click Add Listener.' }),
  ];
}

/** @param {any} counters */
function traffic(counters) {
  if (!counters) return '—';
  const parts = [`${counters.activeConnections || 0} open`, `${counters.totalConnections || 0} total`];
  if (Number(counters.requests || 0)) parts.push(`${counters.requests} requests`);
  return h('span', { class: 'sub', text: parts.join(' · ') });
}

/** @param {any} lb */
function groupsTab(lb) {
  const groups = store.groupsOf(lb.id);
  return [
    h('div', { class: 'toolbar' }, writeButton('Create Virtual Server Group', () => createGroupDialog(lb.id), { id: `create-group-${lb.id}`, primary: true })),
    groups.length ? null : h('p', { class: 'notice', text: 'No Virtual Server Group yet: click Create Virtual Server Group.' }),
    ...groups.map((group) => groupSection(group)),
  ].filter(Boolean);
}

/** @param {any} group */
function groupSection(group) {
  const columns = [
    { label: 'Instance', cell: (/** @type {any} */ m) => [h('span', { text: store.nameOf('instances', m.instanceId) }), h('span', { class: 'sub mono', text: m.instanceId })] },
    { label: 'Address', cell: (/** @type {any} */ m) => h('span', { class: 'mono', text: m.address || store.get('instances', m.instanceId)?.address || '' }) },
    { label: 'Port', cell: (/** @type {any} */ m) => h('span', { class: 'mono', text: String(m.port) }) },
    { label: 'Weight', cell: (/** @type {any} */ m) => String(m.weight ?? '') },
    { label: 'Health', cell: (/** @type {any} */ m) => badge(m.operatingStatus) },
    { label: 'Status', cell: (/** @type {any} */ m) => badge(m.provisioningStatus) },
    { label: 'Operations', cell: (/** @type {any} */ m) => h('div', { class: 'ops' },
      writeButton('Remove', () => removeMemberDialog(group, m), { id: `remove-member-${m.id}`, danger: true, label: `Remove member ${store.nameOf('instances', m.instanceId)}:${m.port}` })) },
  ];
  const headingId = `group-${group.id}`;
  const check = group.healthCheck?.type ? `${humanize(group.healthCheck.type)} health check` : 'No health check';
  return h('section', { class: 'group', 'aria-labelledby': headingId, 'data-group': group.name },
    h('h3', { id: headingId, text: group.name }),
    h('p', { class: 'meta' },
      h('span', { class: 'mono', text: group.id }),
      h('span', { text: humanize(group.algorithm === 'ALGORITHM_UNSPECIFIED' ? 'ALGORITHM_WEIGHTED_ROUND_ROBIN' : group.algorithm) }),
      h('span', { text: check }),
      h('span', {}, badge(group.provisioningStatus), badge(group.operatingStatus)),
      writeButton('Delete', () => deleteGroupDialog(group), { id: `delete-group-${group.id}`, danger: true, label: `Delete group ${group.name}` })),
    table(columns, group.members || [], { caption: `Members of ${group.name}`, empty: 'No member.' }));
}

/** Step 3: a name and several members (instance, port, weight) at once. @param {string} lbId */
export function createGroupDialog(lbId) {
  const lb = store.get('loadBalancers', lbId);
  const name = field({ name: 'name', label: 'Name', required: true, hint: 'Unique within the Load Balancer.' });
  const algorithm = field({
    name: 'algorithm', label: 'Algorithm', type: 'select', value: 'ALGORITHM_WEIGHTED_ROUND_ROBIN',
    options: [
      { value: 'ALGORITHM_WEIGHTED_ROUND_ROBIN', label: 'Weighted round robin' },
      { value: 'ALGORITHM_WEIGHTED_LEAST_CONNECTIONS', label: 'Weighted least connections' },
      { value: 'ALGORITHM_SOURCE_IP_HASH', label: 'Source IP hash' },
    ],
  });
  const health = field({
    name: 'healthCheck', label: 'Health check', type: 'select', value: 'HEALTH_CHECK_TYPE_TCP',
    options: [{ value: '', label: 'None' }, { value: 'HEALTH_CHECK_TYPE_TCP', label: 'TCP (connect)' }, { value: 'HEALTH_CHECK_TYPE_HTTP', label: 'HTTP (GET /, expects 200)' }],
    hint: 'Checked every 5 s; 2 failures take a member down, 2 successes bring it up.',
  });
  const instances = lb ? store.instancesIn(lb.networkId) : [];
  const rows = instances.map((instance) => {
    const label = instance.name || instance.id;
    const select = h('input', { type: 'checkbox', id: `pick-${instance.id}`, 'data-instance': instance.id });
    const port = field({ name: `port-${instance.id}`, label: `Port of ${label}`, type: 'number', attrs: { min: 1, max: 65535, step: 1 } });
    const weight = field({ name: `weight-${instance.id}`, label: `Weight of ${label}`, type: 'number', value: '10', attrs: { min: 0, max: 100, step: 1 } });
    for (const part of [port, weight]) part.row.querySelector('label')?.classList.add('sr-only');
    return { instance, select, port, weight, row: h('tr', {},
      h('td', {}, h('label', { class: 'check', for: select.id }, select, h('span', { text: `Select ${label}` }))),
      h('td', { class: 'mono', text: instance.address }),
      h('td', {}, port.row),
      h('td', {}, weight.row)) };
  });
  const members = h('fieldset', { id: 'group-members', 'data-field': 'members', 'aria-describedby': 'group-members-error' }, h('legend', { text: 'Members' }),
    rows.length
      ? h('table', { class: 'members' },
        h('thead', {}, h('tr', {}, ['Instance', 'Address', 'Port', 'Weight (0-100)'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, rows.map((r) => r.row)))
      : h('p', { class: 'notice' }, "No instance in this Load Balancer's network: ", h('a', { href: '#/instances', text: 'create instances' }), ' first.'),
    h('p', { class: 'field-error', id: 'group-members-error', hidden: true }));
  const send = idempotent();
  const { dialog } = openDialog({
    title: 'Create Virtual Server Group',
    body: [h('p', {}, 'Load Balancer: ', h('strong', { text: lb?.name || lbId })), name.row, algorithm.row, health.row, members],
    success: SUCCESS,
    submit: async () => {
      /** @type {Record<string, string>} */
      const problems = {};
      if (!name.input.value.trim()) problems.name = 'Enter a name.';
      const chosen = rows.filter((r) => r.select.checked);
      rows.forEach((r) => {
        const index = chosen.indexOf(r);
        r.port.input.setAttribute('data-field', index < 0 ? '' : `members[${index}].port`);
        r.weight.input.setAttribute('data-field', index < 0 ? '' : `members[${index}].weight`);
      });
      chosen.forEach((r, index) => {
        const port = Number(r.port.input.value);
        const weight = Number(r.weight.input.value);
        if (!r.port.input.value || !Number.isInteger(port) || port < 1 || port > 65535) problems[`members[${index}].port`] = 'Enter a port from 1 to 65535.';
        if (r.weight.input.value === '' || !Number.isInteger(weight) || weight < 0 || weight > 100) problems[`members[${index}].weight`] = 'Enter a weight from 0 to 100.';
      });
      if (Object.keys(problems).length) return problems;
      const reply = await send((clientToken) => call('createGroup', {
        body: {
          clientToken, loadBalancerId: lbId, name: name.input.value.trim(), algorithm: algorithm.input.value,
          ...(health.input.value ? { healthCheck: { type: health.input.value } } : {}),
          members: chosen.map((r) => ({ instanceId: r.instance.id, port: Number(r.port.input.value), weight: Number(r.weight.input.value) })),
        },
      }));
      store.upsert('groups', reply.group);
    },
  });
  dialog.classList.add('wide');
}

/** @param {any} listener */
function deleteListenerDialog(listener) {
  confirmDialog('Delete Listener', `Delete the listener ${listener.name} (${humanize(listener.protocol)}:${listener.port})?`, async () => {
    await call('deleteListener', { path: { id: listener.id }, query: { clientToken: clientToken() } });
    store.remove('listeners', listener.id);
  });
}

/** @param {any} group */
function deleteGroupDialog(group) {
  const cascade = h('input', { type: 'checkbox', id: `cascade-${group.id}` });
  confirmDialog('Delete Virtual Server Group', `Delete the Virtual Server Group ${group.name}?`, async () => {
    await call('deleteGroup', { path: { id: group.id }, query: { cascade: cascade.checked ? 'true' : undefined, clientToken: clientToken() } });
    store.remove('groups', group.id);
  }, [h('p', {}, h('label', { class: 'check', for: cascade.id }, cascade, 'Also detach it from the listeners that use it'))]);
}

/** @param {any} group @param {any} member */
function removeMemberDialog(group, member) {
  confirmDialog('Remove Member', `Remove ${store.nameOf('instances', member.instanceId)}:${member.port} from ${group.name}?`, async () => {
    const reply = await call('removeMember', { path: { groupId: group.id, memberId: member.id }, query: { clientToken: clientToken() } });
    store.upsert('groups', reply.group);
  });
}
