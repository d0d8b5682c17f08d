// GENERATED from schema/schema.json by schema/codegen.py: do not edit by hand.

/** The task hash's fields, decoded; null when the hash does not have the field. */
export interface TaskFields {
  /** `function`: The registered name of the function to run. */
  readonly function: string | null;
  /** `state`: pending, executing or finished. */
  readonly state: 'pending' | 'executing' | 'finished' | null;
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
  /** `kill-requested`: When a client asked to kill the task while it was executing. The kill command also goes out on the cmd channel; a worker that was not listening at that moment finds this mark when it listens again. */
  readonly killRequested: Date | null;
}
