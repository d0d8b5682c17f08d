"""Every way a task can fail on a real worker, and kills: each ends in a finished, failed task hash
with the schema's error-reason, nothing left on the queue's lists, and the same worker serving on.

Most tests share one worker per pool kind (module scope, a prefix of its own), which is what a
failure must not disturb: every test ends by running an echo on that very worker.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from doshit import Client

from .conftest import (
    Served,
    assert_clean,
    finished,
    submit_running,
    wait_for,
    wait_listening,
    wait_state,
)

KILLED = "task was pubsub killed"


def child_pid(served: Served) -> int:
    pid: int = served.call("pid")
    return pid


def vm_size(pid: int) -> int:
    """A process's virtual memory size in bytes, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmSize in /proc/{pid}/status")


# --------------------------------------------------------------------------- what the worker refuses to run


def test_unknown_function(served: Served) -> None:
    # not_registered exists in the app module, but only registered functions may run
    task_id = served.push({"function": "not_registered", "state": "pending", "args": "{}"})
    fields = served.failed(task_id, "no function named 'not_registered' is registered on this worker")
    assert fields["error-exception"].startswith("registered functions: ")
    assert "echo" in fields["error-exception"]


@pytest.mark.parametrize(("args", "kind"), [("[1,2]", "list"), ('"x"', "str"), ("null", "null"), ("7", "int")])
def test_args_not_an_object(served: Served, args: str, kind: str) -> None:
    task_id = served.push({"function": "echo", "state": "pending", "args": args})
    fields = served.failed(task_id, f"args must be a JSON object of named arguments, got {kind}")
    assert fields["error-exception"] == args


def test_args_not_json(served: Served) -> None:
    task_id = served.push({"function": "echo", "state": "pending", "args": "not json"})
    fields = finished(served.r, served.prefix, task_id)
    head = "args is not valid JSON: "
    assert fields["error-reason"].startswith(head)
    assert len(fields["error-reason"]) > len(head)  # the parser's detail follows
    served.failed(task_id, fields["error-reason"])
    assert fields["error-exception"] == "not json"


@pytest.mark.parametrize(
    ("function", "args", "reason"),
    [
        ("add", '{"a":1}', "arguments do not match add(a, b): missing a required argument: 'b'"),
        (
            "echo",
            '{"text":"hi","nope":1}',
            "arguments do not match echo(value=None, text=None): got an unexpected keyword argument 'nope'",
        ),
    ],
    ids=["missing", "unexpected"],
)
def test_args_do_not_bind(served: Served, function: str, args: str, reason: str) -> None:
    task_id = served.push({"function": function, "state": "pending", "args": args})
    fields = served.failed(task_id, reason)
    assert fields["error-exception"] == args


def test_result_not_encodable(served: Served) -> None:
    task = served.client.submit("unencodable")
    fields = served.failed(
        task.task_id, "the return value of unencodable cannot be stored as JSON: Type is not JSON serializable: set"
    )
    assert fields["error-exception"] == "{1, 2}"


@pytest.mark.parametrize(
    ("message", "reason"),
    [("bad input", "ValueError: bad input"), ("first line\nsecond line", "ValueError: first line")],
    ids=["one-line", "multi-line"],
)
def test_task_raises(served: Served, message: str, reason: str) -> None:
    task = served.client.submit("fail", message=message)
    fields = served.failed(task.task_id, reason)
    exception = fields["error-exception"]
    assert exception.startswith("Traceback (most recent call last):")
    assert "raise ValueError(message)" in exception
    assert exception.rstrip().endswith(f"ValueError: {message}")


def test_task_calls_sys_exit(served: Served) -> None:
    task = served.client.submit("exit_task", code=2)
    fields = served.failed(task.task_id, "SystemExit: 2")
    assert "sys.exit(code)" in fields["error-exception"]


# --------------------------------------------------------------------------- a task's process dies


def test_segfault_replaces_the_child(process_served: Served) -> None:
    before = child_pid(process_served)
    task = process_served.client.submit("segfault")
    fields = process_served.failed(task.task_id, "task's process returncode was -11")
    assert "SIGSEGV" in fields["error-exception"]
    after = child_pid(process_served)
    assert after != before  # the one child slot runs a new process


def test_hard_exit(process_served: Served) -> None:
    before = child_pid(process_served)
    task = process_served.client.submit("hard_exit", code=3)
    fields = process_served.failed(task.task_id, "task's process returncode was 3")
    assert "exited with code 3" in fields["error-exception"]
    assert child_pid(process_served) != before


