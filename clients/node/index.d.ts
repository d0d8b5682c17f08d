// Type declarations of doshit for Node.js (CommonJS: `const doshit = require('doshit')`).
// The task hash's fields come from lib/fields.d.ts, generated from schema/schema.json.

import { EventEmitter } from 'node:events';
import type { RedisClientOptions, RedisClientType, RedisClusterType, RedisSentinelType } from '@redis/client';
import type { TaskFields as GeneratedTaskFields } from './lib/fields';

/** The legacy 1.1.2 entry point: `require('doshit')(redisUrl, prefix, queue)`. */
declare function doshit(redisUrl?: string, prefix?: string, queue?: string): doshit.LegacyClient;

declare namespace doshit {
  /** The task hash's fields, decoded (generated from schema/schema.json). */
  type TaskFields = GeneratedTaskFields;

  /** A value that travels as doshit JSON. BigInt carries integers beyond 2^53; a Date travels as a legacy datetime. */
  type Value = null | boolean | number | bigint | string | Date | Value[] | { [key: string]: Value | undefined };

  interface ClientOptions {
    /**
     * redis://, rediss://, unix:///path?db=N, redis+sentinel://host1:26379,host2:26379/service[/db]
     * or redis+cluster://host1:6379,host2:6379 (Redis Cluster; no database: none, / or /0).
     * Default: DOSHIT_REDIS_URL, else redis://127.0.0.1:6379/0.
     * A rediss:// URL may name TLS files as redis-py does: ?ssl_ca_certs=, ssl_certfile=, ssl_keyfile=
     * (read at createClient), and ssl_cert_reqs=none, ssl_check_hostname=false. Percent-encode '/'
     * and '@' in a password. A redis+sentinel:// URL asks the sentinels for the service's master and
     * follows its failovers; its user and password are the master's, ?sentinel_username= and
     * ?sentinel_password= the sentinels'. A redis+cluster:// URL names nodes to learn the cluster
     * from (port 6379 when left out); its user and password are every node's, its query may give
     * socket_connect_timeout (seconds); keys follow the cluster layout (see Keys). Any URL may add
     * ?durable_replicas=N&durable_timeout_ms=T: then a submit resolves only once N replicas have the
     * task (WAIT, on a cluster on the master of the task's slot), else it rejects with
     * TaskNotDurableError.
     */
    url?: string;
    /** Key prefix. Default: DOSHIT_APP_PREFIX, else 'doshit'. */
    prefix?: string;
    /** Queue submits go to. Default: DOSHIT_QUEUE, else 'default'. Not a reserved name (schema.names.reserved_queues). */
    queue?: string;
    /** Bytes of address space each submitted task may use (1 to 2^63-1). Default: DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT. */
    virtualMemoryLimit?: number | bigint;
    /**
     * The largest args a submit writes, in UTF-8 bytes of their JSON; a larger one is refused with a
     * RangeError before anything is written. Default: schema.limits.max_args_bytes (16 MiB).
     */
    maxArgsBytes?: number;
    /**
     * More node-redis options for both connections; they override the URL's (`socket` is merged
     * key by key), e.g. `{ socket: { tls: true, ca, cert, key } }` for TLS. On a cluster they go to
     * every node's connection (createCluster's `defaults`).
     */
    redis?: RedisClientOptions;
  }

  interface SubmitOptions {
    queue?: string;
    /**
     * Your own id: 1 to 256 characters, no whitespace or control characters, well-formed Unicode
     * (else a RangeError); refused with TaskExistsError if a task with it exists. Default: a uuid4.
     * On a cluster the id starts with its queue's tag: `{queue}:` is put in front unless it is
     * there (Task.id is the id as stored).
     */
    taskId?: string;
    username?: string;
    /** Bytes, a whole number from 1 to 2^63-1 (else a RangeError). */
    virtualMemoryLimit?: number | bigint;
    /**
     * Seconds to keep the finished task hash, a whole number from 0 (forever) to
     * schema.limits.result_ttl_max_seconds (else a RangeError). Default: the worker's (7 days).
     */
    resultTtl?: number | bigint;
    /**
     * How many more times the task may run after a failure, a time limit or a dead worker: a whole
     * number from 0 to 1000 (else a RangeError). Default: the function's retry policy for failures,
     * the worker's --recovery-retries for a dead worker.
     */
    retries?: number | bigint;
    /**
     * Whole seconds the task may run before the worker kills it, 1 to 10^9 (else a RangeError).
     * Default: the function's or the worker's. (In `call()`, `timeout` is the wait's, in milliseconds.)
     */
    timeout?: number | bigint;
    /**
     * Seconds from now (a number from 0, below 1e9, else a RangeError): the task waits in the
     * `scheduled` state until then. Not with `at` (a TypeError).
     */
    delay?: number;
    /** When to run it (a valid Date, else a TypeError or RangeError): it waits in the `scheduled` state until then. */
    at?: Date;
    /**
     * Producer metadata that is not an argument (an object of JSON values, e.g. a W3C
     * `traceparent`): written to the task's `meta` field and given to the worker's event hooks.
     */
    meta?: Record<string, unknown>;
  }

