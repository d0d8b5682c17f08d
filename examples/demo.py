#!/usr/bin/env python3
"""The doshit demo (``make demo``): one worker, then tasks from the sync Client, the AsyncClient, the
Node.js client and plain Redis commands, as a person would type them into redis-cli.

Redis: $DOSHIT_REDIS_URL if set; else redis://127.0.0.1:6379/0 if it answers (another address to
try can be given in $DOSHIT_DEMO_PROBE_URL); else a private redis-server on a free loopback port,
stopped at the end. Every key uses the prefix "doshit-demo", never a real deployment's.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import redis

from doshit import AsyncClient, Client, TaskFailed
from doshit._core.config import mask_url
from doshit.testing import PrivateRedis, answers

ROOT = Path(__file__).resolve().parent.parent
APP = "examples.tasks"
PREFIX = "doshit-demo"
QUEUE = "default"
DEFAULT_PROBE = "redis://127.0.0.1:6379/0"
TIMEOUT = 20.0
"""Seconds any one step may take before the demo gives up."""


class DemoError(Exception):
    """Something the demo cannot go on without; the message says what."""


# --------------------------------------------------------------------------- Redis and the worker


def find_redis(stack: ExitStack) -> tuple[str, str, bool]:
    """The URL to use, a line saying where it came from, and whether it is a private server (which
    ``stack`` stops)."""
    url = os.environ.get("DOSHIT_REDIS_URL")
    if url:
        if not answers(url, timeout=2):
            raise DemoError(f"DOSHIT_REDIS_URL is set, but no Redis answers at {mask_url(url)}")
        return url, f"{mask_url(url)} (from DOSHIT_REDIS_URL)", False
    probe = os.environ.get("DOSHIT_DEMO_PROBE_URL") or DEFAULT_PROBE
    if answers(probe):
        return probe, f"{mask_url(probe)} (already running)", False
    try:
        private = PrivateRedis()
    except RuntimeError as exc:
        raise DemoError(f"no Redis answers at {mask_url(probe)}, and {exc}") from None
    stack.callback(private.__exit__, None, None, None)  # stops it even if start() fails half-way
    url = private.start()
    return url, f"{url} (nothing answered at {mask_url(probe)}: a private {private.binary})", True


class WorkerProcess:
    """``doshit-worker --app examples.tasks`` as a subprocess, its log in a temporary file."""

    def __init__(self, url: str, logdir: Path) -> None:
        self.args = [sys.executable, "-m", "doshit._cli", "--app", APP, "--redis-url", url, "--prefix", PREFIX,
                     "--queue", QUEUE]  # fmt: skip
        self.log_path = logdir / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, r: redis.Redis) -> dict[str, str]:
        """Start it and wait for its worker hash; returns that hash."""
        before = set(r.scan_iter(match=f"{PREFIX}:worker:*"))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise DemoError(f"the worker exited with code {self.proc.returncode}")
            new = set(r.scan_iter(match=f"{PREFIX}:worker:*")) - before
            if new:
                return {str(k): str(v) for k, v in r.hgetall(new.pop()).items()}
            if time.monotonic() > deadline:
                raise DemoError(f"the worker did not register within {TIMEOUT:.0f} s")
            time.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM: it finishes what it runs and exits. SIGKILL only if it does not exit in time."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return proc.returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --------------------------------------------------------------------------- redis-cli look


def as_bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def cli_repr(value: bytes) -> str:
    """A bulk string quoted the way redis-cli prints it."""
    escapes = {b"\\": "\\\\", b'"': '\\"', b"\n": "\\n", b"\r": "\\r", b"\t": "\\t", b"\a": "\\a", b"\b": "\\b"}
    out = []
    for byte in value:
        char = bytes([byte])
        out.append(escapes.get(char) or (chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}"))
    return '"' + "".join(out) + '"'


def cli_array(items: Sequence[bytes | None], indent: str = "  ") -> str:
    """A multi-bulk reply as redis-cli prints it: right-aligned numbers, quoted strings, (nil)."""
    if not items:
        return f"{indent}(empty array)"
    width = len(str(len(items)))
    return "\n".join(
        f"{indent}{n:>{width}}) {'(nil)' if item is None else cli_repr(item)}" for n, item in enumerate(items, 1)
    )


def cli_command(*words: str) -> str:
    return "  > " + " ".join(shlex.quote(word) for word in words)


# --------------------------------------------------------------------------- the demo


def sync_part(url: str, submitted: list[str]) -> None:
    print("\nFrom Python, with the sync Client")
    with Client(url, prefix=PREFIX, queue=QUEUE) as client:
        task = client.submit("echo", text="hello")
        submitted.append(task.task_id)
        print(f"  echo(text='hello')        -> {task.wait_result(timeout=TIMEOUT)!r}")
        task = client.submit("add", a=2, b=40)
        submitted.append(task.task_id)
        print(f"  add(a=2, b=40)            -> {task.wait_result(timeout=TIMEOUT)!r}")
        task = client.submit("fail", message="bad input")
        submitted.append(task.task_id)
        try:
            task.wait_result(timeout=TIMEOUT)
        except TaskFailed as exc:
            reason = task.info().error_reason
            print(f"  fail(message='bad input') -> TaskFailed: {exc}   (= the task's error-reason: {reason!r})")
        else:
            raise DemoError("the task 'fail' did not fail")


async def async_part(url: str, submitted: list[str], concurrency: str) -> None:
    print("\nFrom asyncio, with the AsyncClient: four tasks at once")
    async with AsyncClient(url, prefix=PREFIX, queue=QUEUE) as client:
        started = time.perf_counter()
        tasks = await asyncio.gather(*(client.submit("slow.square", x=x, delay=0.2) for x in range(1, 5)))
        submitted.extend(task.task_id for task in tasks)
        results = await asyncio.gather(*(task.wait_result(timeout=TIMEOUT) for task in tasks))
        elapsed = time.perf_counter() - started
    print(f"  slow.square(x=1..4, delay=0.2) -> {results} in {elapsed:.2f} s (the worker runs {concurrency} at a time)")


def node_part(url: str, submitted: list[str]) -> None:
    """examples/node/hello.mjs against the same worker; skipped with a note when Node.js is missing."""
    print("\nFrom Node.js, with the Node client (examples/node/hello.mjs)")
    node = shutil.which("node")
    if node is None or not (ROOT / "clients" / "node" / "node_modules").is_dir():
        print("  skipped: needs Node.js 20+ and `npm ci` in clients/node (make demo runs it when npm is there)")
        return
    env = {**os.environ, "DOSHIT_REDIS_URL": url, "DOSHIT_APP_PREFIX": PREFIX, "DOSHIT_DEMO_IDS": "1"}
    done = subprocess.run(
        [node, str(ROOT / "examples" / "node" / "hello.mjs")], env=env, capture_output=True, text=True, timeout=60
    )
    for line in done.stdout.splitlines():
        if line.startswith("ids "):
            submitted.extend(line.split()[1:])
        else:
            print(line)
    if done.returncode != 0:
        raise DemoError(f"the Node.js part failed (exit code {done.returncode}):\n{done.stderr}")


def redis_cli_part(r: redis.Redis, raw: redis.Redis, submitted: list[str]) -> str:
    print("\nBy hand, the way you would type it into redis-cli")
    task_id = f"by-hand-{uuid.uuid4().hex[:8]}"
    submitted.append(task_id)
    key, pending = f"{PREFIX}:task:{task_id}", f"{PREFIX}:{QUEUE}:pending"
    args = '{"text":"written by hand"}'
    print(cli_command("HSET", key, "function", "echo", "state", "pending", "args", args))
    print(f"  (integer) {r.hset(key, mapping={'function': 'echo', 'state': 'pending', 'args': args})}")
    print(cli_command("LPUSH", pending, task_id))
    print(f"  (integer) {r.lpush(pending, task_id)}")
    deadline = time.monotonic() + TIMEOUT
    polls = 0
    while True:
        polls += 1
        reply = [as_bytes(value) for value in raw.hmget(key, ["result", "result-value"])]
        if reply[0] is not None:
            break
        if time.monotonic() > deadline:
            raise DemoError(f"the task written by hand did not finish within {TIMEOUT:.0f} s")
        time.sleep(0.01)
    print(cli_command("HMGET", key, "result", "result-value") + f"        # polled {polls}x until result was set")
    print(cli_array(reply))
    return key


def show_hash(raw: redis.Redis, key: str) -> None:
    print("\nThe finished task, as redis-cli shows it")
    print(cli_command("HGETALL", key))
    fields = raw.hgetall(key)  # in the hash's own order, as redis-cli shows it
    print(cli_array([as_bytes(item) for pair in fields.items() for item in pair]))


def functions_of(worker_hash: dict[str, str]) -> list[str]:
    """The worker hash's ``functions`` field (a JSON array of names)."""
    names: Any = json.loads(worker_hash.get("functions", "[]"))
    return [str(name) for name in names]


