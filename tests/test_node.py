"""The Node.js client (clients/node) against real Python workers, and both clients on the same tasks.

Node runs through clients/node/test/e2e/driver.mjs: one action per process, one line of JSON out. A
value crosses as {"json": <the text the package's encode writes>, "kind": <its JavaScript type>}, so a
test sees both the exact JSON and whether Node holds a BigInt, a DoshitDate, a number, ...
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis

from doshit import Client, TaskFailed, TaskTimeout
from doshit._core.codec import decode, encode, format_timestamp, parse_timestamp

from .conftest import ROOT, WorkerProcess, assert_clean, finished, submit_running, wait_for, wait_listening
from .test_worker_failures import KILLED
from .vectors import ids, load

NODE = shutil.which("node")
PACKAGE = ROOT / "clients" / "node"
DRIVER = PACKAGE / "test" / "e2e" / "driver.mjs"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
CANCELLED = "task was cancelled before it started"
SUBMIT = load("submit.json")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not on PATH; the Node.js client tests need Node 20 or later"),
    pytest.mark.skipif(
        not (PACKAGE / "node_modules").is_dir(), reason="clients/node/node_modules is missing: run `npm ci` there"
    ),
]

StartWorker = Callable[..., WorkerProcess]


class NodeDriver:
    """Runs the driver against this test's Redis and prefix; returns the line of JSON it printed."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        assert NODE is not None
        self.node = NODE
        self.prefix = prefix
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("DOSHIT_")}
        self.env["DOSHIT_REDIS_URL"] = redis_url

    def start(self, command: str, **params: Any) -> subprocess.Popen[str]:
        args = [self.node, str(DRIVER), command, json.dumps({"prefix": self.prefix, **params})]
        return subprocess.Popen(
            args, cwd=PACKAGE, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def output(self, proc: subprocess.Popen[str]) -> dict[str, Any]:
        try:
            stdout, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            raise AssertionError(f"{proc.args!r} did not end within 30 s; stderr:\n{stderr}") from None
        sys.stderr.write(stderr)  # shown by pytest when the test fails
        assert proc.returncode == 0, f"{proc.args!r} exited with {proc.returncode}; stderr:\n{stderr}"
        lines = stdout.splitlines()
        assert len(lines) == 1, f"{proc.args!r} printed {stdout!r}; stderr:\n{stderr}"
        out: dict[str, Any] = json.loads(lines[0])
        return out

    def __call__(self, command: str, **params: Any) -> dict[str, Any]:
        return self.output(self.start(command, **params))

    def each(self, command: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The command once per params, all at the same time; their outputs in order."""
        procs = [self.start(command, **params) for params in calls]
        return [self.output(proc) for proc in procs]


@pytest.fixture
def node(redis_url: str, prefix: str) -> NodeDriver:
    return NodeDriver(redis_url, prefix)


def js_kind(value: Any) -> Any:
    """The JavaScript type the Node client must decode a Python value's JSON to."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number" if abs(value) <= 2**53 - 1 else "bigint"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "DoshitDate"
    if isinstance(value, list):
        return [js_kind(item) for item in value]
    return {key: js_kind(item) for key, item in value.items()}


def shown(value: Any) -> dict[str, Any]:
    """How the driver shows a value Node holds (no integral floats: Python writes 6.0, Node 6)."""
    return {"json": encode(value), "kind": js_kind(value)}


def succeeded(value: Any) -> dict[str, Any]:
    return {"ok": True, "value": shown(value)}


def failed_alike(node: NodeDriver, client: Client, task_id: str, reason: str) -> str:
    """Both clients see the task failed with exactly ``reason`` and the same error-exception; returns it."""
    with pytest.raises(TaskFailed) as caught:
        client.get(task_id).wait_result(timeout=15)
    assert str(caught.value) == reason
    assert caught.value.task_id == task_id
    exception = caught.value.exception
    assert node("result", taskId=task_id, timeout=15000) == {
        "ok": False,
        "error": "TaskFailedError",
        "message": reason,
        "taskId": task_id,
        "errorReason": reason,
        "errorException": exception,
    }
    return exception


def the_worker_id(r: redis.Redis, prefix: str) -> str:
    keys = r.keys(f"{prefix}:worker:*")
    assert len(keys) == 1, keys
    return str(keys[0]).rsplit(":", 1)[1]


def hash_of(r: redis.Redis, key: str) -> dict[str, str]:
    return {str(name): str(value) for name, value in r.hgetall(key).items()}


# --------------------------------------------------------------------------- Node submits, Python runs


def test_node_calls(node: NodeDriver, start_worker: StartWorker, r: redis.Redis, prefix: str) -> None:
    start_worker("--concurrency", "2")
    text = 'héllo wörld ✓ 日本語 🚀 "quoted" \\ \n\t\x01'
    calls: list[tuple[str, dict[str, Any], Any]] = [
        ("echo", {"text": text}, text),
        ("add", {"a": 2, "b": 40}, 42),
        ("math.mul", {"a": 1.5, "b": 3}, 4.5),
    ]
    outs = node.each(
        "call", [{"fn": fn, "args": args, "options": {"taskId": fn}, "timeout": 15000} for fn, args, _ in calls]
    )
    for out, (fn, _, value) in zip(outs, calls, strict=True):
        assert out == succeeded(value), fn
        assert r.hget(f"{prefix}:task:{fn}", "result-value") == encode(value)
    assert_clean(r, prefix)


def test_big_integers_round_trip(node: NodeDriver, client: Client, start_worker: StartWorker, r: redis.Redis) -> None:
    start_worker("--concurrency", "1")
    numbers = [2**53 - 1, 2**53 + 1, -(2**63) - 1, 2**64, 10**30]
    out = node("call", fn="echo", args={"value": [{"$bigint": str(n)} for n in numbers]}, options={"taskId": "big"},
               timeout=15000)  # fmt: skip
    text = f"[{','.join(map(str, numbers))}]"
    assert out == {"ok": True, "value": {"json": text, "kind": ["number", "bigint", "bigint", "bigint", "bigint"]}}
    assert r.hget(client.keys.task("big"), "args") == f'{{"value":{text}}}'  # Node wrote them exactly
    assert client.get("big").wait_result(timeout=5) == numbers


def test_datetime_round_trip(node: NodeDriver, client: Client, start_worker: StartWorker, r: redis.Redis) -> None:
    """A DoshitDate parsed from a timestamp goes to Python and comes back to the microsecond."""
    start_worker("--concurrency", "2")
    cases = [("2026-02-27T23:59:59.123456Z", "2026-03-01T23:59:59.123456Z"),
             ("1999-12-31T00:00:00.999999Z", "2000-01-02T00:00:00.999999Z")]  # fmt: skip
    calls = [{"fn": "later", "args": {"moment": {"$datetime": moment}, "days": 2}, "options": {"taskId": f"later-{n}"},
              "timeout": 15000} for n, (moment, _) in enumerate(cases)]  # fmt: skip
    for n, (out, (moment, later)) in enumerate(zip(node.each("call", calls), cases, strict=True)):
        assert out == {"ok": True, "value": {"json": f'{{"type":"datetime","value":"{later}"}}', "kind": "DoshitDate"}}
        args = r.hget(client.keys.task(f"later-{n}"), "args")
        assert args == f'{{"moment":{{"type":"datetime","value":"{moment}"}},"days":2}}'
        assert client.get(f"later-{n}").wait_result(timeout=5) == parse_timestamp(later)


def test_falsy_results_are_delivered(node: NodeDriver, start_worker: StartWorker, r: redis.Redis, prefix: str) -> None:
    start_worker("--concurrency", "2")
    values: list[Any] = [0, "", False, None, [], {}]
    calls = [{"fn": "echo", "args": {"value": value}, "options": {"taskId": f"falsy-{n}"}, "timeout": 15000}
             for n, value in enumerate(values)]  # fmt: skip
    for n, (out, value) in enumerate(zip(node.each("call", calls), values, strict=True)):
        assert out == succeeded(value), value
        assert r.hget(f"{prefix}:task:falsy-{n}", "result-value") == encode(value)


# --------------------------------------------------------------------------- the same hash from both clients


def test_node_writes_the_hash_python_writes(node: NodeDriver, client: Client, r: redis.Redis, prefix: str) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 60708, tzinfo=timezone.utc)
    args = {"user": "grüße ✓", "since": moment, "limit": 2**70, "ratio": 0.25, "items": [1, "two", None, True],
            "nested": {"k": [], "o": {}}, "quote": '"\\\n'}  # fmt: skip
    tagged = {**args, "since": {"$datetime": format_timestamp(moment)}, "limit": {"$bigint": str(2**70)}}
    options = {"queue": "reports", "username": "gregc", "virtualMemoryLimit": 2**30, "resultTtl": 0}
    client.submit("build_report", **args, _task_id="from-python", _queue="reports", _username="gregc",
                  _virtual_memory_limit=2**30, _result_ttl=0)  # fmt: skip
    assert node("submit", fn="build_report", args=tagged, options={"taskId": "from-node", **options}) == {
        "ok": True,
        "taskId": "from-node",
    }
    from_python = hash_of(r, f"{prefix}:task:from-python")
    from_node = hash_of(r, f"{prefix}:task:from-node")
    assert TIMESTAMP.fullmatch(from_node.pop("pending-created"))
    from_python.pop("pending-created")
    assert from_node == from_python
    assert list(from_node) == list(from_python)  # the same fields in the same order
    assert r.lrange(f"{prefix}:reports:pending", 0, -1) == ["from-node", "from-python"]


@pytest.mark.parametrize("case", SUBMIT["cases"], ids=ids(SUBMIT["cases"]))
def test_node_submit_vectors(node: NodeDriver, r: redis.Redis, prefix: str, case: dict[str, Any]) -> None:
    """schema/vectors/submit.json through the Node client against Redis: the hash, all but the clock."""
    names = {"username": "username", "virtual_memory_limit": "virtualMemoryLimit", "result_ttl": "resultTtl",
             "retries": "retries", "timeout": "timeout", "at": "at", "meta": "meta"}  # fmt: skip
    options = {names[name]: value for name, value in case["options"].items()}
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    out = node("submit", fn=case["function"], args=case["args"],
               options={"taskId": case["task_id"], "queue": case["queue"], **options})  # fmt: skip
    assert out == {"ok": True, "taskId": case["task_id"]}
    expect = case["expect"]
    written = hash_of(r, expect["key"].replace(f"{case['prefix']}:", f"{prefix}:", 1))
    assert before <= parse_timestamp(written.pop("pending-created")) <= datetime.now(timezone.utc)
    wanted = dict(expect["hash"])
    del wanted["pending-created"]
    assert written == wanted
    if "scheduled" in expect:
        scheduled = expect["scheduled"]["key"].replace(f"{case['prefix']}:", f"{prefix}:", 1)
        assert r.zrange(scheduled, 0, -1, withscores=True) == [(case["task_id"], expect["scheduled"]["score"])]
    else:
        assert r.lrange(expect["list"].replace(f"{case['prefix']}:", f"{prefix}:", 1), 0, -1) == [case["task_id"]]


# --------------------------------------------------------------------------- Node reads what others wrote


def test_node_reads_a_python_task(
    node: NodeDriver, client: Client, start_worker: StartWorker, r: redis.Redis, prefix: str
) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 654321, tzinfo=timezone.utc)
    task = client.submit("later", moment=moment, days=1, _username="alice", _result_ttl=600,
                         _virtual_memory_limit=2**40)  # fmt: skip
    channel = f"{prefix}:results"
    listening = dict(r.pubsub_numsub(channel)).get(channel, 0)
    waiting = node.start("result", taskId=task.task_id, timeout=15000)
    wait_for(lambda: dict(r.pubsub_numsub(channel)).get(channel, 0) > listening, what="Node to subscribe")
    start_worker("--concurrency", "1")  # Node waits on a pending task it did not submit; the worker finishes it later
    assert node.output(waiting) == {
        "ok": True,
        "value": {"json": '{"type":"datetime","value":"2026-01-03T03:04:05.654321Z"}', "kind": "DoshitDate"},
    }
    assert task.wait_result(timeout=5) == moment + timedelta(days=1)

    info = task.info()
    assert info.pending_created and info.executing_created and info.finished_created
    assert node("get", taskId=task.task_id) == {
        "ok": True,
        "taskId": task.task_id,
        "finished": True,
        "fields": hash_of(r, task.key),
        "info": {
            "function": "later",
            "state": "finished",
            "args": {"json": info.fields["args"], "kind": {"moment": "DoshitDate", "days": "number"}},
            "pendingCreated": format_timestamp(info.pending_created),
            "executingCreated": format_timestamp(info.executing_created),
            "finishedCreated": format_timestamp(info.finished_created),
            "result": "successful",
            "resultValue": shown(info.result_value),
            "username": "alice",
            "virtualMemoryLimit": shown(2**40),
            "schemaVersion": shown(2),
            "queue": "default",
            "worker": the_worker_id(r, prefix),
            "resultTtl": shown(600),
            "attempt": shown(1),
        },
    }
    assert info.args == {"moment": moment, "days": 1}


