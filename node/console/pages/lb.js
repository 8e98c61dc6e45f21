// @ts-check
//! The Load Balancer list page and the guide's dialogs opened from it:
//! Create Load Balancer (step 1), Associate EIP (step 2), Add Listener
//! (step 4), and deletion.

import { call, clientToken, idempotent } from '../api.js';
import * as store from '../store.js';
import { h, badge, when, table, writeButton, openDialog, confirmDialog, field, humanize } from '../ui.js';

export const SUCCESS = 'Creation Succeeded';

/** The Load Balancer list page. */
export function loadBalancerList() {
  const rows = store.all('loadBalancers');
  const columns = [
    { label: 'Name', cell: (/** @type {any} */ lb) => [h('a', { href: `#/load-balancers/${encodeURIComponent(lb.id)}`, id: `lb-link-${lb.id}`, text: lb.name }), h('span', { class: 'sub mono', text: lb.id })] },
    { label: 'Status', cell: (/** @type {any} */ lb) => [badge(lb.provisioningStatus), badge(lb.operatingStatus)] },
    { label: 'EIP', cell: (/** @type {any} */ lb) => h('span', { class: 'mono', 'data-eip': true, text: lb.eipAddress || store.get('eips', lb.eipId)?.address || '—' }) },
    { label: 'Network / Subnet', cell: (/** @type {any} */ lb) => [h('span', { text: store.nameOf('networks', lb.networkId) }), h('span', { class: 'sub', text: store.nameOf('subnets', lb.subnetId) })] },
    { label: 'Listeners', cell: (/** @type {any} */ lb) => listenerSummary(lb.id) },
    { label: 'Created', cell: (/** @type {any} */ lb) => when(lb.createdAtUnixMs) },
    { label: 'Operations', cell: (/** @type {any} */ lb) => h('div', { class: 'ops' },
      writeButton('Add Listener', () => addListenerDialog(lb.id), { id: `add-listener-${lb.id}`, label: `Add Listener to ${lb.name}` }),
      lb.eipId
        ? writeButton('Disassociate EIP', () => disassociateDialog(lb), { id: `disassociate-${lb.id}`, label: `Disassociate EIP from ${lb.name}` })
        : writeButton('Associate EIP', () => associateEipDialog(lb.id), { id: `associate-${lb.id}`, label: `Associate EIP with ${lb.name}` }),
      writeButton('Delete', () => deleteLoadBalancerDialog(lb), { id: `delete-${lb.id}`, danger: true, label: `Delete ${lb.name}` })) },
  ];
  return {
    title: 'Load Balancer',
    nodes: [
      h('div', { class: 'toolbar' }, writeButton('Create', createLoadBalancerDialog, { id: 'lb-create', primary: true, label: 'Create Load Balancer' })),
      table(columns, rows, { caption: 'Load Balancers', empty: 'No Load Balancer yet: click Create to make one.' }),
    ],
  };
}

/** "HTTP:80, TCP:443", or a dash. @param {string} lbId */
function listenerSummary(lbId) {
  const listeners = store.listenersOf(lbId);
  if (!listeners.length) return '—';
  return h('span', { class: 'mono', text: listeners.map((l) => `${humanize(l.protocol)}:${l.port}`).join(', ') });
}

