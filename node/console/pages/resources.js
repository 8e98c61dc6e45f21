// @ts-check
//! The pages of the resources a Load Balancer is built from: networks,
//! subnets, instances (the backends), EIPs and certificates, each a list and
//! a create form.

import { call, idempotent } from '../api.js';
import * as store from '../store.js';
import { h, when, table, writeButton, openDialog, confirmDialog, field } from '../ui.js';
import { SUCCESS } from './lb.js';

/**
 * @typedef {object} FormSpec
 * @property {string} title the dialog's title
 * @property {() => {row: HTMLElement, input: any}[]} fields
 * @property {(values: Record<string, string>) => Record<string, string>} [check] the form's own checks
 * @property {(values: Record<string, string>, clientToken: string) => Promise<void>} send
 */

/**
 * A list page with a create button and a delete operation per row.
 * @param {{title: string, kind: string, createLabel: string, form: FormSpec, columns: {label: string, cell: (row: any) => any}[], empty: string, remove: {label: string, title: string, op: string, what: (row: any) => string}}} spec
 */
function listPage(spec) {
  const columns = [...spec.columns, {
    label: 'Operations',
    cell: (/** @type {any} */ row) => h('div', { class: 'ops' },
      writeButton(spec.remove.label, () => confirmDialog(spec.remove.title, `${spec.remove.label} ${spec.remove.what(row)}?`, async () => {
        await call(spec.remove.op, { path: { id: row.id } });
        store.remove(spec.kind, row.id);
      }), { id: `${spec.remove.op}-${row.id}`, danger: true, label: `${spec.remove.label} ${spec.remove.what(row)}` })),
  }];
  return {
    title: spec.title,
    nodes: [
      h('div', { class: 'toolbar' }, writeButton(spec.createLabel, () => formDialog(spec.form), { id: `${spec.kind}-create`, primary: true })),
      table(columns, store.all(spec.kind), { caption: spec.title, empty: spec.empty }),
    ],
  };
}

/** @param {FormSpec} form */
function formDialog(form) {
  const fields = form.fields();
  const send = idempotent();
  openDialog({
    title: form.title,
    body: fields.map((f) => f.row),
    success: SUCCESS,
    submit: async () => {
      /** @type {Record<string, string>} */
      const values = {};
      for (const f of fields) values[f.input.name] = f.input.value.trim();
      const problems = form.check ? form.check(values) : {};
      if (Object.keys(problems).length) return problems;
      await send((clientToken) => form.send(values, clientToken));
    },
  });
}

/** @param {Record<string, string>} values @param {string[]} names */
function required(values, names) {
  /** @type {Record<string, string>} */
  const problems = {};
  for (const name of names) if (!values[name]) problems[name] = 'Required.';
  return problems;
}

const nameField = () => field({ name: 'name', label: 'Name', required: true, hint: '1 to 32 letters, digits, _ or -.' });
const created = { label: 'Created', cell: (/** @type {any} */ row) => when(row.createdAtUnixMs) };
const nameCell = { label: 'Name', cell: (/** @type {any} */ row) => [h('span', { text: row.name }), h('span', { class: 'sub mono', text: row.id })] };

export function networksPage() {
  return listPage({
    title: 'Networks', kind: 'networks', createLabel: 'Create', empty: 'No network yet.',
    columns: [nameCell, { label: 'CIDR', cell: (n) => h('span', { class: 'mono', text: n.cidr }) },
      { label: 'Subnets', cell: (n) => String(store.all('subnets').filter((s) => s.networkId === n.id).length) }, created],
    remove: { label: 'Delete', title: 'Delete Network', op: 'deleteNetwork', what: (n) => `the network ${n.name}` },
    form: {
      title: 'Create Network',
      fields: () => [nameField(), field({ name: 'cidr', label: 'CIDR', required: true, hint: 'An IPv4 block, e.g. 10.0.0.0/16.' }), field({ name: 'description', label: 'Description' })],
      check: (v) => required(v, ['name', 'cidr']),
      send: async (v, clientToken) => {
        const reply = await call('createNetwork', { body: { clientToken, name: v.name, cidr: v.cidr, description: v.description } });
        store.upsert('networks', reply.network);
      },
    },
  });
}

