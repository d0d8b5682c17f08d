"""Watching a worker work: events and their hooks, failure hooks (functions and commands), the task
context with its progress, task counters, several queues in order, and a function's concurrency
limit. Real worker processes on a real Redis."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from doshit import Client, Registry, RegistryError, TaskContext, TaskFailed, Worker
from doshit._core.keys import Keys
from doshit._core.scripts import script_call
from doshit._core.stats import Stats
from doshit._redis import run_script

from .conftest import ROOT, WorkerProcess, assert_clean, finished, wait_for, wait_listening

APP = "tests.apps.observed"
RECORDER = [sys.executable, str(ROOT / "tests" / "apps" / "record_failure.py")]


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def observed(tmp_path: Path) -> Path:
    folder = tmp_path / "observed"
    folder.mkdir()
    return folder


@pytest.fixture
def observe(
    start_worker: Callable[..., WorkerProcess], observed: Path, r: redis.Redis, prefix: str
) -> Callable[..., WorkerProcess]:
    def start(*extra: str) -> WorkerProcess:
        worker = start_worker(*extra, app=APP, env={"OBSERVED_DIR": str(observed)})
        wait_listening(r, prefix)
        return worker

    return start


def events_of(observed: Path, task_id: str | None = None) -> list[dict[str, Any]]:
    return [e for e in lines(observed / "events.jsonl") if task_id is None or e.get("task_id") == task_id]


# --------------------------------------------------------------------------- the task context


@pytest.mark.parametrize("pool", ["process", "inline"])
def test_progress_is_written_while_the_task_runs(
    pool: str, observe: Callable[..., WorkerProcess], client: Client, r: redis.Redis, prefix: str
) -> None:
    observe("--pool", pool, "--concurrency", "2")
    function = "steps" if pool == "process" else "asteps"
    task = client.submit(function, n=6, pause=0.25)
    key = f"{prefix}:task:{task.task_id}"
    seen: list[str] = []

    def progressed() -> bool:
        value = r.hget(key, "progress")
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
        return r.hget(key, "state") == "finished"

    wait_for(progressed, what="the task to finish")
    result = task.wait_result(timeout=5)
    info = task.info()
    assert result == {"task_id": task.task_id, "attempt": 1, "queue": "default", "worker": info.worker}
    assert len(seen) >= 2, seen  # seen while it ran, not only at the end
    final = {"done": 6, "of": 6} if pool == "inline" else 1.0
    assert info.progress == final
    assert json.loads(r.hget(key, "progress") or "null") == final


def test_progress_is_throttled_and_the_last_value_kept(
    observe: Callable[..., WorkerProcess], client: Client, r: redis.Redis, prefix: str
) -> None:
    observe("--concurrency", "1")
    before = _script_calls(r)
    task = client.submit("many_reports")
    assert task.wait_result(timeout=30) == 100_000
    assert task.info().progress == 99_999
    assert _script_calls(r) - before < 200  # 100,000 reports, a few writes


def _script_calls(r: redis.Redis) -> int:
    stats = r.info("commandstats")
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval"))


def test_a_caller_cannot_pass_the_context(observe: Callable[..., WorkerProcess], client: Client) -> None:
    observe("--concurrency", "1")
    with pytest.raises(TaskFailed, match=r"arguments do not match steps\(n, pause\)"):
        client.submit("steps", n=1, pause=0, ctx="mine").wait_result(timeout=15)


def test_progress_script_writes_only_for_the_run_that_reports(r: redis.Redis, prefix: str) -> None:
    keys = Keys(prefix)
    key = keys.task("p1")
    r.hset(key, mapping={"state": "executing", "worker": "w1", "attempt": "2"})

    def report(worker: str, attempt: int, value: str) -> int:
        call = script_call(
            "progress", keys=dict(task=key), argv=dict(task_id="p1", worker_id=worker, attempt=attempt, value=value)
        )
        reply = run_script(r, call)
        return 1 if reply.status == "written" else 0

    assert report("w1", 2, "0.5") == 1
    assert report("w2", 2, "0.9") == 0  # another worker
    assert report("w1", 1, "0.9") == 0  # an earlier attempt
    assert r.hget(key, "progress") == "0.5"
    r.hset(key, "state", "finished")
    assert report("w1", 2, "1.0") == 0
    r.delete(key)
    r.lpush(key, "x")  # not a hash: nothing written, no error
    assert report("w1", 2, "1.0") == 0


def test_task_context_checks_and_throttles() -> None:
    sent: list[str] = []
    ctx = TaskContext("t1", "f", "q", "w", 1, sent.append, interval=0.2)
    with pytest.raises(ValueError, match="from 0 to 1"):
        ctx.progress(1.5)
    with pytest.raises(ValueError, match="JSON"):
        ctx.progress({1, 2})
    with pytest.raises(ValueError, match="larger than"):
        ctx.progress("x" * 70_000)
    for i in range(1000):
        ctx.progress({"i": i})
    assert sent == ['{"i":0}']  # the first at once, the rest wait for the interval
    time.sleep(0.35)
    assert sent[-1] == '{"i":999}'  # the timer sent the latest
    ctx.progress(0.5)
    ctx.flush()
    assert sent[-1] == "0.5"
    ctx.progress(0.75)  # after the flush: nowhere to send
    assert sent[-1] == "0.5"
    assert "t1" in repr(ctx)


def test_registry_call_passes_a_local_context() -> None:
    registry = Registry()

    @registry.task
    def where(ctx: TaskContext) -> list[Any]:
        ctx.progress(0.5)
        return [ctx.task_id, ctx.attempt]

    assert registry.call("where") == ["local", 1]
    assert list(registry.signature("where").parameters) == []


# --------------------------------------------------------------------------- events and hooks


def test_events_reach_the_hooks_with_timing_and_meta(
    observe: Callable[..., WorkerProcess], client: Client, observed: Path
) -> None:
    worker = observe("--concurrency", "1")
    ok = client.submit("echo", text="hi", _meta={"traceparent": "00-abc-def-01", "request": 7})
    assert ok.wait_result(timeout=15) == "hi"
    with pytest.raises(TaskFailed):
        client.submit("fail", message="no").wait_result(timeout=15)
    flaky = client.submit("flaky")
    assert flaky.wait_result(timeout=15) == 2

    wait_for(lambda: len(events_of(observed, ok.task_id)) >= 3, what="the events of the task")
    kinds = [e["kind"] for e in events_of(observed, ok.task_id)]
    assert kinds == ["task_fetched", "task_started", "task_succeeded"]
    succeeded = events_of(observed, ok.task_id)[-1]
    assert succeeded["function"] == "echo" and succeeded["attempt"] == 1 and succeeded["queue"] == "default"
    assert succeeded["duration"] >= 0 and succeeded["worker_id"] == ok.info().worker
    assert succeeded["meta"] == {"traceparent": "00-abc-def-01", "request": 7}

    failed = wait_for(lambda: [e for e in events_of(observed) if e["kind"] == "task_failed"], what="task_failed")
    assert failed[0]["reason"] == "ValueError: no" and "Traceback" in failed[0]["exception"]
    wait_for(lambda: len(events_of(observed, flaky.task_id)) >= 6, what="the events of the retried task")
    retried = [e for e in events_of(observed, flaky.task_id) if e["kind"] == "task_retried"]
    assert len(retried) == 1 and retried[0]["attempt"] == 1 and retried[0]["delay"] == 0
    assert retried[0]["reason"] == "ConnectionError: first attempt fails"
    assert events_of(observed, flaky.task_id)[-1]["kind"] == "task_succeeded"
    assert events_of(observed, flaky.task_id)[-1]["attempt"] == 2

    started = [e for e in events_of(observed) if e["kind"] == "worker_started"]
    assert len(started) == 1 and started[0]["meta"]["queues"] == ["default"]
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    stopped = [e for e in events_of(observed) if e["kind"] == "worker_stopped"]
    assert len(stopped) == 1 and stopped[0]["meta"]["done"] == {"successful": 2, "failed": 1, "retried": 1}
    log = worker.log()
    assert "task_failed hook" in log and "broken_hook failed: RuntimeError: this hook is broken" in log


def test_failure_commands_worker_wide_and_per_function(
    observe: Callable[..., WorkerProcess], client: Client, observed: Path
) -> None:
    command = " ".join([*RECORDER, "failures.jsonl", "3"])
    worker = observe("--concurrency", "1", "--on-failure", command)
    bad = client.submit("fail", message="it's bad; rm -rf / `x` $(y)")
    with pytest.raises(TaskFailed):
        bad.wait_result(timeout=15)
    own = client.submit("fail_own_hook")
    with pytest.raises(TaskFailed):
        own.wait_result(timeout=15)
    assert client.submit("echo", text="fine").wait_result(timeout=15) == "fine"

    heard = wait_for(lambda: lines(observed / "failures.jsonl"), what="the failure command")
    assert len(heard) == 1
    assert heard[0]["env"]["DOSHIT_TASK_ID"] == bad.task_id
    assert heard[0]["env"]["DOSHIT_FUNCTION"] == "fail"
    assert heard[0]["env"]["DOSHIT_REASON"] == "ValueError: it's bad; rm -rf / `x` $(y)"  # never a shell's
    assert heard[0]["env"]["DOSHIT_ATTEMPT"] == "1"
    assert heard[0]["event"]["task_id"] == bad.task_id and "Traceback" in heard[0]["event"]["exception"]
    own_heard = wait_for(lambda: lines(observed / "own-failures.jsonl"), what="the function's own command")
    assert [h["event"]["task_id"] for h in own_heard] == [own.task_id]  # instead of the worker's
    wait_for(lambda: "exited with status 3" in worker.log(), what="the command's failure in the log")
    assert worker.proc.poll() is None


def test_a_hook_over_its_time_limit_is_given_up_and_the_worker_serves_on(
    observe: Callable[..., WorkerProcess], client: Client
) -> None:
    worker = observe("--concurrency", "1", "--hook-timeout", "0.5")
    with pytest.raises(TaskFailed):
        client.submit("fail_slowly_heard").wait_result(timeout=15)
    wait_for(lambda: "ran over its time limit of 0.5 s" in worker.log(), what="the hook's time limit")
    assert client.submit("echo", text="after").wait_result(timeout=15) == "after"


def test_a_recovered_task_is_an_event(
    observe: Callable[..., WorkerProcess], start_worker: Callable[..., WorkerProcess], client: Client,
    observed: Path, tmp_path: Path, r: redis.Redis, prefix: str,
) -> None:  # fmt: skip
    fast = ("--heartbeat-interval", "0.3", "--recovery-interval", "0.3", "--recovery-grace", "0.5")
    doomed = start_worker("--concurrency", "1", *fast, app=APP, env={"OBSERVED_DIR": str(tmp_path)})
    marker = tmp_path / "running"
    task = client.submit("sleep", seconds=2, marker=str(marker))
    wait_for(marker.exists, what="the task to run")
    dead = task.info().worker
    doomed.proc.kill()
    doomed.wait()
    observe("--concurrency", "1", *fast)
    assert task.wait_result(timeout=30) == 2
    recovered = wait_for(
        lambda: [e for e in events_of(observed, task.task_id) if e["kind"] == "task_recovered"], what="task_recovered"
    )
    assert recovered[0]["dead_worker"] == dead and recovered[0]["reason"] == "given back to pending"


def test_hook_and_event_arguments_are_checked() -> None:
    registry = Registry()
    with pytest.raises(RegistryError, match="no event named 'task_exploded'"):
        registry.on("task_exploded")
    with pytest.raises(RegistryError, match="a function or a command"):
        registry.task(on_failure="notify-send failed")  # a shell string: refused
    with pytest.raises(RegistryError, match="concurrency"):
        registry.task(concurrency=0)
    with pytest.raises(ValueError, match="a function or a command"):
        Worker(_one(), "redis://127.0.0.1:1", pool="inline", on_failure=[1, 2])  # type: ignore[list-item]


def _one() -> Registry:
    registry = Registry()
    registry.task(lambda: 1, name="one")
    return registry


def test_cli_refuses_a_bad_failure_command(redis_url: str, prefix: str) -> None:
    done = WorkerProcess.run_cli("--app", APP, "--redis-url", redis_url, "--prefix", prefix, "--on-failure", "'open")
    assert done.returncode == 2
    assert "--on-failure" in done.stderr and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- counters, queues, concurrency


def test_several_queues_are_served_in_order(
    start_worker: Callable[..., WorkerProcess], client: Client, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    path = tmp_path / "order.txt"
    low = [client.submit("note", path=str(path), name=f"low{i}", _queue="low") for i in range(4)]
    high = [client.submit("note", path=str(path), name=f"high{i}", _queue="high") for i in range(4)]
    start_worker("--concurrency", "1", "-q", "high", "-q", "low", "-q", "high", app=APP)
    for task in high + low:
        task.wait_result(timeout=15)
    order = path.read_text().split()
    assert order[:4] == [f"high{i}" for i in range(4)], order  # the earlier queue first
    assert sorted(order[4:]) == [f"low{i}" for i in range(4)]
    (key,) = r.keys(f"{prefix}:worker:*")
    assert json.loads(r.hget(key, "queues") or "") == ["high", "low"]
    assert r.hget(key, "queue") == "high"
    # idle, it waits on every queue at once: a task on either runs at once
    time.sleep(1.5)
    assert client.submit("echo", text="l", _queue="low").wait_result(timeout=5) == "l"
    assert client.submit("echo", text="h", _queue="high").wait_result(timeout=5) == "h"
    for queue in ("high", "low"):
        assert_clean(r, prefix, queue)


def test_several_queues_burst_and_shutdown_leave_nothing(
    start_worker: Callable[..., WorkerProcess], client: Client, r: redis.Redis, prefix: str
) -> None:
    tasks = [client.submit("echo", text=str(i), _queue=("a", "b", "c")[i % 3]) for i in range(30)]
    worker = start_worker("--concurrency", "2", "--burst", "-q", "a", "-q", "b", "-q", "c", app=APP, ready=False)
    assert worker.wait(60) == 0, worker.log()
    assert [t.wait_result(timeout=1) for t in tasks] == [str(i) for i in range(30)]
    worker = start_worker("--concurrency", "1", "-q", "a", "-q", "b", "-q", "c", app=APP)
    wait_listening(r, prefix)
    time.sleep(0.5)  # blocking on all three
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    for queue in ("a", "b", "c"):
        assert_clean(r, prefix, queue)


def test_a_function_concurrency_limit_holds(
    observe: Callable[..., WorkerProcess], client: Client, tmp_path: Path
) -> None:
    observe("--concurrency", "3")
    path = tmp_path / "runs.txt"
    limited = [client.submit("one_at_a_time", path=str(path), name=f"n{i}") for i in range(3)]
    other = client.submit("echo", text="not held up")
    assert other.wait_result(timeout=15) == "not held up"
    for task in limited:
        task.wait_result(timeout=30)
    runs = [line.split() for line in path.read_text().splitlines()]
    depth = 0
    for kind, _, _ in runs:
        depth += 1 if kind == "start" else -1
        assert depth <= 1, runs
    assert len(runs) == 6


def test_a_task_waiting_for_its_function_is_given_back_at_shutdown(
    observe: Callable[..., WorkerProcess], client: Client, tmp_path: Path, r: redis.Redis, prefix: str
) -> None:
    worker = observe("--concurrency", "2")
    path = tmp_path / "runs.txt"
    first = client.submit("one_at_a_time", path=str(path), name="first", pause=1.5)
    wait_for(lambda: path.exists(), what="the first run")
    second = client.submit("one_at_a_time", path=str(path), name="second", pause=0)
    wait_for(lambda: r.hget(f"{prefix}:task:{second.task_id}", "state") == "executing", what="the second claimed")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert first.wait_result(timeout=5) == "first"
    assert r.hget(f"{prefix}:task:{second.task_id}", "state") == "pending"
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == [second.task_id]
    assert "start second" not in path.read_text()


def test_a_thread_reporting_progress_in_the_process_pool(redis_url: str, prefix: str) -> None:
    """Progress reported from threads of the task while its outcome is written does not garble the
    frames between the child and the worker."""
    from .apps import threaded

    worker = Worker(threaded.registry, redis_url, prefix=prefix, concurrency=1, burst=True)
    with Client(redis_url, prefix=prefix) as client:
        tasks = [client.submit("chatty", threads=4) for _ in range(5)]
        runner = threading.Thread(target=worker.run)
        runner.start()
        runner.join(60)
        assert not runner.is_alive()
        assert [t.wait_result(timeout=5) for t in tasks] == [4] * 5
        info = finished(redis.Redis.from_url(redis_url, decode_responses=True), prefix, tasks[0].task_id)
        assert "progress" in info


def test_unknown_meta_is_refused_before_writing(client: Client, r: redis.Redis, prefix: str) -> None:
    with pytest.raises(ValueError, match="meta must be a mapping"):
        client.submit("echo", _meta=["not", "a", "mapping"])
    with pytest.raises(ValueError, match=r"JSON|encode"):
        client.submit("echo", _meta={"x": {1, 2}})
    assert r.keys(f"{prefix}:*") == []
    task = client.submit("echo", _meta={"id": str(uuid.uuid4())})
    assert task.info().meta is not None


def test_the_tracing_example_joins_the_producers_trace(
    start_worker: Callable[..., WorkerProcess], redis_url: str, prefix: str
) -> None:
    worker = start_worker("--concurrency", "1", app="examples/tracing.py")
    env = {**os.environ, "DOSHIT_REDIS_URL": redis_url, "DOSHIT_APP_PREFIX": prefix}
    done = subprocess.run(
        [sys.executable, "examples/tracing.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    printed = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert printed["result"] == "320"
    trace_id = printed["trace"]
    assert len(trace_id) == 32

    def span() -> dict[str, Any] | None:
        for found in re.finditer(r"^\{\n.*?^\}", worker.log(), re.S | re.M):
            data = json.loads(found.group(0))
            if data["name"] == "doshit.task resize":
                return data  # type: ignore[no-any-return]
        return None

    exported = wait_for(span, what="the task's span in the worker's output")
    assert exported["context"]["trace_id"] == f"0x{trace_id}"
    assert exported["parent_id"] is not None
    assert exported["kind"] == "SpanKind.CONSUMER"
    assert exported["attributes"]["doshit.queue"] == "default"


def test_the_worker_counts_tasks_in_its_hash_and_the_stats_hashes(
    observe: Callable[..., WorkerProcess], client: Client, r: redis.Redis, prefix: str
) -> None:
    observe("--concurrency", "1", "--heartbeat-interval", "0.2")
    for _ in range(3):
        client.submit("echo", text="x").wait_result(timeout=15)
    with pytest.raises(TaskFailed):
        client.submit("fail").wait_result(timeout=15)
    client.submit("flaky").wait_result(timeout=15)
    with pytest.raises(TaskFailed):
        client.submit("no_such_function_" + uuid.uuid4().hex).wait_result(timeout=15)
    wanted = {
        '["default","echo","successful"]': "3",
        '["default","fail","failed"]': "1",
        '["default","flaky","retried"]': "1",
        '["default","flaky","successful"]': "1",
        '["default","(unknown)","failed"]': "1",  # a made-up name adds no label of its own
    }
    wait_for(lambda: r.hgetall(f"{prefix}:stats") == wanted, what="the stats hash")
    durations = r.hgetall(f"{prefix}:stats:durations")
    echo_runs = {
        name: int(n) for name, n in durations.items() if name.startswith('["default","echo"') and "sum" not in name
    }
    assert sum(echo_runs.values()) == 3
    assert float(durations['["default","echo","sum"]']) >= 0
    (key,) = r.keys(f"{prefix}:worker:*")
    assert float(r.hget(key, "busy-seconds") or "nan") >= 0
    counters = {"tasks-successful": "4", "tasks-failed": "2", "tasks-retried": "1"}
    wait_for(lambda: {name: r.hget(key, name) for name in counters} == counters, what="the worker hash's counters")
    assert json.loads(r.hget(key, "queues") or "") == ["default"]


def test_stats_buckets_and_hand_over() -> None:
    stats = Stats()
    stats.record("q", "f", "successful", 0.003)
    stats.record("q", "f", "successful", 0.005)  # a bound is in its own bucket (le)
    stats.record("q", "f", "failed", 1000.0)
    stats.recovered("q")
    delta = stats.take()
    assert delta.counts == {'["q","f","successful"]': 2, '["q","f","failed"]': 1, '["q","","recovered"]': 1}
    assert delta.durations == {'["q","f","0.005"]': 2, '["q","f","+Inf"]': 1}
    assert delta.seconds['["q","f","sum"]'] == pytest.approx(1000.008)
    assert not stats.take()
    stats.give_back(delta)  # a flush Redis did not take is kept for the next
    assert stats.take().counts == delta.counts
    assert stats.busy_seconds == pytest.approx(1000.008)
