// Unit tests of the console's pure parts, run in Node (no browser): the SSE
// parser, the watch loop's reconnection from the last revision seen, the
// error's field prefix, and the URL table.

import { test } from 'node:test';
import assert from 'node:assert/strict';

// The browser globals api.js reads.
const storage = new Map();
globalThis.sessionStorage = {
  getItem: (k) => (storage.has(k) ? storage.get(k) : null),
  setItem: (k, v) => storage.set(k, String(v)),
  removeItem: (k) => storage.delete(k),
};

const { parseSse, watch } = await import('../console/live.js');
const { splitField, url, PATHS, headers } = await import('../console/api.js');

/** A body that yields `chunks` (strings) one by one. */
function body(chunks) {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

test('the SSE parser joins split chunks, skips comments, takes CRLF', async () => {
  const events = [];
  for await (const e of parseSse(body(['data: {"a"', ':1}\n\n: keepalive\n\n', 'event: error\r\ndata: x\r\n', 'data: y\r\n\r\n', 'data: last\n\n']))) events.push(e);
  assert.deepEqual(events, [
    { event: 'message', data: '{"a":1}' },
    { event: 'error', data: 'x\ny' },
    { event: 'message', data: 'last' },
  ]);
});

test("an error message's field prefix is split off", () => {
  assert.deepEqual(splitField('port: port 80 is already used'), { field: 'port', detail: 'port 80 is already used' });
  assert.deepEqual(splitField('members[1].weight: 200 is not a weight'), { field: 'members[1].weight', detail: '200 is not a weight' });
  assert.deepEqual(splitField('listener.port: taken'), { field: 'listener.port', detail: 'taken' });
  assert.deepEqual(splitField('no leader is known'), { field: '', detail: 'no leader is known' });
});

test('paths are filled and queries encoded; calls say they come from the console, never carry a token', () => {
  assert.equal(url('associateEip', { loadBalancerId: 'lb-1' }), '/v1/loadBalancers/lb-1:associateEip');
  assert.equal(url('listListeners', {}, { loadBalancerId: 'lb 1', pageToken: '' }), '/v1/listeners?loadBalancerId=lb+1');
  assert.throws(() => url('getStatusTree'), /missing loadBalancerId/);
  for (const [method, path] of Object.values(PATHS)) {
    assert.match(method, /^(GET|POST|PATCH|DELETE|PUT)$/);
    assert.match(path, /^\/v1\//);
  }
  // The session cookie stands for the token only with this header.
  assert.equal(headers()['X-Fulcrum-Console'], '1');
  assert.equal(headers().Authorization, undefined);
  assert.equal(headers({ 'Content-Type': 'application/json' })['Content-Type'], 'application/json');
});

test('the watch resumes from the last revision seen, skips replayed events, stops on 401', async () => {
  const asked = [];
  const streams = [
    () => new Response(body([`data: ${JSON.stringify({ events: [ev(5, 'a'), ev(5, 'b')] })}\n\n`]), { status: 200 }),
    () => new Response(body([`data: ${JSON.stringify({ events: [ev(5, 'a'), ev(5, 'b'), ev(6, 'c')] })}\n\n`]), { status: 200 }),
    () => new Response('{"code":401,"status":"UNAUTHENTICATED","message":"authorization: token revoked"}', { status: 401 }),
  ];
  globalThis.fetch = async (address) => {
    asked.push(String(address));
    return streams[asked.length - 1]();
  };
  const delivered = [];
  const stopped = new Promise((resolve) => {
    watch(5, {
      onEvents: (events) => delivered.push(...events.map((e) => `${e.revision}${e.resourceId}`)),
      onState: (state) => state === 'stopped' && resolve(),
      onResync: async () => 0,
    });
  });
  await stopped;
  assert.deepEqual(asked, ['/v1/events:watch?fromRevision=5', '/v1/events:watch?fromRevision=5', '/v1/events:watch?fromRevision=6']);
  assert.deepEqual(delivered, ['5a', '5b', '6c']);
});

function ev(revision, id) {
  return { revision: String(revision), type: 'EVENT_TYPE_NETWORK_CREATED', resourceId: id, parentId: '' };
}
