"""Nothing lost: tasks of dead workers come back (or fail once they used their attempts), retries with
backoff, time limits, delayed tasks, the failed index and requeue. Real worker processes, real
SIGKILLs, a real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio

from doshit import Client, TaskFailed
from doshit._core.codec import parse_timestamp
from doshit._core.keys import Keys
from doshit._core.worker_rules import WorkerProtocol
from doshit._redis import run_scripts_apart
from doshit._worker.recovery import Recovery
from doshit._worker.upkeep import Retry
from doshit.testing import PrivateRedis

from .conftest import WorkerProcess, assert_clean, finished, submit_running, wait_for, wait_state

FAST = ("--heartbeat-interval", "0.3", "--recovery-interval", "0.3", "--recovery-grace", "0.6")
"""A worker that notices a dead one within about 3 s: its hash expires 1 s after the last heartbeat."""

StartWorker = Callable[..., WorkerProcess]


def start(
    start_worker: StartWorker, r: redis.Redis, prefix: str, *args: str, **kwargs: Any
) -> tuple[WorkerProcess, str]:
    """A worker process with the fast recovery settings; returns it and its id."""
    before = set(r.keys(f"{prefix}:worker:*"))
    worker = start_worker(*FAST, *args, **kwargs)
    (key,) = set(r.keys(f"{prefix}:worker:*")) - before
    return worker, key.rsplit(":", 1)[1]


def errors(fields: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(fields.get("errors", "[]"))
    return found


def orphan(r: redis.Redis, prefix: str, fields: dict[str, str], *, queue: str = "default") -> str:
    """A task on executing as a worker leaves it when it dies: the hash as given, the id on executing."""
    task_id = str(uuid.uuid4())
    base = {
        "function": "echo",
        "args": '{"text": "back"}',
        "pending-created": "2026-11-30T00:00:00.000000Z",
        "queue": queue,
    }
    r.hset(f"{prefix}:task:{task_id}", mapping={**base, **fields})
    r.lpush(f"{prefix}:{queue}:executing", task_id)
    return task_id


# --------------------------------------------------------------------------- crash recovery


def test_the_task_of_a_killed_worker_runs_again_and_the_waiting_client_gets_that_result(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    first, first_id = start(start_worker, r, prefix)
    task = submit_running(client, "stall_first", counter=str(tmp_path / "runs"))
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(task.wait_result(timeout=60)))
    waiter.start()
    _, second_id = start(start_worker, r, prefix)
    first.signal(signal.SIGKILL)
    first.wait()
    waiter.join(60)
    assert got == [2]  # the re-run's result reached the client that waited on the first run
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert (fields["worker"], fields["attempt"], fields["result"]) == (second_id, "2", "successful")
    (error,) = errors(fields)
    assert error["attempt"] == 1
    assert error["reason"] == f"worker {first_id} died while running the task, attempt 1 of 3"
    assert "orphan-since" not in fields
    assert_clean(r, prefix)


def test_tasks_claimed_ahead_and_popped_but_never_claimed_come_back(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    # The three windows a worker can die in, written as it would leave them.
    claimed_running = orphan(r, prefix, {"state": "executing", "worker": "gone-1", "attempt": "1"})
    claimed_ahead = orphan(r, prefix, {"state": "executing", "worker": "gone-1", "attempt": "2"})
    popped = orphan(r, prefix, {"state": "pending"})
    start(start_worker, r, prefix)
    for task_id in (claimed_running, claimed_ahead, popped):
        fields = finished(r, prefix, task_id, timeout=20)
        assert (fields["result"], fields["result-value"]) == ("successful", '"back"'), fields
    assert r.hget(f"{prefix}:task:{claimed_running}", "attempt") == "2"
    assert r.hget(f"{prefix}:task:{claimed_ahead}", "attempt") == "3"
    assert r.hget(f"{prefix}:task:{popped}", "attempt") == "1"  # popped and never claimed: no attempt used
    assert "errors" not in r.hgetall(f"{prefix}:task:{popped}")
    assert_clean(r, prefix)


def test_a_slow_task_of_a_live_worker_is_never_taken(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    start(start_worker, r, prefix, "--concurrency", "1")
    start(start_worker, r, prefix, "--concurrency", "1")
    # Many times longer than a dead worker's task takes to come back with these settings.
    slow = [client.submit("sleep", seconds=6) for _ in range(2)]
    marks = []
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        marks += [r.hget(f"{prefix}:task:{t.task_id}", "orphan-since") for t in slow]
        time.sleep(0.1)
    for task in slow:
        assert task.wait_result(timeout=20) == 6
        fields = r.hgetall(f"{prefix}:task:{task.task_id}")
        assert (fields["attempt"], "errors" in fields) == ("1", False)
    assert marks == [None] * len(marks)
    assert_clean(r, prefix)


def test_a_worker_whose_event_loop_is_blocked_keeps_its_task(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    # An async task that blocks the loop, like a busy CPU: the heartbeat thread keeps the hash alive.
    _, owner = start(start_worker, r, prefix, "--pool", "inline")
    task = submit_running(client, "block_loop", seconds=5)
    start(start_worker, r, prefix)
    assert task.wait_result(timeout=30) == 5
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert (fields["worker"], fields["attempt"], "errors" in fields) == (owner, "1", False)


def test_a_redis_outage_longer_than_the_heartbeat_expiry_takes_nothing_from_live_workers(
    tmp_path: Path,
) -> None:
    with PrivateRedis() as url:
        conn = redis.Redis.from_url(url, decode_responses=True)
        prefix = "outage"
        args = ["--app", "tests.apps.basic", "--redis-url", url, "--prefix", prefix, *FAST, "--recovery-grace", "3"]
        workers = [WorkerProcess.start_cli(tmp_path / f"w{i}.log", *args) for i in range(2)]
        try:
            wait_for(lambda: len(conn.keys(f"{prefix}:worker:*")) == 2, what="two workers")
            with Client(url, prefix=prefix) as client:
                tasks = [submit_running(client, "sleep", seconds=5) for _ in range(2)]
                redis_pid = int(conn.info("server")["process_id"])
                os.kill(redis_pid, signal.SIGSTOP)  # Redis hangs: every worker hash expires meanwhile
                time.sleep(1.8)
                os.kill(redis_pid, signal.SIGCONT)
                for task in tasks:
                    assert task.wait_result(timeout=30) == 5
                    fields = conn.hgetall(f"{prefix}:task:{task.task_id}")
                    assert (fields["attempt"], "errors" in fields) == ("1", False), fields
            assert_clean(conn, prefix)
            assert all("gave it back" not in w.log() for w in workers)
        finally:
            for worker in workers:
                worker.stop()
            conn.close()


def test_a_poison_task_that_kills_every_worker_fails_after_its_attempts(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    counter = tmp_path / "runs"
    task = client.submit("kill_worker", counter=str(counter))
    killed = 0
    deadline = time.monotonic() + 60
    while r.hget(f"{prefix}:task:{task.task_id}", "state") != "finished":
        assert time.monotonic() < deadline, "the poison task never finished"
        worker = start_worker(*FAST, ready=False)
        while worker.proc.poll() is None and r.hget(f"{prefix}:task:{task.task_id}", "state") != "finished":
            time.sleep(0.05)
        killed += worker.proc.poll() == -signal.SIGKILL
    with pytest.raises(TaskFailed) as failure:
        task.wait_result(timeout=5)
    assert (counter.read_text(), killed) == ("3", 3)
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    history = errors(fields)
    workers = [entry["worker"] for entry in history]
    assert len(set(workers)) == 3
    assert [e["reason"] for e in history] == [
        f"worker {workers[n]} died while running the task, attempt {n + 1} of 3" for n in range(3)
    ]
    assert str(failure.value) == fields["error-reason"] == history[-1]["reason"]
    assert r.zscore(f"{prefix}:default:failed", task.task_id) is not None
    assert r.ttl(f"{prefix}:task:{task.task_id}") > 0
    assert_clean(r, prefix)


def test_a_task_that_asks_for_no_retries_fails_when_its_worker_dies(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    task = client.submit("kill_worker", counter=str(tmp_path / "runs"), _retries=0)
    worker = start_worker(*FAST, ready=False)
    assert worker.wait() == -signal.SIGKILL
    worker_id = r.hget(f"{prefix}:task:{task.task_id}", "worker")
    start(start_worker, r, prefix)
    with pytest.raises(TaskFailed, match=f"^worker {worker_id} died while running the task, attempt 1 of 1$"):
        task.wait_result(timeout=30)


def test_many_recoverers_racing_give_each_task_back_exactly_once(redis_url: str, r: redis.Redis, prefix: str) -> None:
    ids = [orphan(r, prefix, {"state": "executing", "worker": "gone", "attempt": "1"}) for _ in range(50)]
    ids += [orphan(r, prefix, {"state": "pending"}) for _ in range(50)]
    keys = Keys(prefix)
    now = "2026-11-30T12:00:00.000000Z"

    def round_of(n: int) -> list[str]:
        protocol = WorkerProtocol(keys, "default", f"recoverer-{n}")
        calls = [protocol.recover(task_id, r.hget(keys.task(task_id), "worker"), now, 0, 2, 60) for task_id in ids]
        return [reply.status for reply in scripts_of_a_worker(redis_url, calls)]

    assert set(round_of(0)) == {"marked"}
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda n=n: results.append(round_of(n))) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    per_task = list(zip(*results, strict=True))
    assert all(sorted(statuses).count("requeued") == 1 for statuses in per_task), per_task
    assert all(set(statuses) <= {"requeued", "gone", "skip"} for statuses in per_task)
    assert sorted(r.lrange(f"{prefix}:default:pending", 0, -1)) == sorted(ids)
    assert r.llen(f"{prefix}:default:executing") == 0


def scripts_of_a_worker(redis_url: str, calls: list[Any]) -> list[Any]:
    """Script calls sent as a worker sends them (one pipeline on an asyncio connection)."""

    async def go() -> list[Any]:
        async with redis.asyncio.Redis.from_url(redis_url, decode_responses=True) as conn:
            replies = await run_scripts_apart(conn, calls)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    return asyncio.run(go())


def test_the_recovery_lock_lets_one_worker_look_per_round(redis_url: str, r: redis.Redis, prefix: str) -> None:
    task_id = orphan(r, prefix, {"state": "pending"})

    async def go() -> list[int]:
        async with redis.asyncio.Redis.from_url(redis_url, decode_responses=True) as conn:
            protocols = [WorkerProtocol(Keys(prefix), "default", f"w{n}") for n in range(5)]
            options = dict(interval=30.0, grace=0.0, default_retries=2, result_ttl=60)
            recoveries = [Recovery(conn, protocol, **options) for protocol in protocols]
            await asyncio.gather(*(rec.once(Retry("test")) for rec in recoveries))
            return [rec.rounds for rec in recoveries]

    assert sorted(asyncio.run(go())) == [0, 0, 0, 0, 1]
    assert r.hget(f"{prefix}:task:{task_id}", "orphan-since") is not None
    assert 0 < r.pttl(f"{prefix}:default:recovery") <= 27000


def test_tasks_of_legacy_workers_are_never_touched(start_worker: StartWorker, r: redis.Redis, prefix: str) -> None:
    legacy = orphan(r, prefix, {"state": "executing", "executing-created": "2026-11-30T00:00:00.000000Z"})
    worker, _ = start(start_worker, r, prefix)
    time.sleep(3)  # several recovery rounds and more than their grace
    assert r.lrange(f"{prefix}:default:executing", 0, -1) == [legacy]
    assert r.hgetall(f"{prefix}:task:{legacy}")["state"] == "executing"
    assert "orphan-since" not in r.hgetall(f"{prefix}:task:{legacy}")
    assert "gave it back" not in worker.log()


def test_cancel_finishes_the_task_of_a_dead_worker(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    r.hset(f"{prefix}:worker:alive", "queue", "default")
    owned = orphan(r, prefix, {"state": "executing", "worker": "alive", "attempt": "1"})
    found_dead = orphan(r, prefix, {"state": "executing", "worker": "gone", "attempt": "1", "orphan-since": "1"})
    just_died = orphan(r, prefix, {"state": "executing", "worker": "gone", "attempt": "1"})
    with r.pubsub() as commands:
        commands.subscribe(f"{prefix}:cmd")
        assert client.get(owned).cancel() == "killing"  # its worker lives: it is asked to kill it
        # Found gone by a recovery round and gone still: finished at once (and killed, should it live).
        assert client.get(found_dead).cancel() == "cancelled"
        heard = [m["data"] for m in iter(lambda: commands.get_message(timeout=1), None) if m["type"] == "message"]
    assert heard == [f"task:kill:{prefix}:task:{owned}", f"task:kill:{prefix}:task:{found_dead}"]
    with pytest.raises(TaskFailed, match=r"^task was cancelled after its worker gone died$"):
        client.get(found_dead).wait_result(timeout=5)
    assert r.zscore(f"{prefix}:default:failed", found_dead) is not None
    # Its hash might be missing for a moment only: marked, then the recovery finishes it, never runs it.
    assert client.get(just_died).cancel() == "killing"
    r.delete(f"{prefix}:task:{owned}")
    start(start_worker, r, prefix)
    with pytest.raises(TaskFailed, match=r"^task was cancelled after its worker gone died$"):
        client.get(just_died).wait_result(timeout=20)
    fields = r.hgetall(f"{prefix}:task:{just_died}")
    assert (fields["attempt"], "orphan-since" in fields) == ("1", False)
    wait_for(lambda: r.llen(f"{prefix}:default:executing") == 0, what="recovery to drop the finished ids")
    assert r.zcard(f"{prefix}:default:failed") == 2


# --------------------------------------------------------------------------- retries


def test_a_failing_task_is_retried_with_backoff_and_its_errors_kept(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    start(start_worker, r, prefix)
    task = client.submit("flaky", counter=str(tmp_path / "runs"), failures=2)
    assert task.wait_result(timeout=20) == 3
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert fields["attempt"] == "3"
    assert [(e["attempt"], e["reason"]) for e in errors(fields)] == [(1, "ValueError: run 1 fails"),
                                                                     (2, "ValueError: run 2 fails")]  # fmt: skip
    assert all("Traceback" in e["exception"] for e in errors(fields))
    assert parse_timestamp(fields["scheduled-for"]) <= parse_timestamp(fields["executing-created"])
    assert r.zcard(f"{prefix}:default:scheduled") == 0
    assert r.zscore(f"{prefix}:default:failed", task.task_id) is None
    assert_clean(r, prefix)


def test_retries_stop_at_the_limit_and_only_for_the_exceptions_asked(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    start(start_worker, r, prefix)
    transient = client.submit("picky", counter=str(tmp_path / "transient"), transient=True)
    other = client.submit("picky", counter=str(tmp_path / "other"), transient=False)
    with pytest.raises(TaskFailed, match="Transient: try again"):
        transient.wait_result(timeout=20)
    with pytest.raises(TaskFailed, match="ValueError: no use trying again"):
        other.wait_result(timeout=20)
    assert (tmp_path / "transient").read_text() == "4"
    assert (tmp_path / "other").read_text() == "1"
    assert r.hget(f"{prefix}:task:{transient.task_id}", "attempt") == "4"
    assert len(errors(r.hgetall(f"{prefix}:task:{transient.task_id}"))) == 3


def test_a_submit_sets_its_own_retries(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    start(start_worker, r, prefix)
    none = client.submit("flaky", counter=str(tmp_path / "none"), failures=1, _retries=0)
    with pytest.raises(TaskFailed, match="run 1 fails"):
        none.wait_result(timeout=20)
    more = client.submit("fail", _retries=1)
    with pytest.raises(TaskFailed, match="bad input"):
        more.wait_result(timeout=20)
    assert r.hget(f"{prefix}:task:{more.task_id}", "attempt") == "2"
    for bad in (-1, 1001, 1.5, "2", True):
        with pytest.raises((ValueError, TypeError), match="retries"):
            client.submit("echo", _retries=bad)


# --------------------------------------------------------------------------- time limits


@pytest.mark.parametrize("pool", ["process", "inline"])
def test_a_task_over_its_time_limit_is_killed_and_fails(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str, pool: str
) -> None:
    start(start_worker, r, prefix, "--pool", pool)
    function = "limited" if pool == "process" else "async_limited"
    by_function = client.submit(function, seconds=30)
    with pytest.raises(TaskFailed, match=r"^task exceeded its time limit of 0.5 s$"):
        by_function.wait_result(timeout=20)
    by_submit = client.submit("sleep" if pool == "process" else "async_sleep", seconds=30, _timeout=1)
    with pytest.raises(TaskFailed, match=r"^task exceeded its time limit of 1 s$"):
        by_submit.wait_result(timeout=20)
    fields = r.hgetall(f"{prefix}:task:{by_submit.task_id}")
    started, ended = parse_timestamp(fields["executing-created"]), parse_timestamp(fields["finished-created"])
    assert ended - started < timedelta(seconds=25)
    assert_clean(r, prefix)


def test_the_worker_default_time_limit(start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str) -> None:
    start(start_worker, r, prefix, "--task-timeout", "1")
    with pytest.raises(TaskFailed, match=r"^task exceeded its time limit of 1 s$"):
        client.submit("sleep", seconds=30).wait_result(timeout=20)
    assert client.submit("limited", seconds=0).wait_result(timeout=10) == 0  # its own limit is shorter
    with pytest.raises(TaskFailed, match=r"^task exceeded its time limit of 0.5 s$"):
        client.submit("limited", seconds=3).wait_result(timeout=10)


def test_a_task_over_its_time_limit_is_retried_when_it_has_retries(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    start(start_worker, r, prefix)
    task = client.submit("sleep", seconds=30, _timeout=1, _retries=1)
    with pytest.raises(TaskFailed, match="time limit of 1 s"):
        task.wait_result(timeout=30)
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert fields["attempt"] == "2"
    assert [e["reason"] for e in errors(fields)] == ["task exceeded its time limit of 1 s"]


# --------------------------------------------------------------------------- delayed tasks


def test_a_delayed_task_waits_in_the_scheduled_set_and_runs_when_due(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    start(start_worker, r, prefix)
    task = client.submit("echo", text="later", _delay=1.0)
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert fields["state"] == "scheduled"
    due = parse_timestamp(fields["scheduled-for"])
    assert r.zscore(f"{prefix}:default:scheduled", task.task_id) == pytest.approx(due.timestamp() * 1000, abs=1)
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == []
    assert task.wait_result(timeout=20) == "later"
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert parse_timestamp(fields["executing-created"]) >= due
    at = datetime.now(timezone.utc) + timedelta(seconds=0.5)
    timed = client.submit("echo", text="at", _at=at)
    assert timed.wait_result(timeout=20) == "at"
    assert parse_timestamp(r.hget(f"{prefix}:task:{timed.task_id}", "executing-created")) >= at
    assert r.zcard(f"{prefix}:default:scheduled") == 0
    assert_clean(r, prefix)


def test_a_scheduled_task_can_be_cancelled(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    start(start_worker, r, prefix)
    task = client.submit("echo", text="never", _delay=1.5)
    assert task.cancel() == "cancelled"
    assert r.zcard(f"{prefix}:default:scheduled") == 0
    with pytest.raises(TaskFailed, match="cancelled"):
        task.wait_result(timeout=5)
    time.sleep(2)
    assert r.hget(f"{prefix}:task:{task.task_id}", "executing-created") is None


def test_delay_options_are_checked_before_anything_is_written(client: Client, r: redis.Redis, prefix: str) -> None:
    now = datetime.now(timezone.utc)
    for options, error in [
        ({"_delay": 1, "_at": now}, TypeError),
        ({"_delay": -1}, ValueError),
        ({"_delay": "1"}, ValueError),
        ({"_at": "2026-01-01"}, TypeError),
    ]:
        with pytest.raises(error):
            client.submit("echo", **options)
    assert r.keys(f"{prefix}:*") == []


def test_a_legacy_worker_never_sees_a_task_before_it_is_due(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    start_worker(legacy=True, app="tests.apps.legacy_tasks", ready=False)
    task = client.submit("echo", text="later", _delay=30)
    time.sleep(1)
    assert r.hget(f"{prefix}:task:{task.task_id}", "state") == "scheduled"
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == []


def test_an_id_pushed_while_its_task_waits_in_the_scheduled_set_is_dropped_not_run(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    start(start_worker, r, prefix)
    task = client.submit("echo", text="once", _delay=2)
    r.lpush(f"{prefix}:default:pending", task.task_id)  # a stray second push of the same id
    time.sleep(0.5)
    assert r.hget(f"{prefix}:task:{task.task_id}", "state") == "scheduled"
    assert task.wait_result(timeout=20) == "once"
    assert r.hget(f"{prefix}:task:{task.task_id}", "attempt") == "1"
    # A hash that says scheduled with no entry in the set would never run: it fails, with the reason.
    stray = str(uuid.uuid4())
    r.hset(f"{prefix}:task:{stray}", mapping={"function": "echo", "state": "scheduled", "args": "{}"})
    r.lpush(f"{prefix}:default:pending", stray)
    fields = finished(r, prefix, stray)
    assert fields["error-reason"] == "task state was 'scheduled' when a worker took it, expected 'pending'"
    assert_clean(r, prefix)


# --------------------------------------------------------------------------- failed index and requeue


def test_failed_tasks_are_indexed_and_can_be_requeued(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    start(start_worker, r, prefix)
    counter = str(tmp_path / "runs")
    task = client.submit("flaky", counter=counter, failures=1, _retries=0)
    with pytest.raises(TaskFailed, match="run 1 fails"):
        task.wait_result(timeout=20)
    failed = f"{prefix}:default:failed"
    assert r.zrange(failed, 0, -1) == [task.task_id]
    assert r.ttl(f"{prefix}:task:{task.task_id}") > 0
    assert task.requeue() == "requeued"
    assert task.wait_result(timeout=20) == 2
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert [(e["attempt"], e["reason"]) for e in errors(fields)] == [(1, "ValueError: run 1 fails")]
    assert fields["attempt"] == "1"
    assert r.zcard(failed) == 0
    assert task.requeue() == "not_failed"
    assert client.requeue("no-such-task") == "missing"
    assert_clean(r, prefix)


def test_the_failed_index_loses_the_ids_whose_hash_expired(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    start(start_worker, r, prefix)
    task = client.submit("fail", _result_ttl=1)
    with pytest.raises(TaskFailed):
        task.wait_result(timeout=20)
    failed = f"{prefix}:default:failed"
    assert r.zrange(failed, 0, -1) == [task.task_id]
    wait_for(lambda: r.zcard(failed) == 0, timeout=15, what="the failed index to be trimmed")


# --------------------------------------------------------------------------- attempts


def test_a_task_given_back_at_shutdown_keeps_its_attempt_count(
    start_worker: StartWorker, client: Client, r: redis.Redis, prefix: str
) -> None:
    worker, _ = start(start_worker, r, prefix, "--concurrency", "1")
    running = submit_running(client, "sleep", seconds=1)
    ahead = client.submit("echo", text="ahead")
    wait_state(r, prefix, ahead.task_id, "executing")  # claimed ahead, waiting for the slot
    assert r.hget(f"{prefix}:task:{ahead.task_id}", "attempt") == "1"
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert running.wait_result(timeout=5) == 1
    fields = r.hgetall(f"{prefix}:task:{ahead.task_id}")
    assert fields["state"] == "pending"
    assert "attempt" not in fields
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == [ahead.task_id]


def test_a_claim_made_again_after_its_reply_was_lost_runs_the_task(redis_url: str, r: redis.Redis, prefix: str) -> None:
    """A worker whose claim reply was lost (Redis restarted meanwhile) sends the same claim again: it
    gets the task to run, not a skip that would drop the id and leave the task executing forever."""
    keys = Keys(prefix)
    task_id = str(uuid.uuid4())
    r.hset(keys.task(task_id), mapping={"state": "pending", "function": "echo", "args": "{}", "queue": "default"})
    r.lpush(keys.executing("default"), task_id)  # popped by the worker
    mine, other = WorkerProtocol(keys, "default", "w-mine"), WorkerProtocol(keys, "default", "w-other")
    now = "2026-12-01T03:00:00.000001Z"
    first, again = scripts_of_a_worker(redis_url, [mine.claim(task_id, now)] * 2)
    assert (first.status, again.status) == ("run", "run")
    assert first["attempt"] == again["attempt"] == 1
    assert r.hget(keys.task(task_id), "attempt") == "1"
    assert r.lrange(keys.executing("default"), 0, -1) == [task_id]
    # another worker's claim, or a later claim of this worker, is still a skip that drops the id
    (later,) = scripts_of_a_worker(redis_url, [mine.claim(task_id, "2026-12-01T03:00:01.000000Z")])
    assert later.status == "skip"
    r.lpush(keys.executing("default"), task_id)
    (theirs,) = scripts_of_a_worker(redis_url, [other.claim(task_id, now)])
    assert theirs.status == "skip"
    assert r.hgetall(keys.task(task_id))["worker"] == "w-mine"
