"""The clients under trouble: Redis restarts under a wait, thousands of calls in flight, hostile task
hashes, bad URLs; only documented exceptions ever reach the caller."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis

from doshit import AsyncClient, Client, ConfigError, DecodeError, Registry
from doshit.testing import PrivateRedis, free_port

from .conftest import Blocking, launch, wait_for

pytestmark = pytest.mark.timeout(300)


def both_clients(url: str, prefix: str) -> Iterator[tuple[str, Any]]:
    """The sync Client, then the AsyncClient behind the same blocking interface."""
    with Client(url, prefix=prefix) as client:
        yield "sync", client
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    async_client = AsyncClient(url, prefix=prefix)
    try:
        yield "async", Blocking(async_client, loop)
    finally:
        asyncio.run_coroutine_threadsafe(async_client.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_a_wait_rides_out_a_redis_restart(tmp_path: Path, prefix: str) -> None:
    """Before, wait_result raised ConnectionError once Redis was back (a stale connection)."""
    server = PrivateRedis(free_port(), persist=True)
    with server as url:
        for kind, client in both_clients(url, prefix):
            task = client.submit("echo", text=kind)  # no worker yet
            assert client.info(task.task_id).state == "pending"  # the command connection is in use
            outcome: list[Any] = []
            waiter = threading.Thread(target=lambda t=task, o=outcome: o.append(t.wait_result(timeout=60)))
            waiter.start()
            time.sleep(0.3)
            server.stop()
            time.sleep(1.0)  # the waiter's reads fail meanwhile
            server.start()  # same port, the data kept
            with redis.Redis.from_url(url, decode_responses=True) as conn:
                worker, _ = launch(url, conn, prefix, tmp_path / f"{kind}.log", "--pool", "inline")
                try:
                    waiter.join(30)
                    assert outcome == [kind]
                finally:
                    worker.stop()


def test_ten_thousand_calls_in_flight_on_one_async_client(start_worker: Any, redis_url: str, prefix: str,
                                                          r: redis.Redis) -> None:  # fmt: skip
    """Before, redis-py 8's pool refused the 101st operation in flight (MaxConnectionsError)."""
    start_worker("--pool", "inline", "--concurrency", "50")
    most = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            most.append(sum(1 for c in r.client_list() if c["name"] == "doshit-client"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    async def main() -> list[Any]:
        async with AsyncClient(redis_url, prefix=prefix) as client:

            async def call(i: int) -> Any:
                task = await client.submit("add", a=i, b=1)
                return await task.wait_result(timeout=120)

            return await asyncio.gather(*(call(i) for i in range(10_000)))

    try:
        results = asyncio.run(main())
    finally:
        stop.set()
        sampler.join()
    assert results == [i + 1 for i in range(10_000)]
    assert 2 <= max(most) <= 11, max(most)  # at most 10 command connections, and the subscription


def test_one_sync_client_shared_by_200_threads(start_worker: Any, client: Client) -> None:
    start_worker("--pool", "inline", "--concurrency", "50")

    def calls(n: int) -> list[Any]:
        return [client.submit("add", a=n, b=i).wait_result(timeout=60) for i in range(5)]

    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(calls, range(200)))
    assert results == [[n + i for i in range(5)] for n in range(200)]


@pytest.mark.parametrize(
    "value",
    [
        "[" * 100_000 + "12345678901234567890" + "]" * 100_000,
        '{"a":' * 995 + '{"type":"datetime","value":"2015-12-05T00:19:01.834909Z"}' + "}" * 995,
        "1e999999",
    ],
    ids=["deep with a long integer", "deep datetime", "beyond a double"],
)
def test_a_crafted_result_is_a_decode_error(client: Client, r: redis.Redis, prefix: str, value: str) -> None:
    """Before, a RecursionError (or an infinity) reached the caller."""
    task_id = str(uuid.uuid4())
    r.hset(f"{prefix}:task:{task_id}", mapping={"state": "finished", "result": "successful", "result-value": value})
    with pytest.raises(DecodeError):
        client.get(task_id).wait_result(timeout=5)


def test_text_that_is_not_utf8_is_a_decode_error(redis_url: str, client: Client, prefix: str) -> None:
    task_id = str(uuid.uuid4())
    with redis.Redis.from_url(redis_url) as conn:
        fields = {b"state": b"finished", b"result": b"successful", b"result-value": b'"\xff"', b"username": b"al\xffce"}
        conn.hset(f"{prefix}:task:{task_id}", mapping=fields)  # type: ignore[arg-type]
    info = client.info(task_id)
    with pytest.raises(DecodeError, match="result-value: not valid UTF-8"):
        _ = info.result_value
    with pytest.raises(DecodeError, match="username: not valid UTF-8"):
        _ = info.username
    assert info.state == "finished"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost:abc/0", "bad port"),
        ("redis://localhost:99999/0", "bad port"),
        ("redis://localhost:6379/abc", "database must be a number"),
        ("redis://:p@ss/w@rd@localhost:6379/0", "percent-encode"),
        ("http://localhost", "must start with"),
        ("redis:///0", "names no host"),
    ],
)
def test_a_bad_url_is_a_config_error_at_once(url: str, message: str) -> None:
    for make in (Client, AsyncClient):
        with pytest.raises(ConfigError, match=message) as refused:
            make(url)
        assert "w@rd" not in str(refused.value) and "p@ss" not in str(refused.value)