/** Step 1: name, network and subnet. */
export function createLoadBalancerDialog() {
  const networks = store.all('networks');
  const name = field({ name: 'name', label: 'Name', required: true, hint: '1 to 32 letters, digits, _ or -; unique in the cluster.' });
  const network = field({
    name: 'networkId', label: 'Network', type: 'select', required: true,
    options: [{ value: '', label: 'Choose a network' }, ...networks.map((n) => ({ value: n.id, label: `${n.name} (${n.cidr})` }))],
  });
  const subnet = field({ name: 'subnetId', label: 'Subnet', type: 'select', required: true, options: [] });
  const description = field({ name: 'description', label: 'Description', hint: 'Optional, at most 256 characters.' });
  const fillSubnets = () => {
    const subnets = store.all('subnets').filter((s) => s.networkId === network.input.value);
    subnet.input.replaceChildren(
      h('option', { value: '', text: network.input.value ? (subnets.length ? 'Choose a subnet' : 'No subnet in this network') : 'Choose a network first' }),
      ...subnets.map((s) => h('option', { value: s.id, text: `${s.name} (${s.cidr})` })));
    if (subnets.length === 1) subnet.input.value = subnets[0].id;
  };
  network.input.addEventListener('change', fillSubnets);
  if (networks.length === 1) network.input.value = networks[0].id;
  fillSubnets();
  const send = idempotent();
  openDialog({
    title: 'Create Load Balancer',
    body: [
      networks.length ? null : h('p', { class: 'notice' }, 'No network yet: ', h('a', { href: '#/networks', text: 'create a network' }), ' and a subnet first.'),
      name.row, network.row, subnet.row, description.row,
    ].filter(Boolean),
    success: SUCCESS,
    submit: async () => {
      const problems = {};
      if (!name.input.value.trim()) problems.name = 'Enter a name.';
      if (!network.input.value) problems.networkId = 'Choose a network.';
      if (!subnet.input.value) problems.subnetId = 'Choose a subnet.';
      if (Object.keys(problems).length) return problems;
      const reply = await send((clientToken) => call('createLoadBalancer', {
        body: { clientToken, name: name.input.value.trim(), description: description.input.value, networkId: network.input.value, subnetId: subnet.input.value },
      }));
      store.upsert('loadBalancers', reply.loadBalancer);
    },
  });
}

/** Step 2: choose a free EIP, or allocate one here. @param {string} lbId */
export function associateEipDialog(lbId) {
  const lb = store.get('loadBalancers', lbId);
  const eip = field({ name: 'eipId', label: 'EIP address', type: 'select', required: true, options: [] });
  const fill = (/** @type {string} */ selected) => {
    const free = store.freeEips();
    eip.input.replaceChildren(
      h('option', { value: '', text: free.length ? 'Choose an EIP' : 'No free EIP: allocate one' }),
      ...free.map((e) => h('option', { value: e.id, text: e.name && e.name !== e.address ? `${e.address} (${e.name})` : e.address })));
    eip.input.value = selected || (free.length === 1 ? free[0].id : '');
  };
  fill('');
  const allocate = writeButton('Allocate a new EIP', async () => {
    allocate.setAttribute('disabled', '');
    try {
      const reply = await call('allocateEip', { body: { clientToken: clientToken() } });
      store.upsert('eips', reply.eip);
      fill(reply.eip.id);
      eip.input.focus();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const note = document.getElementById(`${eip.input.id}-error`);
      if (note) {
        note.textContent = message;
        note.hidden = false;
      }
    } finally {
      allocate.removeAttribute('disabled');
    }
  });
  const send = idempotent();
  openDialog({
    title: 'Associate EIP',
    body: [h('p', {}, 'Load Balancer: ', h('strong', { text: lb?.name || lbId })), eip.row, h('p', {}, allocate)],
    success: SUCCESS,
    submit: async () => {
      if (!eip.input.value) return { eipId: 'Choose an EIP address.' };
      const reply = await send((clientToken) => call('associateEip', { path: { loadBalancerId: lbId }, body: { clientToken, eipId: eip.input.value } }));
      store.upsert('loadBalancers', reply.loadBalancer);
    },
  });
}

/** @param {any} lb */
function disassociateDialog(lb) {
  const address = lb.eipAddress || store.get('eips', lb.eipId)?.address || lb.eipId;
  openDialog({
    title: 'Disassociate EIP',
    body: [h('p', { text: `Disassociate EIP ${address} from ${lb.name}? Traffic to it stops.` })],
    okLabel: 'Disassociate',
    success: 'Disassociation Succeeded',
    submit: async () => {
      const reply = await call('disassociateEip', { path: { loadBalancerId: lb.id }, body: { clientToken: clientToken() } });
      store.upsert('loadBalancers', reply.loadBalancer);
    },
  });
}

/** @param {any} lb */
export function deleteLoadBalancerDialog(lb) {
  const cascade = h('input', { type: 'checkbox', id: `cascade-${lb.id}` });
  confirmDialog('Delete Load Balancer', `Delete the Load Balancer ${lb.name}?`, async () => {
    await call('deleteLoadBalancer', { path: { id: lb.id }, query: { cascade: cascade.checked ? 'true' : undefined } });
    store.remove('loadBalancers', lb.id);
    if (location.hash.startsWith(`#/load-balancers/${encodeURIComponent(lb.id)}`)) location.hash = '#/load-balancers';
  }, [h('p', {}, h('label', { class: 'check', for: cascade.id }, cascade, 'Also delete its listeners and groups, and disassociate its EIP'))]);
}

