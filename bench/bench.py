#!/usr/bin/env python3
"""doshit benchmark: submit throughput, drain throughput of one worker, round-trip latency; from
Python, and from Node.js (bench/node_bench.mjs) when Node and the client's packages are there.

    make bench                      # or: .venv/bin/python bench/bench.py [--quick] [--redis-url URL]

Without --redis-url it starts a private redis-server on a free loopback port (so nothing else
disturbs the figures) and stops it at the end. Every measurement uses a fresh key prefix and deletes
its keys afterwards. Workers are real ``doshit-worker`` processes serving bench/noop_tasks.py.
Progress goes to stderr; the result is a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import redis

from doshit import Client
from doshit._core.flows import new_task_id, submit_fields
from doshit._core.keys import Keys
from doshit.testing import PrivateRedis, answers

ROOT = Path(__file__).resolve().parent.parent
APP = "bench.noop_tasks"
QUEUE = "default"
POLL = 0.01
"""Seconds between checks whether a drain is complete."""
WARMUP = 20
"""Untimed round trips before the timed ones (connections, subscription, child processes warm)."""

TARGET_FASTEST = 5000.0
TARGET_ISOLATED = 2000.0
TARGET_P50_MS = 1.0
TARGET_BATCH = 50_000.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fresh_prefix() -> str:
    return f"bench-{uuid.uuid4().hex[:10]}"


def cleanup(r: redis.Redis, prefix: str) -> None:
    """Delete every key of one measurement's prefix."""
    batch: list[str] = []
    for key in r.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            r.unlink(*batch)
            batch.clear()
    if batch:
        r.unlink(*batch)


@dataclass
class WorkerSpec:
    pool: str
    function: str
    concurrency: int | None = None
    """--concurrency; None: the worker's default."""

    @property
    def label(self) -> str:
        return f"{self.pool} pool, {'async' if self.function.endswith('async') else 'sync'} no-op"


