// Compiled by `npm run typecheck` (tsc --strict, never run): the declarations fit real use from ES modules.
import doshit, { createClient, TaskFailedError, type RequeueOutcome, type TaskInfo, type Value } from 'doshit';

const client = await createClient({ url: 'redis://127.0.0.1:6379/0' });
const task = await client.submit('echo', { text: 'hi' });
const args: Value = { nested: [1, 'two', null, new Date()] };
try {
  console.log(await task.result({ timeout: 10_000 }), args);
} catch (error) {
  if (error instanceof TaskFailedError) {
    const info: TaskInfo = error.task;
    console.log(info.errorReason);
  }
}
const outcome: RequeueOutcome = await (await client.submit('echo', {}, { at: new Date(), timeout: 5 })).requeue();
console.log(outcome);
const many = await client.submitMany<string>('echo', [{ text: 'a' }, { text: 'b' }], { retries: 2, delay: 1 });
const first: string = await many[0].result();
console.log(first);
await client.close();
doshit('redis://127.0.0.1:6379/0').end();