def test_out_of_memory_under_a_limit(process_served: Served) -> None:
    child = child_pid(process_served)
    # the task runs in a process forked from this child: its size plus room for a small allocation
    limit = vm_size(child) + 64 * 1024 * 1024
    small = process_served.client.submit("allocate", megabytes=16, _virtual_memory_limit=limit)
    assert small.wait_result(timeout=15) == 16 * 1024 * 1024

    big = process_served.client.submit("allocate", megabytes=512, _virtual_memory_limit=limit)
    fields = finished(process_served.r, process_served.prefix, big.task_id)
    assert fields["virtual-memory-limit"] == str(limit)
    reason = fields["error-reason"]
    assert reason == "MemoryError" or reason.startswith("task's process returncode was "), reason
    process_served.failed(big.task_id, reason)
    # the limit stayed with that task: the child itself is not limited
    assert process_served.call("allocate", megabytes=512) == 512 * 1024 * 1024
    assert child_pid(process_served) == child


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5", "1e9", "²", "٣", str(2**63), "9" * 30])
def test_bad_memory_limit(served: Served, value: str) -> None:
    task_id = served.push({"function": "echo", "state": "pending", "args": "{}", "virtual-memory-limit": value})
    served.failed(task_id, f"virtual-memory-limit must be a positive integer number of bytes, got '{value}'")


def test_kill_of_a_task_under_a_memory_limit(process_served: Served) -> None:
    child = child_pid(process_served)
    limit = vm_size(child) + 256 * 1024**2
    task = submit_running(process_served.client, "sleep", seconds=20, _virtual_memory_limit=limit)
    assert task.cancel() == "killing"
    fields = process_served.failed(task.task_id, KILLED)
    assert "KeyboardInterrupt" in fields["error-exception"]  # reported by the forked process that ran it
    assert child_pid(process_served) == child


def test_largest_memory_limit(process_served: Served) -> None:
    task = process_served.client.submit("echo", text="hi", _virtual_memory_limit=2**63 - 1)
    assert task.wait_result(timeout=15) == "hi"


def test_memory_limit_needs_the_process_pool(inline_served: Served) -> None:
    task = inline_served.client.submit("echo", text="hi", _virtual_memory_limit=1024**3)
    inline_served.failed(task.task_id, "virtual-memory-limit needs the process pool; this worker runs --pool inline")


# --------------------------------------------------------------------------- legacy checks when a task is taken


@pytest.mark.parametrize("fields", [{"function": ""}, {}], ids=["empty", "absent"])
def test_no_function_name(served: Served, fields: dict[str, str]) -> None:
    task_id = served.push({**fields, "state": "pending", "args": "{}"})
    served.failed(task_id, "task has no function name")


@pytest.mark.parametrize("state", ["weird", "Pending"])
def test_state_not_pending(served: Served, state: str) -> None:
    task_id = served.push({"function": "echo", "state": state, "args": "{}"})
    served.failed(task_id, f"task state was '{state}' when a worker took it, expected 'pending'")


@pytest.mark.parametrize("state", ["finished", "executing"])
def test_taken_task_pushed_again_is_untouched(served: Served, state: str) -> None:
    before = {
        "function": "echo",
        "state": state,
        "args": '{"text":"again"}',
        "worker": "some-other-worker",
        "executing-created": "2015-12-05T00:19:01.834909Z",
    }
    if state == "finished":
        before.update(
            {"result": "successful", "result-value": '"first"', "finished-created": "2015-12-05T00:19:02.000000Z"}
        )
    task_id = served.push(before)
    served.serves()  # FIFO: the echo was taken after the pushed id was claimed
    wait_for(lambda: task_id in served.worker.log(), what="the worker to log the dropped id")
    assert served.r.hgetall(f"{served.prefix}:task:{task_id}") == before
    assert served.r.ttl(f"{served.prefix}:task:{task_id}") == -1
    assert_clean(served.r, served.prefix)


def test_id_without_hash_is_dropped(served: Served) -> None:
    task_id = str(uuid.uuid4())
    served.r.lpush(f"{served.prefix}:default:pending", task_id)
    served.serves()
    wait_for(lambda: task_id in served.worker.log(), what="the worker to log the dropped id")
    assert not served.r.exists(f"{served.prefix}:task:{task_id}")
    assert_clean(served.r, served.prefix)


def test_task_hash_deleted_while_it_runs(served: Served) -> None:
    task = submit_running(served.client, "sleep", seconds=0.5)
    served.r.delete(task.key)
    wait_for(lambda: f"task {task.task_id}: its hash was gone" in served.worker.log(), what="the result to be dropped")
    assert not served.r.exists(task.key)  # finishing wrote no partial hash
    assert_clean(served.r, served.prefix)
    served.serves()


# --------------------------------------------------------------------------- falsy results are results


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), ("", '""'), (False, "false"), ([], "[]"), ({}, "{}"), (None, "null")],
    ids=["zero", "empty-string", "false", "empty-list", "empty-object", "none"],
)
def test_falsy_result_is_written(served: Served, value: Any, text: str) -> None:
    task = served.client.submit("echo", value=value)
    result = task.wait_result(timeout=15)
    assert result == value
    assert type(result) is type(value)
    fields = served.r.hgetall(f"{served.prefix}:task:{task.task_id}")
    assert fields["result"] == "successful"
    assert fields["result-value"] == text
    assert "error-reason" not in fields
    assert_clean(served.r, served.prefix)


