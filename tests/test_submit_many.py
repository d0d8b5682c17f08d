"""submit_many: many tasks in one atomic script call, each written exactly as submit writes it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis

from doshit import Client, TaskExists
from doshit._core.flows import new_task_ids
from doshit._core.schema import SCRIPTS, SUBMIT_MANY_MAX

from .conftest import Served, assert_clean


def keys_of(r: redis.Redis, prefix: str) -> list[str]:
    return sorted(r.scan_iter(match=f"{prefix}:*"))


def test_each_hash_is_what_submit_writes_and_workers_take_them_in_order(
    any_client: Any, r: redis.Redis, prefix: str
) -> None:
    tasks = any_client.submit_many("echo", [{"text": "a"}, {"text": "b"}, {"text": "c"}], _retries=2, _result_ttl=60)
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == [t.task_id for t in reversed(tasks)]
    single = any_client.submit("echo", text="a", _retries=2, _result_ttl=60)
    many = r.hgetall(f"{prefix}:task:{tasks[0].task_id}")
    one = r.hgetall(f"{prefix}:task:{single.task_id}")
    assert many.keys() == one.keys()
    assert {k: v for k, v in many.items() if k != "pending-created"} == {
        k: v for k, v in one.items() if k != "pending-created"
    }
    assert [t.info().args for t in tasks] == [{"text": "a"}, {"text": "b"}, {"text": "c"}]
    assert len({r.hget(f"{prefix}:task:{t.task_id}", "pending-created") for t in tasks}) == 1


def test_a_real_worker_runs_them_all(served: Served) -> None:
    tasks = served.client.submit_many("echo", [{"text": f"n{i}"} for i in range(200)])
    assert [t.wait_result(timeout=30) for t in tasks] == [f"n{i}" for i in range(200)]
    assert all(t.info().worker == served.worker_id for t in tasks[:5])
    assert_clean(served.r, served.prefix)


def test_a_taken_id_refuses_the_whole_batch(any_client: Any, r: redis.Redis, prefix: str) -> None:
    any_client.submit("echo", text="first", _task_id="job-7")
    before = keys_of(r, prefix)
    with pytest.raises(TaskExists, match=r"job-7.*none of the 3 tasks"):
        any_client.submit_many("echo", [{"text": "x"}, {"text": "y", "_task_id": "job-7"}, {"text": "z"}])
    assert keys_of(r, prefix) == before
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == ["job-7"]
    assert r.hget(f"{prefix}:task:job-7", "args") == '{"text":"first"}'


def test_own_options_win_over_the_common_ones(any_client: Any, r: redis.Redis, prefix: str) -> None:
    at = datetime.now(timezone.utc) + timedelta(hours=1)
    tasks = any_client.submit_many(
        "echo",
        [
            {"text": "now"},
            {"text": "later", "_at": at, "_retries": 5},
            {"text": "mine", "_task_id": "own-1", "_meta": {"k": 1}},
        ],
        _retries=1,
        _queue="emails",
    )
    assert tasks[2].task_id == "own-1"
    infos = [t.info() for t in tasks]
    assert [i.state for i in infos] == ["pending", "scheduled", "pending"]
    assert [i.retries for i in infos] == [1, 5, 1]
    assert infos[2].meta == {"k": 1}
    assert infos[1].scheduled_for is not None and abs(infos[1].scheduled_for - at) < timedelta(milliseconds=1)
    assert r.lrange(f"{prefix}:emails:pending", 0, -1) == ["own-1", tasks[0].task_id]
    assert r.zrange(f"{prefix}:emails:scheduled", 0, -1) == [tasks[1].task_id]
    assert all(i.queue == "emails" for i in infos)


def test_a_common_delay_schedules_every_task(any_client: Any, r: redis.Redis, prefix: str) -> None:
    tasks = any_client.submit_many("echo", [{"text": "a"}, {"text": "b"}], _delay=600)
    assert r.zcard(f"{prefix}:default:scheduled") == 2
    assert not r.exists(f"{prefix}:default:pending")
    assert {t.info().state for t in tasks} == {"scheduled"}


def test_an_empty_list_writes_nothing(any_client: Any, r: redis.Redis, prefix: str) -> None:
    assert any_client.submit_many("echo", []) == []
    assert keys_of(r, prefix) == []


@pytest.mark.parametrize(
    ("arguments", "options", "error", "match"),
    [
        ({"text": "a"}, {}, TypeError, "list of argument mappings"),
        ("abc", {}, TypeError, "list of argument mappings"),
        ([{"text": "a"}, ["b"]], {}, TypeError, "task 1: arguments must be a mapping"),
        ([{"text": "a"}], {"text": "b"}, TypeError, "only _-options"),
        ([{"text": "a"}], {"_task_id": "x"}, ValueError, "_task_id names one task"),
        ([{"text": "a"}], {"_bogus": 1}, TypeError, "unknown submit option"),
        ([{"text": "a", "_bogus": 1}], {}, TypeError, "unknown submit option"),
        ([{"text": "a"}, {"text": "b", "_queue": "other"}], {}, ValueError, "task 1: _queue differs"),
        ([{"_task_id": "d"}, {"_task_id": "d"}], {}, ValueError, "task 1: task id d is given twice"),
        ([{"_task_id": "has space"}], {}, ValueError, "task id"),
        ([{"text": "a"}, {"data": float("nan")}], {}, ValueError, "task 1: "),
        ([{"text": "a"}, {"data": b"x"}], {}, TypeError, "task 1: "),
        ([{"text": "a"}, {"data": b"x", "_retries": 1}], {}, TypeError, "task 1: "),
        ([{"text": "a"}], {"_retries": -1}, ValueError, "retries"),
        (
            [{"text": "a"}, {"text": "x" * 2000}],
            {},
            ValueError,
            "task 1: args are 2011 bytes as JSON, more than the client.s limit of 1000",
        ),
        ([{}] * (SUBMIT_MANY_MAX + 1), {}, ValueError, f"at most {SUBMIT_MANY_MAX} tasks"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    redis_url: str, r: redis.Redis, prefix: str, arguments: Any, options: dict[str, Any], error: type, match: str
) -> None:
    with Client(redis_url, prefix=prefix, max_args_bytes=1000) as client, pytest.raises(error, match=match):
        client.submit_many("echo", arguments, **options)
    assert keys_of(r, prefix) == []


def test_the_script_refuses_a_malformed_call_before_writing(r: redis.Redis, prefix: str) -> None:
    """Anyone may call the script: counts that do not match what follows write nothing."""
    source = SCRIPTS["submit_many"].source
    pending, scheduled = f"{prefix}:q:pending", f"{prefix}:q:scheduled"
    good = ["t1", "", "1", "args", "{}"]
    cases = [
        ([f"{prefix}:task:t1"], ["c", "s", "2", "{}", *good], "count"),
        ([f"{prefix}:task:t1"], ["c", "s", "1", "[1]", *good], "common_fields"),
        ([f"{prefix}:task:t1"], ["c", "s", "1", "not json", *good], "common_fields"),
        ([f"{prefix}:task:t1"], ["c", "s", "1", '{"state":{}}', *good], "common_fields"),
        ([f"{prefix}:task:t1"], ["c", "s", "1", "{}", "t1", "", "2", "args", "{}"], "does not match"),
        ([f"{prefix}:task:t1"], ["c", "s", "1", "{}", "t1", "soon", "1", "args", "{}"], "due_ms"),
        ([f"{prefix}:task:t1"], ["c", "s", "1", "{}", "t1", "", "-1"], "fields"),
        ([f"{prefix}:task:t1"], ["c", "s", "1", "{}", "t1", "", "0"], "fields"),
        ([f"{prefix}:task:t1", f"{prefix}:task:t2"], ["c", "s", "2", "{}", *good], "ends before"),
    ]
    for task_keys, argv, message in cases:
        with pytest.raises(redis.ResponseError, match=message):
            r.eval(source, 2 + len(task_keys), pending, scheduled, *task_keys, *argv)
    assert keys_of(r, prefix) == []
    reply = r.eval(source, 3, pending, scheduled, f"{prefix}:task:t1", "c", "s", "1", '{"function":"f"}', *good)
    assert reply == ["queued", 1]
    assert r.hgetall(f"{prefix}:task:t1") == {"function": "f", "args": "{}"}
    reply = r.eval(source, 3, pending, scheduled, f"{prefix}:task:t1", "c", "s", "1", "{}", *good)
    assert reply[0] == "exists" and json.loads(reply[1]) == ["t1"]


def test_generated_ids_are_random_version_4_uuids() -> None:
    import uuid

    ids = new_task_ids(1000)
    assert len(set(ids)) == 1000
    for text in ids[:100]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
    assert {text[19] for text in ids} == set("89ab")
    assert new_task_ids(0) == []
