#!/usr/bin/env python3
"""doshit beside its peers (RQ, arq, SAQ, Dramatiq, Huey, Celery, taskiq, BullMQ) on one Redis, in one run.

    make bench-peers                # or: .venv/bin/python bench/peers.py [--quick] [--rounds N]
                                    #         [--systems doshit,rq,bullmq] [--scale]

It starts one private redis-server (doshit.testing.PrivateRedis: a free loopback port, nothing
saved), installs the peers the first time (stamp files: a second run installs nothing) into
git-ignored environments, never into the project's .venv: bench/.peers/venv (requirements.txt:
RQ, Dramatiq, Huey, Celery, taskiq), bench/.peers/venv-redis5 (requirements-redis5.txt: arq and SAQ,
whose redis-py ranges exclude the others') and bench/peers/node_modules (BullMQ, ``npm ci``). A peer
that fails to install or to run gets "failed: reason" in its cells; the run goes on.

Every system measures the same things in every round (round 1: each system once, round 2: each
again, ...; the order rotates by one each round, the Redis floor taking its turn like a system), and
the tables show the median and the min-max over the rounds. Each system has its own Redis database
on the one server, flushed before and after each measurement. Its producer is a subprocess (its own
driver in bench/peers/, in its own environment), and so is its worker: one worker process (plus the
children the worker's pool forks), started by this script and stopped after each measurement.
Every subprocess is the leader of its own process group; each group is SIGKILLed once done with,
and all of them in a ``finally`` (also on SIGINT/SIGTERM). A step that overruns its bound fails.

The task is a no-op that returns its argument. Figures:

A. Submit: COUNT (5,000) enqueues one after the other from one producer, no worker running (after
   one untimed enqueue that connects). Batched: 10,000 tasks in batches of 1,000 through the
   system's batch API (doshit ``Client.submit_many``, Node ``submitMany``, RQ ``enqueue_many``,
   BullMQ ``addBulk``, Celery ``group().apply_async()``, which publishes one message per task but
   is the closest it has); "n/a" for a system without one. Those 10,000 are then drained (B); a
   system without a batch API queues them one after the other, untimed.
B. Drain: the 10,000 tasks wait in the queue before the worker starts. How completion is seen, the
   same way for every system: each task INCRs a counter key in its system's database (one extra
   Redis command per task, for everybody), and this script reads the counter every millisecond. The
   clock starts at the first read that finds a task done (so neither enqueueing nor the worker's
   start-up is counted) and stops at the read that finds all done: the rate is the tasks done in
   between over that time. Starting the worker on an empty queue and pushing the tasks afterwards
   would let the producer's speed (or its CPU, on 2 cores) into the figure; this does not. Also
   shown: the seconds from the worker's spawn to its first task done (its start-up), and the Redis
   memory (INFO used_memory, less the Lua script cache) after the drain minus before the fill, per
   task: what a finished task costs under the system's default result retention. What a system
   keeps whatever the count (its worker's registration, an event stream, Redis's own first-use
   allocations) is spread over the tasks too: small with 10,000, not with --quick's 1,000.
C. Round trips: with a fresh worker, 50 untimed calls (the first waits up to 60 s for the worker),
   then 1,000 timed ones one after the other: enqueue, then wait for the result with the system's
   own API (p50 and p99 in ms). Systems that can only poll for a result (arq, SAQ, taskiq) poll
   every 1 ms (their defaults are 0.2 to 0.5 s).
D. The floor: a redis-py PING round trip (p50 of 1,000) and ``redis-benchmark -t ping,set,lpush
   -n 100000 -q``, without and with ``-P 16``, against the same server.
E. ``--scale`` (doshit only, not in the default run; a few minutes): the drain and round trips of
   a process-pool worker with 1,000,000 tasks pending (real task hashes; for the drain, queued
   behind the measured 10,000 on the same queue; for the round trips, moved to another queue of the
   prefix, since a task queued behind a million never comes back in time), and of an inline worker
   (``--concurrency 1050``) with 1,000 tasks executing (``sleep_async``), each beside the same
   worker without that load; and Redis memory per pending task.

Configurations (all with per-task logging off): doshit as ``doshit-worker`` with its process pool
(default concurrency: the CPU count), with ``--concurrency 1``, and with ``--pool inline
--concurrency 50`` running an ``async def`` task; doshit's Node client against the process pool;
RQ ``SimpleWorker``; arq (max_jobs 10, its default; poll_delay 1 ms instead of 0.5 s); SAQ
(concurrency 10, its default); Dramatiq 1 process, 1 thread, Results middleware; Huey 1 thread,
``notify_result=True`` (a result wait blocks instead of polling); Celery prefork ``-c 1`` without
gossip, mingle and heartbeat; taskiq ``ListQueueBroker`` + Redis result backend, 1 worker process
(max_async_tasks 100, its default); BullMQ one Node process, concurrency 1. Progress goes to stderr
(the workers' and drivers' output to bench/.peers/logs/), the tables to stdout as markdown.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import Any

import redis

from doshit._core.keys import Keys
from doshit.testing import PrivateRedis

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
STATE = ROOT / "bench" / ".peers"
LOGS = STATE / "logs"
QUEUE = "peers"
PREFIX = "peers"
COUNTER = "peers:done"
BACKLOG_QUEUE = "backlog"

POLL = 0.001
"""Seconds between two reads of the drain counter."""
START_BOUND = 120.0
"""Seconds a worker may take from its spawn to its first task done."""
STALL_BOUND = 30.0
"""Seconds a drain may go without progress before it fails."""
STOP_GRACE = 10.0
"""Seconds a worker gets to exit after SIGTERM before its process group is SIGKILLed."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class StepFailed(Exception):
    """One measurement of one system failed; its cell says why, the run goes on."""


