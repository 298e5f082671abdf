// A stand-in for an OpenAI-compatible chat completions API on loopback: POST
// /v1/chat/completions answers in the real wire format, streamed (`stream: true`: SSE
// chat.completion.chunk frames, a usage chunk when `stream_options.include_usage`, `data:
// [DONE]`) or not. Tests set how it answers and fails:
//   stand.answer(body)        -> the answer text (default: quotes the first context passage, cites [1])
//   stand.rewrite(body)       -> the text of a non-streamed answer (the question rewrite)
//   stand.firstTokenDelayMs   -> wait before the first content frame
//   stand.tokenDelayMs        -> wait between content frames
//   stand.failures            -> queue of {status, message, headers} answered instead of a stream
//   stand.rewriteFailures     -> the same for non-streamed requests (the question rewrite)
//   stand.midStream           -> {afterTokens, mode: 'error' | 'cut' | 'malformed' | 'nodone'}, once
//   stand.hold                -> a promise every request waits on before answering
// It logs every request (`stand.requests`: body, headers, when the client closed the connection
// before the answer ended) and splits frames across writes and joins several in one write, as
// real providers' proxies do.
import http from 'node:http';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// "[1] name, page 3\ntext..." blocks of the prompt's context, in order.
export function contextPassages(body) {
  const user = [...body.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const passages = [];
  const re = /^\[(\d+)\] ([^\n]*)\n([\s\S]*?)(?=\n\n\[\d+\] |\n\nQuestion: )/gm;
  let m;
  while ((m = re.exec(user)) !== null) passages.push({ n: Number(m[1]), label: m[2], text: m[3] });
  return passages;
}

export function questionOf(body) {
  const user = [...body.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const i = user.lastIndexOf('Question: ');
  return i < 0 ? user : user.slice(i + 'Question: '.length);
}

function defaultAnswer(body) {
  const p = contextPassages(body)[0];
  if (!p) return 'The documents do not say.';
  const first = p.text.split(/(?<=[.!?])\s/)[0];
  return `According to the documents, ${first} [1]`;
}

export async function startChatStandIn() {
  const stand = {
    requests: [],
    failures: [],
    rewriteFailures: [],
    midStream: null,
    firstTokenDelayMs: 0,
    tokenDelayMs: 0,
    hold: null,
    answer: defaultAnswer,
    rewrite: (body) => `Standalone: ${body.messages.at(-1).content.split('Last question: ')[1]?.split('\n')[0] ?? ''}`,
  };
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', async () => {
      // receivedAt / firstTokenAt (performance.now()): the stand-in's own share of a first token.
      const entry = { path: req.url, headers: req.headers, body: null, closedEarly: false, finished: false, closedAt: null, receivedAt: performance.now(), firstTokenAt: null };
      stand.requests.push(entry);
      res.on('close', () => {
        if (!entry.finished) {
          entry.closedEarly = true;
          entry.closedAt = Date.now();
        }
      });
      try {
        entry.body = JSON.parse(raw || '{}');
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'malformed JSON', type: 'invalid_request_error' } }));
        entry.finished = true;
        return;
      }
      if (stand.hold) await stand.hold;
      const body = entry.body;
      const sendJson = (status, obj, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(obj));
        entry.finished = true;
      };
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return sendJson(404, { error: { message: 'not found' } });
      const failure = body.stream ? stand.failures.shift() : stand.rewriteFailures.shift();
      if (failure) {
        return sendJson(failure.status, { error: { message: failure.message ?? 'failure', type: 'server_error' } }, failure.headers ?? {});
      }
      const id = `chatcmpl-standin-${stand.requests.length}`;
      const created = Math.floor(Date.now() / 1000);
      const model = body.model;
      const promptTokens = JSON.stringify(body.messages).length >> 2;
      if (!body.stream) {
        const text = stand.rewrite(body);
        return sendJson(200, {
          id, object: 'chat.completion', created, model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: promptTokens, completion_tokens: text.length >> 2, total_tokens: promptTokens + (text.length >> 2) },
        });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const frame = (obj) => `data: ${JSON.stringify(obj)}\n\n`;
      const chunk = (delta, finish = null) => frame({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] });
      const write = (s) => new Promise((resolve) => (res.destroyed ? resolve() : res.write(s, resolve)));
      const text = stand.answer(body);
      const tokens = text.match(/\S+\s*/g) ?? [];
      const mid = stand.midStream;
      stand.midStream = null;
      await write(': OPENROUTER PROCESSING\n\n');  // a comment, as some providers send while waiting
      await write(chunk({ role: 'assistant', content: '' }));
      if (stand.firstTokenDelayMs) await sleep(stand.firstTokenDelayMs);
      for (let i = 0; i < tokens.length; i++) {
        if (res.destroyed) return;
        if (mid && i === mid.afterTokens) {
          if (mid.mode === 'error') {
            await write(frame({ error: { message: 'The server had an error while processing your request.', type: 'server_error' } }));
            res.end();
          } else if (mid.mode === 'malformed') {
            await write('data: {"id": "broken\n\n');
            res.end();
          } else if (mid.mode === 'cut') {
            res.socket.destroy();
          } else if (mid.mode === 'nodone') {
            res.end();
          }
          entry.finished = true;
          return;
        }
        const f = chunk({ content: tokens[i] });
        if (i === 0) {
          // The first frame in two writes, apart in time: one frame across two reads.
          await write(f.slice(0, 17));
          await sleep(15);
          await write(f.slice(17));
          entry.firstTokenAt = performance.now();
        } else {
          await write(f);
        }
        if (stand.tokenDelayMs) await sleep(stand.tokenDelayMs);
      }
      if (mid && mid.afterTokens >= tokens.length && mid.mode === 'nodone') {
        res.end();
        entry.finished = true;
        return;
      }
      // The end: several frames in one write.
      let tail = chunk({}, 'stop');
      if (body.stream_options?.include_usage) {
        tail += frame({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: tokens.length, total_tokens: promptTokens + tokens.length } });
      }
      tail += 'data: [DONE]\n\n';
      await write(tail);
      res.end();
      entry.finished = true;
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  stand.url = `http://127.0.0.1:${server.address().port}/v1`;
  stand.chatRequests = () => stand.requests.filter((r) => r.path === '/v1/chat/completions');
  // The streamed requests: answers (the rewrite is not streamed).
  stand.answerRequests = () => stand.chatRequests().filter((r) => r.body?.stream);
  stand.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    });
  return stand;
}
