"""Legacy Python 0.2 code keeps working unchanged: @task(), exec_async, the handle, `doshit worker`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from doshit._client import legacy as _legacy

from .apps import legacy_tasks
from .conftest import assert_clean, wait_for


@pytest.fixture
def legacy_env(redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Configured the legacy way, through the environment."""
    host_port = redis_url.removeprefix("redis://").split("/")[0]
    host, port = host_port.split(":")
    monkeypatch.delenv("DOSHIT_REDIS_URL", raising=False)
    monkeypatch.setenv("DOSHIT_REDIS", f'{{"host": "{host}", "port": {port}}}')
    monkeypatch.setenv("DOSHIT_APP_PREFIX", prefix)
    monkeypatch.setenv("DOSHIT_QUEUE", "legacy")
    monkeypatch.setattr(_legacy, "_client", None)
    yield
    if _legacy._client is not None:
        _legacy._client.close()


@pytest.fixture
def legacy_worker(start_worker: Any) -> Any:
    return start_worker("-q", "legacy", app="tests/apps/legacy_tasks.py", legacy=True)


def test_decorated_functions_still_run_locally() -> None:
    assert legacy_tasks.add(1, 2) == 3
    assert legacy_tasks.bare(4) == 8
    assert legacy_tasks.add.__name__ == "add"


def test_exec_async_binds_positional_arguments(legacy_env: None, r: redis.Redis, prefix: str) -> None:
    handle = legacy_tasks.add.exec_async(5)
    assert handle.get_result() == (None, None)
    assert handle.poll() is False
    fields = r.hgetall(f"{prefix}:task:{handle.task_id}")
    assert fields["function"] == "add"
    assert fields["state"] == "pending"
    assert _legacy._default_client().info(handle.task_id).args == {"a": 5, "b": 10}
    assert r.lrange(f"{prefix}:legacy:pending", 0, -1) == [handle.task_id]
    handle.close()


def test_legacy_round_trip(legacy_env: None, legacy_worker: Any, r: redis.Redis, prefix: str) -> None:
    handle = legacy_tasks.add.exec_async(1, b=2)
    assert handle.wait(timeout=10) == ("successful", 3)
    assert handle.poll() is True
    assert handle.get_result() == ("successful", 3)
    greeting = legacy_tasks.greet.exec_async("bob", "hi", suffix="!")
    greeting.wait(timeout=10)
    assert greeting.get_result() == ("successful", "hi bob!")
    assert_clean(r, prefix, "legacy")


def test_legacy_worker_runs_only_decorated_functions(legacy_worker: Any, r: redis.Redis, prefix: str) -> None:
    for task_id, function in [("a", "system"), ("b", "helper"), ("c", "shout"), ("d", "bare")]:
        r.hset(f"{prefix}:task:{task_id}", mapping={"function": function, "state": "pending", "args": '{"x": 1}'})
        r.lpush(f"{prefix}:legacy:pending", task_id)
    for task_id in "abcd":
        wait_for(lambda t=task_id: r.hget(f"{prefix}:task:{t}", "state") == "finished")
    for task_id, function in [("a", "system"), ("b", "helper"), ("c", "shout")]:
        fields = r.hgetall(f"{prefix}:task:{task_id}")
        assert fields["result"] == "failed"
        assert fields["error-reason"] == f"no function named '{function}' is registered on this worker"
    assert r.hget(f"{prefix}:task:d", "result-value") == "2"
    assert "add, bare, greet" in legacy_worker.log()


def test_failed_and_cancelled_handles(legacy_env: None, r: redis.Redis, prefix: str, start_worker: Any) -> None:
    handle = legacy_tasks.add.exec_async("x")  # nobody runs it yet
    assert handle.cancel() == "cancelled"
    assert handle.get_result() == ("failed", "task was cancelled before it started")
    start_worker("-q", "legacy", app="tests/apps/legacy_tasks.py", legacy=True)
    broken = legacy_tasks.add.exec_async("x")
    status, reason = broken.wait(timeout=10)
    assert status == "failed"
    assert reason.startswith("TypeError:")


def test_var_positional_cannot_be_sent() -> None:
    from doshit import task

    @task()
    def many(*items: int) -> int:
        return sum(items)

    with pytest.raises(TypeError, match="named arguments"):
        many.named_arguments(1, 2)
