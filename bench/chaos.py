#!/usr/bin/env python3
"""doshit chaos test: nothing is lost when workers are SIGKILLed and Redis restarts.

    make chaos                      # or: .venv/bin/python bench/chaos.py [--tasks N] [--kills K] ...

It starts a private redis-server on a free loopback port (append-only file, appendfsync everysec),
several real ``doshit-worker`` processes (process pool, with concurrency) serving
bench/chaos_tasks.py, and a producer that submits a mix of tasks: short ones, slow ones, ones that
raise and are retried, ones over their time limit, and delayed ones. Meanwhile it SIGKILLs a random
worker every few seconds and starts another in its place, and restarts Redis (a clean shutdown and a
start on the same port) once or more. At the end it reads every task and prints one table:
submitted, finished successful, finished failed by reason, lost, tasks that ran more than once (and
whether a kill of their worker explains each), ids left on the lists, and the time from each kill to
the requeue of the dead worker's tasks. It exits 1 when a task is lost or stuck, an id is left on a
list, or a task ran twice with no kill to explain it. Everything it starts stops with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import redis

from doshit import Client, TaskExists
from doshit._core.codec import parse_timestamp
from doshit._process import killed_with_parent
from doshit.testing import PrivateRedis

ROOT = Path(__file__).resolve().parent.parent
APP = "bench.chaos_tasks"
PREFIX = "chaos"
QUEUE = "default"


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path
    worker_id: str = ""


@dataclass
class Kill:
    worker_id: str
    pid: int
    at: datetime


@dataclass
class Run:
    """What the chaos test knows of the whole run."""

    submitted: dict[str, int] = field(default_factory=dict)
    """Task id -> the task's number n."""
    kinds: Counter[str] = field(default_factory=Counter)
    kills: list[Kill] = field(default_factory=list)
    redis_restarts: int = 0
    submit_errors: int = 0
    submit_done: threading.Event = field(default_factory=threading.Event)


