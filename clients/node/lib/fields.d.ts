// GENERATED from schema/schema.json by schema/codegen.py: do not edit by hand.

/** The task hash's fields, decoded; null when the hash does not have the field. */
export interface TaskFields {
  /** `function`: The registered name of the function to run. */
  readonly function: string | null;
  /** `state`: pending, executing or finished; scheduled (added) while it waits for its time. */
  readonly state: 'pending' | 'executing' | 'scheduled' | 'finished' | null;
  /** `args`: JSON object of named arguments. Written compact; legacy producers pretty-printed it with indent 2, which readers accept. */
  readonly args: Record<string, unknown> | null;
  /** `pending-created`: When it was submitted. The legacy Node producer omitted it. */
  readonly pendingCreated: Date | null;
  /** `executing-created`: When a worker took it. */
  readonly executingCreated: Date | null;
  /** `finished-created`: When it finished. */
  readonly finishedCreated: Date | null;
  /** `result`: successful or failed. */
  readonly result: 'successful' | 'failed' | null;
  /** `result-value`: JSON of the return value, on success. Always written, also for 0, "", false, [], {} and null. */
  readonly resultValue: unknown | null;
  /** `error-reason`: One readable line on failure, e.g. `ValueError: bad input` or `task was pubsub killed`. */
  readonly errorReason: string | null;
  /** `error-exception`: The traceback or other detail text, on failure. */
  readonly errorException: string | null;
  /** `username`: Optional free text naming who submitted it. */
  readonly username: string | null;
  /** `virtual-memory-limit`: Optional bytes; the worker sets RLIMIT_AS to it for the task's process. */
  readonly virtualMemoryLimit: number | bigint | null;
  /** `schema-version`: The schema version the producer wrote. Absent on tasks written by legacy producers. */
  readonly schemaVersion: number | bigint | null;
  /** `queue`: The queue the task was pushed on; the worker records the queue it took it from. */
  readonly queue: string | null;
  /** `worker`: Id of the worker that took the task; only that worker may finish it. */
  readonly worker: string | null;
  /** `result-ttl`: Optional seconds to keep the hash once finished (0 keeps it forever), at most limits.result_ttl_max_seconds. Without it the worker's default applies. */
  readonly resultTtl: number | bigint | null;
  /** `retries`: Optional: how many more times the task may run after a failure, a time limit or a dead worker. Without it the function's retry policy applies to failures, and the worker's --recovery-retries (default 2) to a dead worker. */
  readonly retries: number | bigint | null;
  /** `timeout`: Optional seconds the task may run before the worker kills it (task exceeded its time limit). Without it the function's or the worker's default applies. */
  readonly timeout: number | bigint | null;
  /** `attempt`: Which run this is: the claim counts it up (1 for the first). A task given back unstarted at shutdown, or never claimed, does not count. */
  readonly attempt: number | bigint | null;
  /** `scheduled-for`: When a scheduled task is due (the producer's or the retrying worker's clock). */
  readonly scheduledFor: Date | null;
  /** `errors`: The failures of earlier attempts, oldest first, at most 10: objects with attempt, reason and at (a timestamp), and where known worker (its id) and exception (the last 4000 characters of its error-exception). */
  readonly errors: unknown[] | null;
  /** `orphan-since`: Unix milliseconds (the Redis server's clock) when a worker first found the task on executing with no live worker to own it; removed when its owner is seen alive or it is claimed. */
  readonly orphanSince: number | bigint | null;
  /** `kill-requested`: When a client asked to kill the task while it was executing. The kill command also goes out on the cmd channel; a worker that was not listening at that moment finds this mark when it listens again. */
  readonly killRequested: Date | null;
  /** `progress`: How far the running task got, as the task reported it (a fraction from 0 to 1, or any JSON value, at most 64 KiB); written at most every quarter of a second by the progress script, only for the run named by worker and attempt, and kept once it finished. */
  readonly progress: unknown | null;
  /** `meta`: Free metadata from the producer that is not an argument: a trace context (traceparent), a request id. Passed to the worker's event hooks, never to the function. */
  readonly meta: Record<string, unknown> | null;
}
