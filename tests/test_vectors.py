"""The shared vectors in schema/vectors/, run in place against the Python implementation."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import pytest
import redis

from doshit import Client, DecodeError, EncodeError, TaskFailed
from doshit._core.codec import decode, encode, format_timestamp, parse_timestamp
from doshit._core.flows import submit_fields
from doshit._core.keys import Keys, KillAll, KillTask, Scheduled, check_task_id
from doshit._core.outcome import Outcome
from doshit._core.scripts import parse_reply, script_call
from doshit._core.taskinfo import TaskInfo

from .conftest import ROOT, assert_clean, wait_for
from .vectors import ids, load, untag

KEYS = load("keys.json")
VALUES = load("values.json")
TIMESTAMPS = load("timestamps.json")
SUBMIT = load("submit.json")
LEGACY = load("legacy_tasks.json")
SCRIPTS = load("scripts.json")
SCHEMA = json.loads((ROOT / "schema" / "schema.json").read_text())


def same(a: Any, b: Any) -> bool:
    """Equal, with types checked too (True is not 1, 1.0 is not 1)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("case", KEYS["cases"], ids=lambda c: f"{c['prefix']}-{c['queue']}-{c.get('cluster', False)}")
def test_key_names(case: dict[str, Any]) -> None:
    keys = Keys(case["prefix"], cluster=case.get("cluster", False))
    expect = case["expect"]
    for name in ("workers", "stats", "stats_durations"):
        if name in expect:
            assert getattr(keys, name) == expect[name]
    assert keys.task(case["task_id"]) == expect["task"]
    assert keys.pending(case["queue"]) == expect["pending"]
    assert keys.executing(case["queue"]) == expect["executing"]
    assert keys.scheduled(case["queue"]) == expect["scheduled"]
    assert keys.failed(case["queue"]) == expect["failed"]
    assert keys.recovery(case["queue"]) == expect["recovery"]
    assert keys.scheduled_command(case["queue"]) == expect["scheduled_command"]
    assert keys.read_command(expect["scheduled_command"]) == Scheduled(case["queue"])
    assert keys.worker(case["worker_id"]) == expect["worker"]
    assert keys.results == expect["results"]
    assert keys.cmd == expect["cmd"]
    assert keys.kill(case["task_id"]) == expect["kill"]
    assert keys.kill_all == expect["kill_all"]
    assert keys.task_id(expect["task"]) == case["task_id"]
    assert keys.read_command(expect["kill"]) == KillTask(case["task_id"])
    assert keys.read_command(expect["kill_all"]) == KillAll()
    assert keys.read_command(expect["task"]) is None


@pytest.mark.parametrize("case", KEYS["cluster_task_ids"], ids=lambda c: c["given"])
def test_cluster_task_ids_start_with_their_queues_tag(case: dict[str, Any]) -> None:
    assert Keys("doshit", cluster=True).task_id_for(case["queue"], case["given"]) == case["stored"]
    assert Keys("doshit").task_id_for(case["queue"], case["given"]) == case["given"]


def test_the_cluster_layout_tags_the_keys_schema_json_names() -> None:
    """Every key the schema says carries the queue's (or the prefix's) hash tag does, and only those."""
    plain, cluster = Keys("p"), Keys("p", cluster=True)
    rendered = {
        "task": lambda k: k.task(k.task_id_for("q", "id")),
        "pending": lambda k: k.pending("q"),
        "executing": lambda k: k.executing("q"),
        "scheduled": lambda k: k.scheduled("q"),
        "failed": lambda k: k.failed("q"),
        "recovery": lambda k: k.recovery("q"),
        "worker": lambda k: k.worker("w"),
        "workers": lambda k: k.workers,
        "stats": lambda k: k.stats,
        "stats_durations": lambda k: k.stats_durations,
    }
    assert set(rendered) == set(SCHEMA["keys"])
    tagged = SCHEMA["cluster"]
    for name, render in rendered.items():
        key = render(cluster)
        tag = key[key.index("{") + 1 : key.index("}")]
        assert tag == ("p" if name in tagged["prefix_tagged"] else "q"), (name, key)
        if name not in (*tagged["prefix_tagged"], *tagged["queue_tagged"]):
            assert name == "task" and render(plain) == "p:task:id" and key == "p:task:{q}:id"