# --------------------------------------------------------------------------- kills and cancels


def kill_command(prefix: str, task_id: str) -> str:
    return f"task:kill:{prefix}:task:{task_id}"


def test_pubsub_kill(process_served: Served) -> None:
    task = submit_running(process_served.client, "sleep", seconds=20)
    assert process_served.r.publish(f"{process_served.prefix}:cmd", kill_command(process_served.prefix, task.task_id))
    fields = process_served.failed(task.task_id, KILLED)
    assert "KeyboardInterrupt" in fields["error-exception"]  # SIGINT was enough


def test_cancel_of_an_executing_task_kills_it(process_served: Served) -> None:
    task = submit_running(process_served.client, "sleep", seconds=20)
    assert task.cancel() == "killing"
    process_served.failed(task.task_id, KILLED)


def test_kill_reaches_a_stubborn_task(process_served: Served) -> None:
    before = child_pid(process_served)
    task = submit_running(process_served.client, "stubborn", seconds=20)
    assert task.cancel() == "killing"
    fields = process_served.failed(task.task_id, KILLED)
    assert "SIGTERM" in fields["error-exception"]  # it shrugged off SIGINT; SIGTERM ended its process
    assert child_pid(process_served) != before


def test_kill_while_the_child_is_being_replaced(process_served: Served) -> None:
    crash = process_served.client.submit("segfault")
    finished(process_served.r, process_served.prefix, crash.task_id)
    # the next task waits for a new child process: a kill that arrives meanwhile must not be lost
    task = process_served.client.submit("sleep", seconds=20)
    wait_state(process_served.r, process_served.prefix, task.task_id, "executing")
    assert task.cancel() == "killing"
    process_served.failed(task.task_id, KILLED)


def test_other_commands_are_ignored(process_served: Served) -> None:
    task = submit_running(process_served.client, "sleep", seconds=1)
    prefix = process_served.prefix
    for command in [
        "task:kill:",
        "task:kill:all ",
        f"task:kill:{prefix}:task:",
        f"task:kill:other{prefix}:task:{task.task_id}",
        kill_command(prefix, str(uuid.uuid4())),
        "hello",
    ]:
        process_served.r.publish(f"{prefix}:cmd", command)
    assert task.wait_result(timeout=15) == 1
    process_served.serves()


def test_kill_all(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    worker = start_worker("--concurrency", "3")
    wait_listening(r, prefix)
    tasks = [submit_running(client, "sleep", seconds=20) for _ in range(3)]
    assert client.kill_all() == 1  # one worker heard it
    for task in tasks:
        fields = finished(r, prefix, task.task_id)
        assert fields["result"] == "failed"
        assert fields["error-reason"] == KILLED
    assert_clean(r, prefix)
    assert worker.proc.poll() is None
    assert client.submit("echo", text="next").wait_result(timeout=15) == "next"


def test_cancel_of_a_pending_task(process_served: Served) -> None:
    busy = submit_running(process_served.client, "sleep", seconds=1)  # the one child is busy: the next waits
    ahead = process_served.client.submit("echo", text="next")  # in case a worker takes one task ahead
    task = process_served.client.submit("echo", text="never")
    assert task.cancel() == "cancelled"
    key = f"{process_served.prefix}:task:{task.task_id}"
    fields = process_served.r.hgetall(key)
    assert fields["state"] == "finished"
    assert fields["result"] == "failed"
    assert fields["error-reason"] == "task was cancelled before it started"
    assert task.task_id not in process_served.r.lrange(f"{process_served.prefix}:default:pending", 0, -1)
    assert busy.wait_result(timeout=15) == 1
    assert ahead.wait_result(timeout=15) == "next"
    process_served.serves()
    # it never ran: no worker took it, and cancelling again changes nothing
    assert process_served.r.hgetall(key) == fields
    assert "worker" not in fields
    assert "executing-created" not in fields
    assert task.cancel() == "finished"
    assert process_served.r.hgetall(key) == fields


def test_inline_async_task_is_killed(inline_served: Served) -> None:
    task = submit_running(inline_served.client, "async_sleep", seconds=20)
    assert inline_served.r.publish(f"{inline_served.prefix}:cmd", kill_command(inline_served.prefix, task.task_id))
    inline_served.failed(task.task_id, KILLED)


def test_inline_thread_task_is_recorded_killed(inline_served: Served) -> None:
    # a plain function in a thread cannot be interrupted: its task is finished killed at once
    task = submit_running(inline_served.client, "sleep", seconds=1.5)
    assert task.cancel() == "killing"
    inline_served.failed(task.task_id, KILLED)
