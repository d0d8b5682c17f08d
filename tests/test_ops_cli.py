"""The `doshit` operator command, run as a real process against the private Redis: output, --json,
exit codes, bad arguments, malformed data in Redis, and bulk operations."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis

from doshit import Client
from doshit._ops.cli import main
from doshit.testing import free_port

from .conftest import ROOT, WorkerProcess, submit_running


def _environ(env: dict[str, str] | None) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DOSHIT_")}, **(env or {})}


def doshit(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doshit._ops.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_environ(env),
    )


def doshit_many(commands: list[list[str]], timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Several `doshit` commands at once (each is a process start: in parallel they take the time of one)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "doshit._ops.cli", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_environ(None),
        )
        for args in commands
    ]
    done = []
    for args, proc in zip(commands, procs, strict=True):
        stdout, stderr = proc.communicate(timeout=timeout)
        done.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return done


def no_traceback(stderr: str) -> None:
    """No traceback of the command itself (a failed task's remote one is printed indented)."""
    assert not any(line.startswith("Traceback") for line in stderr.splitlines()), stderr


@pytest.fixture
def cli(redis_url: str, prefix: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """cli(*args): `doshit -r URL --prefix PREFIX ARGS` (the options after the command, as people type them)."""

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = doshit(*args, "-r", redis_url, "--prefix", prefix, timeout=timeout)
        no_traceback(done.stderr)
        return done

    return run


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    no_traceback(done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("doshit: error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


# --------------------------------------------------------------------------- arguments and configuration


def test_help_lists_commands_and_exit_codes() -> None:
    done = doshit("--help")
    assert done.returncode == 0
    for word in ("status", "tasks", "show", "submit", "wait", "cancel", "requeue", "purge", "kill", "workers"):
        assert word in done.stdout
    assert "exit status" in done.stdout and "4  a wait timed out" in done.stdout
    for command in ("status", "workers", "tasks", "show", "submit", "wait", "cancel", "requeue", "purge", "kill"):
        code, stdout, _ = in_process([command, "--help"])
        assert code == 0
        assert "--json" in stdout and "exit status" in stdout
        if command == "tasks":
            assert "O(keys in the database)" in stdout


BAD_ARGUMENTS = [
    ["frobnicate"],
    ["tasks", "--limit", "many"],
    ["tasks", "--state", "lost"],
    ["tasks", "--order", "size"],
    ["status", "--queue", "a:b"],
    ["status", "--queue", "task"],
    ["status", "--watch", "0"],
    ["show"],
    ["show", "has space"],
    ["submit"],
    ["submit", "add", "novalue"],
    ["submit", "add", "_queue=x"],
    ["submit", "add", "--json", "[1, 2]"],
    ["submit", "add", "--json", "{bad"],
    ["submit", "add", "a=1", "a=2"],
    ["submit", "add", "--delay", "-1"],
    ["submit", "add", "--wait-timeout", "1"],
    ["wait", "x", "--timeout", "soon"],
    ["cancel"],
    ["cancel", "x", "--all-pending"],
    ["requeue"],
    ["requeue", "x", "--failed"],
    ["requeue", "--failed", "--since", "last tuesday"],
    ["purge"],
    ["purge", "--failed", "--finished"],
    ["purge", "--failed", "--older-than", "soon"],
    ["kill"],
    ["kill", "x", "--all"],
]


def in_process(argv: list[str]) -> tuple[int, str, str]:
    """The command's main() in this process (for the many cases a process start each would make slow)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("args", BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_one_line(args: list[str], redis_url: str, prefix: str) -> None:
    code, stdout, stderr = in_process([*args, "-r", redis_url, "--prefix", prefix])
    assert code == 2, (stdout, stderr)
    one_line_error(subprocess.CompletedProcess(args, code, stdout, stderr))


def test_bad_arguments_as_processes(redis_url: str) -> None:
    """The same, as real processes."""
    commands = [[], ["tasks", "--state", "lost"], ["submit", "add", "_queue=x"], ["show", "x", "-r", "http://x"]]
    for done in doshit_many(commands):
        assert done.returncode == 2, (done.args, done.stdout, done.stderr)
        one_line_error(done)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://localhost", "redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://"),
        ("redis://localhost:notaport/0", "bad port"),
        ("redis://localhost/zero", "database must be a number"),
    ],
)
def test_bad_url(url: str, message: str) -> None:
    done = doshit("status", "-r", url)
    assert done.returncode == 2
    assert message in one_line_error(done)


def test_bad_prefix_and_environment(redis_url: str) -> None:
    done = doshit("status", "-r", redis_url, "--prefix", "a b")
    assert done.returncode == 2
    assert "prefix" in one_line_error(done)
    done = doshit("status", env={"DOSHIT_REDIS": "{not json"})
    assert done.returncode == 2
    assert "DOSHIT_REDIS is not JSON" in one_line_error(done)


def test_unreachable_redis_exits_5() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    commands = [
        ["status"],
        ["tasks"],
        ["show", "x"],
        ["submit", "add", "a=1"],
        ["wait", "x", "-t", "1"],
        ["purge", "--finished"],
    ]
    for done in doshit_many([[*args, "-r", url] for args in commands]):
        assert done.returncode == 5, (done.args, done.stderr)
        assert "cannot reach Redis at redis://127.0.0.1" in one_line_error(done)


def test_environment_configuration(redis_url: str, prefix: str, client: Client) -> None:
    """DOSHIT_REDIS_URL, DOSHIT_APP_PREFIX and DOSHIT_QUEUE, as for the worker."""
    client.submit("add", a=1, b=2, _queue="envq")
    env = {"DOSHIT_REDIS_URL": redis_url, "DOSHIT_APP_PREFIX": prefix, "DOSHIT_QUEUE": "envq"}
    done = doshit("status", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert {"queue": "envq", "pending": 1, "executing": 0, "scheduled": 0, "failed": 0, "problems": []} in as_json(
        done
    )["queues"]
    done = doshit("--json", "submit", "echo", "text=hi", env=env)
    assert as_json(done)["queue"] == "envq"


# --------------------------------------------------------------------------- unknown ids


def test_unknown_id_exits_1(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    missing = str(uuid.uuid4())
    for args in (["show", missing], ["wait", missing, "-t", "5"], ["kill", missing]):
        done = cli(*args)
        assert done.returncode == 1, (args, done.stderr)
        assert f"no task {missing} " in one_line_error(done)
    done = cli("show", missing, "--json")
    assert done.returncode == 1 and "no task" in as_json(done)["error"]
    for command in ("cancel", "requeue"):
        done = cli(command, missing, "--json")
        assert done.returncode == 1
        assert as_json(done)["tasks"] == {missing: "missing"}


# --------------------------------------------------------------------------- with a worker


def test_status_workers_kill_and_watch(
    cli: Callable[..., subprocess.CompletedProcess[str]],
    start_worker: Callable[..., WorkerProcess],
    client: Client,
    redis_url: str,
    prefix: str,
) -> None:
    start_worker("--queue", "ops", "--concurrency", "2")
    running = submit_running(client, "sleep", seconds=30, _queue="ops")
    client.submit("add", a=1, b=2, _queue="other")  # a queue no worker serves, named with --queue

    done = cli("status", "-q", "other")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["QUEUE", "PENDING", "EXECUTING", "SCHEDULED", "FAILED"]
    assert lines[1].split() == ["default", "0", "0", "0", "0"]
    assert lines[2].split() == ["ops", "0", "1", "0", "0"]
    assert lines[3].split() == ["other", "1", "0", "0", "0"]
    assert "sleep" in done.stdout and "process" in done.stdout

    data = as_json(cli("status", "--json"))
    assert [queue["queue"] for queue in data["queues"]] == ["default", "ops"]
    (worker,) = data["workers"]
    assert worker["queues"] == ["ops"] and worker["concurrency"] == 2 and worker["pool"] == "process"
    assert [task["id"] for task in worker["running"]] == [running.task_id]
    assert worker["running"][0]["function"] == "sleep" and worker["running"][0]["seconds"] >= 0

    done = cli("workers")
    assert done.returncode == 0 and running.task_id in done.stdout

    # --watch redraws until SIGTERM, then exits 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "doshit._ops.cli", "status", "--watch", "0.2", "-r", redis_url, "--prefix", prefix],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert stdout.count("QUEUE") >= 2

    assert cli("kill", running.task_id).returncode == 0
    done = cli("wait", running.task_id, "--timeout", "20", "--json")
    assert done.returncode == 3
    assert as_json(done)["result"] == "failed"
    done = cli("kill", running.task_id)
    assert done.returncode == 1 and "not executing" in one_line_error(done)
    done = cli("kill", "--all", "--json")
    assert done.returncode == 0 and as_json(done) == {"workers": 1}


def test_submit_wait_show(
    cli: Callable[..., subprocess.CompletedProcess[str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    done = cli("submit", "add", "a=1", "b=2", "--wait", "--wait-timeout", "20")
    assert done.returncode == 0, done.stderr
    task_id, value = done.stdout.split()
    assert value == "3"

    done = cli("submit", "echo", "--args", '{"value": {"n": [1, 2]}}', "--wait", "--json")
    assert done.returncode == 0
    assert as_json(done)["value"] == {"n": [1, 2]} and as_json(done)["result"] == "successful"

    done = cli("submit", "echo", "--json", '{"text": "from --json"}', "--wait")
    assert done.stdout.splitlines()[1] == '"from --json"'

    # key=value: JSON when it parses, else a string
    done = cli("submit", "echo", 'value={"a":null}', "--wait")
    assert done.stdout.splitlines()[1] == '{"a":null}'
    done = cli("submit", "echo", "value=not json", "--wait")
    assert done.stdout.splitlines()[1] == '"not json"'

    done = cli("submit", "fail", "message=boom", "--wait", "--wait-timeout", "20")
    assert done.returncode == 3
    failed_id = done.stdout.strip()
    assert "failed: ValueError: boom" in done.stderr and "Traceback (most recent call last)" in done.stderr

    done = cli("show", failed_id)
    assert done.returncode == 0
    assert "error-reason" in done.stdout and "ValueError: boom" in done.stdout
    assert "error-exception:\n    Traceback (most recent call last):" in done.stdout
    data = as_json(cli("show", failed_id, "--json"))
    assert data["decoded"]["args"] == {"message": "boom"} and data["decoded"]["attempt"] == 1
    assert data["fields"]["result"] == "failed" and data["problems"] == {}

    done = cli("show", task_id, "--watch", "0.2")  # finished: one frame and out
    assert done.returncode == 0 and "successful" in done.stdout

    done = cli("wait", task_id, "--json")
    assert as_json(done)["value"] == 3

    # a queue nobody serves: the wait times out
    done = cli("submit", "add", "a=1", "b=1", "-q", "nobody", "--delay", "60", "--retries", "2", "--timeout", "9")
    waiting = done.stdout.strip()
    done = cli("wait", waiting, "--timeout", "0.5")
    assert done.returncode == 4 and "did not finish within 0.5 s" in one_line_error(done)
    decoded = as_json(cli("show", waiting, "--json"))["decoded"]
    assert decoded["state"] == "scheduled" and decoded["retries"] == 2 and decoded["timeout"] == 9
    assert decoded["queue"] == "nobody"
    done = cli("submit", "add", "a=1", "--task-id", waiting)
    assert done.returncode == 1 and "already exists" in one_line_error(done)


# --------------------------------------------------------------------------- tasks, cancel


def test_tasks_listing(cli: Callable[..., subprocess.CompletedProcess[str]], client: Client, r: redis.Redis) -> None:
    adds = [client.submit("add", a=i, b=0).task_id for i in range(3)]
    echo = client.submit("echo", text="x", _queue="q2").task_id
    later = client.submit("add", a=1, b=1, _delay=300).task_id
    finished = client.submit("add", a=0, b=0, _queue="q2").task_id
    key = f"{client.prefix}:task:{finished}"
    r.hset(key, mapping={"state": "finished", "result": "successful", "result-value": "0"})
    r.lrem(f"{client.prefix}:q2:pending", 0, finished)

    done = cli("tasks", "-q", "q2", "-q", "default")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0].split() == ["ID", "QUEUE", "FUNCTION", "STATE", "AGE", "ATTEMPT", "NOTE"]
    for task_id in [*adds, echo, later]:
        assert task_id in done.stdout
    assert finished not in done.stdout  # no index of finished tasks: only with --state
    assert "due in" in done.stdout

    data = as_json(cli("tasks", "-q", "default", "-q", "q2", "--json", "--order", "function"))
    assert data["total"] == 5
    assert [task["fields"]["function"] for task in data["tasks"]] == ["add"] * 4 + ["echo"]
    data = as_json(cli("tasks", "-q", "default", "--json", "--function", "add", "--state", "pending", "--limit", "2"))
    assert data["total"] == 3 and len(data["tasks"]) == 2
    assert {task["id"] for task in data["tasks"]} <= set(adds)
    data = as_json(cli("tasks", "--json", "--state", "scheduled"))
    assert [task["id"] for task in data["tasks"]] == [later]
    data = as_json(cli("tasks", "--json", "--state", "successful"))
    assert [task["id"] for task in data["tasks"]] == [finished]
    assert as_json(cli("tasks", "--json", "--state", "all"))["total"] == 6
    assert as_json(cli("tasks", "--json", "--state", "all", "-q", "q2"))["total"] == 2

    done = cli("cancel", "-q", "default", "--all-pending", "--json")
    assert done.returncode == 0 and as_json(done)["counts"] == {"cancelled": 3}
    done = cli("cancel", later, echo)
    assert done.returncode == 0 and done.stdout.count("cancelled") == 2
    done = cli("cancel", later)  # finished now: nothing done
    assert done.returncode == 1 and "finished" in done.stdout
    assert as_json(cli("status", "--json", "-q", "q2"))["queues"][1] == {
        "queue": "q2",
        "pending": 0,
        "executing": 0,
        "scheduled": 0,
        "failed": 1,
        "problems": [],
    }


# --------------------------------------------------------------------------- malformed data


def test_malformed_data_is_shown_never_a_traceback(
    cli: Callable[..., subprocess.CompletedProcess[str]], prefix: str, redis_url: str
) -> None:
    raw = redis.Redis.from_url(redis_url)  # bytes in and out
    raw.hset(
        f"{prefix}:task:bad",
        mapping={
            "function": "\x1b[2Jevil\nline",
            "state": "pending",
            "args": "{not json",
            "pending-created": "yesterday",
            "attempt": "-1",
            "progress": "0.25",
            "meta": '{"request": "r-1"}',
            "errors": "[1, {broken",
            "mystery": b"\xff\xfe bytes",
            "result-value": "x" * 100_000,
        },
    )
    raw.lpush(f"{prefix}:default:pending", "bad", "gone", "has space", b"\xff")
    raw.set(f"{prefix}:task:gone", "a string, not a hash")
    raw.set(f"{prefix}:default:scheduled", "not a zset")
    raw.zadd(f"{prefix}:workers", {"fake": time.time() + 60})
    raw.hset(f"{prefix}:worker:fake", mapping={"pid": "x", "queue": "bad queue", "queues": "[\"q\x1b\", 3]",
                                               "hostname": "\x1b[31mred", "heartbeat": "soon"})  # fmt: skip

    done = cli("show", "bad")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\\x1b[2Jevil\\nline" in done.stdout
    assert "{not json  (shown raw: " in done.stdout
    assert "yesterday  (shown raw: not a doshit timestamp" in done.stdout
    assert "25% [#####" in done.stdout and '{"request":"r-1"}' in done.stdout
    assert "\\udcff\\udcfe bytes  (not a schema field)" in done.stdout
    assert "(100000 characters)" in done.stdout
    assert len(cli("show", "bad", "--full").stdout) > 100_000
    data = as_json(cli("show", "bad", "--json"))
    assert set(data["problems"]) == {"args", "pending-created", "attempt", "errors", "result-value"}
    assert data["decoded"]["progress"] == 0.25 and data["fields"]["mystery"] == "\\udcff\\udcfe bytes"

    done = cli("show", "gone")
    assert done.returncode == 1 and "is a string, not a task hash" in one_line_error(done)

    where = ["-r", redis_url, "--prefix", prefix]
    commands = [["status"], ["workers"], ["tasks"], ["tasks", "--state", "all"], ["status", "--json"]]
    status, *others = doshit_many([[*args, *where] for args in commands])
    for done in (status, *others):
        assert done.returncode == 0, (done.args, done.stderr)
        no_traceback(done.stderr)
        assert "\x1b" not in done.stdout
    assert "\\x1b[31mred" in status.stdout
    assert "WRONGTYPE" in status.stdout  # the scheduled count could not be read: said so
    data = as_json(cli("status", "--json"))
    assert data["queues"][0]["scheduled"] is None and data["queues"][0]["pending"] == 4
    assert data["workers"][0]["pid"] is None and data["workers"][0]["queues"] == []
    data = as_json(cli("tasks", "--json"))
    assert {task["id"] for task in data["tasks"]} == {"bad", "gone"}
    assert any("WRONGTYPE" in problem for problem in data["problems"])
    assert any("2 entries that are not task ids" in problem for problem in data["problems"])


# --------------------------------------------------------------------------- bulk operations


def _failed_tasks(r: redis.Redis, prefix: str, count: int, function: str, queue: str = "default") -> list[str]:
    """Failed tasks written as a worker would have finished them, with their failed index entries."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    now_ms = int(time.time() * 1000)
    pipe = r.pipeline(transaction=False)
    for index, task_id in enumerate(ids):
        pipe.hset(f"{prefix}:task:{task_id}", mapping={
            "function": function, "state": "finished", "result": "failed", "error-reason": "ValueError: x",
            "args": "{}", "queue": queue, "attempt": "1", "finished-created": "2024-01-01T00:00:00.000000Z",
        })  # fmt: skip
        pipe.zadd(f"{prefix}:{queue}:failed", {task_id: now_ms - 3_600_000 + index})
    pipe.execute()
    return ids


def test_bulk_requeue_of_thousands(
    cli: Callable[..., subprocess.CompletedProcess[str]], prefix: str, r: redis.Redis
) -> None:
    a = _failed_tasks(r, prefix, 2000, "a")
    b = _failed_tasks(r, prefix, 1000, "b")
    assert as_json(cli("status", "--json"))["queues"][0]["failed"] == 3000

    done = cli("requeue", "--failed", "--function", "b", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    assert as_json(done)["counts"] == {"requeued": 1000}
    assert r.llen(f"{prefix}:default:pending") == 1000
    assert r.hget(f"{prefix}:task:{b[0]}", "state") == "pending"
    assert r.hget(f"{prefix}:task:{a[0]}", "state") == "finished"

    assert cli("requeue", "--failed", "--since", "1m").stdout.strip() == "requeue: nothing to do"
    done = cli("requeue", "--failed", timeout=120)
    assert done.returncode == 0
    assert done.stdout.strip() == "requeue: 2000 requeued"
    assert r.zcard(f"{prefix}:default:failed") == 0 and r.llen(f"{prefix}:default:pending") == 3000
    assert json.loads(r.hget(f"{prefix}:task:{a[-1]}", "errors") or "[]")[0]["reason"] == "ValueError: x"


def test_purge(cli: Callable[..., subprocess.CompletedProcess[str]], prefix: str, r: redis.Redis) -> None:
    failed = _failed_tasks(r, prefix, 30, "f", queue="pq")
    recent = _failed_tasks(r, prefix, 5, "f", queue="pq")
    r.zadd(f"{prefix}:pq:failed", dict.fromkeys(recent, int(time.time() * 1000)))
    r.zadd(f"{prefix}:pq:failed", {"expired-id": 1})  # its hash is gone
    old = "2024-01-01T00:00:00.000000Z"
    r.hset(f"{prefix}:task:ok-old", mapping={"state": "finished", "result": "successful", "finished-created": old})
    r.hset(f"{prefix}:task:ok-new", mapping={"state": "finished", "result": "successful",
                                             "finished-created": "2999-01-01T00:00:00.000000Z"})  # fmt: skip
    r.hset(f"{prefix}:task:waiting", mapping={"state": "pending", "function": "f"})

    done = cli("purge", "--failed", "-q", "pq", "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    assert as_json(done)["matched"] == 35 and as_json(done)["deleted"] == 0
    assert r.exists(f"{prefix}:task:{failed[0]}")

    done = cli("purge", "--failed", "-q", "pq", "--older-than", "30m")
    assert done.returncode == 0 and done.stdout.strip() == "deleted 30 task hash(es)"
    assert not r.exists(f"{prefix}:task:{failed[0]}") and r.exists(f"{prefix}:task:{recent[0]}")
    assert set(r.zrange(f"{prefix}:pq:failed", 0, -1)) == set(recent)

    done = cli("purge", "--finished", "--older-than", "1d", "--json")
    assert as_json(done)["deleted"] == 6  # ok-old and the 5 recent failed ones (finished in 2024)
    assert r.exists(f"{prefix}:task:ok-new") and r.exists(f"{prefix}:task:waiting")
    assert r.zcard(f"{prefix}:pq:failed") == 0
    assert as_json(cli("purge", "--finished", "--json"))["deleted"] == 1
    assert r.exists(f"{prefix}:task:waiting")


# --------------------------------------------------------------------------- the legacy worker command


def test_doshit_worker_is_the_legacy_command(redis_url: str, prefix: str, client: Client) -> None:
    task = client.submit("bare", x=21, _queue="old")
    done = doshit("worker", "tests/apps/legacy_tasks.py", "-q", "old", "-r", redis_url, "--prefix", prefix, "--burst")
    assert done.returncode == 0, done.stderr
    assert task.wait_result(timeout=1) == 42
    assert "TASKS" in doshit("worker", "--help").stdout
