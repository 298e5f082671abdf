// Real-time events for the end-to-end tests: a client of GET /v1/events (SSE).
import { parseSse } from './chat_helpers.mjs';
import { eventually } from './helpers.mjs';

// Opens GET /v1/events and collects its events as they come. `close()` ends it.
export async function openEvents(url, { token, query = '', headers = {} } = {}) {
  const controller = new AbortController();
  const h = { Accept: 'text/event-stream', ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/v1/events${query}`, { headers: h, signal: controller.signal });
  const stream = { status: res.status, headers: res.headers, events: [], text: '', closed: false };
  stream.close = () => {
    stream.closed = true;
    controller.abort();
  };
  stream.named = () => stream.events.filter((e) => !e.comment);
  stream.waitFor = (pred, what = 'an event', timeoutMs = 30000) =>
    eventually(() => stream.named().find(pred), { timeoutMs, intervalMs: 20, what });
  if (res.status !== 200) {
    stream.text = await res.text();
    return stream;
  }
  (async () => {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let pending = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const piece = dec.decode(value, { stream: true });
        stream.text += piece;
        pending += piece;
        const cut = pending.lastIndexOf('\n\n');
        if (cut < 0) continue;
        stream.events.push(...parseSse(pending.slice(0, cut + 2)));
        pending = pending.slice(cut + 2);
      }
    } catch {
      // aborted
    }
    stream.ended = true;
  })();
  return stream;
}