def test_node_reads_a_redis_cli_task(
    node: NodeDriver, client: Client, start_worker: StartWorker, r: redis.Redis, prefix: str
) -> None:
    """The README's redis-cli commands (HSET function state args, then LPUSH the id) read by Node."""
    start_worker("--concurrency", "1")
    key = f"{prefix}:task:my-id-1"
    r.execute_command("HSET", key, "function", "echo", "state", "pending", "args", '{"text":"hi"}')
    r.execute_command("LPUSH", f"{prefix}:default:pending", "my-id-1")
    assert node("result", taskId="my-id-1", timeout=15000) == succeeded("hi")
    assert r.hmget(key, ["result", "result-value"]) == ["successful", '"hi"']
    fields = hash_of(r, key)
    assert node("get", taskId="my-id-1") == {
        "ok": True,
        "taskId": "my-id-1",
        "finished": True,
        "fields": fields,
        "info": {
            "function": "echo",
            "state": "finished",
            "args": shown({"text": "hi"}),
            "executingCreated": fields["executing-created"],
            "finishedCreated": fields["finished-created"],
            "result": "successful",
            "resultValue": shown("hi"),
            "queue": "default",
            "worker": the_worker_id(r, prefix),
            "attempt": shown(1),
        },
    }
    assert client.get("my-id-1").wait_result(timeout=5) == "hi"
    assert node("get", taskId="no-such-task") == {
        "ok": False,
        "error": "TaskNotFoundError",
        "message": "no task no-such-task (never submitted, or its result expired)",
        "taskId": "no-such-task",
    }


