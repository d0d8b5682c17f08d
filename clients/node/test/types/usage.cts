// Compiled by `npm run typecheck` (tsc --strict, never run): the declarations fit real use from CommonJS.
import doshit = require('../..');

async function main(): Promise<void> {
  const client: doshit.Client = await doshit.createClient({ url: 'redis://127.0.0.1:6379/0', prefix: 'doshit' });
  const task = await client.submit<string>('echo', { text: 'hi', when: new Date(), big: 2n ** 64n, none: undefined }, { queue: 'default' });
  const text: string = await task.result({ timeout: 10_000 });
  const sum = await client.call<number>('add', { a: 1, b: 2 });
  const info = await client.getTask(task.id);
  const created: Date | null = info.pendingCreated;
  const killed: Date | null = info.killRequested;
  const limited = await doshit.createClient({ maxArgsBytes: 1 << 20, virtualMemoryLimit: 2n ** 40n, redis: { socket: { tls: true, ca: 'PEM' } } });
  const fromBytes = new doshit.TaskInfo('id', { args: Buffer.from('{}'), state: 'pending' });
  console.log(killed, limited.queue, fromBytes.args);
  const state: 'pending' | 'executing' | 'scheduled' | 'finished' | null = info.state;
  const outcome: doshit.CancelOutcome = await client.cancel(task.id);
  const later = await client.submit('echo', {}, { delay: 60, retries: 2n, timeout: 30 });
  const timed = await client.submit('echo', {}, { at: new Date(Date.now() + 60_000), retries: 0 });
  const again: doshit.RequeueOutcome = await later.requeue();
  const requeued: 'requeued' | 'not_failed' | 'missing' = await client.requeue(timed.id);
  const due: Date | null = (await later.info()).scheduledFor;
  const history: unknown[] | null = info.errors;
  const attempt: number | bigint | null = info.attempt;
  const waited = await client.call<number>('add', { a: 1 }, { timeout: 5_000, retries: 1, delay: 0 });
  console.log(again, requeued, due, history, attempt, waited, client.keys.scheduled('default'), client.keys.scheduledCommand('default'));
  try {
    await client.task(task.id).result();
  } catch (error) {
    if (error instanceof doshit.TaskFailedError) console.log(error.errorReason, error.errorException, error.task.args);
  }
  client.on('error', (error: Error) => console.log(error.message));
  console.log(text, sum, created, state, outcome, doshit.encode({ a: 1 }), doshit.DoshitDate.fromTimestamp('x').micros);
  await client.close();

  const onCluster = await doshit.createClient({ url: 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001' });
  const keys = new doshit.Keys('doshit', { cluster: true });
  const stored: string = keys.taskIdFor('default', keys.idTag('default') + 'x');
  const tagged: string | null = keys.queueOfId(stored);
  console.log(onCluster.keys.cluster, tagged, onCluster.redis.isOpen);
  await onCluster.close();

  const legacy = doshit('redis://127.0.0.1:6379/0', 'doshit', 'default');
  const id: string = legacy.task('echo', { text: 'hi' }, (err, value, hash) => console.log(err, value, hash?.['result-value']));
  legacy.on('success', (value, hash, taskId: string) => console.log(value, hash, taskId));
  legacy.gettask(id, (err, hash) => console.log(err, hash));
  await legacy.quit();
  legacy.end();
}

void main;
