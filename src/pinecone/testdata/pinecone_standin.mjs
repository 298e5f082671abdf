// A stand-in for one Pinecone serverless index's data plane, on loopback, for tests: the real
// wire format (POST /vectors/upsert, /query, /vectors/delete, /describe_index_stats, GET
// /vectors/fetch), the real limits (1,000 vectors and 2 MB an upsert, topK 1,000 with metadata,
// the index's dimension, 40 KB of metadata a vector) and the real errors ({"code","message",
// "details"} with gRPC codes; 401 "Unauthorized" for a wrong Api-Key; 404 for a namespace that
// does not exist). Vectors are kept in memory and compared exactly by cosine similarity;
// metadata filters support $eq $ne $in $nin $gt $gte $lt $lte $exists $and $or.
//
// Test controls (not Pinecone's): POST /_standin/faults [{"status":429,"retryAfter":1},
// {"status":503},{"drop":true}] answers the next data requests with these, in order; GET
// /_standin/log lists the requests in order ({method, path, namespace, vectors, topK, filter,
// apiVersion}, or {method, path, fault} for one answered by a fault).
//
// --filter-deletes false answers a delete by metadata filter as serverless and starter indexes
// do (400), leaving GET /vectors/list (by id prefix, paginated) and deletes by id.
//
// As a program: node pinecone_standin.mjs [--dimension N] [--api-key K] [--metric cosine|dotproduct|euclidean]
// [--filter-deletes true|false];
// prints {"port":N}.
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14, INTERNAL: 13 };
const MAX_UPSERT_VECTORS = 1000;
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
const MAX_METADATA_BYTES = 40 * 1024;

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

function compare(value, op, arg) {
  switch (op) {
    case '$eq': return value === arg;
    case '$ne': return value !== arg;
    case '$in': return Array.isArray(arg) && arg.includes(value);
    case '$nin': return Array.isArray(arg) && !arg.includes(value);
    case '$gt': return typeof value === 'number' && value > arg;
    case '$gte': return typeof value === 'number' && value >= arg;
    case '$lt': return typeof value === 'number' && value < arg;
    case '$lte': return typeof value === 'number' && value <= arg;
    case '$exists': return (value !== undefined) === Boolean(arg);
    default: throw new Error(`unsupported filter operator ${op}`);
  }
}

// Throws on a malformed filter (Pinecone answers 400).
export function matches(metadata, filter) {
  if (filter === undefined || filter === null) return true;
  if (typeof filter !== 'object' || Array.isArray(filter)) throw new Error('filter must be an object');
  for (const [key, cond] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(cond)) throw new Error(`${key} takes an array`);
      const results = cond.map((f) => matches(metadata, f));
      if (key === '$and' ? !results.every(Boolean) : !results.some(Boolean)) return false;
      continue;
    }
    if (key.startsWith('$')) throw new Error(`unsupported filter operator ${key}`);
    const value = metadata?.[key];
    if (cond !== null && typeof cond === 'object' && !Array.isArray(cond)) {
      for (const [op, arg] of Object.entries(cond)) if (!compare(value, op, arg)) return false;
    } else if (!compare(value, '$eq', cond)) {
      return false;
    }
  }
  return true;
}

