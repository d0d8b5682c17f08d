// BullMQ's worker for bench/peers.py: one Node process, concurrency 1, default options (completed
// jobs are kept). The processor counts itself on the shared counter and returns its argument.
//   PEERS_REDIS_URL=redis://127.0.0.1:PORT/DB node bullmq_worker.mjs
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const url = new URL(process.env.PEERS_REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port), db: Number(url.pathname.slice(1) || 0) };
const counterKey = process.env.PEERS_COUNTER ?? 'peers:done';
const counter = new Redis({ ...connection, lazyConnect: false });

const worker = new Worker(
  process.env.PEERS_QUEUE ?? 'peers',
  async (job) => {
    await counter.incr(counterKey);
    return job.data.value;
  },
  { connection, concurrency: 1 },
);
worker.on('error', (error) => console.error(error));

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await worker.close();
  counter.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
