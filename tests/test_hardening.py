"""No producer can stall or crash a worker: hostile and broken data in every field a worker reads, on a
real worker process. Every test ends with the same worker serving the next task."""

from __future__ import annotations

import json
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from doshit import Client, ConfigError, TaskFailed
from doshit._core.keys import check_task_id

from .conftest import Served, WorkerProcess, assert_clean, finished, launch, submit_running, wait_for

TTL_REASON = "result-ttl must be a whole number of seconds from 0 to 2147483647, got '{}'"


def raw(redis_url: str) -> redis.Redis:
    """A connection that writes bytes as they are: invalid UTF-8 included."""
    return redis.Redis.from_url(redis_url)


@pytest.mark.parametrize("ttl", ["2.5", "1e999", "9" * 30, "-1"])
def test_a_bad_result_ttl_fails_its_task_only(served: Served, ttl: str) -> None:
    """result-ttl poison: before, finish.lua failed at EXPIRE after writing, nothing was published,
    and the worker wrote no result ever again."""
    task_id = served.push({"function": "echo", "state": "pending", "args": '{"text":"x"}', "result-ttl": ttl})
    served.failed(task_id, TTL_REASON.format(ttl))


def test_a_result_ttl_changed_while_running_falls_back_to_the_default(process_served: Served) -> None:
    """finish.lua never fails half-way: a result-ttl broken after the claim is ignored, not obeyed."""
    task = submit_running(process_served.client, "sleep", seconds=0.5)
    process_served.r.hset(task.key, "result-ttl", "2.5")
    assert task.wait_result(timeout=15) == 0.5
    assert 604000 < process_served.r.ttl(task.key) <= 604800
    process_served.serves()


@pytest.mark.parametrize("ttl", [10**20, -1, 2**31])
def test_submit_refuses_a_result_ttl_out_of_range(any_client: Any, r: redis.Redis, prefix: str, ttl: int) -> None:
    with pytest.raises(ValueError, match="result ttl"):
        any_client.submit("echo", text="x", _result_ttl=ttl)
    assert r.keys(f"{prefix}:*") == []


def test_a_key_of_the_wrong_type_is_dropped(served: Served) -> None:
    """Before, claim.lua got WRONGTYPE, the consumer raised and the worker exited."""
    evil = f"evil-{uuid.uuid4()}"
    served.r.lpush(f"{served.prefix}:task:{evil}", "x")
    served.r.lpush(f"{served.prefix}:default:pending", evil)
    wait_for(lambda: f"dropped task id {evil}" in served.worker.log(), what="the drop to be logged")
    assert "wrongtype list" in served.worker.log()
    assert served.r.lrange(f"{served.prefix}:task:{evil}", 0, -1) == ["x"]  # left alone
    served.r.delete(f"{served.prefix}:task:{evil}")
    served.serves()


@pytest.mark.parametrize("queue", ["task", "worker"])
def test_queue_names_of_the_key_space_are_refused(redis_url: str, client: Client, queue: str) -> None:
    with pytest.raises(ConfigError, match="may not be named"):
        Client(redis_url, queue=queue)
    with pytest.raises(ConfigError, match="may not be named"):
        client.submit("echo", text="x", _queue=queue)
    done = WorkerProcess.run_cli("--app", "tests.apps.basic", "--redis-url", redis_url, "--queue", queue)
    assert done.returncode == 2 and "may not be named" in done.stderr


def test_ids_that_break_the_rule_are_dropped(process_served: Served, redis_url: str) -> None:
    """Before, empty, blank, control-character, non-UTF-8 and huge ids all ran."""
    bad: list[bytes] = [b"", b" ", b"a\nb", b"a\x00b", b"\xff\xfe", b"x" * 1_000_000]
    conn = raw(redis_url)
    for task_id in bad:
        conn.hset(f"{process_served.prefix}:task:".encode() + task_id, mapping={"function": "echo", "state": "pending"})
        conn.lpush(f"{process_served.prefix}:default:pending", task_id)
    wait_for(lambda: process_served.worker.log().count("dropped invalid task id") >= len(bad), what="the drops")
    log = process_served.worker.log()
    assert "'a\\nb'" in log and "'\\udcff\\udcfe'" in log and "(1000000 characters)" in log
    assert max(len(line) for line in log.splitlines()) < 2000
    process_served.serves()
    for task_id in bad:  # none of them ran
        assert conn.hget(f"{process_served.prefix}:task:".encode() + task_id, "state") == b"pending"


def test_the_python_id_check_refuses_a_trailing_newline() -> None:
    with pytest.raises(ValueError, match="task id"):
        check_task_id("abc\n")
    with pytest.raises(ValueError, match="task id"):
        check_task_id(b"\xff".decode("utf-8", "surrogateescape"))


