// @ts-check
//! The console's entry: sign-in, the hash router, the shell (navigation, live
//! indicator, read-only banner), the event stream feeding the store, and the
//! status refresh of Load Balancers being provisioned or shown in detail.

import * as api from './api.js';
import * as store from './store.js';
import { watch } from './live.js';
import { h, render, session, toast } from './ui.js';
import { loadBalancerList } from './pages/lb.js';
import { loadBalancerDetails } from './pages/lb-details.js';
import { networksPage, subnetsPage, instancesPage, eipsPage, certificatesPage } from './pages/resources.js';
import { eventsPage, loadHistory, clusterPage, loadCluster } from './pages/cluster.js';

/** How often statuses still being provisioned, or shown in detail, are read again. */
const STATUS_REFRESH_MS = 2000;
/** The most status trees read per refresh. */
const STATUS_REFRESH_MAX = 10;

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const live = /** @type {HTMLElement} */ (document.getElementById('live'));
const banner = /** @type {HTMLElement} */ (document.getElementById('readonly'));
const signOutButton = /** @type {HTMLElement} */ (document.getElementById('sign-out'));

/** @type {(() => void) | null} */
let stopWatch = null;
let revision = 0;
let started = false;
let lastRoute = '';
let signInNote = '';
/** @type {import('./api.js').Session | null} who the browser is signed in as */
let signedIn = null;

/** The route of the current hash: {name, id, tab}. */
function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const name = parts[0] || 'load-balancers';
  if (name === 'load-balancers' && parts[1]) return { name: 'details', id: parts[1], tab: parts[2] === 'groups' ? 'groups' : 'listeners' };
  return { name, id: '', tab: '' };
}

