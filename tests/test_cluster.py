"""Redis Cluster: the redis+cluster:// layout (a queue's keys and its tasks in one hash slot, queues
spread over the shards), in both Python clients, the worker, the operator CLI and the Node client,
against a real cluster of three masters with a replica each, started here on free loopback ports
(nothing saved). A SIGKILLed master under load, with durable submits (WAIT on the task's master),
must lose none of the tasks whose submit returned.

Skips without a redis-server, except under CI=true, where it fails instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
import redis.cluster

from doshit import AsyncClient, Client, ConfigError, DoshitError
from doshit._core.config import parse_cluster_url, resolve
from doshit._core.keys import Keys
from doshit._core.schema import Reason
from doshit.testing import PrivateCluster, free_port, redis_server_binary

from .conftest import ROOT, WorkerProcess, wait_for
from .test_node import NODE, PACKAGE, NodeDriver
from .test_security import spec_acl
from .test_web_api import (
    Served,
    serve,  # noqa: F401 - the fixture, asked for by name below
)

NODE_READY = NODE is not None and (PACKAGE / "node_modules").is_dir()
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARDS = 3
FAST = ("--heartbeat-interval", "0.3", "--recovery-interval", "0.3", "--recovery-grace", "0.6")

pytestmark = pytest.mark.timeout(180)


class ClusterSet(PrivateCluster):
    """A PrivateCluster with the views the tests use."""

    def url(self, query: str = "") -> str:  # type: ignore[override]
        """The redis+cluster:// URL: first a node nobody runs (the client asks the next), then two nodes."""
        places = [f"127.0.0.1:{free_port()}", *(f"127.0.0.1:{port}" for port in self.ports[:2])]
        return f"redis+cluster://{','.join(places)}" + (f"?{query}" if query else "")

    def client(self) -> redis.cluster.RedisCluster:
        return redis.cluster.RedisCluster(host="127.0.0.1", port=self.live_ports()[0], decode_responses=True)

    def master_of(self, key: str) -> int:
        """The port of the master that holds ``key``'s slot, as a live node sees it."""
        with self.client() as rc:
            return int(rc.get_node_from_key(key).port)

    def masters_ports(self) -> list[int]:
        with self.client() as rc:
            return sorted(int(node.port) for node in rc.get_primaries())


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterSet]:
    if redis_server_binary() is None:
        if IN_CI:
            pytest.fail("no redis-server (CI=true: the cluster tests must run)")
        pytest.skip("no redis-server")
    nodes = ClusterSet(masters=SHARDS, replicas=1)
    with nodes:
        yield nodes


def queues_on_every_shard(cluster: ClusterSet, count: int = SHARDS) -> list[str]:
    """Queue names whose keys sit on ``count`` different masters (one queue per master)."""
    found: dict[int, str] = {}
    for n in range(1000):
        name = f"q{n}"
        found.setdefault(cluster.master_of(Keys("x", cluster=True).pending(name)), name)
        if len(found) == count:
            return [found[port] for port in sorted(found)]
    raise AssertionError("no queue names found for every shard")