@pytest.mark.parametrize("task_id", KEYS["invalid_task_ids"])
def test_invalid_task_ids(task_id: str) -> None:
    with pytest.raises(ValueError, match="task id"):
        check_task_id(task_id)


@pytest.mark.parametrize("name", KEYS["invalid_names"])
def test_invalid_prefix_and_queue_names(name: str) -> None:
    with pytest.raises(ValueError):
        Keys(name)
    with pytest.raises(ValueError):
        Keys("doshit").pending(name)


@pytest.mark.parametrize("case", VALUES["cases"], ids=ids(VALUES["cases"]))
def test_value_encoding(case: dict[str, Any]) -> None:
    value = untag(case["value"])
    text = encode(value)
    if case["exact"]:
        assert text == case["json"]
    assert same(decode(text), value)
    for other in [case["json"], *case.get("also_decodes", [])]:
        assert same(decode(other), value), other


@pytest.mark.parametrize("case", VALUES["refused"], ids=ids(VALUES["refused"]))
def test_values_refused(case: dict[str, Any]) -> None:
    with pytest.raises(EncodeError):
        encode(untag(case["value"]))


@pytest.mark.parametrize("text", VALUES["invalid_json"])
def test_invalid_json_is_a_decode_error(text: str) -> None:
    with pytest.raises(DecodeError):
        decode(text)


@pytest.mark.parametrize("case", TIMESTAMPS["cases"], ids=lambda c: c["text"])
def test_timestamps(case: dict[str, Any]) -> None:
    moment = datetime.fromisoformat(case["datetime"])
    assert format_timestamp(moment) == case["text"]
    assert parse_timestamp(case["text"]) == moment


@pytest.mark.parametrize("text", TIMESTAMPS["invalid"])
def test_invalid_timestamps(text: str) -> None:
    with pytest.raises(DecodeError):
        parse_timestamp(text)


def _fields(case: dict[str, Any]) -> dict[str, str]:
    options = case["options"]
    return submit_fields(
        case["function"],
        untag(case["args"]),
        queue=case.get("queue", "default"),
        username=options.get("username"),
        virtual_memory_limit=options.get("virtual_memory_limit"),
        result_ttl=options.get("result_ttl"),
        retries=options.get("retries"),
        timeout=options.get("timeout"),
        due=parse_timestamp(options["at"]) if "at" in options else None,
        now=case.get("now"),
        meta=options.get("meta"),
    )


@pytest.mark.parametrize("case", SUBMIT["cases"], ids=ids(SUBMIT["cases"]))
def test_submit_writes_exactly_this_hash(case: dict[str, Any]) -> None:
    assert _fields(case) == case["expect"]["hash"]


@pytest.mark.parametrize("case", SUBMIT["cases"], ids=ids(SUBMIT["cases"]))
def test_submit_against_redis(case: dict[str, Any], redis_url: str, r: redis.Redis, prefix: str) -> None:
    """The real client writes the vector's hash (all but the clock) and pushes the id on the list."""
    options = {f"_{name}": parse_timestamp(v) if name == "at" else v for name, v in case["options"].items()}
    expect = case["expect"]

    def ours(name: str) -> str:
        return name.replace(f"{case['prefix']}:", f"{prefix}:", 1)

    with Client(redis_url, prefix=prefix) as client:
        task = client.submit(
            case["function"], **untag(case["args"]), _queue=case["queue"], _task_id=case["task_id"], **options
        )
    written = r.hgetall(ours(expect["key"]))
    assert written.pop("pending-created")
    wanted = dict(expect["hash"])
    del wanted["pending-created"]
    assert written == wanted
    if "scheduled" in expect:
        assert r.zrange(ours(expect["scheduled"]["key"]), 0, -1, withscores=True) == [
            (task.task_id, expect["scheduled"]["score"])
        ]
        assert r.keys(f"{prefix}:*:pending") == []
    else:
        assert r.lrange(ours(expect["list"]), 0, -1) == [task.task_id]


@pytest.mark.parametrize("case", SUBMIT["refused"], ids=ids(SUBMIT["refused"]))
def test_submit_refused_before_writing(case: dict[str, Any], client: Client, r: redis.Redis, prefix: str) -> None:
    options = {f"_{name}": value for name, value in case["options"].items()}
    with pytest.raises((ValueError, EncodeError)):
        client.submit(case["function"], **untag(case["args"]), **options)
    assert r.keys(f"{prefix}:*") == []