/** Renders the page of the current route from the store. */
function show() {
  const current = route();
  if (!signedIn || current.name === 'sign-in') {
    if (signedIn) {
      location.hash = '#/load-balancers';
      return;
    }
    showSignIn();
    return;
  }
  nav.hidden = false;
  signOutButton.hidden = false;
  const routeKey = location.hash;
  const entering = routeKey !== lastRoute;
  lastRoute = routeKey;
  if (entering && current.name === 'events') loadHistory(revision, show);
  if (entering && current.name === 'cluster') loadCluster(show);
  if (entering && current.name === 'details') refreshStatuses([current.id]);
  const page = pageOf(current);
  for (const link of nav.querySelectorAll('a')) {
    const active = link.dataset.route === (current.name === 'details' ? 'load-balancers' : current.name);
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${page.title} — Fulcrum`;
  const heading = h('h1', { id: 'page-title', tabindex: '-1', text: page.title });
  render(main, [heading, ...(store.isLoaded() ? page.nodes : [h('p', { class: 'muted', text: 'Loading…' })])]);
  if (entering) heading.focus();
}

/** @param {{name: string, id: string, tab: string}} current */
function pageOf(current) {
  switch (current.name) {
    case 'details': return loadBalancerDetails(current.id, current.tab === 'groups' ? 'groups' : 'listeners');
    case 'networks': return networksPage();
    case 'subnets': return subnetsPage();
    case 'instances': return instancesPage();
    case 'eips': return eipsPage();
    case 'certificates': return certificatesPage();
    case 'events': return eventsPage();
    case 'cluster': return clusterPage(() => loadCluster(show));
    case 'load-balancers': return loadBalancerList();
    default: return { title: 'Not found', nodes: [h('p', {}, 'No such page. ', h('a', { href: '#/load-balancers', text: 'Go to the Load Balancer list' }))] };
  }
}

function showSignIn() {
  nav.hidden = true;
  signOutButton.hidden = true;
  banner.hidden = true;
  lastRoute = '';
  document.title = 'Sign in — Fulcrum';
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', 'aria-describedby': 'token-hint token-error' });
  const error = h('p', { class: 'field-error', id: 'token-error', role: 'alert', hidden: !signInNote, text: signInNote });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  const form = h('form', { class: 'signin', novalidate: true },
    h('h1', { text: 'Sign in' }),
    h('p', { class: 'muted', text: 'Sign in to the Fulcrum console with an access token.' }),
    h('div', { class: 'field' },
      h('label', { for: 'token', text: 'Access token' }),
      input,
      h('p', { class: 'hint', id: 'token-hint', text: 'Issued by an admin of the cluster (fulcrum token create). The server keeps it in a cookie this page\'s scripts cannot read; signing out or closing the browser ends the session.' }),
      error),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.setAttribute('disabled', '');
    error.hidden = true;
    try {
      enter(await api.signIn(input.value.trim()));
      signInNote = '';
      if (route().name === 'sign-in') location.hash = '#/load-balancers';
      start();
    } catch (failure) {
      error.textContent = failure instanceof api.ApiError && failure.httpStatus === 401
        ? 'This token was not accepted (401): check it, or ask an admin for a new one.'
        : `Could not sign in: ${failure instanceof Error ? failure.message : failure}`;
      error.hidden = false;
      input.focus();
    } finally {
      submit.removeAttribute('disabled');
    }
  });
  main.replaceChildren(form);
  input.focus();
}

/** Loads the store and opens the event stream after it. */
async function start() {
  if (started || signedIn === null) return;
  started = true;
  show();
  try {
    revision = await store.loadAll();
  } catch (error) {
    started = false;
    if (signedIn === null) return; // a 401 signed us out
    render(main, [h('h1', { text: 'Fulcrum console' }), h('p', { class: 'form-error', role: 'alert', text: `The console could not load: ${error instanceof Error ? error.message : error}` }),
      h('button', { type: 'button', text: 'Try again', on: { click: start } })]);
    return;
  }
  stopWatch = watch(revision + 1, {
    onEvents: (events) => {
      revision = Math.max(revision, ...events.map((e) => Number(e.revision || 0)));
      store.applyEvents(events);
    },
    onState: (state, detail) => {
      live.dataset.state = state;
      live.textContent = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', stopped: 'Offline' }[state];
      live.title = detail ? `The event stream: ${detail}` : 'The event stream that keeps this page current';
    },
    onResync: async () => {
      revision = await store.loadAll();
      return revision;
    },
  });
}

/** Ends the session (the server clears its cookie first), then shows the sign-in form. */
async function signOut(/** @type {string} */ note) {
  stopWatch?.();
  stopWatch = null;
  started = false;
  signedIn = null;
  showReadOnly(false, '');
  store.clear();
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  await api.signOut();
  signInNote = note;
  if (location.hash !== '#/sign-in') location.hash = '#/sign-in';
  else show();
}

/**
 * Takes the session the server answered: a viewer's console is read-only
 * from the start.
 * @param {import('./api.js').Session} who
 */
function enter(who) {
  signedIn = who;
  const viewer = who.role === 'viewer';
  showReadOnly(viewer, viewer ? `Read-only: signed in as ${who.principal}, a viewer, who may see the console but not change it.` : '');
}

/** @param {boolean} readOnly @param {string} reason */
function showReadOnly(readOnly, reason) {
  session.readOnly = readOnly;
  session.reason = reason;
  banner.hidden = !readOnly;
  banner.textContent = reason;
}

// A write refused for the role (the role changed, say) turns the console read-only.
session.onForbidden = (error) => {
  showReadOnly(true, `Read-only: this token may view the console but not change it (the server answered 403: ${error.message}).`);
  toast('Not allowed: this token is read-only.', 'error');
  show();
};

api.setUnauthorizedHandler(() => {
  if (signedIn !== null) signOut('Your session ended (401: the token was revoked, or the session expired): sign in again.');
});

let refreshing = false;
/**
 * Reads the status trees of `ids` and copies their statuses into the store.
 * @param {string[]} ids
 */
async function refreshStatuses(ids) {
  if (refreshing || !ids.length) return;
  refreshing = true;
  try {
    const trees = await Promise.allSettled(ids.slice(0, STATUS_REFRESH_MAX)
      .map((id) => api.call('getStatusTree', { path: { loadBalancerId: id } })));
    for (const tree of trees) if (tree.status === 'fulfilled') store.applyTree(tree.value.loadBalancer);
  } finally {
    refreshing = false;
  }
}

setInterval(() => {
  if (!started || !store.isLoaded() || document.hidden) return;
  const current = route();
  const ids = new Set(store.pendingLoadBalancers());
  if (current.name === 'details') ids.add(current.id);
  refreshStatuses([...ids].filter((id) => store.get('loadBalancers', id)));
}, STATUS_REFRESH_MS);

store.subscribe(() => {
  if (signedIn !== null && route().name !== 'sign-in') show();
});
window.addEventListener('hashchange', show);
signOutButton.addEventListener('click', () => signOut(''));
// The skip link must not change the hash: the router owns it.
document.querySelector('.skip')?.addEventListener('click', (event) => {
  event.preventDefault();
  (document.getElementById('page-title') || main).focus();
});

// The page may have loaded with a session (a reload): ask the server.
api.currentSession().then(
  (who) => {
    enter(who);
    start();
  },
  () => show(),
);