def test_crafted_json_fails_the_task(served: Served, redis_url: str) -> None:
    """Before, these gave an uncaught RecursionError in the child, or 'the pool failed'."""
    deep = '{"a":' * 900 + '{"type":"datetime","value":"2015-12-05T00:19:01.834909Z"}' + "}" * 900
    task_id = served.push({"function": "echo", "state": "pending", "args": '{"value":' + deep + "}"})
    fields = served.failed(task_id, "args nests deeper than this worker's limit of 100 levels")
    assert len(fields["error-exception"]) < 1100  # the args, cut
    brackets = "[" * 100_000 + "1234567890123456789" + "]" * 100_000
    task_id = served.push({"function": "echo", "state": "pending", "args": '{"value":' + brackets + "}"})
    fields = finished(served.r, served.prefix, task_id)
    assert fields["error-reason"].startswith("args is not valid JSON: "), fields["error-reason"]
    conn = raw(redis_url)
    lenient = redis.Redis.from_url(redis_url, decode_responses=True, encoding_errors="surrogateescape")
    for field, fields_raw in (
        ("function", {b"function": b"ech\xffo", b"state": b"pending", b"args": b"{}"}),
        ("args", {b"function": b"echo", b"state": b"pending", b"args": b'{"text":"\xff"}'}),
    ):
        task_id = str(uuid.uuid4())
        conn.hset(f"{served.prefix}:task:{task_id}", mapping=fields_raw)  # type: ignore[arg-type]
        conn.lpush(f"{served.prefix}:default:pending", task_id)
        done = finished(lenient, served.prefix, task_id)
        assert done["error-reason"] == f"{field} is not valid UTF-8", done
        served.serves()


def test_limits_of_depth_and_size(start_worker: Callable[..., WorkerProcess], client: Client, r: redis.Redis,
                                  prefix: str) -> None:  # fmt: skip
    worker = start_worker("--max-depth", "3", "--max-args-bytes", "1000", "--max-result-bytes", "2000")
    assert client.submit("echo", value=[[1]]).wait_result(timeout=15) == [[1]]  # 3 levels with the args object
    with pytest.raises(TaskFailed, match="nests deeper than this worker's limit of 3 levels"):
        client.submit("echo", value=[[[1]]]).wait_result(timeout=15)
    with pytest.raises(TaskFailed, match="args are 2011 bytes, more than this worker's limit of 1000"):
        client.submit("echo", text="x" * 2000).wait_result(timeout=15)
    with pytest.raises(TaskFailed, match="is 5002 bytes as JSON, more than this worker's limit of 2000") as big:
        client.submit("big_result", size=5000).wait_result(timeout=15)
    assert len(big.value.exception) < 1100
    with (
        pytest.raises(ValueError, match="more than the client's limit of 100"),
        Client(client.settings.url, prefix=prefix, max_args_bytes=100) as small,
    ):
        small.submit("echo", text="y" * 200)
    task_id = str(uuid.uuid4())  # not JSON, under the limit: echoed back capped
    r.hset(f"{prefix}:task:{task_id}", mapping={"function": "echo", "state": "pending", "args": "{" + "z" * 900})
    r.lpush(f"{prefix}:default:pending", task_id)
    fields = finished(r, prefix, task_id)
    assert fields["error-reason"].startswith("args is not valid JSON")
    assert worker.proc.poll() is None
    assert_clean(r, prefix)


def test_huge_non_json_args_are_not_copied_back(process_served: Served) -> None:
    args = "not json " * 12_000_000  # 108 MB, over the default limit: refused without being read
    task_id = process_served.push({"function": "echo", "state": "pending", "args": args})
    fields = process_served.failed(task_id, "args are 108000000 bytes, more than this worker's limit of 16777216")
    assert len(fields["error-exception"]) < 1000
    args = "{" + "x" * 5_000_000  # under it, not JSON: the detail is cut
    task_id = process_served.push({"function": "echo", "state": "pending", "args": args})
    fields = finished(process_served.r, process_served.prefix, task_id)
    assert fields["error-reason"].startswith("args is not valid JSON") and len(fields["error-exception"]) < 1100


def test_log_lines_escape_what_they_show(process_served: Served) -> None:
    function = "evil\nFORGED LOG LINE\x1b[31m" + "y" * 5000
    task_id = process_served.push({"function": function, "state": "pending", "args": "{}"})
    finished(process_served.r, process_served.prefix, task_id)
    log = process_served.worker.log()
    assert "\nFORGED LOG LINE" not in log and "\x1b[31m" not in log
    assert "evil\\nFORGED LOG LINE\\x1b[31m" in log
    process_served.serves()