class Workers:
    """doshit-worker processes on the cluster (SIGKILLed at the end of the test)."""

    def __init__(self, url: str, prefix: str, folder: Path) -> None:
        self.url = url
        self.prefix = prefix
        self.folder = folder
        self.started: list[WorkerProcess] = []

    def start(self, *queues: str, extra: tuple[str, ...] = ()) -> WorkerProcess:
        served = [part for queue in queues for part in ("--queue", queue)]
        args = [sys.executable, "-m", "doshit._cli", "--app", "tests.apps.basic", "--redis-url", self.url,
                "--prefix", self.prefix, *served, *extra]  # fmt: skip
        worker = WorkerProcess(args, self.folder / f"worker{len(self.started)}.log",
                               {**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        keys = Keys(self.prefix, cluster=True)
        with redis.cluster.RedisCluster.from_url(_plain(self.url), decode_responses=True) as rc:
            before = set(rc.zrange(keys.workers, 0, -1))
            self.started.append(worker)

            def registered() -> bool:
                if worker.proc.poll() is not None:
                    raise AssertionError(f"worker exited with {worker.proc.returncode}:\n{worker.log()}")
                return bool(set(rc.zrange(keys.workers, 0, -1)) - before)

            wait_for(registered, 20, "the worker to register")
        return worker

    def kill_all(self) -> None:
        for worker in self.started:
            worker.kill()


def _plain(url: str) -> str:
    """A redis:// URL of the last node a redis+cluster:// URL names (for redis-py's own RedisCluster)."""
    return "redis://" + url.split("://", 1)[1].split("?", 1)[0].split(",")[-1]


@pytest.fixture
def workers(cluster: ClusterSet, prefix: str, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(cluster.url(), prefix, tmp_path)
    yield started
    started.kill_all()


# --------------------------------------------------------------------------- URLs and layout


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://", "names one node or more"),
        ("redis+cluster://u:secret@h1/1", "has no path"),
        ("redis+cluster://u:secret@h1?db=2", "db: not a parameter"),
        ("redis+cluster://u:secret@h1:0", "bad port"),
        ("redis+cluster://u:secret@:7000", "names a node without a host"),
        ("redis+cluster://u:sec@ret@h1", "percent-encode"),
        ("redis+cluster://h1?socket_timeout=0", "socket_timeout must be a number of seconds above 0"),
    ],
)
def test_bad_cluster_urls_are_one_line_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Client(url)
    text = str(caught.value)
    assert message in text and "\n" not in text and "secret" not in text and "ret@" not in text


def test_a_cluster_url_names_nodes_credentials_and_timeouts() -> None:
    target = parse_cluster_url(
        "redis+cluster://app:p%40ss@10.0.0.1,[::1]:7001,node3:7002/?socket_timeout=2.5&durable_replicas=1"
    )
    assert target.nodes == (("10.0.0.1", 6379), ("::1", 7001), ("node3", 7002))
    assert (target.username, target.password, target.socket_timeout) == ("app", "p@ss", 2.5)
    assert "p@ss" not in repr(target)
    settings = resolve("redis+cluster://h/0", prefix="app", queue="mail")
    assert settings.keys.cluster and settings.keys.pending("mail") == "app:{mail}:pending"
    assert not resolve("redis://h/0").keys.cluster


def test_a_queues_keys_and_tasks_share_a_slot_and_queues_spread_over_the_shards(
    cluster: ClusterSet, prefix: str
) -> None:
    queues = queues_on_every_shard(cluster)
    keys = Keys(prefix, cluster=True)
    with Client(cluster.url(), prefix=prefix) as client:
        for queue in queues:
            many = client.submit_many("echo", [{"text": "a"}, {"text": "b", "_task_id": "mine"}], _queue=queue)
            tasks = [client.submit("echo", _queue=queue, text="one"),
                     client.submit("echo", _queue=queue, _task_id="chosen", _delay=60), *many]  # fmt: skip
            assert [task.task_id for task in tasks[1::2]] == [f"{{{queue}}}:chosen", f"{{{queue}}}:mine"]
            with cluster.client() as rc:
                slots = {rc.keyslot(key) for key in (keys.pending(queue), keys.executing(queue),
                         keys.scheduled(queue), keys.failed(queue), keys.recovery(queue),
                         *(keys.task(task.task_id) for task in tasks))}  # fmt: skip
                assert len(slots) == 1, slots
                assert rc.llen(keys.pending(queue)) == 3 and rc.zcard(keys.scheduled(queue)) == 1
            assert client.get(f"{{{queue}}}:chosen").info().state == "scheduled"  # an id alone finds its task
    holders = {cluster.master_of(keys.pending(queue)) for queue in queues}
    assert holders == set(cluster.masters_ports())
    with cluster.client() as rc:
        assert rc.keyslot(keys.workers) == rc.keyslot(keys.worker("any")) == rc.keyslot(keys.stats)


# --------------------------------------------------------------------------- running tasks


def test_workers_run_tasks_of_queues_on_every_shard(
    cluster: ClusterSet, workers: Workers, prefix: str, tmp_path: Path
) -> None:
    queues = queues_on_every_shard(cluster)
    workers.start(*queues)  # one worker takes from a queue on each shard
    workers.start(queues[1])
    url = cluster.url()
    with Client(url, prefix=prefix) as client:
        for queue in queues:
            assert client.submit("echo", _queue=queue, text=queue).wait_result(timeout=15) == queue
        many = client.submit_many("add", [{"a": n, "b": 1} for n in range(200)], _queue=queues[2])
        assert [task.wait_result(timeout=30) for task in many] == [n + 1 for n in range(200)]
        later = client.submit("echo", _queue=queues[0], _delay=0.5, text="later")
        counter = tmp_path / "flaky"
        flaky = client.submit("flaky", _queue=queues[1], _retries=2, counter=str(counter), failures=1)
        failed = client.submit("fail", _queue=queues[2], message="on purpose")
        assert later.wait_result(timeout=15) == "later"
        assert flaky.wait_result(timeout=15) == 2
        failed.wait(timeout=15)
        assert failed.info().error_reason == "ValueError: on purpose"

    async def from_asyncio() -> list[Any]:
        async with AsyncClient(url, prefix=prefix) as client:
            tasks = [await client.submit("echo", _queue=queue, text=f"async {queue}") for queue in queues]
            return [await task.wait_result(timeout=15) for task in tasks]

    assert asyncio.run(from_asyncio()) == [f"async {queue}" for queue in queues]
    with cluster.client() as rc:
        keys = Keys(prefix, cluster=True)
        for queue in queues:
            assert rc.llen(keys.pending(queue)) == 0 and rc.llen(keys.executing(queue)) == 0
        assert rc.zcard(keys.failed(queues[2])) == 1


def test_cancel_kills_a_running_task_on_another_shard(cluster: ClusterSet, workers: Workers, prefix: str,
                                                      tmp_path: Path) -> None:  # fmt: skip
    queues = queues_on_every_shard(cluster)
    workers.start(queues[2])
    marker = tmp_path / "started"
    with Client(cluster.url(), prefix=prefix) as client:
        task = client.submit("sleep", _queue=queues[2], seconds=60, marker=str(marker))
        wait_for(marker.exists, 15, "the task to run")
        task.cancel()
        task.wait(timeout=15)
        info = task.info()
        assert info.result == "failed" and "killed" in (info.error_reason or ""), info


def test_a_task_of_a_killed_worker_is_run_again_by_another(
    cluster: ClusterSet, workers: Workers, prefix: str, tmp_path: Path
) -> None:
    queues = queues_on_every_shard(cluster)
    first = workers.start(queues[1], extra=FAST)
    marker = tmp_path / "started"
    with Client(cluster.url(), prefix=prefix) as client:
        task = client.submit("sleep", _queue=queues[1], seconds=0.5, marker=str(marker))
        wait_for(marker.exists, 15, "the task to run")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        workers.start(queues[1], extra=FAST)
        task.wait(timeout=30)
        info = task.info()
        assert info.result == "successful" and info.attempt == 2, info
        assert "died while running the task" in json.dumps(info.errors)


def test_ids_a_queue_cannot_reach_are_dropped_and_the_untagged_task_fails(
    cluster: ClusterSet, workers: Workers, prefix: str
) -> None:
    """Ids pushed by hand (a legacy producer, redis-cli) onto a cluster queue's lists without the
    queue's tag: their task keys are in other slots, which the queue's scripts cannot reach. The
    worker drops them instead of retrying a CROSSSLOT for ever, finishes failed (with the reason) a
    pending task whose id has no tag at all, and leaves another queue's task alone."""
    queues = queues_on_every_shard(cluster)
    keys = Keys(prefix, cluster=True)
    untagged, foreign, stray = "by-hand", f"{{{queues[1]}}}:theirs", "on-executing"
    with cluster.client() as rc:
        rc.hset(keys.task(untagged), mapping={"function": "echo", "state": "pending", "args": "{}"})
        rc.hset(keys.task(foreign), mapping={"function": "echo", "state": "pending", "args": "{}"})
        rc.lpush(keys.pending(queues[0]), untagged, foreign)
        rc.lpush(keys.executing(queues[0]), stray)  # (taken by a worker that died: recovery finds it)
    worker = workers.start(queues[0], extra=FAST)
    with Client(cluster.url(), prefix=prefix) as client:
        assert client.submit("echo", _queue=queues[0], text="after").wait_result(timeout=15) == "after"
        info = client.get(untagged).wait(timeout=15)
        assert (info.state, info.result, info.error_reason) == ("finished", "failed", Reason.NO_QUEUE_TAG)
        assert client.get(foreign).info().state == "pending"
    with cluster.client() as rc:
        wait_for(lambda: rc.llen(keys.executing(queues[0])) == 0, 15, "the stray id to be dropped")
        assert rc.llen(keys.pending(queues[0])) == 0
    assert "Traceback" not in worker.log()


def test_the_operator_cli_sees_every_shard(cluster: ClusterSet, workers: Workers, prefix: str) -> None:
    queues = queues_on_every_shard(cluster)
    workers.start(*queues)
    url = cluster.url()
    with Client(url, prefix=prefix) as client:
        failed = [client.submit("fail", _queue=queue, message=f"bad {queue}") for queue in queues]
        for task in failed:
            task.wait(timeout=15)

    def cli(*args: str) -> Any:
        done = subprocess.run([sys.executable, "-m", "doshit._ops.cli", "--redis-url", url, "--prefix", prefix,
                               "--json", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    status = cli("status")
    assert {row["queue"] for row in status["queues"]} >= set(queues), status
    assert len(status["workers"]) == 1
    listed = cli("tasks", "--state", "failed")
    assert {row["id"] for row in listed["tasks"]} == {task.task_id for task in failed}, listed
    requeued = cli("requeue", *(task.task_id for task in failed))
    assert requeued, requeued
    with Client(url, prefix=prefix) as client:
        for task in failed:
            wait_for(lambda t=task: client.get(t.task_id).info().state == "finished", 15, "the requeued task to run")
            assert len(client.get(task.task_id).info().errors) == 1
    scanned = cli("tasks", "--state", "all")  # SCANs every master
    assert {row["id"] for row in scanned["tasks"]} == {task.task_id for task in failed}, scanned
    assert cli("purge", "--failed", "--queue", queues[0])["deleted"] == 1
    assert cli("purge", "--finished")["deleted"] == 2
    assert cli("tasks", "--state", "all")["tasks"] == []


def test_the_http_api_on_the_cluster(cluster: ClusterSet, workers: Workers, request: pytest.FixtureRequest) -> None:
    queues = queues_on_every_shard(cluster)
    workers.start(*queues, extra=FAST)
    start: Callable[..., Served] = request.getfixturevalue("serve")
    api = start(url=cluster.url())
    ids = []
    for queue in queues:
        response = api.http.post("/tasks", json={"function": "echo", "args": {"text": queue}, "queue": queue})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
        assert ids[-1].startswith(f"{{{queue}}}:")
    for task_id, queue in zip(ids, queues, strict=True):
        done = api.http.get(f"/tasks/{quote(task_id, safe='')}/wait", params={"timeout": 20}).json()
        assert done["state"] == "successful" and done["decoded"]["result-value"] == queue, done
    listed = api.http.get("/tasks", params={"state": "successful"}).json()  # a SCAN of every master
    assert sorted(row["id"] for row in listed["tasks"]) == sorted(ids)

    def counted() -> bool:  # the stats hash ({prefix}:stats) takes the counts with each heartbeat
        rows = api.http.get("/queues").json()["queues"]
        return all({row["queue"]: row["done"]["successful"] for row in rows}.get(queue) == 1 for queue in queues)

    wait_for(counted, 15, "the queues' counts")
    metrics = api.http.get("/metrics").text
    assert all(f'doshit_queue_tasks{{queue="{queue}",state="pending"}} 0.0' in metrics for queue in queues), metrics


def test_both_roles_work_under_the_specs_cluster_acl(
    cluster: ClusterSet, prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The SPEC's `doshit-cluster-*` ACL lines, set on every node: a worker on queues of two shards,
    a producer submitting, waiting, cancelling, delaying and requeueing; Redis refuses them nothing."""
    users = {role: f"{prefix}-{role}" for role in ("producer", "worker")}
    for port in cluster.live_ports():
        node = cluster.node(port)
        for role, user in users.items():
            words = [">pw" if w.startswith(">") else w.replace("{prefix}", prefix) for w in spec_acl(f"cluster-{role}")]
            node.execute_command("ACL", "SETUSER", user, "reset", *words)
    nodes = ",".join(f"127.0.0.1:{port}" for port in cluster.live_ports()[:2])
    url = {role: f"redis+cluster://{user}:pw@{nodes}" for role, user in users.items()}
    queues = queues_on_every_shard(cluster)[:2]
    started = Workers(url["worker"], prefix, tmp_path)
    request.addfinalizer(started.kill_all)
    started.start(*queues, extra=FAST)
    marker = tmp_path / "started"
    with Client(url["producer"], prefix=prefix) as client:
        assert [client.submit("echo", _queue=q, text=q).wait_result(timeout=15) for q in queues] == queues
        assert client.submit("echo", _queue=queues[1], _delay=0.3, text="later").wait_result(timeout=15) == "later"
        many = client.submit_many("add", [{"a": 1, "b": 2}] * 3, _queue=queues[0])
        assert [task.wait_result(timeout=15) for task in many] == [3, 3, 3]
        running = client.submit("sleep", _queue=queues[0], seconds=30, marker=str(marker))
        wait_for(marker.exists, 15, "the task to run")
        assert running.cancel() == "killing"
        running.wait(timeout=15)
        failed = client.submit("fail", _queue=queues[1])
        failed.wait(timeout=15)
        assert failed.requeue() == "requeued"
        failed.wait(timeout=15)
    if NODE_READY:
        out = NodeDriver(url["producer"], prefix)("call", queue=queues[1], fn="echo", args={"text": "n"}, timeout=15000)
        assert out["ok"], out
    refused = [
        (port, entry["username"], entry["reason"], entry["object"])
        for port in cluster.live_ports()
        for entry in cluster.node(port).acl_log()
        if entry["username"] in users.values()
    ]
    assert refused == []


def test_the_readme_gives_the_specs_cluster_acl_lines() -> None:
    readme = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()]
    for role in ("cluster-producer", "cluster-worker"):
        (line,) = [line for line in readme if line.startswith(f"ACL SETUSER doshit-{role} ")]
        assert line.split()[3:] == spec_acl(role)


@pytest.mark.skipif(not NODE_READY, reason="needs node on PATH and `npm ci` in clients/node")
def test_the_node_client_on_the_cluster(cluster: ClusterSet, workers: Workers, prefix: str) -> None:
    queues = queues_on_every_shard(cluster)
    workers.start(*queues)
    node = NodeDriver(cluster.url("durable_replicas=1&durable_timeout_ms=2000"), prefix)
    for queue in queues:
        out = node("call", queue=queue, fn="echo", args={"text": f"node {queue}"}, timeout=15000)
        assert out["ok"] and out["value"]["json"] == f'"node {queue}"', out
    submitted = node("submit", queue=queues[0], fn="echo", args={"text": "to python"}, options={"taskId": "n1"})
    assert submitted["taskId"] == f"{{{queues[0]}}}:n1", submitted
    with Client(cluster.url(), prefix=prefix) as client:
        assert client.get(submitted["taskId"]).wait_result(timeout=15) == "to python"
        task = client.submit("echo", _queue=queues[2], text="to node")
    out = node("result", taskId=task.task_id, timeout=15000)
    assert out["ok"] and out["value"]["json"] == '"to node"', out


# --------------------------------------------------------------------------- failover


@pytest.mark.parametrize("kind", ["sync", "asyncio"])
def test_a_durable_submit_follows_its_slot_to_the_new_master(cluster: ClusterSet, prefix: str, kind: str) -> None:
    """A client that knew the old master: its durable submit is MOVED (the old master is a replica
    now, which also refuses WAIT), and it asks the cluster again and submits to the new one."""
    queue = queues_on_every_shard(cluster)[0 if kind == "sync" else 2]
    url = cluster.url("durable_replicas=1&durable_timeout_ms=2000")
    with Client(url, prefix=prefix) as client:

        async def durable() -> str:
            async with AsyncClient(url, prefix=prefix) as aclient:
                await aclient.submit("echo", _queue=queue, text="before")
                failover()
                return str((await aclient.submit("echo", _queue=queue, text="after")).task_id)

        def failover() -> None:
            cluster.wait_ready()  # (a replica takes over only once it has its master's data)
            old = cluster.master_of(Keys(prefix, cluster=True).pending(queue))
            (replica,) = [
                port for port in cluster.live_ports()
                if cluster.node(port).info("replication").get("master_port") == old
            ]  # fmt: skip
            for _ in range(3):  # (a manual failover the master does not take part in times out: ask again)
                cluster.node(replica).execute_command("CLUSTER", "FAILOVER")
                with contextlib.suppress(AssertionError):
                    wait_for(lambda: cluster.master_of(Keys(prefix, cluster=True).pending(queue)) == replica, 10)
                    break
            assert cluster.master_of(Keys(prefix, cluster=True).pending(queue)) == replica
            cluster.wait_ready()

        if kind == "sync":
            client.submit("echo", _queue=queue, text="before")
            failover()
            task_id = client.submit("echo", _queue=queue, text="after").task_id
        else:
            task_id = asyncio.run(durable())
        assert client.get(task_id).info().state == "pending"


def test_a_killed_master_under_load_loses_no_durable_task(cluster: ClusterSet, workers: Workers, prefix: str) -> None:
    """Producers submit with durable_replicas=1 to a queue on each shard while two workers drain
    them; one master is SIGKILLed. Every task whose submit returned must finish, successfully, once."""
    queues = queues_on_every_shard(cluster)
    url = cluster.url("durable_replicas=1&durable_timeout_ms=2000")
    for _ in range(2):
        workers.start(*queues, extra=(*FAST, "--concurrency", "4"))
    victim = cluster.master_of(Keys(prefix, cluster=True).pending(queues[1]))
    acknowledged: dict[str, str] = {}
    refused: Counter[str] = Counter()
    stop = threading.Event()
    lock = threading.Lock()

    def produce(queue: str) -> None:
        with Client(url, prefix=prefix) as client:
            while not stop.is_set():
                try:
                    task = client.submit("add", _queue=queue, a=1, b=2)
                except (redis.RedisError, OSError, DoshitError) as exc:  # it promised nothing: counted, retried
                    with lock:
                        refused[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
                    time.sleep(0.05)
                    continue
                with lock:
                    acknowledged[task.task_id] = queue

    producers = [threading.Thread(target=produce, args=(queue,), daemon=True) for queue in queues]
    for thread in producers:
        thread.start()
    wait_for(lambda: len(acknowledged) >= 300, 60, f"tasks before the kill (refused: {refused})")
    cluster.procs[victim].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    cluster.procs[victim].wait(10)
    wait_for(lambda: cluster.master_of(Keys(prefix, cluster=True).pending(queues[1])) != victim, 30,
             "a replica to take over")  # fmt: skip
    failed_over = time.monotonic() - killed_at
    cluster.start_node(cluster.ports.index(victim))  # it comes back as the new master's replica
    cluster.wait_ready()

    def on_victim() -> int:
        with lock:
            return sum(1 for queue in acknowledged.values() if queue == queues[1])

    before = on_victim()
    try:
        wait_for(lambda: on_victim() > before, 60, "a task acknowledged by the new master")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; submits refused: {dict(refused)}") from None
    recovered_after = time.monotonic() - killed_at
    wait_for(lambda: on_victim() >= before + 100, 60, "tasks on the new master")
    stop.set()
    for thread in producers:
        thread.join(30)

    with Client(cluster.url(), prefix=prefix) as client:

        def outcomes() -> Counter[str]:
            return Counter(_state(client, task_id) for task_id in acknowledged)

        wait_for(lambda: outcomes()["successful"] == len(acknowledged), 90, "every acknowledged task to finish")
        counts = outcomes()
    print(f"\ncluster failover: {len(acknowledged)} acknowledged, outcomes {dict(counts)}, refused while failing "
          f"over {dict(refused)}; {failed_over:.1f} s from the kill to the new master, {recovered_after:.1f} s to its "
          f"first acknowledged submit (the old master back as its replica)")  # fmt: skip
    assert counts == Counter({"successful": len(acknowledged)})


def test_a_worker_waits_out_a_cluster_that_is_all_down(
    prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every node killed and started again (a cluster of its own: the others' tests keep theirs): the
    worker waits (redis-py raises errors of its own then, not RedisErrors) and serves again."""
    down = ClusterSet(masters=2, replicas=0)
    request.addfinalizer(down.close)
    down.start()
    url = down.url()
    started = Workers(url, prefix, tmp_path)
    request.addfinalizer(started.kill_all)
    worker = started.start("a", "b", extra=FAST)
    with Client(url, prefix=prefix) as client:
        assert client.submit("echo", _queue="a", text="before").wait_result(timeout=15) == "before"
    for proc in down.procs.values():
        proc.kill()
        proc.wait(10)
    time.sleep(3)
    for index in range(len(down.ports)):
        down.start_node(index)
    down.wait_ready()
    with Client(url, prefix=prefix) as client:
        assert [client.submit("echo", _queue=q, text=q).wait_result(timeout=30) for q in ("a", "b")] == ["a", "b"]
    assert worker.proc.poll() is None
    assert "Traceback" not in worker.log(), worker.log()


def _state(client: Client, task_id: str) -> str:
    try:
        info = client.get(task_id).info()
    except DoshitError as exc:
        return type(exc).__name__
    return info.result or info.state


def test_drain_figure_runs() -> None:
    """bench/cluster.py (1 vs 3 shards) is covered by `make bench-cluster`; here only its --help."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "cluster.py"), "--help"], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and "shards" in done.stdout, done.stderr