class WorkerProcess:
    """A ``doshit-worker`` subprocess on one prefix, registered (its worker hash exists) when started."""

    def __init__(self, url: str, prefix: str, spec: WorkerSpec, logdir: Path) -> None:
        self.url = url
        self.prefix = prefix
        self.spec = spec
        self.log_path = logdir / f"worker-{prefix}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.fields: dict[str, str] = {}

    def start(self, r: redis.Redis, timeout: float = 60.0) -> None:
        args = [
            sys.executable, "-m", "doshit._cli", "--app", APP, "--redis-url", self.url,
            "--prefix", self.prefix, "--queue", QUEUE, "--pool", self.spec.pool,
            *(["--concurrency", str(self.spec.concurrency)] if self.spec.concurrency else []),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited with code {self.proc.returncode}:\n{self.log()}")
            found = next(iter(r.scan_iter(match=f"{self.prefix}:worker:*", count=1000)), None)
            if found is not None:
                self.fields = {str(k): str(v) for k, v in r.hgetall(found).items()}
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not register within {timeout:.0f} s:\n{self.log()}")
            time.sleep(0.02)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM (finish and exit), then SIGKILL if it does not exit in time."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            say(f"worker {proc.pid} did not stop within 30 s; killing it")
            proc.kill()
            proc.wait(10)


@contextmanager
def running_worker(url: str, r: redis.Redis, spec: WorkerSpec, logdir: Path) -> Iterator[WorkerProcess]:
    """A registered worker on a fresh prefix; stopped and its keys deleted afterwards."""
    worker = WorkerProcess(url, fresh_prefix(), spec, logdir)
    try:
        worker.start(r)
        yield worker
    finally:
        worker.stop()
        cleanup(r, worker.prefix)


# --------------------------------------------------------------------------- measurements


def measure_ping(r: redis.Redis, count: int = 1000) -> float:
    """p50 in milliseconds of a PING from redis-py: what one round trip to this Redis costs here."""
    samples: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        r.ping()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure_submit(url: str, r: redis.Redis, count: int) -> float:
    """Tasks per second that one producer submits with the sync Client, one call after the other."""
    prefix = fresh_prefix()
    try:
        with Client(url, prefix=prefix, queue=QUEUE) as client:
            client.submit("noop")  # untimed: connects and subscribes to the results channel
            started = time.perf_counter()
            for _ in range(count):
                client.submit("noop")
            elapsed = time.perf_counter() - started
    finally:
        cleanup(r, prefix)
    return count / elapsed


def measure_submit_many(url: str, r: redis.Redis, count: int, batch: int = 1000) -> float:
    """Tasks per second that one producer submits with ``Client.submit_many``, ``batch`` per call."""
    prefix = fresh_prefix()
    arguments = [{"n": n} for n in range(batch)]
    try:
        with Client(url, prefix=prefix, queue=QUEUE) as client:
            client.submit_many("noop", arguments[:1])  # untimed: connects
            started = time.perf_counter()
            for start in range(0, count, batch):
                client.submit_many("noop", arguments[: min(batch, count - start)])
            elapsed = time.perf_counter() - started
    finally:
        cleanup(r, prefix)
    return count / elapsed


def enqueue_all(r: redis.Redis, keys: Keys, function: str, count: int) -> tuple[list[str], Any]:
    """``count`` tasks as a submit would write them (same hash fields) and the push of all ids, as one
    MULTI/EXEC ready to execute: the worker sees none of them before all are there."""
    fields = submit_fields(function, {}, queue=QUEUE)
    ids = [new_task_id() for _ in range(count)]
    pipe = r.pipeline(transaction=True)
    for task_id in ids:
        pipe.hset(keys.task(task_id), mapping=fields)  # type: ignore[arg-type]
    pipe.lpush(keys.pending(QUEUE), *ids)
    return ids, pipe


def count_successful(r: redis.Redis, keys: Keys, ids: list[str]) -> int:
    successful = 0
    for start in range(0, len(ids), 1000):
        pipe = r.pipeline(transaction=False)
        for task_id in ids[start : start + 1000]:
            pipe.hget(keys.task(task_id), "result")
        successful += sum(1 for result in pipe.execute() if result == "successful")
    return successful


def measure_drain(url: str, r: redis.Redis, spec: WorkerSpec, count: int, logdir: Path) -> tuple[float, int]:
    """Tasks per second one idle worker finishes when ``count`` tasks arrive at once; and its concurrency."""
    with running_worker(url, r, spec, logdir) as worker:
        keys = Keys(worker.prefix)
        pending, executing = keys.pending(QUEUE), keys.executing(QUEUE)
        deadline = time.monotonic() + 60 + count / 100
        ids, enqueue = enqueue_all(r, keys, spec.function, count)
        started = time.perf_counter()
        enqueue.execute()
        while True:
            pipe = r.pipeline(transaction=False)
            pipe.llen(pending)
            pipe.llen(executing)
            if pipe.execute() == [0, 0]:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not drain {count} tasks in time:\n{worker.log()}")
            time.sleep(POLL)
        elapsed = time.perf_counter() - started
        # Both lists are empty. The finish script writes the result and removes the id in one step,
        # so every result must be there now.
        if (done := count_successful(r, keys, ids)) < count:
            raise RuntimeError(f"only {done} of {count} tasks finished successfully:\n{worker.log()}")
        return count / elapsed, int(worker.fields.get("concurrency", "0"))


def measure_roundtrips(url: str, r: redis.Redis, spec: WorkerSpec, count: int, logdir: Path) -> tuple[float, float]:
    """p50 and p99 in milliseconds of submit -> wait_result, one call after the other, one idle worker."""
    with running_worker(url, r, spec, logdir) as worker, Client(url, prefix=worker.prefix, queue=QUEUE) as client:
        for _ in range(WARMUP):
            client.submit(spec.function).wait_result(timeout=30)
        samples: list[float] = []
        for _ in range(count):
            started = time.perf_counter()
            client.submit(spec.function).wait_result(timeout=30)
            samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


def measure_delayed(url: str, r: redis.Redis, spec: WorkerSpec, count: int, logdir: Path) -> tuple[float, float]:
    """p50 and max in milliseconds from a delayed task's due time (scheduled-for) to its start
    (executing-created), one idle worker, delays of 0.2 to 1 s, one task after the other."""
    samples: list[float] = []
    with running_worker(url, r, spec, logdir) as worker, Client(url, prefix=worker.prefix, queue=QUEUE) as client:
        for n in range(count):
            task = client.submit(spec.function, _delay=0.2 + (n % 5) * 0.2)
            task.wait(timeout=30)
            info = task.info()
            assert info.scheduled_for is not None and info.executing_created is not None
            samples.append((info.executing_created - info.scheduled_for).total_seconds() * 1000)
    return statistics.median(samples), max(samples)


def measure_node(url: str, r: redis.Redis, spec: WorkerSpec, tasks: int, roundtrips: int, logdir: Path) -> Any:
    """The Node client against one worker (bench/node_bench.mjs); None without Node.js or its packages."""
    node = shutil.which("node")
    if node is None or not (ROOT / "clients" / "node" / "node_modules").is_dir():
        say("node: skipped (needs Node.js 20+ and `npm ci` in clients/node)")
        return None
    script = ROOT / "bench" / "node_bench.mjs"
    with running_worker(url, r, spec, logdir) as worker:
        try:
            args = [node, str(script), url, worker.prefix, QUEUE, spec.function, str(tasks), str(roundtrips)]
            done = subprocess.run(args, capture_output=True, text=True, timeout=900, check=False)
        finally:
            cleanup(r, f"{worker.prefix}-submit")
        if done.returncode != 0:
            raise RuntimeError(f"bench/node_bench.mjs failed:\n{done.stderr}\n{worker.log()}")
    return json.loads(done.stdout.splitlines()[-1])


# --------------------------------------------------------------------------- report


def rate(value: float) -> str:
    return f"{value:,.0f} tasks/s"


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def doshit_version() -> str:
    try:
        return version("doshit")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--redis-url", help="use this Redis (default: start a private redis-server)")
    parser.add_argument("--tasks", type=int, help="tasks per submit and drain measurement (default 10000)")
    parser.add_argument("--roundtrips", type=int, help="timed round trips per pool (default 1000)")
    parser.add_argument(
        "--quick", action="store_true", help="small numbers for a smoke run (500 tasks, 100 round trips)"
    )
    args = parser.parse_args(argv)
    tasks = args.tasks or (500 if args.quick else 10_000)
    roundtrips = args.roundtrips or (100 if args.quick else 1000)
    if not 1 <= tasks <= 1_000_000 or not 2 <= roundtrips <= 100_000:
        parser.error("--tasks must be 1 to 1,000,000 and --roundtrips 2 to 100,000")

    with ExitStack() as stack:
        logdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="doshit-bench-")))
        if args.redis_url:
            url = args.redis_url
            if not answers(url, timeout=2):
                parser.error(f"no Redis answers at {url}")
            where = "given with --redis-url; other load on it shows in the figures"
        else:
            private = PrivateRedis()
            stack.callback(private.__exit__, None, None, None)  # stops it even if start() fails half-way
            url = private.start()
            where = f"private, {private.binary}"
        r = stack.enter_context(redis.Redis.from_url(url, decode_responses=True))
        redis_version = r.info("server")["redis_version"]
        say(f"Redis {redis_version} at {url} ({where})")
        ping = measure_ping(r)

        say(f"submit: {tasks} sequential submits ...")
        submit_rate = measure_submit(url, r, tasks)
        batched = max(tasks, 100_000 if not args.quick else 10_000)
        say(f"submit_many: {batched} tasks in calls of 1,000 ...")
        submit_many_rate = measure_submit_many(url, r, batched)

        drains: list[tuple[WorkerSpec, float, int]] = []
        for spec in (
            WorkerSpec("process", "noop"),
            WorkerSpec("inline", "noop_async"),
            WorkerSpec("inline", "noop_async", concurrency=50),
            WorkerSpec("inline", "noop"),
        ):
            say(f"drain: {spec.label}, {tasks} tasks ...")
            drains.append((spec, *measure_drain(url, r, spec, tasks, logdir)))

        latencies: list[tuple[WorkerSpec, float, float]] = []
        for spec in (WorkerSpec("process", "noop"), WorkerSpec("inline", "noop_async")):
            say(f"round trip: {spec.label}, {roundtrips} calls ...")
            latencies.append((spec, *measure_roundtrips(url, r, spec, roundtrips, logdir)))

        delayed_count = 10 if args.quick else 50
        say(f"delayed: {delayed_count} tasks with delays of 0.2 to 1 s, one idle worker ...")
        delayed = measure_delayed(url, r, WorkerSpec("process", "noop"), delayed_count, logdir)

        node_spec = WorkerSpec("inline", "noop_async", concurrency=50)
        say(f"node: {tasks} submits, {roundtrips} round trips, {tasks} calls 100 at a time; {node_spec.label} ...")
        node = measure_node(url, r, node_spec, tasks, roundtrips, logdir)

    fastest = max(value for _, value, _ in drains)
    rows: list[tuple[str, str, str, str]] = [
        (f"submit, one producer (sync `Client.submit`, {tasks:,} sequential)", rate(submit_rate), "", ""),
        (
            f"submit in batches, one producer (sync `Client.submit_many`, {batched:,} in calls of 1,000)",
            rate(submit_many_rate),
            f">= {TARGET_BATCH:,.0f}/s",
            met(submit_many_rate >= TARGET_BATCH),
        ),
    ]
    for spec, value, concurrency in drains:
        targets, oks = [], []
        if spec.pool == "process":
            targets.append(f">= {TARGET_ISOLATED:,.0f}/s with process isolation")
            oks.append(value >= TARGET_ISOLATED)
        if value == fastest:
            targets.append(f">= {TARGET_FASTEST:,.0f}/s in the fastest mode")
            oks.append(value >= TARGET_FASTEST)
        name = f"drain {tasks:,} queued, one worker: {spec.label} (concurrency {concurrency})"
        rows.append((name, rate(value), "; ".join(targets), met(all(oks)) if oks else ""))
    for spec, p50, p99 in latencies:
        name = f"round trip submit -> `wait_result`, {roundtrips:,} sequential: {spec.label}"
        rows.append(
            (name, f"p50 {p50:.2f} ms, p99 {p99:.2f} ms", f"p50 < {TARGET_P50_MS:g} ms", met(p50 < TARGET_P50_MS))
        )

    name = f"delayed task, due to started, {delayed_count} one after the other: process pool, idle worker"
    rows.append((name, f"p50 {delayed[0]:.1f} ms, max {delayed[1]:.1f} ms", "about 100 ms", met(delayed[1] < 150)))

    if node is not None:
        rows.append(
            (f"submit, one producer (Node `client.submit`, {tasks:,} sequential)", rate(node["submitRate"]), "", "")
        )
        name = f"submit in batches, one producer (Node `client.submitMany`, {tasks:,} in calls of 1,000)"
        rows.append(
            (
                name,
                rate(node["submitManyRate"]),
                f">= {TARGET_BATCH:,.0f}/s",
                met(node["submitManyRate"] >= TARGET_BATCH),
            )
        )
        name = f"round trip submit -> `result()`, Node client, {roundtrips:,} sequential: {node_spec.label}"
        rows.append((name, f"p50 {node['p50']:.2f} ms, p99 {node['p99']:.2f} ms", "", ""))
        name = f"Node `client.call`, 100 in flight, {tasks:,} tasks: {node_spec.label} (concurrency 50)"
        rows.append((name, rate(node["concurrentRate"]), "", ""))

    print(f"doshit {doshit_version()} on {os.cpu_count()} CPUs ({platform.machine()}, {platform.system()}), "
          f"Python {platform.python_version()}, redis-server {redis_version} ({where}); "
          f"one redis-py PING round trip: p50 {ping:.3f} ms\n")  # fmt: skip
    print("| measurement | result | target | met |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