def test_a_kill_missed_while_not_listening_is_found(process_served: Served) -> None:
    """cancel marks the hash; after any resubscribe the worker reads the marks of what it runs."""
    task = submit_running(process_served.client, "sleep", seconds=30)
    process_served.r.hset(task.key, "kill-requested", "2015-12-05T00:19:01.834909Z")  # the broadcast was lost
    process_served.r.client_kill_filter(_type="pubsub")  # every subscriber reconnects
    fields = finished(process_served.r, process_served.prefix, task.task_id, timeout=20)
    assert fields["error-reason"] == "task was pubsub killed"
    process_served.serves()


def test_a_publish_over_the_pubsub_buffer_loses_no_kill(tmp_path: Path, prefix: str) -> None:
    """A PUBLISH bigger than the subscribers' output buffer limit disconnects them all."""
    with PrivateRedisFixture(args=("--client-output-buffer-limit", "pubsub 64kb 32kb 60")) as (url, conn):
        worker, _ = launch_worker(url, conn, prefix, tmp_path)
        try:
            with Client(url, prefix=prefix) as client:
                task = submit_running(client, "sleep", seconds=30)
                conn.publish(f"{prefix}:cmd", "x" * 1_000_000)  # the worker's subscription is cut
                assert task.cancel() == "killing"
                fields = finished(conn, prefix, task.task_id, timeout=20)
                assert fields["error-reason"] == "task was pubsub killed"
                assert client.submit("echo", text="on").wait_result(timeout=15) == "on"
        finally:
            worker.stop()


def test_stoppable_while_redis_is_down_at_start(tmp_path: Path, prefix: str) -> None:
    """Before, a worker retrying its registration ignored SIGTERM and SIGINT."""
    from doshit.testing import free_port

    for signum in (signal.SIGTERM, signal.SIGINT):
        url = f"redis://127.0.0.1:{free_port()}/0"
        worker = WorkerProcess.start_cli(tmp_path / f"w{signum}.log", "--app", "tests.apps.basic", "--redis-url", url)
        wait_for(lambda w=worker: "retrying" in w.log(), what="a retry")  # type: ignore[misc]
        worker.signal(signum)
        assert worker.wait(10) == 0, worker.log()
        assert "stopped before the worker could register" in worker.log()


def test_access_refused_and_a_bad_database_are_fatal_at_start(redis_proc: Any, r: redis.Redis, prefix: str) -> None:
    user = f"u{prefix}"
    r.acl_setuser(user, enabled=True, passwords=["+right"], keys=["*"], channels=["*"], commands=["+@all"])
    try:
        base = f"{redis_proc.host}:{redis_proc.port}"
        for url, message in (
            (f"redis://{user}:wrong@{base}/0", "Redis refused access"),
            (f"redis://{base}/99", "database number in the Redis URL is out of range"),
            (f"redis://{base}:x/0", "bad port"),
            (f"redis://{user}:p@ss/w@rd@{base}/0", "percent-encode"),
        ):
            started = time.monotonic()
            done = WorkerProcess.run_cli("--app", "tests.apps.basic", "--redis-url", url, "--prefix", prefix)
            assert done.returncode == 2, (url, done.stderr)
            assert message in done.stderr, done.stderr
            assert "wrong" not in done.stderr and "w@rd" not in done.stderr  # passwords masked
            assert "Traceback" not in done.stderr
            assert time.monotonic() - started < 20
    finally:
        r.acl_deluser(user)


def test_sigterm_during_an_outage_says_what_it_could_not_write(tmp_path: Path, prefix: str) -> None:
    """Before, it exited 0, dropped the results and logged 'could not write 0 result(s)'."""
    with PrivateRedisFixture() as (url, conn):
        worker, worker_id = launch_worker(url, conn, prefix, tmp_path, "--shutdown-timeout", "2")
        with Client(url, prefix=prefix) as client:
            task = submit_running(client, "sleep", seconds=1)
        server = PrivateRedisFixture.current
        assert server is not None and server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)  # Redis hangs: nothing it gets is answered
        try:
            time.sleep(1.5)  # the task ends meanwhile
            worker.signal(signal.SIGTERM)
            assert worker.wait(40) == 1, worker.log()
            assert "could not write the result(s) of 1 task(s) before exiting" in worker.log()
            assert task.task_id in worker.log()
        finally:
            server.proc.send_signal(signal.SIGCONT)
        fields = conn.hgetall(f"{prefix}:task:{task.task_id}")
        assert fields["state"] == "executing" and fields["worker"] == worker_id  # for recovery to find
        assert conn.lrange(f"{prefix}:default:executing", 0, -1) == [task.task_id]


