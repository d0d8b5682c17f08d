"""Client behaviour, one body for both the sync Client and the AsyncClient (any_client)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from doshit import Client, ConfigError, TaskExists, TaskFailed, TaskNotFound, TaskTimeout
from doshit._core.config import mask_url, resolve

from .conftest import assert_clean, wait_for, wait_listening


def test_submit_returns_at_once_and_queues(any_client: Any, r: redis.Redis, prefix: str) -> None:
    task = any_client.submit("echo", text="hi")
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == [task.task_id]
    info = task.info()
    assert info.state == "pending"
    assert info.function == "echo"
    assert info.args == {"text": "hi"}
    assert info.schema_version == 2
    assert info.pending_created is not None
    assert info.executing_created is None
    assert task.poll() is False


def test_caller_chosen_id_is_refused_when_taken(any_client: Any, r: redis.Redis, prefix: str) -> None:
    any_client.submit("echo", text="first", _task_id="job-1")
    with pytest.raises(TaskExists, match="job-1"):
        any_client.submit("echo", text="second", _task_id="job-1")
    assert r.hget(f"{prefix}:task:job-1", "args") == '{"text":"first"}'
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == ["job-1"]


def test_options_are_written(any_client: Any, r: redis.Redis, prefix: str) -> None:
    task = any_client.submit(
        "echo", text="x", _queue="emails", _username="gregc", _virtual_memory_limit=10**9, _result_ttl=60
    )
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert fields["queue"] == "emails"
    assert fields["username"] == "gregc"
    assert fields["virtual-memory-limit"] == "1000000000"
    assert fields["result-ttl"] == "60"
    assert r.lrange(f"{prefix}:emails:pending", 0, -1) == [task.task_id]
    assert r.llen(f"{prefix}:default:pending") == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"_bogus": 1}, TypeError),
        ({"_task_id": "has space"}, ValueError),
        ({"_queue": "a:b"}, ValueError),
        ({"_virtual_memory_limit": -5}, ValueError),
        ({"data": b"bytes"}, TypeError),
        ({"data": {1, 2}}, TypeError),
        ({"data": float("nan")}, ValueError),
    ],
)
def test_bad_submit_is_refused_and_writes_nothing(
    any_client: Any, r: redis.Redis, prefix: str, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        any_client.submit("echo", **kwargs)
    assert r.keys(f"{prefix}:*") == []


def test_missing_task(any_client: Any) -> None:
    with pytest.raises(TaskNotFound):
        any_client.get("no-such-task")
    with pytest.raises(TaskNotFound):
        any_client.info("no-such-task")


def test_wait_and_state(any_client: Any, start_worker: Any, r: redis.Redis, prefix: str) -> None:
    start_worker()
    task = any_client.submit("add", a=2, b=3)
    info = task.wait(timeout=10)
    assert info.finished and info.result == "successful" and info.result_value == 5
    full = task.info()
    assert full.pending_created <= full.executing_created <= full.finished_created
    assert full.worker and r.exists(f"{prefix}:worker:{full.worker}")
    assert task.poll() is True
    assert_clean(r, prefix)


def test_result_of_a_task_finished_before_waiting(
    any_client: Any, start_worker: Any, r: redis.Redis, prefix: str
) -> None:
    start_worker()
    task = any_client.submit("echo", text="early")
    wait_for(lambda: r.hget(f"{prefix}:task:{task.task_id}", "state") == "finished")
    assert task.wait_result(timeout=5) == "early"
    assert any_client.get(task.task_id).wait_result(timeout=5) == "early"


def test_many_tasks_waited_in_any_order(any_client: Any, start_worker: Any) -> None:
    start_worker("--concurrency", "2")
    tasks = [any_client.submit("add", a=i, b=i) for i in range(60)]
    assert [t.wait_result(timeout=30) for t in reversed(tasks)] == [2 * i for i in reversed(range(60))]


def test_wait_for_a_task_nobody_runs_times_out(any_client: Any) -> None:
    task = any_client.submit("echo", text="lonely")
    with pytest.raises(TaskTimeout, match="pending"):
        task.wait_result(timeout=0.2)


def test_cancel_pending(any_client: Any, r: redis.Redis, prefix: str) -> None:
    task = any_client.submit("echo", text="never")
    assert task.cancel() == "cancelled"
    assert_clean(r, prefix)
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert fields["state"] == "finished"
    assert fields["result"] == "failed"
    assert fields["error-reason"] == "task was cancelled before it started"
    with pytest.raises(TaskFailed, match="cancelled before it started"):
        task.wait_result(timeout=5)
    assert task.cancel() == "finished"


def test_cancel_pending_on_another_queue_via_get(any_client: Any, r: redis.Redis, prefix: str) -> None:
    submitted = any_client.submit("echo", text="x", _queue="other")
    assert any_client.get(submitted.task_id).cancel() == "cancelled"
    assert r.llen(f"{prefix}:other:pending") == 0


def test_results_survive_a_lost_subscription(any_client: Any, start_worker: Any, r: redis.Redis) -> None:
    start_worker()
    task = any_client.submit("sleep", seconds=0.5)
    time.sleep(0.1)
    assert r.client_kill_filter(_type="pubsub", skipme=True) >= 1
    assert task.wait_result(timeout=15) == 0.5


def test_kill_all_reaches_workers(any_client: Any, start_worker: Any, r: redis.Redis, prefix: str) -> None:
    start_worker()
    start_worker()
    wait_listening(r, prefix, workers=2)  # workers subscribe just after they register
    assert any_client.kill_all() == 2


def test_closed_client_refuses(redis_url: str, prefix: str) -> None:
    client = Client(redis_url, prefix=prefix)
    client.close()
    with pytest.raises((ConfigError, redis.ConnectionError)):
        client.submit("echo", text="x")


# --------------------------------------------------------------------- configuration


def test_configuration_from_environment() -> None:
    env = {
        "DOSHIT_REDIS_URL": "redis://u:secret@example.invalid:6380/2",
        "DOSHIT_APP_PREFIX": "app",
        "DOSHIT_QUEUE": "q",
        "DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT": "1000",
    }
    settings = resolve(environ=env)
    assert (settings.url, settings.prefix, settings.queue, settings.virtual_memory_limit) == (
        env["DOSHIT_REDIS_URL"],
        "app",
        "q",
        1000,
    )
    assert "secret" not in settings.describe()
    assert resolve("redis://other:1/0", prefix="p", queue="z", environ=env).url == "redis://other:1/0"
    defaults = resolve(environ={})
    assert (defaults.url, defaults.prefix, defaults.queue) == ("redis://127.0.0.1:6379/0", "doshit", "default")


@pytest.mark.parametrize(
    "env",
    [
        {"DOSHIT_REDIS": "not json"},
        {"DOSHIT_REDIS": "[1]"},
        {"DOSHIT_REDIS_URL": "http://nope"},
        {"DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT": "lots"},
        {"DOSHIT_QUEUE": "has space"},
    ],
)
def test_bad_configuration_is_a_clear_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        resolve(environ=env)


def test_password_masked() -> None:
    assert mask_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert mask_url("redis://h:1/0") == "redis://h:1/0"


def test_legacy_json_connection_settings(redis_proc: Any, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOSHIT_REDIS_URL", raising=False)
    monkeypatch.setenv("DOSHIT_REDIS", f'{{"host": "{redis_proc.host}", "port": {redis_proc.port}, "db": 0}}')
    monkeypatch.setenv("DOSHIT_APP_PREFIX", prefix)
    monkeypatch.setenv("DOSHIT_QUEUE", "legacyq")
    with Client() as client:
        task = client.submit("echo", text="x")
        assert client.redis.lrange(f"{prefix}:legacyq:pending", 0, -1) == [task.task_id]


def test_unix_socket_url(redis_proc: Any, prefix: str, r: redis.Redis) -> None:
    with Client(f"unix://{redis_proc.unixsocket}?db=0", prefix=prefix) as client:
        task = client.submit("echo", text="x")
    assert r.hget(f"{prefix}:task:{task.task_id}", "function") == "echo"


def test_user_and_password_url(redis_proc: Any, r: redis.Redis, prefix: str) -> None:
    user = f"u{prefix}"
    r.acl_setuser(user, enabled=True, passwords=["+s3cret"], keys=["*"], channels=["*"], commands=["+@all"])
    try:
        with Client(f"redis://{user}:s3cret@{redis_proc.host}:{redis_proc.port}/0", prefix=prefix) as client:
            assert client.submit("echo", text="x").info().state == "pending"
        with (
            pytest.raises(ConfigError, match="Redis refused access"),
            Client(f"redis://{user}:wrong@{redis_proc.host}:{redis_proc.port}/0", prefix=prefix) as client,
        ):
            client.submit("echo", text="x")
    finally:
        r.acl_deluser(user)