/** Step 4: name, protocol, connection restriction, port, group (and the access log). @param {string} lbId */
export function addListenerDialog(lbId) {
  const lb = store.get('loadBalancers', lbId);
  const name = field({ name: 'name', label: 'Name', required: true, hint: 'Unique within the Load Balancer.' });
  const protocol = field({
    name: 'protocol', label: 'Protocol', type: 'select', required: true, value: 'PROTOCOL_HTTP',
    options: [{ value: 'PROTOCOL_HTTP', label: 'HTTP' }, { value: 'PROTOCOL_HTTPS', label: 'HTTPS' }, { value: 'PROTOCOL_TCP', label: 'TCP' }],
  });
  const restriction = field({
    name: 'connectionRestriction', label: 'Connection restriction', type: 'select', value: 'unlimited',
    options: [{ value: 'unlimited', label: 'Unlimited' }, { value: 'limited', label: 'Limit concurrent connections' }],
  });
  const limit = field({ name: 'connectionLimit', label: 'Connection limit', type: 'number', value: '1000', hint: '1 to 1,000,000 concurrent client connections.', attrs: { min: 1, max: 1000000, step: 1 } });
  const port = field({ name: 'port', label: 'Port', type: 'number', required: true, hint: '1 to 65535, unique within the Load Balancer; cannot be changed later.', attrs: { min: 1, max: 65535, step: 1, inputmode: 'numeric' } });
  const groups = store.groupsOf(lbId);
  const group = field({
    name: 'defaultGroupId', label: 'Virtual Server Group', type: 'select', value: groups.length === 1 ? groups[0].id : '',
    options: [{ value: '', label: 'None (answer 503 / close)' }, ...groups.map((g) => ({ value: g.id, label: g.name }))],
  });
  const certificate = field({
    name: 'certificateId', label: 'Certificate', type: 'select', required: true,
    options: [{ value: '', label: 'Choose a certificate' }, ...store.all('certificates').map((c) => ({ value: c.id, label: c.name }))],
  });
  const accessLog = field({
    name: 'accessLog', label: 'Access log', type: 'select', value: 'off',
    hint: 'A line per request (TCP: per connection), written by the node that serves the EIP.',
    options: [{ value: 'off', label: 'Off' }, { value: 'on', label: 'On' }],
  });
  const sync = () => {
    limit.row.hidden = restriction.input.value !== 'limited';
    certificate.row.hidden = protocol.input.value !== 'PROTOCOL_HTTPS';
  };
  restriction.input.addEventListener('change', sync);
  protocol.input.addEventListener('change', sync);
  sync();
  const send = idempotent();
  openDialog({
    title: 'Add Listener',
    body: [h('p', {}, 'Load Balancer: ', h('strong', { text: lb?.name || lbId })), name.row, protocol.row, restriction.row, limit.row, port.row, group.row, certificate.row, accessLog.row],
    success: SUCCESS,
    submit: async () => {
      const problems = {};
      const portNumber = Number(port.input.value);
      const limited = restriction.input.value === 'limited';
      const limitNumber = Number(limit.input.value);
      const https = protocol.input.value === 'PROTOCOL_HTTPS';
      if (!name.input.value.trim()) problems.name = 'Enter a name.';
      if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) problems.port = 'Enter a port from 1 to 65535.';
      if (limited && (!Number.isInteger(limitNumber) || limitNumber < 1 || limitNumber > 1000000)) problems.connectionLimit = 'Enter a limit from 1 to 1,000,000.';
      if (https && !certificate.input.value) problems.certificateId = 'HTTPS needs a certificate: upload one under Certificates.';
      if (Object.keys(problems).length) return problems;
      const reply = await send((clientToken) => call('createListener', {
        body: {
          clientToken, loadBalancerId: lbId, name: name.input.value.trim(), protocol: protocol.input.value, port: portNumber,
          connectionLimit: limited ? String(limitNumber) : '-1', defaultGroupId: group.input.value, ...(https ? { certificateId: certificate.input.value } : {}),
          accessLog: accessLog.input.value === 'on',
        },
      }));
      store.upsert('listeners', reply.listener);
    },
  });
}
