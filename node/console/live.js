// @ts-check
//! The event stream reader: Server-Sent Events read with fetch() (an
//! EventSource cannot send the Authorization header), parsed from the
//! ReadableStream, reconnecting from the last revision seen with a bounded
//! backoff.

import { openWatch, answer, ApiError } from './api.js';

/** Backoff between reconnections: doubles from the first to the last, with jitter. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;
/** A stream that stayed open this long resets the backoff. */
const HEALTHY_STREAM_MS = 10000;
/** The most keys of already-applied events remembered for de-duplication. */
const SEEN_MAX = 4096;

/**
 * Splits an SSE byte stream into events ({event, data}); comments (keepalives)
 * are skipped.
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<{event: string, data: string}>}
 */
export async function* parseSse(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        const width = buffer.startsWith('\r\n', newline) ? 2 : 1;
        buffer = buffer.slice(newline + width);
        if (line === '') {
          if (data.length) yield { event: event || 'message', data: data.join('\n') };
          event = '';
          data = [];
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const name = colon < 0 ? line : line.slice(0, colon);
          let field = colon < 0 ? '' : line.slice(colon + 1);
          if (field.startsWith(' ')) field = field.slice(1);
          if (name === 'data') data.push(field);
          else if (name === 'event') event = field;
        }
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * @typedef {object} WatchHandlers
 * @property {(events: any[]) => void} onEvents new events, in revision order, never twice
 * @property {(state: 'connecting' | 'live' | 'reconnecting' | 'stopped', detail?: string) => void} onState
 * @property {() => Promise<number>} onResync the history was compacted past us: reload, answer the revision read
 */

/**
 * Watches the event stream from `fromRevision` on until the returned stop()
 * is called or the server answers 401.
 * @param {number} fromRevision the first revision wanted
 * @param {WatchHandlers} handlers
 * @returns {() => void} stop
 */
export function watch(fromRevision, handlers) {
  const controller = new AbortController();
  const { signal } = controller;
  /** The revision to ask from: the last one seen (its events are de-duplicated). */
  let next = fromRevision;
  /** Keys of the events applied at revision `next`, to skip their replay. */
  let seen = new Set();

  const accept = (/** @type {any[]} */ events) => {
    const fresh = [];
    for (const event of events) {
      const revision = Number(event.revision || 0);
      if (revision < next) continue;
      if (revision > next) {
        next = revision;
        seen = new Set();
      }
      const key = `${event.type}/${event.resourceId}/${event.parentId || ''}`;
      if (seen.has(key)) continue;
      if (seen.size < SEEN_MAX) seen.add(key);
      fresh.push(event);
    }
    if (fresh.length) handlers.onEvents(fresh);
  };

  const run = async () => {
    let attempt = 0;
    while (!signal.aborted) {
      const opened = Date.now();
      let delivered = false;
      try {
        handlers.onState(attempt ? 'reconnecting' : 'connecting');
        const response = await openWatch(next, signal);
        if (!response.ok) await answer(response); // throws the ApiError (and signs out on 401)
        if (!response.body) throw new Error('the event stream has no body');
        handlers.onState('live');
        for await (const message of parseSse(response.body)) {
          if (message.event === 'error') {
            const body = JSON.parse(message.data);
            throw new ApiError(body.code || 0, body.status || 'UNKNOWN', body.message || message.data);
          }
          const parsed = JSON.parse(message.data);
          accept(parsed.events || []);
          delivered = true;
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof ApiError && error.httpStatus === 401) break;
        if (error instanceof ApiError && error.status === 'OUT_OF_RANGE') {
          try {
            next = (await handlers.onResync()) + 1;
            seen = new Set();
            attempt = 0;
            continue;
          } catch {
            // Fall through to the backoff and try again.
          }
        }
        handlers.onState('reconnecting', String(error instanceof Error ? error.message : error));
      }
      if (signal.aborted) break;
      if (delivered || Date.now() - opened > HEALTHY_STREAM_MS) attempt = 0;
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
      attempt = Math.min(attempt + 1, 16);
      await pause(ceiling * (0.5 + Math.random() / 2), signal);
    }
    handlers.onState('stopped');
  };
  run();
  return () => controller.abort();
}

/**
 * Resolves after `ms`, or at once when `signal` aborts.
 * @param {number} ms
 * @param {AbortSignal} signal
 */
function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(undefined);
    }, { once: true });
  });
}
