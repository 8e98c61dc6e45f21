// @ts-check
//! Small DOM helpers shared by the pages: elements, tables, status badges,
//! the "Creation Succeeded" notification, and dialogs whose forms show each
//! server error next to the field it names.

import { ApiError } from './api.js';

/** Whether this token may only read, and why (set after a 403 on a write). */
export const session = {
  readOnly: false,
  reason: '',
  /** @type {(error: ApiError) => void} */
  onForbidden: () => {},
};

/**
 * Makes an element. Attributes: `text`, `class`, `on: {event: handler}`,
 * `for`, booleans (set when true), anything else as an attribute.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node | string | null | undefined | false | (Node | string)[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') element.textContent = String(value);
    else if (key === 'on') for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/**
 * Replaces the children of `root`, keeping the focus on the element with the
 * same id (re-renders from the event stream must not steal the keyboard).
 * @param {HTMLElement} root
 * @param {Node[]} nodes
 */
export function render(root, nodes) {
  const focused = document.activeElement;
  const focusId = focused && root.contains(focused) ? focused.id : '';
  root.replaceChildren(...nodes);
  if (focusId) document.getElementById(focusId)?.focus();
}

/** "PROVISIONING_STATUS_PENDING_CREATE" -> "Pending create". @param {string} value */
export function humanize(value) {
  const words = String(value || '')
    .replace(/^(PROVISIONING_STATUS|OPERATING_STATUS|PROTOCOL|ALGORITHM|HEALTH_CHECK_TYPE|EVENT_TYPE|CLUSTER_ROLE)_/, '')
    .toLowerCase()
    .replace(/_/g, ' ');
  if (!words || words === 'unspecified') return '—';
  if (/^(tcp|http|https)$/.test(words)) return words.toUpperCase();
  return words[0].toUpperCase() + words.slice(1);
}

/** A status badge, its raw value in data-status. @param {string} status */
export function badge(status) {
  const text = humanize(status);
  const tone = /ERROR/.test(status) ? 'bad'
    : /PENDING|DEGRADED|DRAINING/.test(status) ? 'warn'
    : /ACTIVE|ONLINE/.test(status) ? 'good' : 'plain';
  return h('span', { class: `badge ${tone}`, 'data-status': status || '', text });
}

/** A Unix time in milliseconds, as local date and time. @param {string | number} ms */
export function when(ms) {
  const n = Number(ms || 0);
  if (!n) return '—';
  const d = new Date(n);
  const pad = (/** @type {number} */ v) => String(v).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A table; `columns` are [{label, cell(row)}].
 * @param {{label: string, cell: (row: any) => any}[]} columns
 * @param {any[]} rows
 * @param {{caption: string, empty: string, rowId?: (row: any) => string}} options
 */
export function table(columns, rows, { caption, empty, rowId }) {
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', text: c.label })));
  const body = rows.length
    ? rows.map((row) => h('tr', { 'data-id': rowId ? rowId(row) : row.id }, columns.map((c) => h('td', { 'data-label': c.label }, c.cell(row)))))
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: empty }))];
  return h('table', {}, h('caption', { class: 'sr-only', text: caption }), h('thead', {}, head), h('tbody', {}, body));
}

/**
 * A button that changes something: disabled, with the reason, for a viewer.
 * @param {string} label
 * @param {() => void} onClick
 * @param {{id?: string, primary?: boolean, danger?: boolean, label?: string}} [options]
 */
export function writeButton(label, onClick, options = {}) {
  const kind = options.primary ? 'primary' : options.danger ? 'danger' : '';
  return h('button', {
    type: 'button',
    id: options.id,
    class: kind,
    'data-write': true,
    'aria-label': options.label,
    disabled: session.readOnly,
    title: session.readOnly ? session.reason : undefined,
    on: { click: onClick },
    text: label,
  });
}

/**
 * Shows a notification that goes away by itself (or with Dismiss).
 * @param {string} text
 * @param {'success' | 'error'} [tone]
 */
export function toast(text, tone = 'success') {
  const region = /** @type {HTMLElement} */ (document.getElementById('toasts'));
  toastCounter += 1;
  region.dataset.last = String(toastCounter);
  const item = h('div', { class: `toast ${tone}`, 'data-seq': toastCounter },
    h('span', { text }),
    h('button', { type: 'button', class: 'link', 'aria-label': `Dismiss: ${text}`, text: 'Dismiss', on: { click: () => item.remove() } }));
  region.append(item);
  while (region.children.length > 3) region.firstElementChild?.remove();
  setTimeout(() => item.remove(), tone === 'error' ? 10000 : 6000);
}

let fieldCounter = 0;
let toastCounter = 0;

/**
 * A labelled form field. `name` is the API field it fills (errors naming it
 * are shown under it).
 * @param {{name: string, label: string, type?: string, value?: string, options?: {value: string, label: string}[], hint?: string, required?: boolean, attrs?: Record<string, any>}} spec
 * @returns {{row: HTMLElement, input: any}}
 */