def test_node_reads_large_integer_fields_exactly(node: NodeDriver, r: redis.Redis, prefix: str) -> None:
    limit = 2**63 - 1  # the largest limit a worker accepts
    r.hset(f"{prefix}:task:big-limit", mapping={"function": "echo", "state": "pending", "args": "{}",
                                                  "virtual-memory-limit": str(limit)})  # fmt: skip
    out = node("get", taskId="big-limit")
    assert out["ok"] is True, out
    assert out["info"]["virtualMemoryLimit"] == shown(limit)


# --------------------------------------------------------------------------- failures, the same from both sides

RAISES = (
    r"Traceback \(most recent call last\):\n.*\n    raise ValueError\(message\)\n"
    "ValueError: first line\nsecond line\n"
)
UNENCODABLE = "the return value of unencodable cannot be stored as JSON: Type is not JSON serializable: set"


FAILURES: list[tuple[str, dict[str, Any] | str, str, str]] = [
    ("fail", {"message": "first line\nsecond line"}, "ValueError: first line", RAISES),
    (
        "no.such.task",
        {},
        "no function named 'no.such.task' is registered on this worker",
        r"registered functions: .*\becho\b.*",
    ),
    (
        "add",
        "[1,2]",
        "args must be a JSON object of named arguments, got list",
        re.escape("[1,2]"),
    ),  # positional, by hand
    ("unencodable", {}, UNENCODABLE, re.escape("{1, 2}")),
    ("hard_exit", {"code": 3}, "task's process returncode was 3", ".*exited with code 3.*"),
    ("segfault", {}, "task's process returncode was -11", ".*SIGSEGV.*"),
]
"""(function, args or the raw args text, error-reason, a regex the error-exception must match)"""


