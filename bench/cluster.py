#!/usr/bin/env python3
"""doshit on Redis Cluster: the drain rate of 1 shard against 3 shards (and a single Redis), in one run.

    make bench-cluster              # or: .venv/bin/python bench/cluster.py [--quick] [--rounds N]
                                    #         [--tasks N] [--queues K] [--workers W] [--pool inline|process]

It starts three private servers on free loopback ports, nothing saved: a single redis-server (the
baseline, a redis:// URL), a Redis Cluster of 1 master and one of 3 masters (no replicas;
doshit.testing.PrivateCluster, a redis+cluster:// URL). The K queues (default 3) get names whose
hash slots sit on different masters of the 3-shard cluster (queue i on master i mod 3), so there
the queues spread over the shards; on 1 shard they share it.

Each round measures every layout once (the order rotates by one each round); the table shows the
median and the min-max over the rounds. A measurement: with no worker running, ``Client.submit_many``
queues TASKS (default 10,000) no-op tasks per queue (bench/noop_tasks.py, calls of up to 10,000).
Then W ``doshit-worker`` processes start (default one per queue, worker i serving queue i mod K;
the worker options of bench/bench.py's fastest drain: ``--pool inline --concurrency 50`` and the
``async def`` no-op, or ``--pool process`` and the plain no-op at its default concurrency). The
clock runs from their spawn to the poll (every 10 ms: LLEN pending and executing of each queue on
the master that holds it) that finds every queue empty: tasks/s. Also shown: the seconds from spawn
to the first task done (the workers' start-up, inside that figure), and for the steady window (from
the first poll that finds every worker registered and a task done, to the end) the rate, the Redis
CPU (INFO cpu: used_cpu_sys + used_cpu_user of each master) and the workers' CPU (/proc: their
process groups and children) per task. After the clock stops, every task's result is checked (one
pipelined HGET each) and each server flushed. Under the table: the ratios, and a paper estimate
for a real multi-host cluster computed from the measured CPU per task.

Every worker is the leader of its own process group, SIGKILLed by the kernel if this script dies
(PR_SET_PDEATHSIG) and SIGKILLed with its group once measured and in a ``finally``; the servers stop
in a ``finally`` too (also on SIGINT/SIGTERM). Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import redis
import redis.cluster

# bench/ is this script's folder, so bench/bench.py imports as `bench`.
from bench import APP, POLL, ROOT, WorkerSpec, doshit_version, fresh_prefix, say
from bench import count_successful as successful_of
from doshit import Client
from doshit._core.keys import Keys
from doshit._process import killed_with_parent
from doshit.testing import PrivateCluster, PrivateRedis

SHARDS = 3
"""Masters of the bigger cluster; the smaller has 1."""
SUBMIT_BATCH = 10_000
"""Tasks per ``Client.submit_many`` call (its maximum)."""
STALL_BOUND = 30.0
"""Seconds a drain may go without a task finished (the first: from the workers' spawn) before it fails."""
STOP_GRACE = 10.0
"""Seconds a worker gets to exit after SIGTERM before its process group is SIGKILLed."""
DASH = "\u2013"
"""Between a min and a max."""

SPECS = {
    "inline": WorkerSpec("inline", "noop_async", concurrency=50),
    "process": WorkerSpec("process", "noop"),
}


class StepFailed(Exception):
    """A measurement failed (a worker died, a drain stalled, a result is missing)."""


# --------------------------------------------------------------------------- processes


class Workers:
    """The ``doshit-worker`` processes of one measurement, each the leader of a process group."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def spawn(self, url: str, prefix: str, queues: list[str], spec: WorkerSpec) -> None:
        args = [
            sys.executable, "-m", "doshit._cli", "--app", APP, "--redis-url", url, "--prefix", prefix,
            *(part for queue in queues for part in ("--queue", queue)), "--pool", spec.pool,
            *(["--concurrency", str(spec.concurrency)] if spec.concurrency else []),
        ]  # fmt: skip
        log = self.logdir / f"worker-{prefix}-{len(self.procs)}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                args, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=killed_with_parent,
            )  # fmt: skip
        self.procs.append((proc, log))

    def check(self) -> None:
        for proc, log in self.procs:
            if proc.poll() is not None:
                raise StepFailed(f"worker {proc.pid} exited with code {proc.returncode}:\n{tail(log)}")

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{tail(log)}" for _, log in self.procs)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM to every leader, up to ``grace`` seconds to exit, then SIGKILL to every group."""
        procs, self.procs = self.procs, []
        for proc, _ in procs:
            if proc.poll() is None and grace > 0:
                with suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc, _ in procs:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        for proc, _ in procs:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                say(f"  worker {proc.pid} survived SIGKILL")


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").strip().splitlines()[-lines:])


# --------------------------------------------------------------------------- layouts


@dataclass
class Layout:
    """One server set-up: its URL, its masters and which master holds each queue."""

    name: str
    title: str
    url: str
    cluster: bool
    masters: list[int]
    """The masters' ports, in slot order."""
    owners: dict[str, int] = field(default_factory=dict)
    """Queue -> the port of the master that holds its keys."""
    nodes: dict[int, redis.Redis] = field(default_factory=dict)
    rc: redis.cluster.RedisCluster | None = None
    """On a cluster: redis-py's view of it, for where a key's slot is."""

    def node(self, port: int) -> redis.Redis:
        """A plain connection to one master."""
        if port not in self.nodes:
            self.nodes[port] = redis.Redis(port=port, decode_responses=True, socket_timeout=30)
        return self.nodes[port]

    def owner(self, key: str) -> int:
        """The port of the master that holds ``key``."""
        if not self.cluster:
            return self.masters[0]
        if self.rc is None:
            self.rc = redis.cluster.RedisCluster(host="127.0.0.1", port=self.masters[0], decode_responses=True)
        return int(self.rc.get_node_from_key(key).port)

    def close(self) -> None:
        for conn in self.nodes.values():
            conn.close()
        self.nodes.clear()
        if self.rc is not None:
            self.rc.close()
            self.rc = None


def cluster_masters(ports: list[int], masters: int) -> list[int]:
    return ports[:masters]  # PrivateCluster gives the first ``masters`` ports the slots, in order


def pick_queues(count: int, layout: Layout) -> list[str]:
    """``count`` queue names, queue i held by master i mod M of ``layout`` (as the cluster says)."""
    masters = layout.masters
    free: dict[int, list[str]] = {port: [] for port in masters}
    names: list[str] = []
    for n in range(100_000):
        name = f"q{n}"
        free[layout.owner(Keys("x", cluster=True).pending(name))].append(name)
        wanted = masters[len(names) % len(masters)]
        while free[wanted]:
            names.append(free[wanted].pop(0))
            if len(names) == count:
                return names
            wanted = masters[len(names) % len(masters)]
    raise RuntimeError("found no queue names for every shard")


def place(layout: Layout, queues: list[str]) -> None:
    layout.owners = {queue: layout.owner(Keys("x", cluster=layout.cluster).pending(queue)) for queue in queues}


# --------------------------------------------------------------------------- measurement


@dataclass
class Figures:
    tasks: int
    seconds: float
    """Spawn of the workers to every queue empty."""
    startup: float
    """Spawn to the first poll that finds a task done."""
    window: int
    """Tasks done in the steady window: from the first poll that finds every worker registered and a
    task done, to the end (the whole drain if every task was done before)."""
    after: float
    """Tasks/s over the steady window."""
    cpu: list[float]
    """Redis CPU seconds per master (in Layout.masters order) over the steady window."""
    worker_cpu: float
    """CPU seconds of the worker processes (and their children) over the steady window."""

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds

    @property
    def steady(self) -> float:
        """Seconds of the steady window."""
        return self.window / self.after

    @property
    def cpu_per_task(self) -> float:
        return sum(self.cpu) / self.window

    @property
    def worker_cpu_per_task(self) -> float:
        return self.worker_cpu / self.window


def redis_cpu(layout: Layout) -> list[float]:
    """used_cpu_sys + used_cpu_user of every master."""
    found = []
    for port in layout.masters:
        info = layout.node(port).info("cpu")
        found.append(float(info["used_cpu_sys"]) + float(info["used_cpu_user"]))
    return found


TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu(leaders: set[int]) -> float:
    """CPU seconds (user + system, own and of reaped children) of every process in these leaders'
    process groups, and of their children (a process pool's children have sessions of their own)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) in leaders or int(fields[1]) in leaders:  # pgrp, ppid; utime, stime, cutime, cstime: 11-14
            total += sum(int(value) for value in fields[11:15])
    return total / TICKS


def submit(layout: Layout, prefix: str, queues: list[str], spec: WorkerSpec, tasks: int) -> dict[str, list[str]]:
    """Queue ``tasks`` no-op tasks on each queue; their ids per queue."""
    ids: dict[str, list[str]] = {}
    with Client(layout.url, prefix=prefix) as client:
        for queue in queues:
            ids[queue] = []
            for start in range(0, tasks, SUBMIT_BATCH):
                arguments: list[dict[str, Any]] = [{} for _ in range(min(SUBMIT_BATCH, tasks - start))]
                ids[queue].extend(task.task_id for task in client.submit_many(spec.function, arguments, _queue=queue))
    return ids


def remaining(layout: Layout, keys: Keys, queues: list[str]) -> int:
    """Tasks pending or executing, over every queue: one pipeline per master."""
    total = 0
    for port in layout.masters:
        mine = [queue for queue in queues if layout.owners[queue] == port]
        if not mine:
            continue
        pipe = layout.node(port).pipeline(transaction=False)
        for queue in mine:
            pipe.llen(keys.pending(queue))
            pipe.llen(keys.executing(queue))
        total += sum(pipe.execute())
    return total


def count_successful(layout: Layout, keys: Keys, ids: dict[str, list[str]]) -> int:
    """How many of each queue's tasks are successful, read on the master that holds the queue."""
    return sum(successful_of(layout.node(layout.owners[queue]), keys, queue_ids) for queue, queue_ids in ids.items())


def measure(layout: Layout, queues: list[str], workers: int, spec: WorkerSpec, tasks: int, logdir: Path) -> Figures:
    prefix = fresh_prefix()
    keys = Keys(prefix, cluster=layout.cluster)
    total = tasks * len(queues)
    running = Workers(logdir)
    try:
        ids = submit(layout, prefix, queues, spec, tasks)
        if (queued := remaining(layout, keys, queues)) != total:
            raise StepFailed(f"{queued} tasks queued, not {total}")
        spawn_cpu = redis_cpu(layout)
        started = time.perf_counter()
        for n in range(workers):
            running.spawn(layout.url, prefix, queues[n % len(queues) :: workers], spec)
        leaders = {proc.pid for proc, _ in running.procs}
        registry = layout.node(layout.owner(keys.workers))
        first: float | None = None
        steady: float | None = None
        steady_done, steady_cpu, steady_worker_cpu = 0, spawn_cpu, 0.0
        last_done, last_progress = 0, started
        while True:
            left = remaining(layout, keys, queues)
            now = time.perf_counter()
            done = total - left
            if done > last_done:
                last_done, last_progress = done, now
                if first is None:
                    first = now
            if left == 0:
                break
            if steady is None and first is not None and registry.zcard(keys.workers) >= workers:
                # The steady window starts: every worker registered (its start-up CPU spent), a task done.
                steady, steady_done = now, done
                steady_cpu, steady_worker_cpu = redis_cpu(layout), group_cpu(leaders)
            running.check()
            if now - last_progress > STALL_BOUND:
                raise StepFailed(
                    f"no task finished for {STALL_BOUND:.0f} s ({done} of {total} done):\n{running.logs()}"
                )
            time.sleep(POLL)
        finished = time.perf_counter()
        end_cpu, end_worker_cpu = redis_cpu(layout), group_cpu(leaders)
        running.stop()
        if (successful := count_successful(layout, keys, ids)) != total:
            raise StepFailed(f"only {successful} of {total} tasks finished successfully")
        assert first is not None
        if steady is None:  # done before the window could start (a tiny run): the whole drain is the window
            steady = started
        cpu = [end - was for end, was in zip(end_cpu, steady_cpu, strict=True)]
        window = total - steady_done
        return Figures(
            total, finished - started, first - started, window, window / (finished - steady), cpu,
            end_worker_cpu - steady_worker_cpu,
        )  # fmt: skip
    finally:
        running.stop(grace=0)
        for port in layout.masters:
            with suppress(redis.RedisError, OSError):
                layout.node(port).flushall()


# --------------------------------------------------------------------------- report


def spread(found: list[float], fmt: str) -> str:
    text = format(statistics.median(found), fmt)
    if len(found) > 1:
        text += f" ({format(min(found), fmt)}{DASH}{format(max(found), fmt)})"
    return text


def report(layouts: list[Layout], results: dict[str, list[Figures]], header: str, tasks: int, queues: int) -> None:
    print(header)
    print()
    print(
        f"Median over the rounds (min{DASH}max). Worker start-up: spawn to the first task done. The steady "
        "window: from the first poll that finds every worker registered and a task done, to the end; the CPU "
        "columns cover it.\n"
    )
    print(
        f"| layout | drain {tasks * queues:,} queued, spawn to done (tasks/s) | worker start-up (s) "
        "| drain in the steady window (tasks/s) | Redis CPU per task, all masters (µs) "
        "| Redis CPU per master (% of one core) | worker CPU per task (µs) |"
    )
    print("|---|---|---|---|---|---|---|")
    for layout in layouts:
        rounds = results[layout.name]
        if not rounds:
            print(f"| {layout.title} | failed | | | | | |")
            continue
        shares = " / ".join(
            spread([figures.cpu[i] / figures.steady * 100 for figures in rounds], ".0f")
            for i in range(len(layout.masters))
        )
        print(
            f"| {layout.title} | {spread([f.rate for f in rounds], ',.0f')} | "
            f"{spread([f.startup for f in rounds], '.2f')} | {spread([f.after for f in rounds], ',.0f')} | "
            f"{spread([f.cpu_per_task * 1e6 for f in rounds], '.1f')} | {shares} | "
            f"{spread([f.worker_cpu_per_task * 1e6 for f in rounds], ',.0f')} |"
        )

    def ratio(top: str, bottom: str) -> str:
        pairs = [a.rate / b.rate for a, b in zip(results[top], results[bottom], strict=False)]
        return spread(pairs, ".2f") if pairs else "n/a"

    print()
    print(
        f"Ratio {SHARDS} shards / 1 shard (each round's pair, spawn-to-done rates): {ratio('cluster3', 'cluster1')}; "
        f"1 shard / single Redis: {ratio('cluster1', 'single')}; "
        f"{SHARDS} shards / single Redis: {ratio('cluster3', 'single')}."
    )
    measured = [f for layout in layouts for f in results[layout.name]]
    if measured:
        redis_share = statistics.median(sum(f.cpu) / f.steady for f in measured) * 100
        worker_cores = statistics.median(f.worker_cpu / f.steady for f in measured)
        print()
        print(
            f"On this machine ({os.cpu_count()} CPUs) the workers, this script and every Redis process share the "
            f"same cores, so {SHARDS} shards cannot scale here: the figures show what the cluster layout and its "
            f"routing (redis-py RedisCluster in the clients and workers) cost beside a single Redis, not how a "
            f"cluster scales. During a drain Redis used about {redis_share:.0f}% of one core (all masters together) "
            f"and the workers about {worker_cores:.1f} cores: the workers' CPU, not Redis, bounds the rate here."
        )
    one, many = results["cluster1"], results["cluster3"]
    if not one or not many:
        return
    c1 = statistics.median(f.cpu_per_task for f in one)
    cn = statistics.median(f.cpu_per_task for f in many)
    bus = max(0.0, (cn - c1) / (SHARDS - 1))
    worker = statistics.median(f.worker_cpu_per_task for f in many)

    def aggregate(n: int) -> float:
        return n / (c1 + (n - 1) * bus)

    ceiling = f"{1 / bus:,.0f} tasks/s" if bus > 0 else "none measured"
    print()
    print(
        f"Paper estimate for a real cluster (one shard per host, queues spread over the shards), from the CPU "
        f"measured here: a task costs {c1 * 1e6:.1f} µs of Redis CPU on the 1-shard cluster, so one shard's core "
        f"sustains about {1 / c1:,.0f} tasks/s and N shards about N times that. Each finished task PUBLISHes its "
        f"result, and a cluster carries a classic PUBLISH to every node: the {SHARDS}-shard cluster spent "
        f"{cn * 1e6:.1f} µs per task over all masters, {bus * 1e6:.1f} µs more per other node than 1 shard (taken "
        f"as the cost of one PUBLISH carried to one more node). With it, N shards sustain about N / "
        f"({c1 * 1e6:.1f} + (N-1) x {bus * 1e6:.1f} µs): {aggregate(3):,.0f} tasks/s on 3, {aggregate(10):,.0f} on "
        f"10, {aggregate(30):,.0f} on 30 (the ceiling as N grows: {ceiling}). The workers need {worker * 1e6:,.0f} "
        f"µs of CPU per task, so keeping 3 shards busy takes about {aggregate(3) * worker:,.0f} worker cores "
        f"({aggregate(3) * worker / 3:,.0f} per shard). CPU per task measured on shared, busy cores: a rough "
        "guide, not a promise."
    )


# --------------------------------------------------------------------------- main


def on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGINT or SIGTERM: unwind (every ``finally`` stops what it started); a second one is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="doshit's drain rate on Redis Cluster with 1 shard against 3 shards (and a single Redis "
        "as the baseline), interleaved over rounds; private servers on loopback ports."
    )
    parser.add_argument("--rounds", type=int, help="rounds, each layout once per round (default 3; --quick 1)")
    parser.add_argument("--tasks", type=int, help="tasks queued per queue (default 10,000; --quick 500)")
    parser.add_argument(
        "--queues", type=int, help=f"queues, spread over the {SHARDS} shards of the bigger cluster (default 3)"
    )
    parser.add_argument("--workers", type=int, help="doshit-worker processes (default: one per queue)")
    parser.add_argument(
        "--pool",
        choices=sorted(SPECS),
        default="inline",
        help="inline: --pool inline --concurrency 50, async no-op (default); process: default concurrency",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 500 tasks per queue")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    tasks = args.tasks or (500 if args.quick else 10_000)
    queue_count = args.queues or SHARDS
    workers = args.workers or queue_count
    if not 1 <= rounds <= 20 or not 10 <= tasks <= 1_000_000 or not 1 <= queue_count <= 64 or not 1 <= workers <= 64:
        parser.error("--rounds must be 1 to 20, --tasks 10 to 1,000,000, --queues and --workers 1 to 64")
    spec = SPECS[args.pool]

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            logdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="doshit-bench-cluster-")))
            single = PrivateRedis()
            stack.callback(single.__exit__, None, None, None)
            single.start()
            say(f"single redis-server on port {single.port} ({single.binary})")
            layouts = [Layout("single", "single Redis (redis://)", single.url, False, [single.port])]
            for masters in (1, SHARDS):
                say(f"starting a cluster of {masters} master(s), no replicas ...")
                private = PrivateCluster(masters=masters, replicas=0)
                url = stack.enter_context(private)
                name = "cluster1" if masters == 1 else f"cluster{masters}"
                title = f"Redis Cluster, {masters} shard{'s' if masters > 1 else ''} (redis+cluster://)"
                ports = cluster_masters(private.ports, masters)
                layouts.append(Layout(name, title, url, True, ports))
            for layout in layouts:
                stack.callback(layout.close)
            big = layouts[-1]
            queues = pick_queues(queue_count, big)
            for layout in layouts:
                place(layout, queues)
            spread_over = sorted({big.owners[queue] for queue in queues})
            say(f"queues {', '.join(queues)}: on {len(spread_over)} of the {SHARDS} shards; {workers} worker(s), "
                f"{spec.label}; {rounds} round(s) of {tasks:,} tasks per queue")  # fmt: skip
            redis_version = layouts[0].node(single.port).info("server")["redis_version"]

            results: dict[str, list[Figures]] = {layout.name: [] for layout in layouts}
            failures: list[str] = []
            for number in range(rounds):
                shift = number % len(layouts)
                for layout in layouts[shift:] + layouts[:shift]:
                    say(f"round {number + 1}/{rounds}: {layout.title} ...")
                    try:
                        figures = measure(layout, queues, workers, spec, tasks, logdir)
                    except (StepFailed, redis.RedisError) as exc:
                        say(f"  failed: {exc}")
                        failures.append(f"{layout.title}, round {number + 1}: {str(exc).splitlines()[0]}")
                        continue
                    results[layout.name].append(figures)
                    say(f"  {figures.rate:,.0f} tasks/s ({figures.seconds:.2f} s, start-up {figures.startup:.2f} s)")

            wall = time.monotonic() - started
            if workers == queue_count:
                serving = "one queue each"
            elif workers > queue_count:
                serving = f"worker i serving queue i mod {queue_count}"
            else:
                serving = f"worker i serving queues i, i + {workers}, i + {2 * workers} and so on"
            header = (
                f"doshit {doshit_version()} on Redis Cluster, {os.cpu_count()} CPUs ({platform.machine()}, "
                f"{platform.system()}), Python {platform.python_version()}, redis-server {redis_version} (private, "
                f"loopback, no persistence, clusters without replicas). {rounds} round(s); {queue_count} queue(s) "
                f"of {tasks:,} tasks, on {len(spread_over)} different shards of the {SHARDS}-shard cluster; "
                f"{workers} `doshit-worker` process(es), {spec.label} (concurrency "
                f"{spec.concurrency or 'default'}), {serving}. Wall time {wall:,.0f} s."
            )
            report(layouts, results, header, tasks, queue_count)
            if failures:
                print("\nFailed measurements: " + "; ".join(failures))
                return 1
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say(f"interrupted{f' ({exc})' if str(exc) else ''}: every process stopped")
        return 143 if str(exc) == "SIGTERM" else 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