def test_the_heartbeat_does_not_wait_for_a_blocked_loop(
    start_worker: Callable[..., WorkerProcess], client: Client, r: redis.Redis, prefix: str
) -> None:
    """Before, an async task blocking the inline pool's loop stopped the heartbeat: the hash expired."""
    start_worker("--pool", "inline", "--heartbeat-interval", "0.5")
    (key,) = r.keys(f"{prefix}:worker:*")
    task = submit_running(client, "block_loop", seconds=4)
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        assert r.exists(key), "the worker hash expired while the worker was alive"
        time.sleep(0.1)
    assert task.wait_result(timeout=15) == 4


def test_children_are_replaced_after_so_many_tasks(start_worker: Callable[..., WorkerProcess],
                                                   client: Client) -> None:  # fmt: skip
    start_worker("--concurrency", "1", "--max-tasks-per-child", "2")
    pids = [client.submit("pid").wait_result(timeout=15) for _ in range(6)]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4] == pids[5]


def test_children_are_replaced_over_a_memory_limit(start_worker: Callable[..., WorkerProcess],
                                                   client: Client) -> None:  # fmt: skip
    worker = start_worker("--concurrency", "1", "--max-memory-per-child", str(150 * 2**20))
    first = client.submit("pid").wait_result(timeout=15)
    assert client.submit("pid").wait_result(timeout=15) == first
    assert client.submit("hold", megabytes=200).wait_result(timeout=15) == first
    assert client.submit("pid").wait_result(timeout=15) != first
    assert "replaced after" in worker.log()


def test_a_straggler_does_not_delay_the_death_of_its_child(process_served: Served, tmp_path: Path) -> None:
    """Before, a process the task forked held the worker's pipe and hid the child's death for as long
    as it lived; now the death is seen at once and the straggler is killed with its group."""
    marker = tmp_path / "straggler"
    started = time.monotonic()
    task = process_served.client.submit("orphan_and_die", marker=str(marker))
    with pytest.raises(TaskFailed, match="task's process returncode was 5"):
        task.wait_result(timeout=30)
    assert time.monotonic() - started < 10
    straggler = int(marker.read_text())
    wait_for(lambda: not Path(f"/proc/{straggler}").exists(), what="the straggler to be killed")
    process_served.serves()


def test_what_a_task_leaves_behind_is_reaped(process_served: Served) -> None:
    child = process_served.call("pid")
    left = process_served.call("leave_zombie")
    time.sleep(0.2)
    status = Path(f"/proc/{left}/status")
    assert not status.exists() or "zombie" not in status.read_text(), "a zombie was left"
    assert process_served.call("pid") == child


def test_task_output_is_labelled_with_its_task(start_worker: Callable[..., WorkerProcess], client: Client) -> None:
    worker = start_worker("--concurrency", "1")
    task = client.submit("talk", text="hello")
    assert task.wait_result(timeout=15) == "hello"
    wait_for(lambda: "logged: hello" in worker.log(), what="the task's log line")
    log = worker.log()
    assert f"task {task.task_id}: printed: hello" in log
    assert f"task {task.task_id}: logged: hello" in log


def test_json_logs(start_worker: Callable[..., WorkerProcess], client: Client) -> None:
    worker = start_worker("--concurrency", "1", "--log-format", "json")
    task = client.submit("talk", text="json please")
    assert task.wait_result(timeout=15) == "json please"
    wait_for(lambda: "logged: json please" in worker.log(), what="the task's log line")
    records = [json.loads(line) for line in worker.log().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    printed = [rec for rec in records if rec["message"] == "printed: json please"]
    assert printed and printed[0]["task_id"] == task.task_id and printed[0]["logger"] == "doshit.task"


@pytest.mark.parametrize("value", ["-1", "2.5", "2147483648"])
def test_result_ttl_flag_is_checked(redis_url: str, value: str) -> None:
    done = WorkerProcess.run_cli("--app", "tests.apps.basic", "--redis-url", redis_url, "--result-ttl", value)
    assert done.returncode == 2 and "--result-ttl" in done.stderr


# --------------------------------------------------------------------------- helpers


class PrivateRedisFixture:
    """A private redis-server for one test, and a raw connection to it."""

    current: Any = None

    def __init__(self, **options: Any) -> None:
        from doshit.testing import PrivateRedis

        self.server = PrivateRedis(**options)

    def __enter__(self) -> tuple[str, redis.Redis]:
        url = self.server.__enter__()
        PrivateRedisFixture.current = self.server
        self.conn = redis.Redis.from_url(url, decode_responses=True)
        return url, self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
        self.server.__exit__(*exc)
        PrivateRedisFixture.current = None


def launch_worker(url: str, conn: redis.Redis, prefix: str, tmp_path: Path, *extra: str) -> tuple[WorkerProcess, str]:
    return launch(url, conn, prefix, tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log", "--concurrency", "1", *extra)


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("these tests read /proc and use Linux signals")
