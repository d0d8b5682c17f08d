"""The protocol core without Redis: the worker's rules, the child frames, the backoff, TaskInfo's fields."""

from __future__ import annotations

import asyncio
import io
import json
import signal
from datetime import datetime, timezone
from typing import Any

import pytest

from doshit import DecodeError, TaskInfo
from doshit._core.backoff import Backoff
from doshit._core.keys import Keys
from doshit._core.limits import MAX_MEMORY_LIMIT, Limits
from doshit._core.outcome import Outcome, failed
from doshit._core.schema import SCRIPTS, TaskField
from doshit._core.scripts import parse_reply
from doshit._core.worker_rules import (
    Dropped,
    Job,
    Refused,
    RetryPolicy,
    WorkerInfo,
    WorkerProtocol,
    count_fields,
    served_queues,
)
from doshit._worker.frames import Request, outcome_from, outcome_message, pack, read_frame, read_frame_async
from doshit._worker.process_pool import KILL_STEPS

from .conftest import ROOT

SCHEMA_KILL = json.loads((ROOT / "schema" / "schema.json").read_text())["kill_escalation"]["steps"]
NOW = "2015-12-05T00:19:01.834909Z"
WORKER = WorkerProtocol(Keys("app"), "emails", "w1")


def claim(*reply: Any) -> Job | Refused | Dropped:
    return WORKER.read_claim("t1", parse_reply("claim", list(reply)))


def run(function: str, args: str, limit: str = "", ttl: str = "", attempt: int = 1, retries: str = "",
        timeout: str = "") -> Job | Refused | Dropped:  # fmt: skip
    """What the worker makes of a claim that says run."""
    return claim("run", function, args, limit, ttl, attempt, retries, timeout, 0)


def test_claim_call() -> None:
    call = WORKER.claim("t1", NOW)
    assert call.name == "claim"
    assert call.keys == ("app:task:t1", "app:emails:executing", "app:emails:pending", "app:emails:scheduled")
    assert call.argv == ("t1", "w1", "emails", NOW, "16777216")
    limited = WorkerProtocol(Keys("app"), "emails", "w1", Limits(max_args_bytes=10))
    assert limited.claim("t1", NOW).argv[-1] == "10"


def test_a_claimed_task_runs() -> None:
    assert run("echo", '{"text":"hi"}') == Job("t1", "echo", '{"text":"hi"}', None, queue="emails")
    assert run("echo", "{}", "1048576", "0", attempt=3, retries="5", timeout="60") == Job(
        "t1", "echo", "{}", 1048576, 3, 5, 60, "emails"
    )
    assert run("echo", "{}", str(MAX_MEMORY_LIMIT), "2147483647") == Job(
        "t1", "echo", "{}", MAX_MEMORY_LIMIT, queue="emails"
    )


@pytest.mark.parametrize("limit", ["0", "-1", "1.5", "abc", "²", "٣", " 1", str(MAX_MEMORY_LIMIT + 1)])
def test_a_bad_memory_limit_fails_the_task(limit: str) -> None:
    refused = run("echo", "{}", limit)
    assert refused == Refused(
        "t1", failed(f"virtual-memory-limit must be a positive integer number of bytes, got '{limit}'")
    )


@pytest.mark.parametrize("ttl", ["2.5", "1e999", "9" * 30, "-1", "2147483648", "٣", " 1"])
def test_a_bad_result_ttl_fails_the_task(ttl: str) -> None:
    assert run("echo", "{}", ttl=ttl) == Refused(
        "t1", failed(f"result-ttl must be a whole number of seconds from 0 to 2147483647, got '{ttl}'")
    )


def test_text_that_was_not_utf8_fails_the_task() -> None:
    bad = b"\xff\xfe".decode("utf-8", "surrogateescape")  # what the worker's connection reads
    assert run(f"echo{bad}", "{}") == Refused("t1", failed("function is not valid UTF-8"))
    assert run("echo", f'{{"a":"{bad}"}}') == Refused("t1", failed("args is not valid UTF-8"))


@pytest.mark.parametrize(
    ("field", "value"), [("retries", "-1"), ("retries", "1001"), ("timeout", "0"), ("timeout", "1.5")]
)
def test_bad_retries_or_timeout_fail_the_task(field: str, value: str) -> None:
    refused = run("echo", "{}", **{field: value})
    assert isinstance(refused, Refused) and refused.outcome.reason.startswith(f"{field} must be a whole number")