def test_failures_seen_alike(
    node: NodeDriver, client: Client, start_worker: StartWorker, r: redis.Redis, prefix: str
) -> None:
    start_worker("--concurrency", "2")
    submits = [
        {"fn": fn, "args": args, "options": {"taskId": fn}} for fn, args, _, _ in FAILURES if isinstance(args, dict)
    ]
    assert node.each("submit", submits) == [{"ok": True, "taskId": params["fn"]} for params in submits]
    for fn, args, _, _ in FAILURES:
        if isinstance(args, str):  # written by hand, as legacy producers and redis-cli users can
            r.hset(f"{prefix}:task:{fn}", mapping={"function": fn, "state": "pending", "args": args})
            r.lpush(f"{prefix}:default:pending", fn)
    for fn, _, reason, exception in FAILURES:
        assert re.fullmatch(exception, failed_alike(node, client, fn, reason), re.DOTALL), fn
    assert_clean(r, prefix)


def test_kills_seen_alike(
    node: NodeDriver, client: Client, start_worker: StartWorker, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    start_worker("--concurrency", "1")
    wait_listening(r, prefix)
    # Node submits and cancels once it runs
    out = node("submit-and-cancel-running", fn="sleep", args={"seconds": 30, "marker": str(tmp_path / "started")},
               timeout=15000)  # fmt: skip
    task_id = out.pop("taskId")
    assert out.pop("cancel") == "killing"
    exception = failed_alike(node, client, task_id, KILLED)
    assert "KeyboardInterrupt" in exception
    assert out == {"ok": False, "error": "TaskFailedError", "message": KILLED, "errorReason": KILLED,
                   "errorException": exception}  # fmt: skip
    # Python submits, Node cancels
    task = submit_running(client, "sleep", seconds=30)
    assert node("cancel", taskId=task.task_id) == {"ok": True, "value": "killing"}
    assert "KeyboardInterrupt" in failed_alike(node, client, task.task_id, KILLED)
    assert_clean(r, prefix)


def test_cancel_of_a_pending_task_seen_alike(node: NodeDriver, client: Client, r: redis.Redis, prefix: str) -> None:
    """No worker: Node cancels a Python task, Python cancels a Node task."""
    task = client.submit("echo", text="never")
    assert node("cancel", taskId=task.task_id) == {"ok": True, "value": "cancelled"}
    assert failed_alike(node, client, task.task_id, CANCELLED) == ""
    assert node("cancel", taskId=task.task_id) == {"ok": True, "value": "finished"}
    assert node("cancel", taskId="no-such-task") == {"ok": True, "value": "missing"}

    task_id = node("submit", fn="echo", args={"text": "never"})["taskId"]
    assert client.get(task_id).cancel() == "cancelled"
    assert failed_alike(node, client, task_id, CANCELLED) == ""
    assert_clean(r, prefix)


def test_timeouts_seen_alike(node: NodeDriver, client: Client, start_worker: StartWorker) -> None:
    start_worker("--concurrency", "1")
    task = submit_running(client, "sleep", seconds=2.5)
    out = node("result", taskId=task.task_id, timeout=200)
    assert (out["ok"], out["error"], out["taskId"]) == (False, "TaskTimeoutError", task.task_id)
    assert out["message"].startswith(f"task {task.task_id} did not finish within 200 ms")
    with pytest.raises(TaskTimeout):
        task.wait_result(timeout=0.1)
    assert task.info().state == "executing"  # so both timed out on a running task
    assert node("result", taskId=task.task_id, timeout=15000) == succeeded(2.5)
    assert task.wait_result(timeout=5) == 2.5


# --------------------------------------------------------------------------- the legacy Node API

TIMESTAMP_FIELDS = ("pending-created", "executing-created", "finished-created")


def legacy_task(fields: dict[str, str]) -> dict[str, Any]:
    """A task hash as the legacy API hands it out: args and result-value parsed, timestamps as Date."""
    task: dict[str, Any] = dict(fields)
    for name in ("args", "result-value"):
        if name in task:
            task[name] = decode(task[name])
    for name in TIMESTAMP_FIELDS:
        if name in task:
            task[name] = parse_timestamp(task[name])
    return task


def test_legacy_task_and_gettask(node: NodeDriver, start_worker: StartWorker, r: redis.Redis, prefix: str) -> None:
    start_worker("--concurrency", "1")
    when = "2026-05-06T07:08:09.010203Z"
    out = node("legacy-task", fn="echo", args={"value": {"n": 0, "list": [1, "a", None], "when": {"$datetime": when}}})
    task_id = out["taskId"]
    fields = finished(r, prefix, task_id)
    value = {"n": 0, "list": [1, "a", None], "when": parse_timestamp(when)}
    task = shown(legacy_task(fields))
    assert task["kind"]["pending-created"] == "DoshitDate"
    assert out == {
        "ok": True,
        "taskId": task_id,
        "callback": [shown(None), shown(value), task],
        "events": [{"event": "success", "args": [shown(value), task, task_id]}],
    }
    assert node("legacy-gettask", taskId=task_id) == {"ok": True, "callback": [shown(None), task], "events": []}
    assert node("legacy-gettask", taskId="no-such-task") == {
        "ok": True,
        "callback": [shown(None), shown(None)],
        "events": [],
    }


def test_legacy_failure(
    node: NodeDriver, client: Client, start_worker: StartWorker, r: redis.Redis, prefix: str
) -> None:
    start_worker("--concurrency", "1")
    out = node("legacy-task", fn="fail", args={"message": "legacy boom"})
    task_id = out["taskId"]
    fields = finished(r, prefix, task_id)
    assert fields["error-reason"] == "ValueError: legacy boom"
    with pytest.raises(TaskFailed) as caught:
        client.get(task_id).wait_result(timeout=5)
    error = shown(caught.value.exception)
    task = shown(legacy_task(fields))
    assert out == {
        "ok": True,
        "taskId": task_id,
        "callback": [error, shown(None), task],
        "events": [{"event": "failure", "args": [error, task, task_id]}],
    }