export function subnetsPage() {
  return listPage({
    title: 'Subnets', kind: 'subnets', createLabel: 'Create', empty: 'No subnet yet.',
    columns: [nameCell, { label: 'Network', cell: (s) => store.nameOf('networks', s.networkId) },
      { label: 'CIDR', cell: (s) => h('span', { class: 'mono', text: s.cidr }) },
      { label: 'Instances', cell: (s) => String(store.all('instances').filter((i) => i.subnetId === s.id).length) }, created],
    remove: { label: 'Delete', title: 'Delete Subnet', op: 'deleteSubnet', what: (s) => `the subnet ${s.name}` },
    form: {
      title: 'Create Subnet',
      fields: () => {
        const networks = store.all('networks');
        return [nameField(),
          field({ name: 'networkId', label: 'Network', type: 'select', required: true, value: networks.length === 1 ? networks[0].id : '',
            options: [{ value: '', label: 'Choose a network' }, ...networks.map((n) => ({ value: n.id, label: `${n.name} (${n.cidr})` }))] }),
          field({ name: 'cidr', label: 'CIDR', required: true, hint: "Inside the network's block, overlapping no other subnet." })];
      },
      check: (v) => required(v, ['name', 'networkId', 'cidr']),
      send: async (v, clientToken) => {
        const reply = await call('createSubnet', { body: { clientToken, name: v.name, networkId: v.networkId, cidr: v.cidr } });
        store.upsert('subnets', reply.subnet);
      },
    },
  });
}

export function instancesPage() {
  return listPage({
    title: 'Instances', kind: 'instances', createLabel: 'Create', empty: 'No instance yet.',
    columns: [nameCell, { label: 'Subnet', cell: (i) => store.nameOf('subnets', i.subnetId) },
      { label: 'Address', cell: (i) => h('span', { class: 'mono', text: i.address }) }, created],
    remove: { label: 'Delete', title: 'Delete Instance', op: 'deleteInstance', what: (i) => `the instance ${i.name}` },
    form: {
      title: 'Create Instance',
      fields: () => {
        const subnets = store.all('subnets');
        return [nameField(),
          field({ name: 'subnetId', label: 'Subnet', type: 'select', required: true, value: subnets.length === 1 ? subnets[0].id : '',
            options: [{ value: '', label: 'Choose a subnet' }, ...subnets.map((s) => ({ value: s.id, label: `${s.name} (${s.cidr}) in ${store.nameOf('networks', s.networkId)}` }))] }),
          field({ name: 'address', label: 'Address', required: true, hint: 'The IPv4 address of the backend server, inside the subnet.' })];
      },
      check: (v) => required(v, ['name', 'subnetId', 'address']),
      send: async (v, clientToken) => {
        const reply = await call('createInstance', { body: { clientToken, name: v.name, subnetId: v.subnetId, address: v.address } });
        store.upsert('instances', reply.instance);
      },
    },
  });
}

export function eipsPage() {
  return listPage({
    title: 'EIPs', kind: 'eips', createLabel: 'Allocate EIP', empty: 'No EIP yet: click Allocate EIP.',
    columns: [{ label: 'Address', cell: (e) => [h('span', { class: 'mono', text: e.address }), h('span', { class: 'sub mono', text: e.id })] },
      { label: 'Name', cell: (e) => e.name || '—' },
      { label: 'Load Balancer', cell: (e) => (e.loadBalancerId
        ? h('a', { href: `#/load-balancers/${encodeURIComponent(e.loadBalancerId)}`, text: store.nameOf('loadBalancers', e.loadBalancerId) })
        : 'Free') }, created],
    remove: { label: 'Release', title: 'Release EIP', op: 'releaseEip', what: (e) => `the EIP ${e.address}` },
    form: {
      title: 'Allocate EIP',
      fields: () => [field({ name: 'name', label: 'Name', hint: 'Optional.' }),
        field({ name: 'address', label: 'Address', hint: "Optional: a free address of the cluster's EIP pool; empty takes the lowest free one." })],
      send: async (v, clientToken) => {
        const reply = await call('allocateEip', { body: { clientToken, name: v.name, address: v.address } });
        store.upsert('eips', reply.eip);
      },
    },
  });
}

export function certificatesPage() {
  return listPage({
    title: 'Certificates', kind: 'certificates', createLabel: 'Upload Certificate', empty: 'No certificate yet.',
    columns: [nameCell,
      { label: 'Fingerprint (SHA-256)', cell: (c) => h('span', { class: 'mono', title: c.fingerprint, text: `${String(c.fingerprint || '').slice(0, 16)}…` }) },
      { label: 'Expires', cell: (c) => when(c.notAfterUnixMs) }, created],
    remove: { label: 'Delete', title: 'Delete Certificate', op: 'deleteCertificate', what: (c) => `the certificate ${c.name}` },
    form: {
      title: 'Upload Certificate',
      fields: () => [nameField(),
        field({ name: 'certificateChain', label: 'Certificate chain (PEM)', type: 'textarea', required: true, hint: 'The leaf certificate first, then its intermediates.' }),
        field({ name: 'privateKey', label: 'Private key (PEM)', type: 'textarea', required: true, hint: 'Sent once; the cluster never shows it again.' })],
      check: (v) => required(v, ['name', 'certificateChain', 'privateKey']),
      send: async (v, clientToken) => {
        const reply = await call('uploadCertificate', { body: { clientToken, name: v.name, certificateChain: v.certificateChain, privateKey: v.privateKey } });
        store.upsert('certificates', reply.certificate);
      },
    },
  });
}