  interface WaitOptions {
    /** Milliseconds; without it, wait as long as it takes. */
    timeout?: number;
  }

  /** The submit options, but `timeout` is the wait's (milliseconds): call() cannot give a task a time limit. */
  type CallOptions = Omit<SubmitOptions, 'timeout'> & WaitOptions;

  type CancelOutcome = 'cancelled' | 'killing' | 'finished' | 'missing';

  /** 'requeued' (a failed task is pending again), 'not_failed' (nothing changed) or 'missing'. */
  type RequeueOutcome = 'requeued' | 'not_failed' | 'missing';

  /**
   * A snapshot of a task hash: `fields` raw, every schema field decoded (null when absent). Reading a
   * field that does not decode, or whose bytes were not valid UTF-8, throws a DecodeError naming it.
   */
  class TaskInfo {
    /** `fields`: field name -> its text, or its bytes as Redis holds them (decoded as UTF-8). */
    constructor(id: string, fields: Record<string, string | Uint8Array>);
    readonly id: string;
    /** The raw text of each field (bytes that were not UTF-8 read as U+FFFD). */
    readonly fields: Readonly<Record<string, string>>;
    readonly finished: boolean;
    /** The return value of a successful task; throws TaskFailedError for a failed one. */
    outcome(): unknown;
    /** Every field the hash has, decoded. */
    toObject(): { id: string } & Partial<TaskFields>;
  }
  /** One read-only property per schema field (lib/fields.d.ts, generated). */
  interface TaskInfo extends TaskFields {}

  class Task<R = unknown> {
    readonly client: Client;
    readonly id: string;
    /** The task hash's key. */
    readonly key: string;
    /** The queue it was submitted to (null for a handle made by client.task(id)). */
    readonly queue: string | null;
    /** The return value; rejects with TaskFailedError, TaskTimeoutError or TaskNotFoundError. */
    result(options?: WaitOptions): Promise<R>;
    /** The finished task, failed or not. */
    wait(options?: WaitOptions): Promise<TaskInfo>;
    poll(): Promise<boolean>;
    info(): Promise<TaskInfo>;
    /** Cancel it if pending or scheduled, kill it if executing. */
    cancel(): Promise<CancelOutcome>;
    /** Run it again if it failed. */
    requeue(): Promise<RequeueOutcome>;
  }

  class Client extends EventEmitter {
    readonly prefix: string;
    readonly queue: string;
    readonly keys: Keys;
    /**
     * The node-redis connection commands go out on: a RedisSentinel for a redis+sentinel:// URL, a
     * RedisCluster for a redis+cluster:// URL (the sendCommand of both also takes the RedisClient
     * form, sendCommand(args, options); the cluster's sends to the master of the command's first key).
     */
    readonly redis: RedisClientType | RedisSentinelType | RedisClusterType;
    /** How many task keys are still watched or kept (0 once every result was delivered). */
    readonly watching: number;
    submit<R = unknown>(fn: string, args?: Record<string, Value | undefined>, options?: SubmitOptions): Promise<Task<R>>;
    /**
     * Queue many calls at once, one object of named arguments each, all or none (one script call);
     * at most schema.limits.submit_many_max (10,000) per call. Options apply to every task.
     */
    submitMany<R = unknown>(
      fn: string,
      argsList: ReadonlyArray<Record<string, Value | undefined>>,
      options?: Omit<SubmitOptions, 'taskId'>,
    ): Promise<Array<Task<R>>>;
    call<R = unknown>(fn: string, args?: Record<string, Value | undefined>, options?: CallOptions): Promise<R>;
    /** A handle to any existing task by id; no I/O. */
    task<R = unknown>(taskId: string): Task<R>;
    getTask(taskId: string): Promise<TaskInfo>;
    /**
     * Cancel a pending or scheduled task (or the executing task of a worker found dead), or send the
     * kill command for one a live worker runs. `queue`: the task's queue when known (default: the
     * one its hash names). On a cluster the queue is the one the id's tag names, and an id without a
     * queue's tag is 'missing'.
     */
    cancel(taskId: string, queue?: string | null): Promise<CancelOutcome>;
    /** Run a failed task again: its failure joins `errors`, its result goes, it is pushed on its queue. */
    requeue(taskId: string): Promise<RequeueOutcome>;
    /** Ask every worker of this prefix to kill what it runs; resolves with how many heard it. */
    killAll(): Promise<number>;
    close(): Promise<void>;
    on(event: 'error', listener: (error: Error) => void): this;
  }