def test_args_over_the_limit_fail_the_task_without_being_read() -> None:
    assert claim("toobig", "echo", 104857600, 1, 0) == Refused(
        "t1", failed("args are 104857600 bytes, more than this worker's limit of 16777216")
    )


def test_claimed_tasks_that_cannot_run_fail() -> None:
    assert claim("invalid", "", "", 2, 0) == Refused("t1", failed("task has no function name"), 2)
    assert claim("invalid", "paused", "echo", 1, 0) == Refused(
        "t1", failed("task state was 'paused' when a worker took it, expected 'pending'")
    )


def test_ids_the_claim_dropped() -> None:
    assert claim("skip", "finished", 2) == Dropped("t1", "skip finished")
    assert claim("missing", 0) == Dropped("t1", "missing")
    assert claim("wrongtype", "list", 0) == Dropped("t1", "wrongtype list")
    assert parse_reply("claim", ["missing", 7])["backlog"] == 7


def test_finish_call_writes_the_outcome() -> None:
    call = WORKER.finish("t1", 1, Outcome(True, value="0"), NOW, 604800)
    assert call.keys == ("app:task:t1", "app:emails:executing", "app:emails:failed")
    assert call.argv == (
        "t1", "w1", "1", "app:results", "604800", "",
        "state", "finished", "finished-created", NOW, "result", "successful", "result-value", "0",
    )  # fmt: skip
    call = WORKER.finish("t1", 2, failed("ValueError:   bad\ninput", "Traceback"), NOW, 0)
    assert call.argv[2] == "2" and call.argv[5] == "1449274741834"  # indexed as failed
    assert call.argv[6:] == (
        "state", "finished", "finished-created", NOW,
        "result", "failed", "error-reason", "ValueError: bad input", "error-exception", "Traceback",
    )  # fmt: skip


def test_unclaim_call() -> None:
    call = WORKER.unclaim("t1")
    assert call.keys == ("app:task:t1", "app:emails:executing", "app:emails:pending")
    assert call.argv == ("t1", "w1")


def test_worker_hash() -> None:
    info = WorkerInfo("w1", "host", "", 42, "emails", ["echo", "add"], "process", 2, 5, "2.0.0")
    fields = info.fields(NOW)
    assert "ipaddress" not in fields  # absent rather than empty
    assert fields == {
        "hostname": "host", "pid": "42", "registered": NOW, "schema-version": "2", "queue": "emails",
        "functions": '["echo","add"]', "pool": "process", "concurrency": "2", "heartbeat": NOW,
        "heartbeat-interval": "5", "version": "2.0.0", "queues": '["emails"]',
    }  # fmt: skip
    both = WorkerInfo("w1", "host", "", 42, "high", ["echo"], "process", 2, 5, "2.0.0", ["high", "emails"])
    assert both.fields(NOW)["queues"] == '["high","emails"]'
    assert count_fields({"successful": 3, "retried": 1}) == {
        "tasks-successful": "3", "tasks-failed": "0", "tasks-retried": "1"
    }  # fmt: skip
    assert info.expiry == 15
    assert WorkerInfo("w1", "h", "a", 1, "q", [], "inline", 1, 0.1, "v").expiry == 1