def test_legacy_tasks_run(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    """Hashes written exactly as the legacy producers wrote them run on this worker."""
    start_worker()
    for case in LEGACY["cases"]:
        key = f"{prefix}:task:{case['task_id']}"
        if case["producer"] == "python-0.2":
            with r.pipeline(transaction=True) as pipe:
                pipe.lpush(f"{prefix}:default:pending", case["task_id"])
                pipe.hset(key, mapping=case["hash"])
                pipe.execute()
        else:
            r.hset(key, mapping=case["hash"])
            r.lpush(f"{prefix}:default:pending", case["task_id"])
    for case in LEGACY["cases"]:
        key = f"{prefix}:task:{case['task_id']}"
        wait_for(lambda k=key: r.hget(k, "state") == "finished", what=case["name"])
        done = r.hgetall(key)
        expect = case["expect"]
        assert done["result"] == expect["result"], (case["name"], done)
        if "args" in case:
            assert same(TaskInfo(case["task_id"], done).args, untag(case["args"]))
        if expect["result"] == "successful":
            assert same(decode(done["result-value"]), untag(expect["value"])), case["name"]
        else:
            assert done["error-reason"] == expect["reason"]
        for field, value in case["hash"].items():
            if field != "state":
                assert done[field] == value, f"{case['name']}: the worker changed {field}"
        assert client.get(case["task_id"]).info().finished
    assert_clean(r, prefix)


@pytest.mark.parametrize("case", LEGACY["finished"], ids=ids(LEGACY["finished"]))
def test_finished_hashes_read(case: dict[str, Any]) -> None:
    info = TaskInfo("x", case["hash"])
    assert info.finished
    if "value" in case["outcome"]:
        assert same(info.outcome(), case["outcome"]["value"])
    else:
        with pytest.raises(TaskFailed) as failed:
            info.outcome()
        assert str(failed.value) == case["outcome"]["failed"]
    for field, text in case.get("times", {}).items():
        assert getattr(info, field.replace("-", "_")) == parse_timestamp(text)


def test_outcome_fields_match_schema() -> None:
    assert Outcome(True, value="0").fields() == {"result": "successful", "result-value": "0"}
    assert Outcome(False, reason="r", exception="e").fields() == {
        "result": "failed",
        "error-reason": "r",
        "error-exception": "e",
    }
    assert math.isnan(untag({"$float": "NaN"}))


def test_integer_fields_are_ascii_digits() -> None:
    info = TaskInfo("x", {"virtual-memory-limit": "²", "result-ttl": "٣", "schema-version": "2"})
    assert info.schema_version == 2
    with pytest.raises(DecodeError, match="virtual-memory-limit"):
        _ = info.virtual_memory_limit
    with pytest.raises(DecodeError, match="result-ttl"):
        _ = info.result_ttl
    assert TaskInfo("x", {"virtual-memory-limit": str(2**63 - 1)}).virtual_memory_limit == 2**63 - 1


@pytest.mark.parametrize("case", SCRIPTS["calls"], ids=ids(SCRIPTS["calls"]))
def test_script_calls(case: dict[str, Any]) -> None:
    call = script_call(case["script"], keys=case["keys"], argv=case["argv"])
    assert list(call.keys) == case["expect"]["keys"]
    assert list(call.argv) == case["expect"]["argv"]


@pytest.mark.parametrize("case", SCRIPTS["refused"], ids=ids(SCRIPTS["refused"]))
def test_script_calls_refused(case: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match=case["error"]):
        script_call(case["script"], keys=case["keys"], argv=case["argv"])


@pytest.mark.parametrize("case", SCRIPTS["replies"], ids=lambda c: f"{c['script']}-{c['reply']}")
def test_script_replies(case: dict[str, Any]) -> None:
    reply = parse_reply(case["script"], case["reply"])
    assert {"status": reply.status, **reply.values} == case["expect"]


@pytest.mark.parametrize("case", SCRIPTS["bad_replies"], ids=lambda c: f"{c['script']}-{c['reply']}")
def test_script_replies_refused(case: dict[str, Any]) -> None:
    with pytest.raises(DecodeError, match=case["script"]):
        parse_reply(case["script"], case["reply"])