  function createClient(options?: ClientOptions): Promise<Client>;

  /** A task hash as the legacy client hands it out: field names as in Redis, JSON and timestamps decoded. */
  type LegacyTask = Record<string, unknown>;
  type LegacyCallback = (error: unknown, value: unknown, task: LegacyTask | null) => void;

  class LegacyClient extends EventEmitter {
    /** Returns the new task's id (on a cluster, {queue}:<uuid4>). */
    task(name: string, args: Record<string, Value | undefined>, cb?: LegacyCallback): string;
    /** Returns the id as stored: on a cluster with `{queue}:` put in front unless it is there. */
    taskwithid(taskId: string, name: string, args: Record<string, Value | undefined>, cb?: LegacyCallback): string;
    gettask(taskId: string, cb: (error: Error | null, task: LegacyTask | null) => void): void;
    quit(cb?: (error: Error | null) => void): Promise<void>;
    end(): void;
    on(event: 'success', listener: (value: unknown, task: LegacyTask, taskId: string) => void): this;
    on(event: 'failure', listener: (error: unknown, task: LegacyTask, taskId: string) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
  }

  /**
   * The keys, channels and commands of one prefix. With `cluster` they follow the Redis Cluster
   * layout (schema.cluster): a queue's keys carry the queue as hash tag (doshit:{default}:pending),
   * the prefix-wide ones the prefix ({doshit}:worker:<id>), and a task id starts with its queue's
   * tag ({default}:<uuid4>), so a queue's keys and tasks share one slot.
   */
  class Keys {
    constructor(prefix?: string, options?: { cluster?: boolean });
    readonly prefix: string;
    /** Whether the keys follow the Redis Cluster layout. */
    readonly cluster: boolean;
    /** What starts the id of every task of the queue: '{queue}:' on a cluster, else ''. */
    idTag(queue: string): string;
    /**
     * The id a task of `queue` given `taskId` is stored under: on a cluster with the queue's tag put
     * in front unless it starts with it; a RangeError for a bad id.
     */
    taskIdFor(queue: string, taskId: string): string;
    /** The queue whose hash tag starts a task id ('{emails}:x' names emails), or null. */
    queueOfId(taskId: string): string | null;
    readonly results: string;
    readonly cmd: string;
    readonly killAll: string;
    task(taskId: string): string;
    taskId(taskKey: string): string | null;
    pending(queue: string): string;
    executing(queue: string): string;
    /** The queue's scheduled set: task ids scored by when they are due (unix ms). */
    scheduled(queue: string): string;
    /** The queue's failed index: task ids scored by when they failed (unix ms). */
    failed(queue: string): string;
    /** The lock of the queue's recovery round. */
    recovery(queue: string): string;
    /** The cmd-channel message that wakes the queue's workers for a scheduled task. */
    scheduledCommand(queue: string): string;
    worker(workerId: string): string;
    kill(taskId: string): string;
  }

  /** A Date that keeps the microseconds of a doshit timestamp (`micros`: 0 to 999 below the millisecond). */
  class DoshitDate extends Date {
    constructor(time: number | string | Date, micros?: number);
    readonly micros: number;
    static fromTimestamp(text: string): DoshitDate;
    toTimestamp(): string;
  }

  /** Compact JSON, exactly as the Python client writes it; EncodeError for what JSON cannot hold exactly. */
  function encode(value: unknown, name?: string): string;
  /** JSON text; integers beyond 2^53 become BigInt, legacy datetimes DoshitDate. */
  function decode(text: string): unknown;
  function formatTimestamp(date: Date): string;
  function parseTimestamp(text: string): DoshitDate;

  /** schema/schema.json, with each script's Lua source and SHA1. */
  const schema: Readonly<Record<string, any>>;

  class DoshitError extends Error {}
  class EncodeError extends DoshitError {}
  class DecodeError extends DoshitError {}
  class ConfigError extends DoshitError {}
  class TaskExistsError extends DoshitError {
    readonly taskId: string;
  }
  /**
   * A submit asked for replicas (the URL's durable_replicas) and fewer had the task within
   * durable_timeout_ms. The task is written to the master and runs, unless a failover loses it.
   */
  class TaskNotDurableError extends DoshitError {
    readonly taskId: string;
    /** How many replicas had it. */
    readonly acknowledged: number;
  }
  class TaskNotFoundError extends DoshitError {
    readonly taskId: string;
  }
  class TaskTimeoutError extends DoshitError {
    readonly taskId: string;
    readonly timeout: number;
    readonly state: string | null;
  }
  class TaskFailedError extends DoshitError {
    readonly taskId: string;
    /** The task's error-reason: one readable line. */
    readonly errorReason: string;
    /** The task's error-exception: usually the remote traceback ('' when there is none). */
    readonly errorException: string;
    readonly task: TaskInfo;
  }
}

export = doshit;