class Chaos:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.server = PrivateRedis(persist=True, args=("--appendfsync", "everysec"))
        self.workers: list[Worker] = []
        self.retired: list[Worker] = []
        self.run = Run()
        self.rng = random.Random(args.seed)

    # ----------------------------------------------------------------------------- processes

    def start_worker(self, r: redis.Redis) -> Worker:
        log = self.workdir / f"worker-{len(self.workers) + len(self.retired)}.log"
        args = [
            sys.executable, "-m", "doshit._cli", "--app", APP, "--redis-url", self.server.url, "--prefix", PREFIX,
            "--queue", QUEUE, "--concurrency", str(self.args.concurrency),
            "--heartbeat-interval", str(self.args.heartbeat), "--recovery-interval", str(self.args.recovery_interval),
            "--recovery-grace", str(self.args.recovery_grace), "--shutdown-timeout", "5",
        ]  # fmt: skip
        env = {**os.environ, "CHAOS_DIR": str(self.workdir), "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=killed_with_parent
            )
        worker = Worker(proc, log)
        self.workers.append(worker)
        deadline = time.monotonic() + 60
        while not worker.worker_id:  # its id: the worker hash whose pid field is this process
            if proc.poll() is not None:
                raise RuntimeError(f"a worker exited at start:\n{log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError("a worker did not register within 60 s")
            with contextlib.suppress(redis.RedisError):
                members = [str(m) for m in r.zrange(f"{PREFIX}:workers", 0, -1)]
                for member in members:
                    if r.hget(f"{PREFIX}:worker:{member}", "pid") == str(proc.pid):
                        worker.worker_id = member
            time.sleep(0.05)
        return worker

    def kill_one(self, r: redis.Redis) -> None:
        victim = self.rng.choice(self.workers)
        victim.proc.send_signal(signal.SIGKILL)
        at = datetime.now(timezone.utc)
        victim.proc.wait()
        self.workers.remove(victim)
        self.retired.append(victim)
        self.run.kills.append(Kill(victim.worker_id, victim.proc.pid, at))
        say(f"kill {len(self.run.kills)}: SIGKILLed worker {victim.worker_id} (pid {victim.proc.pid})")
        self.start_worker(r)

    def restart_redis(self) -> None:
        say("restarting Redis (clean shutdown: the append-only file is flushed)")
        self.server.stop()
        time.sleep(1)
        self.server.start()
        self.run.redis_restarts += 1

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.proc.wait(20)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()

    # ----------------------------------------------------------------------------- the producer

    def task_mix(self, n: int) -> tuple[str, dict[str, Any]]:
        draw = self.rng.random()
        if draw < 0.62:
            return "short", {"n": n}
        if draw < 0.72:
            return "slow", {"n": n, "seconds": round(self.rng.uniform(0.2, 1.5), 2)}
        if draw < 0.85:
            return "flaky", {"n": n, "chance": 0.5, "_retries": None}
        if draw < 0.88:
            return "overtime", {"n": n, "seconds": 3}
        return "delayed", {"n": n, "_delay": round(self.rng.uniform(0.1, 8), 2)}

    def produce(self) -> None:
        """Submits the tasks spread over the chaos period, with ids of its own so that a submit cut by
        the Redis restart can be sent again (TaskExists then says the first one went through)."""
        total = self.args.tasks
        pace = self.args.produce_seconds / total
        start = time.monotonic()
        with Client(self.server.url, prefix=PREFIX, queue=QUEUE) as client:
            for n in range(total):
                kind, kwargs = self.task_mix(n)
                kwargs = {k: v for k, v in kwargs.items() if v is not None}
                function = "short" if kind == "delayed" else kind
                task_id = str(uuid.uuid4())
                while True:
                    try:
                        client.submit(function, _task_id=task_id, **kwargs)
                        break
                    except TaskExists:
                        break
                    except (redis.RedisError, OSError) as exc:  # Redis restarting: send it again
                        self.run.submit_errors += 1
                        say(f"submit of task {n} failed ({type(exc).__name__}: {exc}); again")
                        time.sleep(0.2)
                self.run.submitted[task_id] = n
                self.run.kinds[kind] += 1
                lag = start + n * pace - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
        self.run.submit_done.set()
        say(f"submitted {total} tasks")

    # ----------------------------------------------------------------------------- the run

    def go(self) -> int:
        self.server.start()
        r = redis.Redis.from_url(self.server.url, decode_responses=True)
        say(f"redis-server on {self.server.url}, appendfsync {r.config_get('appendfsync')['appendfsync']}")
        try:
            for _ in range(self.args.workers):
                self.start_worker(r)
            producer = threading.Thread(target=self.produce, name="producer", daemon=True)
            producer.start()
            restarts_at = {
                round((i + 1) * self.args.kills / (self.args.redis_restarts + 1))
                for i in range(self.args.redis_restarts)
            }
            for k in range(self.args.kills):
                time.sleep(self.rng.uniform(0.5, 1.5) * self.args.kill_every)
                if k in restarts_at:
                    self.restart_redis()
                self.kill_one(r)
            producer.join()
            self.wait_until_settled(r)
            return self.report(r)
        finally:
            self.stop_all()
            r.close()
            self.server.stop()

    def wait_until_settled(self, r: redis.Redis) -> None:
        """Until every task is finished and the lists are empty, or the deadline."""
        deadline = time.monotonic() + self.args.settle_seconds
        ids = list(self.run.submitted)
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                pipe = r.pipeline(transaction=False)
                for task_id in ids:
                    pipe.hget(f"{PREFIX}:task:{task_id}", "state")
                open_ = sum(1 for state in pipe.execute() if state != "finished")
                left = self.left(r)
                if open_ == 0 and sum(left.values()) == 0:
                    return
                say(f"waiting: {open_} task(s) not finished; on the lists: {left}")
            time.sleep(2)

    def left(self, r: redis.Redis) -> dict[str, int]:
        return {
            "pending": int(r.llen(f"{PREFIX}:{QUEUE}:pending")),
            "executing": int(r.llen(f"{PREFIX}:{QUEUE}:executing")),
            "scheduled": int(r.zcard(f"{PREFIX}:{QUEUE}:scheduled")),
        }

    # ----------------------------------------------------------------------------- the table

    def runs(self) -> dict[int, list[tuple[str, int, str]]]:
        """Per task number: its runs, as (start or end, worker pid, detail), in the order written."""
        found: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
        path = self.workdir / "runs.log"
        if path.exists():
            for line in path.read_text().splitlines():
                kind, n, pid, _, *detail = line.split(" ")
                found[int(n)].append((kind, int(pid), " ".join(detail)))
        return found

    def report(self, r: redis.Redis) -> int:
        pipe = r.pipeline(transaction=False)
        for task_id in self.run.submitted:
            pipe.hgetall(f"{PREFIX}:task:{task_id}")
        hashes = dict(zip(self.run.submitted, pipe.execute(), strict=True))
        successful = 0
        failed: Counter[str] = Counter()
        lost: list[str] = []
        stuck: list[str] = []
        for task_id, fields in hashes.items():
            if not fields:
                lost.append(task_id)
            elif fields.get("state") != "finished":
                stuck.append(task_id)
            elif fields.get("result") == "successful":
                successful += 1
            else:
                failed[generic(fields.get("error-reason", ""))] += 1
        killed_pids = {kill.pid for kill in self.run.kills}
        more_than_once = explained = 0
        unexplained: list[int] = []
        for n, events in self.runs().items():
            starts = [(pid, i) for i, (kind, pid, _) in enumerate(events) if kind == "S"]
            if len(starts) < 2:
                continue
            # A run that ended by raising Transient was retried by policy; any other run followed by a
            # new start ran again: its worker must have been killed.
            again = [pid for pid, i in starts[:-1] if not ended_raising(events, i, pid)]
            if not again:
                continue
            more_than_once += 1
            if all(pid in killed_pids for pid in again):
                explained += 1
            else:
                unexplained.append(n)
        delays = self.detection_delays(hashes)
        left = self.left(r)
        rows = [
            ("submitted", str(len(self.run.submitted))),
            ("  of which " + ", ".join(f"{kind} {count}" for kind, count in sorted(self.run.kinds.items())), ""),
            ("finished successful", str(successful)),
        ]
        rows += [(f"finished failed: {reason}", str(count)) for reason, count in failed.most_common()]
        rows += [
            ("**lost** (no hash)", str(len(lost))),
            ("**stuck** (not finished)", str(len(stuck))),
            (
                "ran more than once",
                f"{more_than_once} ({explained} explained by a kill of their worker, {len(unexplained)} not)",
            ),
            (
                "left on pending / executing / scheduled",
                f"{left['pending']} / {left['executing']} / {left['scheduled']}",
            ),
            ("worker SIGKILLs (each replaced)", str(len(self.run.kills))),
            ("Redis restarts", str(self.run.redis_restarts)),
            ("submits sent again after an error", str(self.run.submit_errors)),
            (
                "kill to requeue, p50 / max (s)",
                f"{percentile(delays, 50):.1f} / {max(delays, default=0):.1f} ({len(delays)} kills that left tasks)",
            ),
            (
                "detection settings",
                f"heartbeat {self.args.heartbeat} s (hash expires after 3), recovery every "
                f"{self.args.recovery_interval} s, grace {self.args.recovery_grace} s",
            ),
        ]
        width = max(len(label) for label, _ in rows)
        print(f"| {'what'.ljust(width)} | count |")
        print(f"|{'-' * (width + 2)}|-------|")
        for label, value in rows:
            print(f"| {label.ljust(width)} | {value} |")
        problems = []
        if lost or stuck:
            problems.append(f"{len(lost)} lost and {len(stuck)} stuck: {', '.join((lost + stuck)[:10])}")
        if sum(left.values()):
            problems.append(f"ids left on the lists: {left}")
        if unexplained:
            problems.append(f"tasks run more than once with no kill to explain it: {unexplained[:10]}")
        for problem in problems:
            say(f"FAIL: {problem}")
        if not problems:
            say("OK: nothing lost, nothing stuck, every second run explained by a kill")
        return 1 if problems else 0

    def detection_delays(self, hashes: dict[str, dict[str, str]]) -> list[float]:
        """Per kill that left tasks behind: seconds from the SIGKILL to the last of its tasks given back
        or failed by a recovery (the errors entry the recovery wrote names the dead worker)."""
        kills = {kill.worker_id: kill.at for kill in self.run.kills}
        latest: dict[str, float] = {}
        for fields in hashes.values():
            history = fields.get("errors")
            entries = orjson.loads(history) if history else []
            if fields.get("error-reason", "").startswith("worker "):  # failed by the recovery: its last entry
                entries = entries[-1:] + entries
            for entry in entries:
                worker = entry.get("worker")
                if worker in kills and "died" in entry.get("reason", ""):
                    delay = (parse_timestamp(entry["at"]) - kills[worker]).total_seconds()
                    latest[worker] = max(latest.get(worker, 0.0), delay)
        return sorted(latest.values())


def ended_raising(events: list[tuple[str, int, str]], start: int, pid: int) -> bool:
    """Whether the run that started at events[start] (on worker pid) ended by raising."""
    for kind, event_pid, detail in events[start + 1 :]:
        if kind == "E" and event_pid == pid:
            return detail == "raise"
        if kind == "S" and event_pid == pid:
            return False
    return False


def generic(reason: str) -> str:
    """A failure reason with its numbers and ids taken out, to count the reasons by kind."""
    reason = re.sub(r"worker \S+ died", "worker W died", reason)
    return re.sub(r"task \d+", "task N", reason)


def percentile(values: list[float], p: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--kills", type=int, default=24, help="worker SIGKILLs, each replaced by a new worker")
    parser.add_argument("--kill-every", type=float, default=4.0, metavar="SECONDS", help="mean time between kills")
    parser.add_argument("--redis-restarts", type=int, default=1)
    parser.add_argument("--produce-seconds", type=float, default=80.0, help="submissions are spread over this")
    parser.add_argument("--settle-seconds", type=float, default=300.0, help="the most to wait for the end")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="the workers' --heartbeat-interval")
    parser.add_argument("--recovery-interval", type=float, default=1.0)
    parser.add_argument("--recovery-grace", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the workers' logs and the runs log")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="doshit-chaos-") as tmp:
        workdir = Path(tmp)
        code = Chaos(args, workdir).go()
        if args.keep or code:
            kept = Path(tempfile.mkdtemp(prefix="doshit-chaos-logs-"))
            for path in workdir.iterdir():
                path.rename(kept / path.name)
            say(f"logs kept in {kept}")
        return code


if __name__ == "__main__":
    sys.exit(main())
