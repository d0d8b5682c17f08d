"""A real worker process from start to exit: signals, its worker hash, what it records in task
hashes, result expiry, burst mode, ordering and concurrency, stray output, datetimes, and Redis
going away under it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import redis

from doshit import Client
from doshit.testing import PrivateRedis, free_port

from .conftest import (
    WorkerProcess,
    assert_clean,
    finished,
    launch,
    submit_running,
    wait_for,
    wait_listening,
    wait_state,
)

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
TERMINATED = "task / process was killed before completion"
WEEK = 604800


def worker_key(r: redis.Redis, prefix: str) -> str:
    keys = r.keys(f"{prefix}:worker:*")
    assert len(keys) == 1, keys
    key: str = keys[0]
    return key


def stamp(text: str) -> datetime:
    assert TIMESTAMP.fullmatch(text), text
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------- stopping


def test_sigterm_when_idle(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    worker = start_worker("--concurrency", "1")
    key = worker_key(r, prefix)
    child: int = client.submit("pid").wait_result(timeout=15)
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert not r.exists(key)
    assert not Path(f"/proc/{child}").exists()  # its child process ended with it
    assert "stopped: 1 successful, 0 failed" in worker.log()


def test_sigterm_lets_a_running_task_finish(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    worker = start_worker("--concurrency", "1")
    key = worker_key(r, prefix)
    task = submit_running(client, "sleep", seconds=1.5)
    worker.signal(signal.SIGTERM)
    waiting = client.submit("echo", text="after the signal")  # a stopping worker takes nothing new
    assert worker.wait() == 0
    assert task.wait_result(timeout=1) == 1.5
    assert not r.exists(key)
    assert r.hget(f"{prefix}:task:{waiting.task_id}", "state") == "pending"
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == [waiting.task_id]
    assert r.lrange(f"{prefix}:default:executing", 0, -1) == []


def test_tasks_claimed_ahead_are_given_back_in_order(
    start_worker: Any, client: Client, r: redis.Redis, prefix: str
) -> None:
    """One child runs a task and one more is claimed ahead; on SIGTERM the one claimed ahead goes
    back to the taking end of pending, unclaimed, ahead of everything queued after it."""
    worker = start_worker("--concurrency", "1")
    running = submit_running(client, "sleep", seconds=1.5)
    ahead, *queued = [client.submit("echo", text=str(n)) for n in range(3)]
    wait_state(r, prefix, ahead.task_id, "executing")  # claimed, waiting for the child
    assert r.hget(f"{prefix}:task:{queued[0].task_id}", "state") == "pending"
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert running.wait_result(timeout=1) == 1.5
    fields = r.hgetall(f"{prefix}:task:{ahead.task_id}")
    assert fields["state"] == "pending"
    assert "worker" not in fields and "executing-created" not in fields
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == [t.task_id for t in reversed(queued)] + [ahead.task_id]
    assert r.lrange(f"{prefix}:default:executing", 0, -1) == []
    assert "gave back 1 task(s)" in worker.log()
    start_worker("--concurrency", "1")
    assert [t.wait_result(timeout=15) for t in (ahead, *queued)] == ["0", "1", "2"]
    stamps = [stamp(r.hget(f"{prefix}:task:{t.task_id}", "executing-created")) for t in (ahead, *queued)]
    assert stamps == sorted(stamps)


def test_shutdown_timeout_kills_a_long_task(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    worker = start_worker("--shutdown-timeout", "0.5")
    task = submit_running(client, "sleep", seconds=600)
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert fields["state"] == "finished"
    assert fields["result"] == "failed"
    assert fields["error-reason"] == TERMINATED
    assert_clean(r, prefix)
    assert not r.keys(f"{prefix}:worker:*")


def test_second_sigint_kills_at_once(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    # the shutdown timeout is far longer than the test may take: only the second signal ends the task
    worker = start_worker("--shutdown-timeout", "600")
    task = submit_running(client, "sleep", seconds=600)
    worker.signal(signal.SIGINT)
    wait_for(lambda: "waiting up to 600 s for 1 running task(s)" in worker.log(), what="the first SIGINT")
    worker.signal(signal.SIGINT)
    assert worker.wait() == 0
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert fields["result"] == "failed"
    assert fields["error-reason"] == TERMINATED
    assert "second stop request" in worker.log()
    assert_clean(r, prefix)
    assert not r.keys(f"{prefix}:worker:*")


# --------------------------------------------------------------------------- what a worker writes


def test_worker_hash(start_worker: Any, r: redis.Redis, prefix: str) -> None:
    worker = start_worker("--concurrency", "2")
    key = worker_key(r, prefix)
    fields = r.hgetall(key)
    # the legacy fields
    assert fields["hostname"] == socket.gethostname()
    assert "ipaddress" in fields
    assert fields["pid"] == str(worker.proc.pid)
    registered = stamp(fields["registered"])
    # the added ones
    assert stamp(fields["heartbeat"]) >= registered
    assert fields["heartbeat-interval"] == "5"
    assert fields["schema-version"] == "2"
    assert fields["queue"] == "default"
    assert fields["pool"] == "process"
    assert fields["concurrency"] == "2"
    assert "echo" in json.loads(fields["functions"])
    assert fields["version"]
    assert 0 < r.ttl(key) <= 15  # three heartbeat intervals
    # the heartbeat renews it
    wait_for(lambda: r.hget(key, "heartbeat") != fields["heartbeat"], what="a heartbeat")
    assert stamp(r.hget(key, "heartbeat")) > stamp(fields["heartbeat"])
    assert r.hget(key, "registered") == fields["registered"]
    assert r.ttl(key) > 0


def test_task_records_worker_and_queue(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    start_worker("--queue", "other")
    worker_id = worker_key(r, prefix).rsplit(":", 1)[1]
    elsewhere = client.submit("echo", text="not this queue")
    task = client.submit("echo", text="hi", _queue="other")
    assert task.wait_result(timeout=15) == "hi"
    # a legacy producer writes no queue field: the worker records the queue it took the task from
    legacy_id = str(uuid.uuid4())
    r.hset(f"{prefix}:task:{legacy_id}", mapping={"function": "echo", "state": "pending", "args": "{}"})
    r.lpush(f"{prefix}:other:pending", legacy_id)
    for task_id in (task.task_id, legacy_id):
        fields = finished(r, prefix, task_id)
        assert fields["result"] == "successful"
        assert fields["worker"] == worker_id
        assert fields["queue"] == "other"
        stamp(fields["executing-created"])
        stamp(fields["finished-created"])
    assert_clean(r, prefix, "other")
    assert r.hget(f"{prefix}:task:{elsewhere.task_id}", "state") == "pending"


def test_result_ttl_default_and_per_task(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    start_worker()
    default = client.submit("echo", text="kept a week")
    failure = client.submit("fail")
    short = client.submit("echo", text="kept a minute", _result_ttl=60)
    forever = client.submit("echo", text="kept", _result_ttl=0)
    for task in (default, failure, short, forever):
        finished(r, prefix, task.task_id)
    assert WEEK - 60 < r.ttl(default.key) <= WEEK
    assert WEEK - 60 < r.ttl(failure.key) <= WEEK
    assert 0 < r.ttl(short.key) <= 60
    assert r.ttl(forever.key) == -1


def test_result_ttl_zero_keeps_results(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    start_worker("--result-ttl", "0")
    default = client.submit("echo", text="kept")
    failure = client.submit("fail")
    short = client.submit("echo", text="kept a minute", _result_ttl=60)  # the task's own field wins
    for task in (default, failure, short):
        finished(r, prefix, task.task_id)
    assert r.ttl(default.key) == -1
    assert r.ttl(failure.key) == -1
    assert 0 < r.ttl(short.key) <= 60


# --------------------------------------------------------------------------- running many


def test_burst(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    tasks = [client.submit("sleep", seconds=0.3) for _ in range(3)] + [client.submit("echo", text="last")]
    worker = start_worker("--burst", "--concurrency", "2", ready=False)
    assert worker.wait() == 0
    assert [task.wait_result(timeout=1) for task in tasks] == [0.3, 0.3, 0.3, "last"]
    assert_clean(r, prefix)
    assert not r.keys(f"{prefix}:worker:*")
    assert "stopped: 4 successful, 0 failed" in worker.log()
    # with nothing queued, a burst worker exits at once
    idle = start_worker("--burst", ready=False)
    assert idle.wait() == 0
    assert "stopped: 0 successful, 0 failed" in idle.log()


def test_fifo_with_one_slot(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    tasks = [client.submit("echo", value=n) for n in range(8)]
    start_worker("--concurrency", "1")
    hashes = [finished(r, prefix, task.task_id) for task in tasks]
    taken = [stamp(fields["executing-created"]) for fields in hashes]
    done = [stamp(fields["finished-created"]) for fields in hashes]
    assert taken == sorted(taken)  # taken in the order submitted
    assert all(a < b for a, b in pairwise(done))  # and, with one slot, run one after another in that order


def test_two_slots_run_two_tasks_at_once(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    start_worker("--concurrency", "2")
    first = client.submit("sleep", seconds=1)
    second = client.submit("sleep", seconds=1)
    a = finished(r, prefix, first.task_id)
    b = finished(r, prefix, second.task_id)
    assert stamp(b["executing-created"]) < stamp(a["finished-created"])
    assert stamp(a["executing-created"]) < stamp(b["finished-created"])
    assert a["result"] == b["result"] == "successful"


def test_task_output_does_not_reach_the_channel(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    worker = start_worker("--concurrency", "1")
    assert client.submit("noisy", text="hello").wait_result(timeout=15) == "hello"
    # a forged result frame written straight to fd 1, and a read of stdin (it is /dev/null)
    assert client.submit("chatter", text="x").wait_result(timeout=15) == {"text": "x", "stdin": ""}
    assert client.submit("echo", text="clean").wait_result(timeout=15) == "clean"
    log = worker.log()
    assert "a task printing to stdout hello" in log
    assert "chatter on stdout: x" in log
    assert_clean(r, prefix)


def test_datetimes_round_trip(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    start_worker()
    moment = datetime(2015, 12, 5, 0, 19, 1, 834909, tzinfo=timezone.utc)
    aware = client.submit("later", moment=moment, days=1)
    assert aware.wait_result(timeout=15) == moment + timedelta(days=1)
    assert r.hget(aware.key, "result-value") == '{"type":"datetime","value":"2015-12-06T00:19:01.834909Z"}'
    # naive datetimes are UTC; other zones are converted
    naive = client.submit("later", moment=moment.replace(tzinfo=None), days=1)
    assert naive.wait_result(timeout=15) == moment + timedelta(days=1)
    zoned = client.submit("later", moment=moment.astimezone(timezone(timedelta(hours=2))), days=0)
    result = zoned.wait_result(timeout=15)
    assert result == moment
    assert result.utcoffset() == timedelta(0)
    # as a legacy producer wrote it: pretty-printed with indent 2
    legacy_id = str(uuid.uuid4())
    args = '{\n  "moment": {\n    "type": "datetime",\n    "value": "2015-12-05T00:19:01.834909Z"\n  },\n  "days": 2\n}'
    r.hset(f"{prefix}:task:{legacy_id}", mapping={"function": "later", "state": "pending", "args": args})
    r.lpush(f"{prefix}:default:pending", legacy_id)
    fields = finished(r, prefix, legacy_id)
    assert fields["result-value"] == '{"type":"datetime","value":"2015-12-07T00:19:01.834909Z"}'
    assert_clean(r, prefix)


# --------------------------------------------------------------------------- Redis goes away


def test_redis_connection_loss(tmp_path: Path, prefix: str) -> None:
    server = PrivateRedis(free_port())
    with server as url, redis.Redis.from_url(url, decode_responses=True) as conn:
        worker, worker_id = launch(url, conn, prefix, tmp_path / "worker.log", "--concurrency", "1")
        try:
            wait_listening(conn, prefix)
            with Client(url, prefix=prefix) as client:
                assert client.submit("echo", text="before").wait_result(timeout=15) == "before"

            server.stop()  # the worker is idle, blocked waiting for a task
            wait_for(lambda: "Redis unreachable while taking tasks" in worker.log(), what="the worker to notice")
            time.sleep(2)  # a few failed retries
            assert worker.proc.poll() is None
            server.start()  # same port, empty: nothing was saved

            with Client(url, prefix=prefix) as client:
                task = client.submit("echo", text="after")
                assert task.wait_result(timeout=20) == "after"
                assert task.info().worker == worker_id
                # the command listener is back too: a kill still reaches a running task
                wait_listening(conn, prefix)
                sleeper = submit_running(client, "sleep", seconds=20)
                assert sleeper.cancel() == "killing"
                assert finished(conn, prefix, sleeper.task_id)["error-reason"] == "task was pubsub killed"
            # the heartbeat writes the worker hash again, whole
            key = f"{prefix}:worker:{worker_id}"
            wait_for(lambda: conn.hget(key, "registered"), what="the worker hash to be written again")
            assert conn.ttl(key) > 0
            assert worker.proc.poll() is None
            log = worker.log()
            assert "retrying in" in log
            assert "Redis reachable again; taking tasks" in log
            assert "Redis reachable again; listening for commands" in log
            assert_clean(conn, prefix)
        finally:
            worker.stop()


def test_children_die_with_a_killed_worker(start_worker: Any, client: Client, r: redis.Redis, prefix: str) -> None:
    """A worker that dies hard takes its child processes and their tasks with it: nothing runs on
    unsupervised (a later recovery may run the task again)."""
    worker = start_worker("--concurrency", "1")
    task = submit_running(client, "sleep", seconds=60)
    children = Path(f"/proc/{worker.proc.pid}/task/{worker.proc.pid}/children").read_text().split()
    assert children
    worker.signal(signal.SIGKILL)
    worker.wait()
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), what="the children to die")
    assert r.hget(f"{prefix}:task:{task.task_id}", "state") == "executing"  # left for recovery


def test_a_child_killed_while_idle_costs_no_task(
    start_worker: Any, client: Client, r: redis.Redis, prefix: str
) -> None:
    """A child that something else killed between tasks is replaced; the next task runs normally."""
    worker = start_worker("--concurrency", "1")
    first = client.submit("pid").wait_result(timeout=15)
    os.kill(first, signal.SIGKILL)
    wait_for(
        lambda: not Path(f"/proc/{first}/status").exists() or "zombie" in Path(f"/proc/{first}/status").read_text()
    )
    child = client.submit("pid").wait_result(timeout=15)
    assert child != first
    for _ in range(5):  # and killed just before the next task is handed to it
        os.kill(child, signal.SIGKILL)
        replacement = client.submit("pid").wait_result(timeout=15)
        assert replacement != child
        child = replacement
    assert client.submit("echo", text="still fine").wait_result(timeout=15) == "still fine"
    assert "failed" not in worker.log().split("serving queue", 1)[1]


def test_worker_started_before_redis_waits_for_it(tmp_path: Path, prefix: str) -> None:
    """A worker whose Redis is not up yet keeps retrying instead of exiting, and serves once it is."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    args = [sys.executable, "-m", "doshit._cli", "--app", "tests.apps.basic", "--redis-url", url, "--prefix", prefix]
    worker = WorkerProcess(args, tmp_path / "worker.log", {**os.environ, "PYTHONUNBUFFERED": "1"})
    server = PrivateRedis(port)
    try:
        wait_for(lambda: "retrying" in worker.log(), what="the worker to report it is retrying")
        assert worker.proc.poll() is None
        server.start()
        with Client(url, prefix=prefix) as client:
            assert client.submit("add", a=20, b=22).wait_result(timeout=30) == 42
    finally:
        worker.stop()
        server.stop()


def test_client_without_redis_fails_at_once(prefix: str) -> None:
    with Client(f"redis://127.0.0.1:{free_port()}/0", prefix=prefix) as client, pytest.raises(redis.ConnectionError):
        client.submit("echo", text="nowhere")