def run(stack: ExitStack) -> bool:
    """The whole demo; what it starts is stopped by ``stack``. True if it started a private Redis."""
    url, where, private = find_redis(stack)
    print("doshit demo")
    print(f"  Redis:  {where}")
    print(f'  Keys:   all under the prefix "{PREFIX}", so a real deployment\'s keys ("doshit:...") are never touched')
    r: redis.Redis = stack.enter_context(redis.Redis.from_url(url, decode_responses=True))
    raw: redis.Redis = stack.enter_context(redis.Redis.from_url(url))
    logdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="doshit-demo-")))
    worker = WorkerProcess(url, logdir)
    submitted: list[str] = []

    def cleanup() -> None:
        _cleaning.append(True)
        code = worker.stop()
        if code is not None:
            print(f"\nStopped the worker (SIGTERM; exit code {code}).")
        if submitted and not private:  # leave nothing behind on a shared Redis
            try:
                r.delete(*(f"{PREFIX}:task:{task_id}" for task_id in submitted))
                print(f"Deleted the demo's {len(submitted)} task hashes.")
            except redis.RedisError as exc:
                print(f"Could not delete the demo's task hashes: {exc}", file=sys.stderr)

    def show_log(kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None and not issubclass(kind, (KeyboardInterrupt, SystemExit)) and worker.proc is not None:
            print(f"\nThe worker's log (last lines):\n{worker.log_tail()}", file=sys.stderr)

    stack.callback(cleanup)
    stack.push(show_log)
    hash_ = worker.start(r)
    pool = f"{hash_.get('pool')} pool x{hash_.get('concurrency')}"
    print(
        f"  Worker: doshit-worker --app {APP} (pid {hash_.get('pid')}, {pool}), runs: {', '.join(functions_of(hash_))}"
    )

    sync_part(url, submitted)
    asyncio.run(async_part(url, submitted, hash_.get("concurrency", "?")))
    node_part(url, submitted)
    key = redis_cli_part(r, raw, submitted)
    show_hash(raw, key)
    return private


_signalled: list[int] = []
_cleaning: list[bool] = []


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C or SIGTERM: unwind through the cleanup once. A signal during the cleanup (which has its
    own time limits) is noted but does not interrupt it, so the worker and Redis are still stopped."""
    _signalled.append(signum)
    if len(_signalled) == 1 and not _cleaning:
        raise KeyboardInterrupt


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)
    try:
        with ExitStack() as stack:
            private = run(stack)
        if not _signalled:
            print("Stopped the private redis-server. Done." if private else "Done.")
            return 0
    except KeyboardInterrupt:
        pass
    except DemoError as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    except (redis.RedisError, TaskFailed, TimeoutError) as exc:
        if not _signalled:  # else: Ctrl-C reached a private Redis too, and stopped it first
            print(f"\ndemo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print("\ninterrupted; the worker and anything else the demo started are stopped", file=sys.stderr)
    return 128 + (_signalled[0] if _signalled else signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
