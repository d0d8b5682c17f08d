"""The producer side of doshit for bench/peers.py, run by the project's .venv:

    PEERS_REDIS_URL=redis://127.0.0.1:PORT/DB python doshit_driver.py [options] PHASE COUNT [BATCH] [WARMUP]

Phases as bench/peers/driver.py's (``submit``, ``fill``, ``roundtrips``), with the sync ``Client``;
``fill`` uses ``Client.submit_many`` (timed), or with ``--atomic`` the hashes and one push in one
MULTI/EXEC, untimed (so that a worker sees all of them at once). Two more for ``--scale``:
``backlog`` writes COUNT tasks (the hashes a submit writes and their ids pushed) on ``--queue`` in
pipelines of 10,000; ``sleepers`` submits COUNT ``sleep_async`` tasks. One JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import redis

from doshit import Client
from doshit._core.flows import new_task_id, submit_fields
from doshit._core.keys import Keys

FIRST_TIMEOUT = 60.0
TIMEOUT = 30.0
PIPELINE = 10_000


def chunks(count: int, size: int) -> Iterator[range]:
    for start in range(0, count, size):
        yield range(start, min(count, start + size))


def write_tasks(r: redis.Redis, keys: Keys, queue: str, function: str, args: list[dict[str, Any]]) -> None:
    """The tasks as a submit writes them and one push of all their ids, in one MULTI/EXEC."""
    pipe = r.pipeline(transaction=True)
    ids = []
    for kwargs in args:
        task_id = new_task_id()
        ids.append(task_id)
        pipe.hset(keys.task(task_id), mapping=submit_fields(function, kwargs, queue=queue))  # type: ignore[arg-type]
    pipe.lpush(keys.pending(queue), *ids)
    pipe.execute()


def check(value: int, result: Any) -> None:
    if result != value:
        raise RuntimeError(f"a task called with {value!r} returned {result!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("phase", choices=["submit", "fill", "roundtrips", "backlog", "sleepers"])
    parser.add_argument("count", type=int)
    parser.add_argument("batch", type=int, nargs="?", default=1000)
    parser.add_argument("warmup", type=int, nargs="?", default=50)
    parser.add_argument("--function", default="echo")
    parser.add_argument("--queue", default="peers")
    parser.add_argument("--prefix", default="peers")
    parser.add_argument("--atomic", action="store_true", help="fill: all in one MULTI/EXEC, even with submit_many")
    args = parser.parse_args(argv)
    url = os.environ["PEERS_REDIS_URL"]
    keys = Keys(args.prefix)
    count: int = args.count
    reply: dict[str, Any]
    with Client(url, prefix=args.prefix, queue=args.queue) as client, redis.Redis.from_url(url) as r:
        if args.phase == "submit":
            client.submit(args.function, value=-1)  # untimed: connects and subscribes to the results channel
            started = time.perf_counter()
            for value in range(count):
                client.submit(args.function, value=value)
            reply = {"rate": count / (time.perf_counter() - started)}
        elif args.phase == "fill" and not args.atomic:
            started = time.perf_counter()
            for values in chunks(count, args.batch):
                client.submit_many(args.function, [{"value": value} for value in values])
            reply = {"rate": count / (time.perf_counter() - started), "api": "Client.submit_many"}
        elif args.phase == "fill":
            write_tasks(r, keys, args.queue, args.function, [{"value": value} for value in range(count)])
            reply = {"na": "--atomic"}
        elif args.phase == "roundtrips":
            for value in range(args.warmup):
                timeout = FIRST_TIMEOUT if value == 0 else TIMEOUT
                check(value, client.submit(args.function, value=value).wait_result(timeout=timeout))
            samples = []
            for value in range(count):
                started = time.perf_counter()
                result = client.submit(args.function, value=value).wait_result(timeout=TIMEOUT)
                samples.append((time.perf_counter() - started) * 1000)
                check(value, result)
            reply = {"samples": samples}
        elif args.phase == "backlog":
            started = time.perf_counter()
            fields = submit_fields(args.function, {"value": -1}, queue=args.queue)
            for part in chunks(count, PIPELINE):
                pipe = r.pipeline(transaction=False)
                ids = [new_task_id() for _ in part]
                for task_id in ids:
                    pipe.hset(keys.task(task_id), mapping=fields)
                pipe.lpush(keys.pending(args.queue), *ids)
                pipe.execute()
            reply = {"seconds": time.perf_counter() - started}
        else:  # sleepers
            write_tasks(r, keys, args.queue, "sleep_async", [{"seconds": 3600}] * count)
            reply = {"count": count}
    print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
