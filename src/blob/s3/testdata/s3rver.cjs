// The blob tests' S3 server: @20minutes/s3rver (a real S3 implementation on disk that checks
// AWS Signature V4) behind a small proxy that can inject failures and records the requests.
//   node s3rver.cjs <s3rver package dir> <data dir> <bucket> [<proxy port>]
// Prints {"port": <proxy>, "direct": <s3rver>} once listening. Proxy controls (unsigned, never
// forwarded): POST /__faults with a JSON list of faults applied to the next requests, in order
// ({"status": 503, "code": "SlowDown"} answers that error; {"drop": true} closes the connection
// without an answer); GET /__log lists "METHOD /path?query" of the requests forwarded so far.
'use strict';
const http = require('node:http');
const path = require('node:path');
const [packageDir, dataDir, bucket, proxyPort] = process.argv.slice(2);
const S3rver = require(path.join(packageDir, 'node_modules', '@20minutes', 's3rver'));

const faults = [];
const log = [];

async function main() {
  const server = new S3rver({
    port: 0, address: '127.0.0.1', directory: dataDir, silent: true, serviceEndpoint: 'localhost',
    configureBuckets: [{ name: bucket }],
  });
  const direct = (await server.run()).port;
  const proxy = http.createServer((req, res) => {
    if (req.url === '/__faults' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => { faults.push(...JSON.parse(body)); res.end('ok'); });
      return;
    }
    if (req.url === '/__log') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(log));
      return;
    }
    const fault = faults.shift();
    if (fault && fault.drop) {
      req.socket.destroy();
      return;
    }
    if (fault) {
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>injected by the test</Message></Error>`);
      });
      return;
    }
    log.push(`${req.method} ${req.url}`);
    const upstream = http.request({ host: '127.0.0.1', port: direct, method: req.method, path: req.url, headers: req.headers },
      (up) => { res.writeHead(up.statusCode, up.headers); up.pipe(res); });
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  proxy.listen(Number(proxyPort ?? 0), '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: proxy.address().port, direct }) + '\n');
  });
}
main().catch((e) => { console.error(e); process.exit(1); });
