// What the Node drivers of bench/peers.py share: their arguments and the timed round trips.
//   node DRIVER.mjs PHASE COUNT [BATCH] [WARMUP]

/** The phase, the task count, the batch size and the untimed warm-up calls, from the command line. */
export function driverArguments() {
  const [phase, countText, batchText = '1000', warmupText = '50'] = process.argv.slice(2);
  return { phase, count: Number(countText), batch: Number(batchText), warmup: Number(warmupText) };
}

export const now = () => performance.now();

/** `warmup` untimed calls, then `count` timed ones (ms each); `call(value, timeout)` must return value. */
export async function roundtrips(call, warmup, count) {
  for (let value = 0; value < warmup; value += 1) await call(value, value === 0 ? 60_000 : 30_000);
  const samples = [];
  for (let value = 0; value < count; value += 1) {
    const started = now();
    await call(value, 30_000);
    samples.push(now() - started);
  }
  return { samples };
}

/** Throws unless a task called with `value` returned it. */
export function checkEcho(value, result) {
  if (result !== value) throw new Error(`a task called with ${value} returned ${result}`);
}