def test_backoff() -> None:
    backoff = Backoff((0.5, 1.0, 2.0))
    assert [backoff.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert backoff.reset() is True
    assert backoff.reset() is False
    assert backoff.failed() == 0.5
    with pytest.raises(ValueError):
        Backoff(())


def test_kill_steps_follow_the_schema() -> None:
    expected = [(step["signal"], float(step["wait_seconds"])) for step in SCHEMA_KILL for _ in range(step["times"])]
    assert [(signum.name, wait) for signum, wait in KILL_STEPS] == expected
    assert KILL_STEPS[-1][0] is signal.SIGKILL


def test_frames_both_ways() -> None:
    request = Request(7, "t1", "echo", '{"text":"hi"}', None)
    stream = io.BytesIO(pack(list(request)) + pack(outcome_message(failed("boom", "tb"))))
    assert Request(*read_frame(stream)) == request
    assert outcome_from(read_frame(stream)) == failed("boom", "tb")
    assert read_frame(stream) is None

    async def read_async() -> Any:
        reader = asyncio.StreamReader()
        reader.feed_data(pack(outcome_message(Outcome(True, value="[1]"))))
        reader.feed_eof()
        return await read_frame_async(reader)

    assert outcome_from(asyncio.run(read_async())) == Outcome(True, value="[1]")


def test_every_script_reply_has_names() -> None:
    for spec in SCRIPTS.values():
        assert bool(spec.codes) + bool(spec.tagged) + bool(spec.words) == 1, spec.name


def test_task_fields_decode_by_their_schema_type() -> None:
    info = TaskInfo(
        "t1",
        {
            "function": "echo", "args": '{"a":1}', "pending-created": NOW, "result-value": "[1,2]",
            "virtual-memory-limit": "1024", "result-ttl": "0", "queue": "emails",
        },
    )  # fmt: skip
    assert info.function == "echo"
    assert info.args == {"a": 1}
    assert info.pending_created == datetime(2015, 12, 5, 0, 19, 1, 834909, tzinfo=timezone.utc)
    assert info.executing_created is None
    assert info.result_value == [1, 2]
    assert info.virtual_memory_limit == 1024
    assert info.result_ttl == 0
    assert TaskInfo("t1", {}).args == {}  # no args: no arguments


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("args", "[1]"),
        ("args", "{"),
        ("pending-created", "yesterday"),
        ("schema-version", "two"),
        ("result-value", "{"),
    ],
)
def test_a_bad_field_names_itself_and_hides_nothing_else(field: str, text: str) -> None:
    info = TaskInfo("t1", {field: text, TaskField.FUNCTION: "echo", TaskField.RESULT_TTL: "5"})
    with pytest.raises(DecodeError, match=f"task t1: field {field}"):
        getattr(info, field.replace("-", "_"))
    assert info.function == "echo"
    assert info.result_ttl == 5


def test_retry_call_schedules_the_task_with_its_error() -> None:
    call = WORKER.retry("t1", 2, failed("ValueError: bad"), NOW, "2015-12-05T00:19:11.834909Z")
    assert call.keys == ("app:task:t1", "app:emails:executing", "app:emails:scheduled")
    assert call.argv[:4] == ("t1", "w1", "2", "1449274751834")
    assert json.loads(call.argv[4]) == {"attempt": 2, "worker": "w1", "reason": "ValueError: bad", "at": NOW}
    with_traceback = WORKER.retry("t1", 2, failed("ValueError: bad", "é" * 5000), NOW, NOW)
    assert json.loads(with_traceback.argv[4])["exception"] == "é" * 4000  # its end, whole characters
    assert call.argv[5:] == ("app:cmd", "task:scheduled:emails", "state", "scheduled", "scheduled-for",
                             "2015-12-05T00:19:11.834909Z")  # fmt: skip


def test_retry_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    policy = RetryPolicy(retries=5, backoff=2.0, max_backoff=10.0)
    assert [policy.delay(attempt, 0.5) for attempt in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]
    assert policy.delay(1, 0.0) == 1.0 and policy.delay(1, 0.999) < 3.0
    assert policy.retries_for(Job("t", "f", "{}", None, retries=1)) == 1
    assert policy.retries_for(Job("t", "f", "{}", None)) == 5
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)


def test_recover_call() -> None:
    call = WORKER.recover("t1", None, NOW, 10000, 2, 604800)
    assert call.keys == ("app:task:t1", "app:emails:executing", "app:emails:pending", "app:emails:failed",
                         "app:worker:-")  # fmt: skip
    assert call.argv[:4] == ("t1", "", NOW, "10000")
    assert WORKER.recover("t1", "w9", NOW, 1, 0, 0).keys[-1] == "app:worker:w9"


def test_the_queues_a_worker_hash_says_it_serves() -> None:
    assert served_queues("high", '["high","low"]') == ["high", "low"]
    assert served_queues("high", None) == ["high"]  # a worker that writes no queues field
    assert served_queues("high", "not json") == ["high"]
    assert served_queues("high", '{"a": 1}') == ["high"]
    assert served_queues(None, '["ok", "has space", 3, "task", "a:b"]') == ["ok"]  # impossible names left out
    assert served_queues(None, None) == []