def test_a_database_out_of_range_is_a_config_error(redis_proc: Any, prefix: str) -> None:
    url = f"redis://{redis_proc.host}:{redis_proc.port}/99"
    for kind, client in both_clients(url, prefix):
        with pytest.raises(ConfigError, match="database number"):
            client.submit("echo", text=kind)


def test_passwords_are_masked_whatever_they_hold(redis_proc: Any) -> None:
    base = f"{redis_proc.host}:{redis_proc.port}"
    for secret in ("se%2Fcret", "se%40cret", "plain"):
        client = Client(f"redis://user:{secret}@{base}/0")
        assert secret not in repr(client) and "user:***@" in repr(client)
        client.close()


def test_a_wait_without_timeout_on_an_unserved_queue_warns_once(start_worker: Any, client: Client,
                                                                 caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.WARNING, "doshit.client")
    first, second = client.submit("echo", text="a"), client.submit("echo", text="b")
    waiters = [threading.Thread(target=task.wait_result) for task in (first, second)]
    for waiter in waiters:
        waiter.start()
    wait_for(lambda: "no live worker serves queue 'default'" in caplog.text, what="the warning")
    start_worker()
    for waiter in waiters:
        waiter.join(30)
    assert caplog.text.count("no live worker serves queue") == 1
    assert first.wait_result() == "a"  # a queue that is served: no more warnings
    assert caplog.text.count("no live worker serves queue") == 1


def test_registry_call_inside_a_running_loop_says_to_use_acall() -> None:
    registry = Registry()

    @registry.task
    async def double(x: int) -> int:
        return 2 * x

    async def main() -> int:
        with pytest.raises(RuntimeError, match=r"await registry.acall\('double'"):
            registry.call("double", x=2)
        return await registry.acall("double", x=2)  # type: ignore[no-any-return]

    assert asyncio.run(main()) == 4
    assert registry.call("double", x=3) == 6


def test_stopped_clients_leave_no_thread(redis_url: str) -> None:
    before = threading.active_count()
    with Client(redis_url) as client:
        client.submit("echo", text="x")
        started = time.monotonic()
    assert time.monotonic() - started < 1  # closing does not wait for the subscription
    wait_for(lambda: threading.active_count() <= before, what="the subscriber thread to end")


def test_a_key_that_is_not_a_task_is_a_decode_error(any_client: Any, r: redis.Redis, prefix: str) -> None:
    r.lpush(f"{prefix}:task:listy", "x")
    with pytest.raises(DecodeError, match="not a task hash"):
        any_client.info("listy")
    with pytest.raises(DecodeError, match="not a task hash"):
        any_client.get("listy")
    r.hset(f"{prefix}:task:odd", mapping={"state": "pending", "queue": "bad queue"})
    assert any_client.get("odd").cancel() == "cancelled"
