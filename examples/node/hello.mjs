// A Node.js producer for the Python worker of examples/tasks.py:
//
//   .venv/bin/doshit-worker --queue default --app examples.tasks     (in one terminal)
//   node examples/node/hello.mjs                                      (in another)
//
// Redis: $DOSHIT_REDIS_URL, else redis://127.0.0.1:6379/0; key prefix: $DOSHIT_APP_PREFIX, else 'doshit'.
import { createClient, TaskFailedError } from '../../clients/node/index.mjs';

const client = await createClient();
const submitted = [];
try {
  const task = await client.submit('echo', { text: 'hello from Node.js' });
  submitted.push(task.id);
  console.log(`  echo(text='hello from Node.js') -> ${JSON.stringify(await task.result({ timeout: 20_000 }))}`);

  const sum = await client.submit('add', { a: 2, b: 40 });
  submitted.push(sum.id);
  console.log(`  add(a=2, b=40)                 -> ${await sum.result({ timeout: 20_000 })}`);

  const failing = await client.submit('fail', { message: 'bad input' });
  submitted.push(failing.id);
  try {
    await failing.result({ timeout: 20_000 });
  } catch (error) {
    if (!(error instanceof TaskFailedError)) throw error;
    console.log(`  fail(message='bad input')      -> TaskFailedError: ${error.errorReason}`);
  }

  const info = await client.getTask(task.id);
  const took = info.finishedCreated - info.pendingCreated;
  console.log(`  getTask(echo): state=${info.state} result=${info.result} worker=${info.worker} (${took} ms from submit to finish)`);
} finally {
  await client.close();
  if (process.env.DOSHIT_DEMO_IDS) console.log(`ids ${submitted.join(' ')}`); // for the demo's cleanup
}
