// Talking to the chat endpoints: Server-Sent Events read as they arrive.
import assert from 'node:assert/strict';

import { api } from './helpers.mjs';

// Parses SSE text into [{event, data, id}] (data JSON-parsed when it is JSON); comments are
// returned as {comment}.
export function parseSse(text) {
  const events = [];
  for (const block of text.split(/\n\n/)) {
    if (!block.trim()) continue;
    const e = { event: 'message', data: '' };
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        events.push({ comment: line.slice(1).trim() });
        continue;
      }
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') e.event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') e.id = value;
    }
    if (!data.length) continue;
    e.data = data.join('\n');
    try {
      e.data = JSON.parse(e.data);
    } catch {
      // not JSON ([DONE])
    }
    events.push(e);
  }
  return events;
}

// POSTs `body` to `pathname` asking for an event stream and reads the events as they come.
// `onEvent(e, events, abort)` may abort the request. Returns {status, headers, events, text,
// aborted, abortedAt}.
export async function streamRequest(url, pathname, { token, body, accept = 'text/event-stream', onEvent, timeoutMs = 60000 } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no end of stream within ${timeoutMs} ms`)), timeoutMs);
  const result = { status: 0, headers: null, events: [], text: '', aborted: false, abortedAt: null, arrivals: [] };
  const abort = () => {
    result.aborted = true;
    result.abortedAt = Date.now();
    controller.abort();
  };
  try {
    const res = await fetch(url + pathname, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: accept, Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    result.status = res.status;
    result.headers = res.headers;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let pending = '';
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (result.aborted) break;
        throw e;
      }
      if (chunk.done) break;
      const piece = decoder.decode(chunk.value, { stream: true });
      result.text += piece;
      pending += piece;
      const cut = pending.lastIndexOf('\n\n');
      if (cut < 0) continue;
      const complete = pending.slice(0, cut + 2);
      pending = pending.slice(cut + 2);
      for (const e of parseSse(complete)) {
        result.events.push(e);
        result.arrivals.push(Date.now());
        if (onEvent) onEvent(e, result.events, abort);
        if (result.aborted) break;
      }
      if (result.aborted) break;
    }
  } catch (e) {
    if (!result.aborted) throw e;
  } finally {
    clearTimeout(timer);
  }
  return result;
}

// Asks a conversation; streamed unless `stream: false` is in the body.
export function ask(url, token, conversationId, body, opts = {}) {
  return streamRequest(url, `/v1/conversations/${conversationId}/messages`, { token, body, ...opts });
}

// The named events only (comments left out).
export const named = (events) => events.filter((e) => e.event && !e.comment);

// Checks the order retrieval, token..., then done (or error); returns {retrieval, tokens, done, error}.
export function checkOrder(events) {
  const ev = named(events);
  assert.ok(ev.length >= 2, `too few events: ${JSON.stringify(ev)}`);
  assert.equal(ev[0].event, 'retrieval', `first event: ${JSON.stringify(ev[0])}`);
  const last = ev.at(-1);
  assert.ok(['done', 'error'].includes(last.event), `last event: ${JSON.stringify(last)}`);
  const middle = ev.slice(1, -1);
  for (const e of middle) assert.equal(e.event, 'token', `unexpected ${e.event} between retrieval and the end`);
  return {
    retrieval: ev[0].data,
    tokens: middle.map((e) => e.data.text),
    done: last.event === 'done' ? last.data : null,
    error: last.event === 'error' ? last.data : null,
  };
}

export async function newConversation(url, token, body = {}) {
  const res = await api(url, 'POST', '/v1/conversations', { token, body });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

export async function messagesOf(url, token, conversationId) {
  const res = await api(url, 'GET', `/v1/conversations/${conversationId}/messages?limit=1000`, { token });
  assert.equal(res.status, 200, res.text);
  return res.json.data;
}