export function field(spec) {
  fieldCounter += 1;
  const id = `f${fieldCounter}-${spec.name.replace(/[^\w-]/g, '-')}`;
  const described = [spec.hint ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' ');
  const common = { id, name: spec.name, 'data-field': spec.name, 'aria-describedby': described, required: spec.required, ...spec.attrs };
  let input;
  if (spec.type === 'select') {
    input = h('select', common, (spec.options || []).map((o) => h('option', { value: o.value, text: o.label })));
    if (spec.value !== undefined) input.value = spec.value;
  } else if (spec.type === 'textarea') {
    input = h('textarea', { ...common, rows: 5, spellcheck: 'false' });
    input.value = spec.value || '';
  } else {
    input = h('input', { ...common, type: spec.type || 'text', value: spec.value, autocomplete: 'off' });
  }
  const row = h('div', { class: 'field' },
    h('label', { for: id, class: spec.required ? 'required' : undefined, text: spec.label }),
    input,
    spec.hint ? h('p', { class: 'hint', id: `${id}-hint`, text: spec.hint }) : null,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
  return { row, input };
}

/** lower_snake -> lowerCamel, segment by segment. @param {string} name */
function camel(name) {
  return name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

/**
 * Shows `message` next to the field of `form` that `fieldPath` names (the
 * most specific match: "listener.port" finds "port"); answers false when no
 * field matches.
 * @param {HTMLElement} form
 * @param {string} fieldPath
 * @param {string} message
 */
export function showFieldError(form, fieldPath, message) {
  const segments = camel(fieldPath).split('.');
  const candidates = segments.map((_, start) => segments.slice(start).join('.'));
  candidates.push(segments[0].replace(/\[\d+\]$/, ''));
  for (const candidate of candidates) {
    const input = /** @type {HTMLElement | null} */ (form.querySelector(`[data-field="${CSS.escape(candidate)}"]`));
    if (!input) continue;
    const error = document.getElementById(`${input.id}-error`);
    if (!error) continue;
    error.textContent = message;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    return true;
  }
  return false;
}

/** @param {HTMLElement} form */
function clearErrors(form) {
  for (const error of form.querySelectorAll('.field-error, .form-error')) {
    error.textContent = '';
    /** @type {HTMLElement} */ (error).hidden = true;
  }
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}

/**
 * Opens a modal dialog with a form. `submit` does the work and may throw an
 * ApiError (shown next to its field) or return {fieldName: message} for its
 * own checks; on success the dialog closes and `success` is announced.
 * Escape and Cancel close it; the focus returns where it was.
 * @param {{title: string, body: Node[], submit: () => Promise<Record<string, string> | void>, success?: string, okLabel?: string, write?: boolean}} spec
 */
export function openDialog(spec) {
  const opener = /** @type {HTMLElement | null} */ (document.activeElement);
  const titleId = `dlg${++fieldCounter}`;
  const formError = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const ok = h('button', { type: 'submit', class: 'primary', text: spec.okLabel || 'OK' });
  const cancel = h('button', { type: 'button', text: 'Cancel', on: { click: () => dialog.close() } });
  const form = h('form', { novalidate: true }, h('h2', { id: titleId, text: spec.title }), formError, ...spec.body,
    h('div', { class: 'actions' }, ok, cancel));
  const dialog = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'modal', 'aria-labelledby': titleId }, form));
  const write = spec.write !== false;
  const blockIfReadOnly = () => {
    if (!write || !session.readOnly) return false;
    formError.textContent = session.reason;
    formError.hidden = false;
    ok.setAttribute('disabled', '');
    return true;
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (ok.hasAttribute('disabled') || blockIfReadOnly()) return;
    clearErrors(form);
    ok.setAttribute('disabled', '');
    form.setAttribute('aria-busy', 'true');
    try {
      const problems = await spec.submit();
      if (problems && Object.keys(problems).length) {
        for (const [name, message] of Object.entries(problems)) {
          if (!showFieldError(form, name, message)) showFormError(message);
        }
        focusFirstInvalid();
        return;
      }
      dialog.close();
      if (spec.success) toast(spec.success);
    } catch (error) {
      if (!(error instanceof ApiError)) {
        showFormError(String(error));
        return;
      }
      if (error.httpStatus === 403) {
        session.onForbidden(error);
        blockIfReadOnly();
        return;
      }
      if (!error.field || !showFieldError(form, error.field, error.detail)) showFormError(error.message);
      focusFirstInvalid();
    } finally {
      form.removeAttribute('aria-busy');
      if (!session.readOnly || !write) ok.removeAttribute('disabled');
    }
  });
  /** @param {string} message */
  function showFormError(message) {
    formError.textContent = message;
    formError.hidden = false;
  }
  function focusFirstInvalid() {
    /** @type {HTMLElement | null} */ (form.querySelector('[aria-invalid="true"]'))?.focus();
  }
  dialog.addEventListener('close', () => {
    dialog.remove();
    // A re-render from the event stream may have replaced the opener: find it by id.
    const target = opener && !opener.isConnected && opener.id ? document.getElementById(opener.id) : opener;
    if (target && target.isConnected) target.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  blockIfReadOnly();
  /** @type {HTMLElement | null} */ (form.querySelector('input:not([type=hidden]), select, textarea'))?.focus();
  return { dialog, form };
}

/**
 * Asks to confirm a deletion; `run` may throw an ApiError, shown in the dialog.
 * @param {string} title
 * @param {string} question
 * @param {(form: HTMLElement) => Promise<void>} run
 * @param {Node[]} [extra]
 */
export function confirmDialog(title, question, run, extra = []) {
  let form;
  ({ form } = openDialog({
    title,
    body: [h('p', { text: question }), ...extra],
    okLabel: 'Delete',
    submit: () => run(form),
    success: 'Deletion Succeeded',
  }));
}
