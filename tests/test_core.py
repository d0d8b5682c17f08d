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
from doshit._core.outcome import Outcome, failed
from doshit._core.schema import SCRIPTS, TaskField
from doshit._core.scripts import parse_reply
from doshit._core.worker_rules import MAX_MEMORY_LIMIT, Dropped, Job, Limits, Refused, WorkerInfo, WorkerProtocol
from doshit._worker.frames import Request, outcome_from, outcome_message, pack, read_frame, read_frame_async
from doshit._worker.process_pool import KILL_STEPS

from .conftest import ROOT

SCHEMA_KILL = json.loads((ROOT / "schema" / "schema.json").read_text())["kill_escalation"]["steps"]
NOW = "2015-12-05T00:19:01.834909Z"
WORKER = WorkerProtocol(Keys("app"), "emails", "w1")


def claim(*reply: Any) -> Job | Refused | Dropped:
    return WORKER.read_claim("t1", parse_reply("claim", list(reply)))


def test_claim_call() -> None:
    call = WORKER.claim("t1", NOW)
    assert call.name == "claim"
    assert call.keys == ("app:task:t1", "app:emails:executing", "app:emails:pending")
    assert call.argv == ("t1", "w1", "emails", NOW, "16777216")
    limited = WorkerProtocol(Keys("app"), "emails", "w1", Limits(max_args_bytes=10))
    assert limited.claim("t1", NOW).argv[-1] == "10"


def test_a_claimed_task_runs() -> None:
    assert claim("run", "echo", '{"text":"hi"}', "", "", 3) == Job("t1", "echo", '{"text":"hi"}', None)
    assert claim("run", "echo", "{}", "1048576", "0", 0) == Job("t1", "echo", "{}", 1048576)
    assert claim("run", "echo", "{}", str(MAX_MEMORY_LIMIT), "2147483647", 0) == Job(
        "t1", "echo", "{}", MAX_MEMORY_LIMIT
    )


@pytest.mark.parametrize("limit", ["0", "-1", "1.5", "abc", "²", "٣", " 1", str(MAX_MEMORY_LIMIT + 1)])
def test_a_bad_memory_limit_fails_the_task(limit: str) -> None:
    refused = claim("run", "echo", "{}", limit, "", 0)
    assert refused == Refused(
        "t1", failed(f"virtual-memory-limit must be a positive integer number of bytes, got '{limit}'")
    )


@pytest.mark.parametrize("ttl", ["2.5", "1e999", "9" * 30, "-1", "2147483648", "٣", " 1"])
def test_a_bad_result_ttl_fails_the_task(ttl: str) -> None:
    assert claim("run", "echo", "{}", "", ttl, 0) == Refused(
        "t1", failed(f"result-ttl must be a whole number of seconds from 0 to 2147483647, got '{ttl}'")
    )


def test_text_that_was_not_utf8_fails_the_task() -> None:
    bad = b"\xff\xfe".decode("utf-8", "surrogateescape")  # what the worker's connection reads
    assert claim("run", f"echo{bad}", "{}", "", "", 0) == Refused("t1", failed("function is not valid UTF-8"))
    assert claim("run", "echo", f'{{"a":"{bad}"}}', "", "", 0) == Refused("t1", failed("args is not valid UTF-8"))


def test_args_over_the_limit_fail_the_task_without_being_read() -> None:
    assert claim("toobig", "echo", 104857600, 0) == Refused(
        "t1", failed("args are 104857600 bytes, more than this worker's limit of 16777216")
    )


def test_claimed_tasks_that_cannot_run_fail() -> None:
    assert claim("invalid", "", "", 0) == Refused("t1", failed("task has no function name"))
    assert claim("invalid", "paused", "echo", 0) == Refused(
        "t1", failed("task state was 'paused' when a worker took it, expected 'pending'")
    )


def test_ids_the_claim_dropped() -> None:
    assert claim("skip", "finished", 2) == Dropped("t1", "skip finished")
    assert claim("missing", 0) == Dropped("t1", "missing")
    assert claim("wrongtype", "list", 0) == Dropped("t1", "wrongtype list")
    assert parse_reply("claim", ["missing", 7])["backlog"] == 7


def test_finish_call_writes_the_outcome() -> None:
    call = WORKER.finish("t1", Outcome(True, value="0"), NOW, 604800)
    assert call.keys == ("app:task:t1", "app:emails:executing")
    assert call.argv == (
        "t1", "w1", "app:results", "604800",
        "state", "finished", "finished-created", NOW, "result", "successful", "result-value", "0",
    )  # fmt: skip
    call = WORKER.finish("t1", failed("ValueError:   bad\ninput", "Traceback"), NOW, 0)
    assert call.argv[4:] == (
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
        "heartbeat-interval": "5", "version": "2.0.0",
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
