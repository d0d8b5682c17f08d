// The producer side of BullMQ for bench/peers.py (see bench/peers/driver.py for the phases):
//   PEERS_REDIS_URL=redis://127.0.0.1:PORT/DB node bullmq_driver.mjs PHASE COUNT [BATCH] [WARMUP]
// submit: Queue.add one after the other; fill: Queue.addBulk in batches; roundtrips: Queue.add, then
// Job.waitUntilFinished(QueueEvents) (events read from the queue's stream with XREAD BLOCK).
import { Queue, QueueEvents } from 'bullmq';
import { checkEcho, driverArguments, now, roundtrips } from './phases.mjs';

const { phase, count, batch, warmup } = driverArguments();
const url = new URL(process.env.PEERS_REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port), db: Number(url.pathname.slice(1) || 0) };
const name = process.env.PEERS_QUEUE ?? 'peers';

const queue = new Queue(name, { connection });
let events = null;
let reply;
try {
  await queue.waitUntilReady();
  if (phase === 'submit') {
    await queue.add('echo', { value: -1 });
    const started = now();
    for (let value = 0; value < count; value += 1) await queue.add('echo', { value });
    reply = { rate: count / ((now() - started) / 1000) };
  } else if (phase === 'fill') {
    const started = now();
    for (let start = 0; start < count; start += batch) {
      const jobs = [];
      for (let value = start; value < Math.min(count, start + batch); value += 1) jobs.push({ name: 'echo', data: { value } });
      await queue.addBulk(jobs);
    }
    reply = { rate: count / ((now() - started) / 1000), api: 'Queue.addBulk' };
  } else if (phase === 'roundtrips') {
    events = new QueueEvents(name, { connection });
    await events.waitUntilReady();
    const call = async (value, timeout) => {
      const job = await queue.add('echo', { value });
      checkEcho(value, await job.waitUntilFinished(events, timeout));
    };
    reply = await roundtrips(call, warmup, count);
  } else {
    throw new Error(`unknown phase ${phase}`);
  }
} finally {
  if (events) await events.close();
  await queue.close();
}
console.log(JSON.stringify(reply));
