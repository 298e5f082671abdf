// A stand-in for an OpenAI-compatible embeddings API on loopback: POST /v1/embeddings answers
// in the real wire format with deterministic vectors (words hashed into `dimensions`, so texts
// sharing words are near), and can be told to fail the next requests the way providers do, or to
// hold every request until resume() (a slow provider), or only those whose inputs match a pattern
// until release() (one user's documents slow, another's not).
import http from 'node:http';

function vectorOf(text, dim) {
  const v = new Array(dim).fill(0);
  for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (const ch of w) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
    v[h % dim] += 1;
  }
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
}

export async function startOpenAiStandIn() {
  const stand = { requests: [], failures: [], refuse: null, held: null, arrived: 0 };
  stand.pause = () => {
    if (!stand.held) {
      let release;
      stand.held = new Promise((resolve) => (release = resolve));
      stand.held.release = release;
    }
  };
  stand.resume = () => {
    stand.held?.release();
    stand.held = null;
  };
  stand.holdMatching = (pattern) => {
    let release;
    stand.matching = { pattern, until: new Promise((resolve) => (release = resolve)) };
    stand.matching.release = release;
  };
  stand.release = () => {
    stand.matching?.release();
    stand.matching = null;
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      stand.arrived += 1; // counted before a hold, unlike `requests`
      if (stand.held) await stand.held;
      const json = JSON.parse(body || '{}');
      const inputs = Array.isArray(json.input) ? json.input : [json.input ?? ''];
      if (stand.matching && inputs.some((t) => stand.matching.pattern.test(String(t)))) await stand.matching.until;
      stand.requests.push({ path: req.url, headers: req.headers, body: json });
      const send = (status, obj, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(obj));
      };
      if (stand.refuse) return send(stand.refuse.status, { error: { message: stand.refuse.message, type: 'invalid_request_error' } });
      const failure = stand.failures.shift();
      if (failure) return send(failure.status, { error: { message: failure.message ?? 'failure' } }, failure.headers ?? {});
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') return send(404, { error: { message: 'not found' } });
      const dim = json.dimensions ?? 1536;
      const data = json.input.map((t, i) => ({ object: 'embedding', index: i, embedding: vectorOf(t, dim) }));
      const tokens = json.input.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
      send(200, { object: 'list', data: data.reverse(), model: json.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  stand.url = `http://127.0.0.1:${server.address().port}/v1`;
  stand.close = () => new Promise((resolve) => server.close(resolve));
  return stand;
}
