// The Node client's part of `make bench`, run by bench/bench.py against a worker it started:
//   node bench/node_bench.mjs URL PREFIX QUEUE FUNCTION SUBMITS ROUNDTRIPS
// Prints one JSON line: submits per second (one after the other, and in submitMany calls of 1,000), round-trip p50 and p99 in ms
// (submit -> result, one after the other), and tasks per second with 100 calls in flight at once.
import { createClient } from '../clients/node/index.mjs';

const [url, prefix, queue, fn, submits, roundtrips] = process.argv.slice(2);
const client = await createClient({ url, prefix, queue });
const now = () => performance.now();
try {
  const submitPrefix = `${prefix}-submit`;
  const producer = await createClient({ url, prefix: submitPrefix, queue });
  await producer.submit(fn); // untimed: connects the subscriber
  let started = now();
  for (let i = 0; i < Number(submits); i += 1) await producer.submit(fn);
  const submitRate = Number(submits) / ((now() - started) / 1000);
  const batch = Array.from({ length: 1000 }, (_, n) => ({ n }));
  started = now();
  for (let done = 0; done < Number(submits); done += batch.length) {
    await producer.submitMany(fn, batch.slice(0, Math.min(batch.length, Number(submits) - done)));
  }
  const submitManyRate = Number(submits) / ((now() - started) / 1000);
  await producer.close();

  for (let i = 0; i < 100; i += 1) await client.call(fn, {}, { timeout: 30_000 }); // warm-up
  const samples = [];
  for (let i = 0; i < Number(roundtrips); i += 1) {
    const begun = now();
    await client.call(fn, {}, { timeout: 30_000 });
    samples.push(now() - begun);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.round(q * (samples.length - 1)))];

  const total = Number(submits);
  started = now();
  let next = 0;
  const lane = async () => {
    while (next < total) {
      next += 1;
      await client.call(fn, {}, { timeout: 30_000 });
    }
  };
  await Promise.all(Array.from({ length: 100 }, lane));
  const concurrentRate = total / ((now() - started) / 1000);
  console.log(JSON.stringify({ submitRate, submitManyRate, p50: at(0.5), p99: at(0.99), concurrentRate, watching: client.watching }));
} finally {
  await client.close();
}
