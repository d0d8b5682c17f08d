"""Using the library from Python: a Worker in-process (burst), and Registry.call for testing tasks."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import redis

from doshit import AppRef, Client, Registry, RegistryError, TaskFailed, Worker

from .apps.basic import registry
from .conftest import assert_clean


def test_registry_call_runs_through_json() -> None:
    assert registry.call("add", a=1, b=2) == 3
    assert registry.call("math.mul", a=2, b=4) == 8
    with pytest.raises(TaskFailed, match=r"^ValueError: bad input$"):
        registry.call("fail")
    with pytest.raises(TaskFailed, match="cannot be stored as JSON"):
        registry.call("unencodable")
    with pytest.raises(TaskFailed, match="no function named 'nope'"):
        registry.call("nope")
    with pytest.raises(TaskFailed, match="arguments do not match add"):
        registry.call("add", a=1)


def test_registry_acall_inside_a_loop() -> None:
    async def main() -> Any:
        return await registry.acall("math.mul", a=2, b=5), await registry.acall("add", a=1, b=1)

    assert asyncio.run(main()) == (10, 2)


def test_registry_rules() -> None:
    mine = Registry()

    @mine.task(name="x")
    def one() -> int:
        return 1

    assert one() == 1
    assert "x" in mine and "one" not in mine
    with pytest.raises(RegistryError, match="already registered"):
        mine.register(lambda: 2, name="x")
    assert mine.names() == ["x"]


@pytest.mark.parametrize("pool", ["inline", "process"])
def test_burst_worker_in_process(pool: str, redis_url: str, prefix: str, r: redis.Redis) -> None:
    with Client(redis_url, prefix=prefix) as client:
        tasks = [client.submit("add", a=i, b=i) for i in range(20)] + [client.submit("math.mul", a=3, b=3)]
        worker = Worker(registry, redis_url, prefix=prefix, pool=pool, concurrency=3, burst=True)
        thread = threading.Thread(target=worker.run)
        thread.start()
        thread.join(60)
        assert not thread.is_alive()
        assert [t.wait_result(timeout=1) for t in tasks] == [2 * i for i in range(20)] + [9]
    assert worker.done == {"successful": 21, "failed": 0, "retried": 0}
    assert_clean(r, prefix)
    assert r.keys(f"{prefix}:worker:*") == []


def test_stop_from_another_thread(redis_url: str, prefix: str, r: redis.Redis) -> None:
    worker = Worker(registry, redis_url, prefix=prefix, pool="inline")
    thread = threading.Thread(target=worker.run)
    thread.start()
    with Client(redis_url, prefix=prefix) as client:
        assert client.submit("add", a=2, b=2).wait_result(timeout=15) == 4
    worker.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert r.keys(f"{prefix}:worker:*") == []


def test_process_pool_finds_where_the_registry_lives() -> None:
    assert AppRef.find(registry) == AppRef("tests.apps.basic:registry")
    assert AppRef.find(Registry()) is None
    with pytest.raises(ValueError, match="import the registry"):
        lonely = Registry()
        lonely.register(len)
        Worker(lonely, "redis://127.0.0.1:1/0")


def test_worker_refuses_an_empty_registry() -> None:
    with pytest.raises(ValueError, match="no functions"):
        Worker(Registry(), "redis://127.0.0.1:1/0")


def test_worker_pool_choice_is_checked(redis_url: str) -> None:
    with pytest.raises(ValueError, match="pool"):
        Worker(registry, redis_url, pool="threads")
    assert isinstance(Worker(registry, redis_url, pool="inline").concurrency, int)
