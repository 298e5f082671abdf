// A child process of socketio.test.mjs: connects N socket.io-client sockets (WebSocket only) with
// one token and reports on stdout: "connected N" once all are, then "got N" as each hears
// document.ready for the given document. Several run side by side so that no single process
// needs more descriptors than a default limit allows.
import { io } from 'socket.io-client';

const [url, token, count] = process.argv.slice(2);
const n = Number(count);
const sockets = [];
let connected = 0;
let got = 0;
let target = null;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (line) => {
  target = line.trim();
});
for (let i = 0; i < n; i++) {
  const s = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  s.on('connect', () => {
    connected += 1;
    if (connected === n) console.log(`connected ${n}`);
  });
  s.on('connect_error', (e) => console.log(`error ${e.message}`));
  s.on('document.ready', (data) => {
    if (data.document_id !== target) return;
    got += 1;
    console.log(`got ${got}`);
  });
  sockets.push(s);
}
process.on('SIGTERM', () => {
  for (const s of sockets) s.close();
  process.exit(0);
});
