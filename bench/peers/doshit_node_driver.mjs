// The producer side of doshit's Node client for bench/peers.py (see bench/peers/driver.py for the
// phases), against a Python worker:
//   PEERS_REDIS_URL=redis://127.0.0.1:PORT/DB node doshit_node_driver.mjs PHASE COUNT [BATCH] [WARMUP]
// submit: client.submit one after the other; fill: client.submitMany in batches;
// roundtrips: client.submit, then task.result().
import { createClient } from '../../clients/node/index.mjs';
import { checkEcho, driverArguments, now, roundtrips } from './phases.mjs';

const { phase, count, batch, warmup } = driverArguments();
const queue = process.env.PEERS_QUEUE ?? 'peers';

const client = await createClient({ url: process.env.PEERS_REDIS_URL, prefix: 'peers', queue });
let reply;
try {
  if (phase === 'submit') {
    await client.submit('echo', { value: -1 }); // untimed: connects the subscriber
    const started = now();
    for (let value = 0; value < count; value += 1) await client.submit('echo', { value });
    reply = { rate: count / ((now() - started) / 1000) };
  } else if (phase === 'fill') {
    const started = now();
    for (let start = 0; start < count; start += batch) {
      const argsList = [];
      for (let value = start; value < Math.min(count, start + batch); value += 1) argsList.push({ value });
      await client.submitMany('echo', argsList);
    }
    reply = { rate: count / ((now() - started) / 1000), api: 'client.submitMany' };
  } else if (phase === 'roundtrips') {
    const call = async (value, timeout) => {
      const task = await client.submit('echo', { value });
      checkEcho(value, await task.result({ timeout }));
    };
    reply = await roundtrips(call, warmup, count);
  } else {
    throw new Error(`unknown phase ${phase}`);
  }
} finally {
  await client.close();
}
console.log(JSON.stringify(reply));
