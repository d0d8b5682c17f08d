#!/usr/bin/env python3
"""What an index of finished tasks would cost: one more ZADD with every finish.

    .venv/bin/python bench/finished_index.py [--tasks 20000] [--redis-url URL]

Finished tasks have no index: ``doshit tasks --state successful`` and ``doshit purge --finished`` SCAN
the task keys. An index (a zset ``{prefix}:{queue}:finished`` scored by the finish time) would make
them cheap, but every finish, the worker's hot path, would write one more member, and the index
would need trimming as hashes expire. This measures the finish script alone against the finish script
followed by a ZADD in the same pipeline (one round trip either way), one task at a time and in
pipelines of 50 (a busy worker's batches), plus the memory an index entry takes. Without --redis-url
it starts a private redis-server. Prints a markdown table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Sequence

import redis

from doshit._core import codec
from doshit._core.keys import Keys
from doshit._core.schema import SCRIPTS
from doshit._core.scripts import script_call
from doshit.testing import PrivateRedis

WORKER = "bench-worker"


def prepare(conn: redis.Redis, keys: Keys, count: int) -> list[str]:
    """``count`` tasks claimed by WORKER. Their ids are not pushed on the executing list: a real one holds
    about as many ids as the workers run at once, and an LREM over ``count`` of them would swamp the
    figures."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    pipe = conn.pipeline(transaction=False)
    for task_id in ids:
        pipe.hset(keys.task(task_id), mapping={
            "function": "noop", "state": "executing", "args": "{}", "queue": "default", "worker": WORKER,
            "attempt": "1", "pending-created": codec.now_timestamp(), "executing-created": codec.now_timestamp(),
        })  # fmt: skip
    pipe.execute()
    return ids


def finish_args(keys: Keys, task_id: str) -> tuple[str, ...]:
    call = script_call(
        "finish",
        keys=dict(task=keys.task(task_id), executing=keys.executing("default"), failed=keys.failed("default")),
        argv=dict(
            task_id=task_id,
            worker_id=WORKER,
            attempt="1",
            results_channel=keys.results,
            default_ttl="604800",
            failed_at_ms="",
            field_values={
                "state": "finished",
                "finished-created": codec.now_timestamp(),
                "result": "successful",
                "result-value": "null",
            },
        ),
    )
    return ("EVALSHA", call.spec.sha, str(len(call.keys)), *call.keys, *call.argv)


def run(conn: redis.Redis, commands: Sequence[tuple[tuple[str, ...], ...]], batch: int) -> float:
    """Seconds per task to send every task's commands, ``batch`` tasks per round trip."""
    started = time.perf_counter()
    for start in range(0, len(commands), batch):
        pipe = conn.pipeline(transaction=False)
        for task in commands[start : start + batch]:
            for command in task:
                pipe.execute_command(*command)
        pipe.execute()
    return (time.perf_counter() - started) / len(commands)


PREFIX = "bench-fi"
ROUNDS = 3


def server_usec(conn: redis.Redis) -> dict[str, float]:
    """Microseconds Redis spent per call, by command, since the last CONFIG RESETSTAT."""
    stats = conn.info("commandstats")
    return {name.removeprefix("cmdstat_"): float(value["usec_per_call"]) for name, value in stats.items()}


def measure(url: str, count: int) -> None:
    conn = redis.Redis.from_url(url, decode_responses=True)
    conn.script_load(SCRIPTS["finish"].source)
    keys = Keys(PREFIX)
    index = f"{PREFIX}:default:finished"
    rows = []
    per_entry = 0.0
    server: dict[str, float] = {}
    for batch in (1, 50):
        best = {"finish": float("inf"), "finish + ZADD": float("inf")}
        for _ in range(ROUNDS):  # alternated, best of each: the least disturbed by anything else
            for name in best:
                ids = prepare(conn, keys, count)
                commands = [
                    (finish_args(keys, task_id), ("ZADD", index, str(time.time() * 1000), task_id))
                    if name != "finish"
                    else (finish_args(keys, task_id),)
                    for task_id in ids
                ]
                conn.config_resetstat()
                best[name] = min(best[name], run(conn, commands, batch))
                if name != "finish":
                    server = server_usec(conn)
                    per_entry = (conn.memory_usage(index) or 0) / max(1, conn.zcard(index))
                conn.delete(*[keys.task(task_id) for task_id in ids], index, keys.executing("default"))
        extra = best["finish + ZADD"] - best["finish"]
        rows.append(
            (batch, best["finish"] * 1e6, best["finish + ZADD"] * 1e6, extra * 1e6, 100 * extra / best["finish"])
        )
    version = conn.info("server")["redis_version"]
    print(f"{count} tasks per run, best of {ROUNDS}; Redis {version}")
    print(
        f"Redis CPU per call: finish script (EVALSHA) {server.get('evalsha', 0):.1f} us, "
        f"ZADD {server.get('zadd', 0):.1f} us; one index entry ~{per_entry:.0f} bytes\n"
    )
    print("| finishes per round trip | finish (us/task) | finish + ZADD (us/task) | extra (us) | extra (%) |")
    print("|---:|---:|---:|---:|---:|")
    for batch, base_us, with_us, extra_us, percent in rows:
        print(f"| {batch} | {base_us:.1f} | {with_us:.1f} | {extra_us:+.1f} | {percent:+.0f}% |")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    if args.redis_url:
        measure(args.redis_url, args.tasks)
        return
    with PrivateRedis() as url:
        measure(url, args.tasks)


if __name__ == "__main__":
    main()