export async function startPineconeStandIn({
  dimension = 8, apiKey = 'pinecone-test-key', port = 0, metric = 'cosine', filterDeletes = true,
} = {}) {
  const namespaces = new Map(); // name -> Map(id -> {id, values, metadata})
  const stand = { log: [], faults: [], dimension, apiKey, namespaces };
  const error = (res, status, code, message) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code, message, details: [] }));
  };
  const ok = (res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  stand.count = (ns) => namespaces.get(ns ?? '')?.size ?? 0;
  stand.vectors = (ns) => [...(namespaces.get(ns ?? '')?.values() ?? [])];

  const handlers = {
    'POST /vectors/upsert': (body, res, entry) => {
      const ns = body.namespace ?? '';
      const vectors = body.vectors;
      if (!Array.isArray(vectors) || vectors.length === 0) return error(res, 400, GRPC.INVALID_ARGUMENT, 'No vectors provided');
      if (vectors.length > MAX_UPSERT_VECTORS)
        return error(res, 400, GRPC.INVALID_ARGUMENT, `Upsert batch size ${vectors.length} exceeds the limit of ${MAX_UPSERT_VECTORS}`);
      entry.vectors = vectors.length;
      for (const v of vectors) {
        if (typeof v.id !== 'string' || v.id.length === 0 || v.id.length > 512)
          return error(res, 400, GRPC.INVALID_ARGUMENT, 'Vector id must be a string of 1 to 512 characters');
        if (!Array.isArray(v.values) || v.values.length !== dimension)
          return error(res, 400, GRPC.INVALID_ARGUMENT,
            `Vector dimension ${v.values?.length ?? 0} does not match the dimension of the index ${dimension}`);
        if (v.metadata !== undefined && JSON.stringify(v.metadata).length > MAX_METADATA_BYTES)
          return error(res, 400, GRPC.INVALID_ARGUMENT, `Metadata size exceeds the limit of ${MAX_METADATA_BYTES} bytes per vector`);
      }
      if (!namespaces.has(ns)) namespaces.set(ns, new Map());
      const store = namespaces.get(ns);
      for (const v of vectors) store.set(v.id, { id: v.id, values: v.values, metadata: v.metadata ?? {} });
      return ok(res, { upsertedCount: vectors.length });
    },
    'POST /query': (body, res, entry) => {
      const ns = body.namespace ?? '';
      const topK = body.topK;
      entry.topK = topK;
      entry.filter = body.filter;
      if (!Number.isInteger(topK) || topK < 1 || topK > 10000)
        return error(res, 400, GRPC.INVALID_ARGUMENT, 'topK must be an integer from 1 to 10000');
      if ((body.includeMetadata || body.includeValues) && topK > 1000)
        return error(res, 400, GRPC.INVALID_ARGUMENT, 'topK must be at most 1000 when including metadata or values');
      if (!Array.isArray(body.vector) || body.vector.length !== dimension)
        return error(res, 400, GRPC.INVALID_ARGUMENT,
          `Query vector dimension ${body.vector?.length ?? 0} does not match the dimension of the index ${dimension}`);
      let scored;
      try {
        scored = [...(namespaces.get(ns)?.values() ?? [])]
          .filter((v) => matches(v.metadata, body.filter))
          .map((v) => ({ v, score: cosine(body.vector, v.values) }));
      } catch (e) {
        return error(res, 400, GRPC.INVALID_ARGUMENT, `Invalid filter: ${e.message}`);
      }
      scored.sort((a, b) => b.score - a.score);
      const out = scored.slice(0, topK).map(({ v, score }) => {
        const m = { id: v.id, score, values: body.includeValues ? v.values : [] };
        if (body.includeMetadata) m.metadata = v.metadata;
        return m;
      });
      return ok(res, { results: [], matches: out, namespace: ns, usage: { readUnits: 5 } });
    },
    'POST /vectors/delete': (body, res, entry) => {
      const ns = body.namespace ?? '';
      entry.filter = body.filter;
      const store = namespaces.get(ns);
      if (!store) return error(res, 404, GRPC.NOT_FOUND, 'Namespace not found');
      const given = [body.ids !== undefined, Boolean(body.deleteAll), body.filter !== undefined].filter(Boolean).length;
      if (given !== 1) return error(res, 400, GRPC.INVALID_ARGUMENT, 'Exactly one of ids, deleteAll or filter must be given');
      if (body.filter !== undefined && !filterDeletes) {
        return error(res, 400, GRPC.INVALID_ARGUMENT, 'Serverless and Starter indexes do not support deleting with metadata filtering.');
      }
      if (body.ids && body.ids.length > 1000) return error(res, 400, GRPC.INVALID_ARGUMENT, 'Cannot delete more than 1000 ids at once');
      if (body.deleteAll) store.clear();
      else if (body.ids) for (const id of body.ids) store.delete(id);
      else {
        try {
          for (const [id, v] of store) if (matches(v.metadata, body.filter)) store.delete(id);
        } catch (e) {
          return error(res, 400, GRPC.INVALID_ARGUMENT, `Invalid filter: ${e.message}`);
        }
      }
      return ok(res, {});
    },
    'POST /describe_index_stats': (_body, res) => {
      const out = {};
      let total = 0;
      for (const [ns, store] of namespaces) {
        out[ns] = { vectorCount: store.size };
        total += store.size;
      }
      return ok(res, { namespaces: out, dimension, indexFullness: 0, totalVectorCount: total, metric, vectorType: 'dense' });
    },
    // Serverless indexes' listing: ids in id order, `limit` (default 100) a page, a token for the next.
    'GET /vectors/list': (_body, res, entry, url) => {
      const ns = url.searchParams.get('namespace') ?? '';
      const prefix = url.searchParams.get('prefix') ?? '';
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const after = url.searchParams.get('paginationToken');
      entry.namespace = ns;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return error(res, 400, GRPC.INVALID_ARGUMENT, 'limit must be between 1 and 100');
      const store = namespaces.get(ns) ?? new Map();
      const ids = [...store.keys()].filter((id) => id.startsWith(prefix)).sort();
      const start = after ? ids.findIndex((id) => id > Buffer.from(after, 'base64').toString()) : 0;
      const page = start < 0 ? [] : ids.slice(start, start + limit);
      const out = { vectors: page.map((id) => ({ id })), namespace: ns, usage: { readUnits: 1 } };
      if (start >= 0 && start + limit < ids.length) out.pagination = { next: Buffer.from(page[page.length - 1]).toString('base64') };
      return ok(res, out);
    },
    'GET /vectors/fetch': (_body, res, entry, url) => {
      const ns = url.searchParams.get('namespace') ?? '';
      const ids = url.searchParams.getAll('ids');
      entry.namespace = ns;
      const store = namespaces.get(ns) ?? new Map();
      const vectors = {};
      for (const id of ids) if (store.has(id)) vectors[id] = store.get(id);
      return ok(res, { vectors, namespace: ns, usage: { readUnits: 1 } });
    },
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (d) => {
      size += d.length;
      chunks.push(d);
    });
    req.on('end', () => {
      const url = new URL(req.url, 'http://localhost');
      const raw = Buffer.concat(chunks).toString('utf8');
      if (url.pathname === '/_standin/faults' && req.method === 'POST') {
        stand.faults.push(...JSON.parse(raw));
        return ok(res, {});
      }
      if (url.pathname === '/_standin/log') return ok(res, stand.log);
      const handler = handlers[`${req.method} ${url.pathname}`];
      if (!handler) return error(res, 404, GRPC.NOT_FOUND, `No route ${req.method} ${url.pathname}`);
      if (req.headers['api-key'] !== apiKey) {
        res.writeHead(401, { 'content-type': 'text/plain' });
        return res.end('Unauthorized');
      }
      const fault = stand.faults.shift();
      if (fault) stand.log.push({ method: req.method, path: url.pathname, fault: fault.drop ? 'drop' : fault.status });
      if (fault?.drop) return req.socket.destroy();
      if (fault) {
        const headers = { 'content-type': 'application/json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        res.writeHead(fault.status, headers);
        const code = fault.status === 429 ? GRPC.RESOURCE_EXHAUSTED : fault.status >= 500 ? GRPC.UNAVAILABLE : GRPC.INVALID_ARGUMENT;
        return res.end(JSON.stringify({ code, message: fault.message ?? 'injected by the test', details: [] }));
      }
      if (size > MAX_REQUEST_BYTES)
        return error(res, 400, GRPC.INVALID_ARGUMENT, `Request size ${size} exceeds the maximum of ${MAX_REQUEST_BYTES} bytes`);
      let body = {};
      if (req.method === 'POST') {
        try {
          body = raw ? JSON.parse(raw) : {};
        } catch {
          return error(res, 400, GRPC.INVALID_ARGUMENT, 'The request body is not valid JSON');
        }
      }
      const entry = { method: req.method, path: url.pathname, namespace: body.namespace ?? '', apiVersion: req.headers['x-pinecone-api-version'] };
      stand.log.push(entry);
      handler(body, res, entry, url);
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  stand.port = server.address().port;
  stand.host = `http://127.0.0.1:${stand.port}`;
  stand.close = () => new Promise((resolve) => server.close(resolve));
  return stand;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const stand = await startPineconeStandIn({
    dimension: Number(arg('--dimension', '8')), apiKey: arg('--api-key', 'pinecone-test-key'), metric: arg('--metric', 'cosine'),
    filterDeletes: arg('--filter-deletes', 'true') === 'true',
  });
  process.stdout.write(JSON.stringify({ port: stand.port }) + '\n');
  process.on('SIGTERM', () => process.exit(0));
}