# --------------------------------------------------------------------------- processes


class ProcessGroups:
    """Every subprocess this script starts, each the leader of a new process group."""

    def __init__(self) -> None:
        self.live: dict[int, subprocess.Popen[bytes]] = {}

    def spawn(
        self, argv: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path | None
    ) -> subprocess.Popen[bytes]:
        with ExitStack() as stack:
            out: Any = subprocess.PIPE
            if log is not None:
                out = stack.enter_context(log.open("ab"))
            proc = subprocess.Popen(
                list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT if log is not None else subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
        self.live[proc.pid] = proc
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> None:
        """SIGTERM to the leader, up to ``grace`` seconds to exit, then SIGKILL to its whole group."""
        try:
            if proc.poll() is None and grace > 0:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    say(f"  process {proc.pid} did not exit within {grace:.0f} s of SIGTERM: killing its group")
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                say(f"  process {proc.pid} survived SIGKILL")
        finally:
            self.live.pop(proc.pid, None)

    def stop_all(self) -> None:
        for proc in list(self.live.values()):
            self.stop(proc, grace=2.0)


GROUPS = ProcessGroups()


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def short(reason: str) -> str:
    """The last meaningful line of an error, short enough for a table cell."""
    lines = [line.strip() for line in reason.strip().splitlines() if line.strip()]
    text = lines[-1] if lines else "unknown error"
    text = text.replace("|", "/")
    return text if len(text) <= 110 else text[:107] + "..."


# --------------------------------------------------------------------------- environments


@dataclass
class Env:
    """Where a system's driver and worker run."""

    name: str
    error: str | None = None
    python: Path | None = None
    seconds: float = 0.0
    installed: bool = False
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def bin(self) -> Path:
        assert self.python is not None
        return self.python.parent


VENVS = {
    "peers": (STATE / "venv", PEERS / "requirements.txt", ["rq", "dramatiq", "huey", "celery", "kombu", "taskiq",
                                                            "taskiq-redis", "redis", "hiredis"]),
    "peers-redis5": (STATE / "venv-redis5", PEERS / "requirements-redis5.txt", ["arq", "saq", "redis", "hiredis"]),
}  # fmt: skip


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()


def run_logged(argv: Sequence[str], cwd: Path, log: Path, timeout: float) -> None:
    """Run an install step with its output in ``log``; StepFailed with its end if it fails."""
    proc = GROUPS.spawn(argv, cwd=cwd, env=dict(os.environ), log=log)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{' '.join(argv[:3])} ... took more than {timeout:.0f} s") from None
    finally:
        GROUPS.stop(proc, grace=0)
    if proc.returncode != 0:
        text = log.read_text(errors="replace")
        lines = [line for line in text.splitlines() if "is ignored: it is neither" not in line]
        say(tail("\n".join(lines)))
        raise StepFailed(f"{Path(argv[0]).name} {argv[1] if len(argv) > 1 else ''} exited with code "
                         f"{proc.returncode}: {short(chr(10).join(lines))}")  # fmt: skip


def ensure_venv(name: str) -> Env:
    path, requirements, packages = VENVS[name]
    env = Env(name, python=path / "bin" / "python")
    stamp = path / ".installed"
    wanted = digest(requirements)
    started = time.monotonic()
    try:
        if not (stamp.is_file() and stamp.read_text().strip() == wanted and env.bin.joinpath("python").exists()):
            say(f"installing {requirements.relative_to(ROOT)} into {path.relative_to(ROOT)} (the first time only) ...")
            env.installed = True
            shutil.rmtree(path, ignore_errors=True)
            log = LOGS / f"install-{name}.log"
            log.unlink(missing_ok=True)
            run_logged([sys.executable, "-m", "venv", str(path)], ROOT, log, 300)
            run_logged([str(env.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(requirements)], ROOT, log, 900)  # fmt: skip
            stamp.write_text(wanted + "\n")
        probe = "import importlib.metadata as m, json, sys; print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
        done = subprocess.run([str(env.python), "-c", probe, *packages], capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
        if done.returncode != 0:
            raise StepFailed(f"{path.relative_to(ROOT)} is broken: {short(done.stderr)}")
        env.versions = json.loads(done.stdout)
    except (StepFailed, OSError, subprocess.SubprocessError) as exc:
        env.error = f"install failed: {short(str(exc))}"
    env.seconds = time.monotonic() - started
    return env


def ensure_bullmq() -> Env:
    env = Env("bullmq")
    started = time.monotonic()
    npm, node = shutil.which("npm"), shutil.which("node")
    stamp = PEERS / "node_modules" / ".installed"
    try:
        if node is None or npm is None:
            raise StepFailed("needs Node.js 20+ and npm")
        wanted = digest(PEERS / "package.json", PEERS / "package-lock.json")
        if not (stamp.is_file() and stamp.read_text().strip() == wanted):
            say("installing BullMQ into bench/peers/node_modules (npm ci; the first time only) ...")
            env.installed = True
            log = LOGS / "install-bullmq.log"
            log.unlink(missing_ok=True)
            run_logged([npm, "ci", "--no-audit", "--no-fund"], PEERS, log, 600)
            stamp.write_text(wanted + "\n")
        package = json.loads((PEERS / "node_modules" / "bullmq" / "package.json").read_text())
        env.versions = {"bullmq": str(package["version"])}
        ioredis = json.loads((PEERS / "node_modules" / "ioredis" / "package.json").read_text())
        env.versions["ioredis"] = str(ioredis["version"])
    except (StepFailed, OSError, ValueError, KeyError) as exc:
        env.error = f"install failed: {short(str(exc))}"
    env.seconds = time.monotonic() - started
    return env


def ensure_project() -> Env:
    return Env("project", python=Path(sys.executable), versions={"doshit": package_version("doshit")})


def ensure_doshit_node() -> Env:
    env = Env("doshit-node")
    if shutil.which("node") is None:
        env.error = "failed: needs Node.js 20+"
    elif not (ROOT / "clients" / "node" / "node_modules").is_dir():
        env.error = "failed: needs `npm ci` in clients/node (make install)"
    return env


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------- systems


@dataclass(frozen=True)
class System:
    name: str
    """Its name for --systems."""
    title: str
    config: str
    env: str
    db: int
    driver: tuple[str, ...]
    """Argv of its producer; {python} and {node} are replaced, PHASE COUNT BATCH WARMUP appended."""
    worker: tuple[str, ...]
    """Argv of its worker; {python}, {bin}, {node} and {url} are replaced."""
    peer: bool = True
    short: str = ""
    """doshit's rows of the ratio table: which configuration."""
    submit: bool = True
    """Measure A (False: the same producer as another row measures it)."""
    drain: bool = True
    """Measure B."""


DOSHIT_WORKER = ("{python}", "-m", "doshit._cli", "--app", "doshit_tasks", "--redis-url", "{url}",
                 "--queue", QUEUE, "--prefix", PREFIX)  # fmt: skip
DOSHIT_DRIVER = ("{python}", "doshit_driver.py")

SYSTEMS: tuple[System, ...] = (
    System("doshit", "doshit", f"process pool, default concurrency ({os.cpu_count()}: the CPU count); Python `Client`",
           "project", 1, (*DOSHIT_DRIVER, "--function", "echo"), DOSHIT_WORKER, peer=False,
           short="Python client; process pool (default)"),
    System("doshit-c1", "doshit", "process pool, `--concurrency 1`", "project", 2,
           (*DOSHIT_DRIVER, "--function", "echo"), (*DOSHIT_WORKER, "--concurrency", "1"), peer=False, submit=False,
           short="process pool, -c 1"),
    System("doshit-inline", "doshit", "inline pool, `async def` task, `--concurrency 50`", "project", 3,
           (*DOSHIT_DRIVER, "--function", "echo_async"), (*DOSHIT_WORKER, "--pool", "inline", "--concurrency", "50"),
           peer=False, submit=False, short="inline pool, async, -c 50"),
    System("doshit-node", "doshit (Node client)", "Node client; process pool worker", "doshit-node", 4,
           ("{node}", "doshit_node_driver.mjs"), DOSHIT_WORKER, peer=False, drain=False,
           short="Node client; process pool"),
    System("rq", "RQ", "`SimpleWorker` (no fork per job)", "peers", 5,
           ("{python}", "driver.py", "rq"),
           ("{bin}/rq", "worker", "-w", "rq.worker.SimpleWorker", "-u", "{url}", "--logging_level", "WARNING", QUEUE)),
    System("arq", "arq", "1 worker, max_jobs 10 (default), poll_delay 1 ms", "peers-redis5", 6,
           ("{python}", "driver.py", "arq"), ("{python}", "arq_tasks.py")),
    System("saq", "SAQ", "1 worker, concurrency 10 (default)", "peers-redis5", 7,
           ("{python}", "driver.py", "saq"), ("{bin}/saq", "saq_tasks.settings", "--workers", "1")),
    System("dramatiq", "Dramatiq", "1 process, 1 thread; Results middleware", "peers", 8,
           ("{python}", "driver.py", "dramatiq"),
           ("{bin}/dramatiq", "dramatiq_tasks", "--processes", "1", "--threads", "1")),
    System("huey", "Huey", "1 worker thread; `notify_result=True`", "peers", 9,
           ("{python}", "driver.py", "huey"),
           ("{bin}/huey_consumer", "huey_tasks.huey", "-w", "1", "-k", "thread", "-q")),
    System("celery", "Celery", "prefork `-c 1`; Redis broker and result backend", "peers", 10,
           ("{python}", "driver.py", "celery"),
           ("{bin}/celery", "-A", "celery_tasks", "worker", "-c", "1", "-P", "prefork", "-Q", QUEUE, "--without-gossip",
            "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING")),
    System("taskiq", "taskiq", "`ListQueueBroker`, 1 worker process", "peers", 11,
           ("{python}", "driver.py", "taskiq"),
           ("{bin}/taskiq", "worker", "taskiq_tasks:broker", "--workers", "1", "--log-level", "WARNING")),
    System("bullmq", "BullMQ", "1 Node process, concurrency 1", "bullmq", 12,
           ("{node}", "bullmq_driver.mjs"), ("{node}", "bullmq_worker.mjs")),
)  # fmt: skip
SCALE_DB = 13
FLOOR_DB = 0
BY_NAME = {system.name: system for system in SYSTEMS}
DOSHIT_SYSTEMS = [system for system in SYSTEMS if not system.peer]


@dataclass
class Sizes:
    submit: int
    drain: int
    batch: int
    roundtrips: int
    warmup: int
    benchmark: int
    backlog: int
    executing: int


@dataclass
class Run:
    """The server and the environments of this run."""

    port: int
    envs: dict[str, Env]
    sizes: Sizes
    node: str | None
    clients: dict[int, redis.Redis] = field(default_factory=dict)

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def redis(self, db: int) -> redis.Redis:
        if db not in self.clients:
            self.clients[db] = redis.Redis(port=self.port, db=db, decode_responses=True)
        return self.clients[db]

    def argv(self, template: Sequence[str], system: System, db: int) -> list[str]:
        env = self.envs[system.env]
        python = str(env.python) if env.python is not None else sys.executable
        replacements = {"{python}": python, "{bin}": str(Path(python).parent), "{node}": self.node or "node",
                        "{url}": self.url(db)}  # fmt: skip
        out = []
        for part in template:
            for key, value in replacements.items():
                part = part.replace(key, value)
            out.append(part)
        return out

    def environ(self, db: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        env.update(PEERS_REDIS_URL=self.url(db), PEERS_QUEUE=QUEUE, PEERS_COUNTER=COUNTER, PYTHONPATH=str(PEERS),
                   PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")  # fmt: skip
        return env

    def used_memory(self) -> int:
        """INFO used_memory less the Lua scripts cached (kept across a FLUSHDB: a system's first
        measurement would pay for loading its scripts)."""
        info = self.redis(FLOOR_DB).info("memory")
        return int(info["used_memory"]) - int(info.get("used_memory_scripts", 0))


def drive(run: Run, system: System, phase: str, count: int, *, db: int | None = None,
          extra: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    """Run the system's producer for one phase and return its JSON reply; StepFailed if it fails."""
    db = system.db if db is None else db
    sizes = run.sizes
    argv = [*run.argv(system.driver, system, db), *extra, phase, str(count), str(sizes.batch), str(sizes.warmup)]
    bound = 90 + ((count + sizes.warmup) * 0.25 if phase == "roundtrips" else count / 50)
    proc = GROUPS.spawn(argv, cwd=PEERS, env=run.environ(db), log=None)
    try:
        out, err = proc.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{phase} took more than {bound:.0f} s") from None
    finally:
        GROUPS.stop(proc, grace=0)
    log = LOGS / f"driver-{system.name}.log"
    with log.open("ab") as f:
        f.write(f"--- {phase} {count}: exit {proc.returncode}\n".encode() + err)
    if proc.returncode != 0:
        text = err.decode(errors="replace")
        say(tail(text, 12))
        raise StepFailed(f"{phase}: {short(text)}")
    try:
        reply: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise StepFailed(f"{phase}: no JSON reply from the driver") from None
    return reply


class Worker:
    def __init__(self, run: Run, system: System, argv: Sequence[str], db: int) -> None:
        self.log = LOGS / f"worker-{system.name}.log"
        with self.log.open("ab") as f:
            f.write(f"--- {' '.join(argv)}\n".encode())
        self.spawned = time.perf_counter()
        self.proc = GROUPS.spawn(argv, cwd=PEERS, env=run.environ(db), log=self.log)

    def check(self) -> None:
        if self.proc.poll() is not None:
            text = self.log.read_text(errors="replace")
            say(tail(text))
            raise StepFailed(f"the worker exited with code {self.proc.returncode}: {short(text)}")

    def stop(self) -> None:
        GROUPS.stop(self.proc)


@contextmanager
def running(run: Run, system: System, *, db: int | None = None, argv: Sequence[str] | None = None) -> Iterator[Worker]:
    db = system.db if db is None else db
    worker = Worker(run, system, run.argv(argv or system.worker, system, db), db)
    try:
        yield worker
    finally:
        worker.stop()


def observe_drain(r: redis.Redis, worker: Worker, count: int, since: float) -> tuple[float, float]:
    """Tasks per second from the first task seen done to all ``count`` done, read on the counter;
    and the seconds from ``since`` to the first task seen done."""
    first_at: float | None = None
    first = last = 0
    last_change = time.perf_counter()
    while True:
        done = int(r.get(COUNTER) or 0)
        now = time.perf_counter()
        if done and first_at is None:
            first_at, first = now, done
        if done >= count:
            break
        if done != last:
            last, last_change = done, now
        worker.check()
        if first_at is None and now - since > START_BOUND:
            raise StepFailed(f"no task done within {START_BOUND:.0f} s of the worker's start")
        if first_at is not None and now - last_change > STALL_BOUND:
            raise StepFailed(f"stalled at {done:,} of {count:,} tasks done")
        time.sleep(POLL)
    assert first_at is not None
    if now <= first_at or done <= first:
        raise StepFailed("the drain ended before two reads of the counter: too few tasks to time")
    return (done - first) / (now - first_at), first_at - since


def flush(r: redis.Redis) -> None:
    r.flushdb()


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


Figures = dict[str, float | str]
"""One round of one system: figure name -> value, or the text of a failure or 'n/a'."""


def step(figures: Figures, names: Sequence[str], action: Callable[[], None]) -> bool:
    """Run ``action``; on failure, write the reason into every figure of ``names`` not yet there."""
    try:
        action()
        return True
    except StepFailed as exc:
        reason = f"failed: {exc}"
    except (redis.RedisError, OSError) as exc:
        reason = f"failed: {type(exc).__name__}: {short(str(exc))}"
    for name in names:
        figures.setdefault(name, reason)
    say(f"  {reason}")
    return False


def measure_system(run: Run, system: System) -> Figures:
    figures: Figures = {}
    env = run.envs[system.env]
    names = ["submit", "batch", "drain", "startup", "memory", "p50", "p99"]
    if env.error:
        return dict.fromkeys(names, env.error)
    r = run.redis(system.db)
    sizes = run.sizes

    def submit() -> None:
        r.flushdb()
        figures["submit"] = float(drive(run, system, "submit", sizes.submit)["rate"])

    def fill_and_drain() -> None:
        r.flushdb()
        before = run.used_memory()
        reply = drive(run, system, "fill", sizes.drain)
        figures["batch"] = float(reply["rate"]) if "rate" in reply else f"n/a ({reply.get('na', 'no batch API')})"
        if not system.drain:
            return
        queued = int(r.get(COUNTER) or 0)
        if queued:
            raise StepFailed(f"{queued} tasks ran with no worker running")
        with running(run, system) as worker:
            rate, startup = observe_drain(r, worker, sizes.drain, worker.spawned)
        figures["drain"], figures["startup"] = rate, startup
        figures["memory"] = (run.used_memory() - before) / sizes.drain

    def roundtrips() -> None:
        r.flushdb()
        with running(run, system):
            samples = [float(x) for x in drive(run, system, "roundtrips", sizes.roundtrips)["samples"]]
        figures["p50"], figures["p99"] = percentiles(samples)

    try:
        if system.submit:
            say(f"  {system.name}: submit {sizes.submit:,} one by one ...")
            step(figures, ["submit"], submit)
        say(f"  {system.name}: {sizes.drain:,} queued in batches of {sizes.batch:,}"
            + (", then drained ..." if system.drain else " ..."))  # fmt: skip
        step(figures, ["batch", "drain", "startup", "memory"], fill_and_drain)
        say(f"  {system.name}: {sizes.roundtrips:,} round trips ...")
        step(figures, ["p50", "p99"], roundtrips)
    finally:
        step(figures, [], lambda: flush(r))
    return figures


# --------------------------------------------------------------------------- the floor


def measure_floor(run: Run) -> Figures:
    figures: Figures = {}
    r = run.redis(FLOOR_DB)
    samples = []
    for _ in range(1000):
        started = time.perf_counter()
        r.ping()
        samples.append((time.perf_counter() - started) * 1000)
    figures["ping"] = statistics.median(samples)
    binary = shutil.which("redis-benchmark")
    for pipeline in (1, 16):
        names = [f"{test} P{pipeline}" for test in ("PING_INLINE", "PING_MBULK", "SET", "LPUSH")]
        if binary is None:
            figures.update(dict.fromkeys(names, "failed: no redis-benchmark on $PATH"))
            continue
        argv = [binary, "-p", str(run.port), "-t", "ping,set,lpush", "-n", str(run.sizes.benchmark), "-q"]
        if pipeline > 1:
            argv += ["-P", str(pipeline)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
            found = dict(re.findall(r"([A-Z_]+): ([\d.]+) requests per second", done.stdout))
            for name in names:
                test = name.split()[0]
                figures[name] = float(found[test]) if test in found else f"failed: {short(done.stdout + done.stderr)}"
        except subprocess.TimeoutExpired:
            figures.update(dict.fromkeys(names, "failed: redis-benchmark took more than 300 s"))
    r.flushdb()
    return figures


# --------------------------------------------------------------------------- E: scale


def measure_scale(run: Run) -> list[tuple[str, ...]]:
    """doshit with 1,000,000 pending and with 1,000 executing, beside the same worker without."""
    system = BY_NAME["doshit"]
    sizes = run.sizes
    r = run.redis(SCALE_DB)
    keys = Keys(PREFIX)
    rows: list[tuple[str, ...]] = []
    inline = (*DOSHIT_WORKER, "--pool", "inline", "--concurrency", str(sizes.executing + 50), "--shutdown-timeout", "1")
    inline_system = BY_NAME["doshit-inline"]

    def drain_and_roundtrips(sys_: System, argv: Sequence[str], prepare: Callable[[], None], during: Callable[[], None],
                             fill_first: bool) -> tuple[float, float, float]:  # fmt: skip
        """Drain ``sizes.drain`` tasks, then time round trips, with one worker; ``prepare`` runs
        after the fill (worker not started yet when ``fill_first``), ``during`` between the drain
        and the round trips."""
        r.flushdb()
        if fill_first:
            drive(run, sys_, "fill", sizes.drain, db=SCALE_DB, extra=["--atomic"])
            prepare()
        with running(run, sys_, db=SCALE_DB, argv=argv) as worker:
            if not fill_first:
                prepare()
                since = time.perf_counter()
                drive(run, sys_, "fill", sizes.drain, db=SCALE_DB, extra=["--atomic"])
            else:
                since = worker.spawned
            rate, _ = observe_drain(r, worker, sizes.drain, since)
            during()
            if fill_first:  # a new worker for the round trips, as for B and C
                worker.stop()
                r.set(COUNTER, 0)
                with running(run, sys_, db=SCALE_DB, argv=argv):
                    samples = [
                        float(x) for x in drive(run, sys_, "roundtrips", sizes.roundtrips, db=SCALE_DB)["samples"]
                    ]
            else:
                samples = [float(x) for x in drive(run, sys_, "roundtrips", sizes.roundtrips, db=SCALE_DB)["samples"]]
        r.flushdb()
        p50, p99 = percentiles(samples)
        return rate, p50, p99

    def nothing() -> None:
        pass

    per_pending: list[float] = []

    def backlog() -> None:
        say(f"  writing {sizes.backlog:,} pending tasks behind the {sizes.drain:,} measured ones ...")
        before = run.used_memory()
        drive(run, system, "backlog", sizes.backlog, db=SCALE_DB, extra=["--queue", QUEUE])
        per_pending.append((run.used_memory() - before) / sizes.backlog)

    def move_backlog() -> None:
        # The round trips' tasks would queue behind the backlog: move it to another queue of the prefix.
        if r.exists(keys.pending(QUEUE)):
            r.rename(keys.pending(QUEUE), keys.pending(BACKLOG_QUEUE))

    def sleepers() -> None:
        say(f"  {sizes.executing:,} sleep_async tasks executing ...")
        drive(run, inline_system, "sleepers", sizes.executing, db=SCALE_DB)
        deadline = time.monotonic() + 60
        while int(r.llen(keys.executing(QUEUE))) < sizes.executing:
            if time.monotonic() > deadline:
                raise StepFailed(f"fewer than {sizes.executing:,} tasks executing after 60 s")
            time.sleep(0.05)

    backlog_label = f"{sizes.backlog:,} pending"
    cases = [
        ("process pool", system, DOSHIT_WORKER, backlog, move_backlog, True,
         f"{backlog_label} (drain: queued behind the measured ones; round trips: on another queue)"),
        (f"inline pool, `--concurrency {sizes.executing + 50}`", inline_system, inline, sleepers, nothing, False,
         f"{sizes.executing:,} tasks executing (`asyncio.sleep`)"),
    ]  # fmt: skip
    for label, sys_, argv, loaded, during, fill_first, load in cases:
        results: list[tuple[float, float, float] | str] = []
        for prepare, between in ((nothing, nothing), (loaded, during)):
            say(f"scale: {label}, {'with ' + load if prepare is loaded else 'no other load'} ...")
            try:
                results.append(drain_and_roundtrips(sys_, argv, prepare, between, fill_first))
            except (StepFailed, redis.RedisError, OSError) as exc:
                say(f"  failed: {exc}")
                results.append(f"failed: {short(str(exc))}")
                step({}, [], lambda: flush(r))
        base, loaded_result = results
        for index, (what, unit) in enumerate(
            [(f"drain {sizes.drain:,} queued", "rate"), ("round trip p50", "ms"), ("round trip p99", "ms")]
        ):
            cells = [cell(x[index], unit) if not isinstance(x, str) else x for x in (base, loaded_result)]
            ratio = ""
            if not isinstance(base, str) and not isinstance(loaded_result, str):
                ratio = f"{loaded_result[index] / base[index]:.2f}"
            rows.append((what, label, load, cells[0], cells[1], ratio))
    if per_pending:
        rows.append(("Redis memory per pending task (used_memory delta / tasks written)", "process pool", "",
                     f"{per_pending[0]:,.0f} bytes", "", ""))  # fmt: skip
    return rows


# --------------------------------------------------------------------------- report

UNITS = {"submit": "rate", "batch": "rate", "drain": "rate", "startup": "s", "memory": "bytes", "p50": "ms",
         "p99": "ms", "ping": "ms3"}  # fmt: skip
HIGHER_IS_BETTER = {"submit", "batch", "drain"}
DASH = "\u2013"
"""Between a min and a max."""


def cell(value: float, unit: str) -> str:
    if unit == "rate":
        return f"{value:,.0f}"
    if unit == "ms3":
        return f"{value:.3f}"
    if unit == "ms":
        return f"{value:.2f}" if value < 100 else f"{value:,.0f}"
    if unit == "bytes":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def values(rounds: list[Figures], name: str) -> list[float]:
    return [x for x in (figures.get(name) for figures in rounds) if isinstance(x, float)]


def summary(rounds: list[Figures], name: str, unit: str) -> str:
    found = values(rounds, name)
    texts = [x for x in (figures.get(name) for figures in rounds) if isinstance(x, str)]
    if not found:
        return texts[0] if texts else ""
    text = cell(statistics.median(found), unit)
    if len(found) > 1:
        text += f" ({cell(min(found), unit)}{DASH}{cell(max(found), unit)})"
    failures = [t for t in texts if not t.startswith("n/a")]
    if failures:
        text += f"; {len(failures)} of {len(rounds)} rounds {failures[0]}"
    return text


def median(rounds: list[Figures], name: str) -> float | None:
    found = values(rounds, name)
    return statistics.median(found) if found else None


def better(name: str, doshit: float, peer: float) -> float:
    """How many times better doshit's figure is than the peer's (above 1: doshit is better)."""
    return doshit / peer if name in HIGHER_IS_BETTER else peer / doshit


def report(run: Run, systems: list[System], results: dict[str, list[Figures]], floor: list[Figures],
           scale: list[tuple[str, ...]] | None, header: str) -> None:  # fmt: skip
    print(header)
    print()
    figure_names = [
        ("submit", f"submit 1 by 1 (tasks/s, {run.sizes.submit:,})"),
        ("batch", f"submit batched (tasks/s, {run.sizes.batch:,} per batch)"),
        ("drain", f"drain {run.sizes.drain:,} queued (tasks/s)"),
        ("p50", "round trip p50 (ms)"),
        ("p99", "round trip p99 (ms)"),
        ("memory", "Redis bytes per finished task"),
        ("startup", "worker spawn to first task done (s)"),
    ]
    print(f"Median over the rounds (min{DASH}max).\n")
    print("| system | configuration | " + " | ".join(title for _, title in figure_names) + " |")
    print("|---|---|" + "---|" * len(figure_names))
    for system in systems:
        rounds = results.get(system.name, [])
        cells = []
        for name, _ in figure_names:
            if name == "submit" and not system.submit:
                cells.append("= doshit (same Python producer)")
            elif name in ("drain", "memory", "startup") and not system.drain:
                cells.append("— (the worker of doshit)")
            elif name == "batch" and not system.submit:
                cells.append("= doshit")
            else:
                cells.append(summary(rounds, name, UNITS[name]))
        print(f"| {system.title} | {system.config} | " + " | ".join(cells) + " |")

    peers = [s for s in systems if s.peer]
    ours = [s for s in systems if not s.peer]
    if peers and ours:
        print("\ndoshit against the peers: medians, and how many times better doshit is (rates: doshit / peer; "
              "latencies and memory: peer / doshit; above 1 means doshit is better).\n")  # fmt: skip
        print("| figure | doshit | doshit's median | best peer | x best peer | x BullMQ | x Celery (drain) |")
        print("|---|---|---|---|---|---|---|")
        for name, title in figure_names[:6]:
            unit = UNITS[name]
            peer_medians = {s.title: m for s in peers if (m := median(results.get(s.name, []), name)) is not None}
            best_name: str | None = None
            if peer_medians:
                pick = max if name in HIGHER_IS_BETTER else min
                best_name = pick(peer_medians, key=lambda k: peer_medians[k])
            for system in ours:
                if (name == "submit" or name == "batch") and not system.submit:
                    continue
                if name in ("drain", "memory") and not system.drain:
                    continue
                ours_median = median(results.get(system.name, []), name)
                if ours_median is None:
                    shown = summary(results.get(system.name, []), name, unit) or "n/a"
                    print(f"| {title} | {system.short} | {shown} | | | | |")
                    continue
                best = f"{best_name}: {cell(peer_medians[best_name], unit)}" if best_name else "none measured"
                ratios = [f"{better(name, ours_median, peer_medians[best_name]):.2f}" if best_name else ""]
                for other in ("BullMQ", "Celery"):
                    if other == "Celery" and name != "drain":
                        ratios.append("")
                    elif other in peer_medians:
                        ratios.append(f"{better(name, ours_median, peer_medians[other]):.2f}")
                    else:
                        ratios.append("n/a")
                print(f"| {title} | {system.short} | {cell(ours_median, unit)} | {best} | " + " | ".join(ratios) + " |")

    if floor:
        print(f"\nThe floor: the same Redis, from the same machine (median over the rounds, min{DASH}max).\n")
        print("| measurement | result |")
        print("|---|---|")
        print(f"| redis-py PING round trip, p50 of 1,000 | {summary(floor, 'ping', 'ms3')} ms |")
        for pipeline in (1, 16):
            flag = " -P 16" if pipeline > 1 else ""
            for test in ("PING_INLINE", "PING_MBULK", "SET", "LPUSH"):
                name = f"{test} P{pipeline}"
                text = summary(floor, name, "rate")
                print(f"| `redis-benchmark -t ping,set,lpush -n {run.sizes.benchmark:,}{flag}`: {test} | "
                      f"{text} requests/s |")  # fmt: skip

    if scale is not None:
        print("\nScale (doshit only, one run each; the ratio is with load / without).\n")
        print("| measurement | worker | load | without the load | with it | ratio |")
        print("|---|---|---|---|---|---|")
        for row in scale:
            print("| " + " | ".join(row) + " |")
        finished = summary(results.get("doshit", []), "memory", "bytes")
        if finished:
            print(
                f"| Redis memory per finished task (default result TTL; from B) | process pool | | {finished} B | | |"
            )


# --------------------------------------------------------------------------- main


def on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGINT or SIGTERM: unwind (every ``finally`` stops what it started); a second one is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round, 500 submits, 1,000 drained, 100 round trips"
    )
    parser.add_argument("--rounds", type=int, help="rounds (default 3; --quick: 1)")
    parser.add_argument("--systems", help=f"comma-separated, from: {', '.join(BY_NAME)} (default: all)")
    parser.add_argument(
        "--scale", action="store_true", help="also E: doshit with 1,000,000 pending and 1,000 executing"
    )
    parser.add_argument("--submits", type=int, help="sequential submits per round (default 5,000)")
    parser.add_argument("--tasks", type=int, help="tasks drained per round (default 10,000)")
    parser.add_argument("--roundtrips", type=int, help="timed round trips per round (default 1,000)")
    parser.add_argument(
        "--time-limit", type=float, help="seconds after which no new measurement starts (default 1,500; --quick 300)"
    )
    args = parser.parse_args(argv)  # fmt: skip
    quick = bool(args.quick)
    sizes = Sizes(
        submit=args.submits or (500 if quick else 5000),
        drain=args.tasks or (1000 if quick else 10_000),
        batch=1000,
        roundtrips=args.roundtrips or (100 if quick else 1000),
        warmup=10 if quick else 50,
        benchmark=20_000 if quick else 100_000,
        backlog=100_000 if quick else 1_000_000,
        executing=1000,
    )
    rounds = args.rounds or (1 if quick else 3)
    time_limit = args.time_limit or (300.0 if quick else 1500.0)
    if not 1 <= rounds <= 20 or min(sizes.submit, sizes.roundtrips) < 2 or sizes.drain < 100:
        parser.error("--rounds must be 1 to 20, --submits and --roundtrips at least 2, --tasks at least 100")
    if args.systems:
        names = [name.strip() for name in args.systems.split(",") if name.strip()]
        unknown = [name for name in names if name not in BY_NAME]
        if unknown:
            parser.error(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
        systems = [BY_NAME[name] for name in BY_NAME if name in names]
    else:
        systems = list(SYSTEMS)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("*.log"):
        old.unlink()
    try:
        with ExitStack() as stack:
            stack.callback(GROUPS.stop_all)
            envs: dict[str, Env] = {}
            wanted = {system.env for system in systems}
            install_started = time.monotonic()
            for name, make in (("project", ensure_project), ("doshit-node", ensure_doshit_node),
                               ("bullmq", ensure_bullmq), ("peers", lambda: ensure_venv("peers")),
                               ("peers-redis5", lambda: ensure_venv("peers-redis5"))):  # fmt: skip
                if name in wanted:
                    envs[name] = make()
                    if envs[name].error:
                        say(f"{name}: {envs[name].error}")
            install_seconds = time.monotonic() - install_started
            installed = [name for name, env in envs.items() if env.installed]

            private = PrivateRedis()
            stack.callback(private.__exit__, None, None, None)
            private.start()
            node = shutil.which("node")
            run = Run(private.port, envs, sizes, node)
            for client in (run.redis(FLOOR_DB),):
                stack.callback(client.close)
            redis_version = run.redis(FLOOR_DB).info("server")["redis_version"]
            say(f"redis-server {redis_version} on port {private.port} ({private.binary}); "
                f"{rounds} round(s) of {', '.join(s.name for s in systems)}")  # fmt: skip

            results: dict[str, list[Figures]] = {system.name: [] for system in systems}
            floor: list[Figures] = []
            entries: list[System | None] = [None, *systems]  # None: the floor
            skipped = False
            for number in range(rounds):
                shift = number % len(entries)
                for entry in entries[shift:] + entries[:shift]:
                    if time.monotonic() - started > time_limit:
                        if not skipped:
                            say(f"time limit of {time_limit:.0f} s reached: no new measurement starts")
                        skipped = True
                        break
                    if entry is None:
                        say(f"round {number + 1}/{rounds}: the floor (redis-py PING, redis-benchmark) ...")
                        floor.append(measure_floor(run))
                    else:
                        say(f"round {number + 1}/{rounds}: {entry.name} ({entry.config}) ...")
                        results[entry.name].append(measure_system(run, entry))
                if skipped:
                    break

            scale = None
            if args.scale:
                if envs.get("project") is None:
                    envs["project"] = ensure_project()
                if time.monotonic() - started > time_limit:
                    scale = [("scale", "", "", "skipped: time limit", "", "")]
                else:
                    scale = measure_scale(run)

            for client in run.clients.values():
                client.close()
            wall = time.monotonic() - started
            versions = []
            for name in ("project", "doshit-node", "bullmq", "peers", "peers-redis5"):
                env = envs.get(name)
                if env is not None and env.versions:
                    versions.append(", ".join(f"{k} {v}" for k, v in env.versions.items()) + f" ({name})")
            node_version = ""
            if node is not None:
                node_version = subprocess.run(
                    [node, "--version"], capture_output=True, text=True, check=False
                ).stdout.strip()
            header = (
                f"doshit {package_version('doshit')} beside its peers on {os.cpu_count()} CPUs ({platform.machine()}, "
                f"{platform.system()}), Python {platform.python_version()}, Node {node_version or 'none'}, "
                f"redis-server {redis_version} (private, no persistence; each system its own database). "
                f"{rounds} round(s)"
                f"{' (cut short by the time limit)' if skipped else ''}; {sizes.submit:,} submits, {sizes.drain:,} "
                f"drained, {sizes.roundtrips:,} round trips after {sizes.warmup} per round. Wall time {wall:,.0f} s; "
                f"install {install_seconds:,.0f} s "
                f"({'installed ' + ', '.join(installed) if installed else 'nothing installed'})."
                f"\n\nVersions: {'; '.join(versions)}."
            )  # fmt: skip
            report(run, systems, results, floor, scale, header)
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        GROUPS.stop_all()
        say(f"interrupted{f' ({exc})' if str(exc) else ''}: every process stopped")
        return 143 if str(exc) == "SIGTERM" else 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
