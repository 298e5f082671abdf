// The Node side of the BullMQ interop tests (redis_queue_interop_test.cpp): real `bullmq`
// (the pinned package in deps/bullmq) doing what a NestJS producer, a Node worker or a
// dashboard does, one action per run; prints its answer as one JSON line.
//   node bullmq_peer.cjs <redis port> <action> [argument JSON]
'use strict';
const path = require('node:path');
const deps = path.resolve(__dirname, '../../../../deps/bullmq/node_modules');
const { Queue, QueueEvents, Worker } = require(path.join(deps, 'bullmq'));
const IORedis = require(path.join(deps, 'ioredis'));

const [port, action, arg] = process.argv.slice(2);
const connection = { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null };
const name = 'file-processing';
const a = arg ? JSON.parse(arg) : {};

async function main() {
  const queue = new Queue(name, { connection });
  try {
    switch (action) {
      case 'add': {
        const job = await queue.add('FILE_PROCESS', a.data, a.opts || {});
        return { id: job.id };
      }
      case 'inspect': {
        const job = await queue.getJob(a.id);
        const workers = await queue.getWorkers();
        return {
          state: job ? await job.getState() : null,
          progress: job ? job.progress : null,
          attemptsMade: job ? job.attemptsMade : null,
          returnvalue: job ? job.returnvalue : null,
          failedReason: job ? job.failedReason : null,
          data: job ? job.data : null,
          counts: await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'paused'),
          workers: workers.map((w) => w.rawname),
        };
      }
      case 'wait': {
        // What a producer does to learn the outcome: QueueEvents and waitUntilFinished; the
        // progress events seen on the way are part of the answer. QueueEvents reads the events
        // stream from '$' once its first blocking read is sent, later than waitUntilReady: it
        // starts instead from the stream's last entry now, so no event after "listening" is missed.
        const redis = new IORedis(connection);
        const last = await redis.xrevrange(`bull:${name}:events`, '+', '-', 'COUNT', 1).finally(() => redis.quit());
        const events = new QueueEvents(name, { connection, lastEventId: last.length ? last[0][0] : '0-0' });
        const progress = [];
        events.on('progress', ({ jobId, data }) => { if (jobId === a.id) progress.push(data); });
        await events.waitUntilReady();
        console.log(JSON.stringify({ listening: true }));
        const job = await queue.getJob(a.id);
        try {
          const value = await job.waitUntilFinished(events, a.ttl || 20000);
          return { completed: value, progress };
        } catch (e) {
          return { failed: e.message, progress };
        } finally {
          await events.close();
        }
      }
      case 'work': {
        // A Node worker on the same queue takes `count` jobs and answers who ran them.
        let left = a.count || 1;
        const seen = [];
        await new Promise((resolve, reject) => {
          const worker = new Worker(name, async (job) => {
            seen.push(job.id);
            if (--left === 0) setImmediate(() => worker.close().then(resolve, reject));
            return { by: 'node', data: job.data };
          }, { connection, name: 'node-peer' });
          worker.on('error', reject);
        });
        return { ran: seen };
      }
      case 'pause': await queue.pause(); return { paused: true };
      case 'resume': await queue.resume(); return { paused: false };
      default: throw new Error('unknown action ' + action);
    }
  } finally {
    await queue.close();
  }
}

main().then((out) => { console.log(JSON.stringify(out)); process.exit(0); },
  (e) => { console.error(e && e.stack || e); process.exit(1); });
