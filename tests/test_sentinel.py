"""Redis Sentinel: redis+sentinel:// URLs in the URL check, in both Python clients, the worker, the
operator CLI and the Node client, against a real master, a replica and three sentinels started here
(free loopback ports, a temporary folder, nothing saved). A forced failover (SENTINEL FAILOVER) must
be followed within seconds by every connection; a SIGKILLed master under load, with durable submits
(WAIT), must lose none of the tasks whose submit returned.

Skips without a redis-server, except under CI=true, where it fails instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from doshit import AsyncClient, Client, ConfigError, TaskExists, TaskNotDurable
from doshit._core.config import Durability, mask_url, parse_sentinel_url, resolve
from doshit.testing import free_port, kill_all, redis_server_binary

from .conftest import ROOT, WorkerProcess, blocking_client, wait_for
from .test_node import NODE, PACKAGE, NodeDriver

SERVICE = "doshit-test"
NODE_READY = NODE is not None and (PACKAGE / "node_modules").is_dir()
IN_CI = os.environ.get("CI", "").lower() == "true"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000

pytestmark = pytest.mark.timeout(120)


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the Sentinel tests must run)")
    pytest.skip(reason)


class SentinelSet:
    """A master, its replicas and the sentinels that watch them, each a redis-server process we
    started (killed at the end). Ports are free loopback ports; nothing is saved."""

    def __init__(self, binary: str, folder: Path, *, replicas: int = 1, sentinels: int = 3, quorum: int = 2) -> None:
        self.binary = binary
        self.folder = folder
        self.replicas = replicas
        self.quorum = quorum
        self.ports = [free_port() for _ in range(1 + replicas)]
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    # ---------------------------------------------------------------- processes

    def _start(self, port: int, args: list[str]) -> None:
        log = self.folder / f"redis-{port}.log"
        self.procs[port] = subprocess.Popen(
            [self.binary, *args, "--logfile", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def start_node(self, port: int, replica_of: int | None = None) -> None:
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                str(self.folder), "--dbfilename", f"dump-{port}.rdb", "--daemonize", "no", "--loglevel", "notice",
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]  # fmt: skip
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self._start(port, args)

    def start(self) -> None:
        master, *replicas = self.ports
        self.start_node(master)
        for port in replicas:
            self.start_node(port, replica_of=master)
        for port in [*self.ports]:
            wait_for(lambda p=port: self._answers(p), 10, f"redis-server on {port}")
        for port in self.sentinel_ports:
            conf = self.folder / f"sentinel-{port}.conf"  # sentinel rewrites it: a file of its own
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {master} {self.quorum}\n"
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            self._start(port, [str(conf), "--sentinel"])
        for port in self.sentinel_ports:
            wait_for(lambda p=port: self._answers(p), 10, f"sentinel on {port}")
        self.wait_ready()

    def stop(self) -> None:
        kill_all(self.procs.values())

    @staticmethod
    def _answers(port: int) -> bool:
        try:
            with redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5) as conn:
                return bool(conn.ping())
        except (redis.RedisError, OSError):
            return False

    # ---------------------------------------------------------------- views

    def url(self, query: str = "", *, dead_sentinel_first: bool = True) -> str:
        """The redis+sentinel:// URL of the service; first a sentinel nobody runs (clients try the next)."""
        places = [f"127.0.0.1:{port}" for port in self.sentinel_ports]
        if dead_sentinel_first:
            places.insert(0, f"127.0.0.1:{free_port()}")
        return f"redis+sentinel://{','.join(places)}/{SERVICE}/0" + (f"?{query}" if query else "")

    def sentinel(self, index: int = 0) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[index], decode_responses=True, socket_timeout=2)

    def master_port(self, index: int = 0) -> int:
        with self.sentinel(index) as conn:
            return int(conn.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)[1])

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, decode_responses=True, socket_timeout=5)

    def master(self) -> redis.Redis:
        return self.node(self.master_port())

    def _ready(self) -> bool:
        try:
            master = self.master_port()
            with self.node(master) as conn:
                info = conn.info("replication")
                if info["role"] != "master" or int(info["connected_slaves"]) < self.replicas:
                    return False
                if any(info[f"slave{i}"]["state"] != "online" for i in range(self.replicas)):
                    return False
            for index in range(len(self.sentinel_ports)):
                with self.sentinel(index) as conn:
                    seen = conn.sentinel_master(SERVICE)  # (redis-py reads the flags into is_... booleans)
                    up = [r for r in conn.sentinel_slaves(SERVICE) if not (r["is_sdown"] or r["is_odown"])]
                    if (not seen["is_master"] or seen["is_sdown"] or int(seen["port"]) != master
                            or len(up) < self.replicas
                            or int(seen["num-other-sentinels"]) < len(self.sentinel_ports) - 1):  # fmt: skip
                        return False
            return True
        except (redis.RedisError, OSError, KeyError, IndexError):
            return False

    def wait_ready(self, timeout: float = 30) -> None:
        """Until every sentinel agrees on the master, sees its replicas up and the other sentinels."""
        wait_for(self._ready, timeout, "the sentinels to see the master, its replicas and each other")

    def wait_new_master(self, old: int, timeout: float = 20) -> int:
        """Until every sentinel names a master other than ``old`` that says it is one; its port."""

        def moved() -> int | None:
            try:
                ports = {self.master_port(i) for i in range(len(self.sentinel_ports))}
                if len(ports) != 1 or old in ports:
                    return None
                (port,) = ports
                with self.node(port) as conn:
                    return port if conn.execute_command("ROLE")[0] == "master" else None
            except (redis.RedisError, OSError):
                return None

        port: int = wait_for(moved, timeout, "the sentinels to agree on a new master")
        return port

    def failover(self) -> tuple[int, int]:
        """SENTINEL FAILOVER (forced, no agreement needed); the old and the new master's ports."""
        old = self.master_port()
        with self.sentinel() as conn:
            conn.execute_command("SENTINEL", "FAILOVER", SERVICE)
        return old, self.wait_new_master(old)

    def kill_master(self) -> int:
        port = self.master_port()
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait(10)
        return port

    def rejoin(self, port: int) -> None:
        """Make a former master (still running, or restarted if it died) a replica of the master."""
        master = self.master_port()
        if self.procs[port].poll() is None:
            with self.node(port) as conn:
                conn.execute_command("REPLICAOF", "127.0.0.1", str(master))
        else:
            self.start_node(port, replica_of=master)
        self.wait_ready()

    def doshit_clients(self, port: int) -> list[str]:
        """The names of doshit's connections to a node."""
        with self.node(port) as conn:
            return [f"{c['name']} ({c['cmd']})" for c in conn.client_list() if c["name"].startswith("doshit")]


@pytest.fixture(scope="module")
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    binary = redis_server_binary()
    if binary is None:
        unavailable("no redis-server to run sentinels with")
    assert binary is not None
    group = SentinelSet(binary, tmp_path_factory.mktemp("sentinel"))
    try:
        try:
            group.start()
        except AssertionError:
            if any(group.procs[port].poll() is not None for port in group.sentinel_ports if port in group.procs):
                unavailable(f"{binary} does not run as a sentinel (see {group.folder})")
            raise
        yield group
    finally:
        group.stop()


class Worker:
    """A doshit-worker process on a sentinel URL; killed at the end."""

    def __init__(self, group: SentinelSet, prefix: str, log: Path, *extra: str) -> None:
        self.group = group
        self.prefix = prefix
        args = [sys.executable, "-m", "doshit._cli", "--app", "tests.apps.basic", "--redis-url", group.url(),
                "--prefix", prefix, *extra]  # fmt: skip
        self.process = WorkerProcess(args, log, {**os.environ, "PYTHONUNBUFFERED": "1"})

        def registered() -> bool:
            if self.process.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.proc.returncode}:\n{self.process.log()}")
            with group.master() as conn:
                channel = f"{prefix}:cmd"
                return bool(conn.keys(f"{prefix}:worker:*")) and dict(conn.pubsub_numsub(channel)).get(channel, 0) > 0

        wait_for(registered, 20, "the worker to register and listen")

    def alive(self) -> bool:
        return self.process.proc.poll() is None


@pytest.fixture
def start_worker(sentinels: SentinelSet, tmp_path: Path) -> Iterator[Any]:
    started: list[Worker] = []

    def start(prefix: str, *extra: str) -> Worker:
        worker = Worker(sentinels, prefix, tmp_path / f"worker{len(started)}.log", *extra)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.process.kill()


@pytest.fixture
def prefix() -> str:
    return f"s{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------- the URL, no server


def test_sentinel_urls_are_read_and_checked() -> None:
    target = parse_sentinel_url(
        "redis+sentinel://user:p%40ss@10.0.0.1,[::1]:26380,s3:5000/my-master/3?sentinel_password=s%26cret"
        "&sentinel_username=watcher&socket_timeout=4.5&durable_replicas=2&durable_timeout_ms=250"
    )
    assert target.sentinels == (("10.0.0.1", 26379), ("::1", 26380), ("s3", 5000))
    assert (target.service, target.db, target.username, target.password) == ("my-master", 3, "user", "p@ss")
    assert (target.sentinel_username, target.sentinel_password, target.socket_timeout) == ("watcher", "s&cret", 4.5)
    settings = resolve("redis+sentinel://h/m?db=5&durable_replicas=2&durable_timeout_ms=250")
    assert settings.sentinel is not None and settings.sentinel.db == 5  # ?db= wins over the path, as in redis-py
    assert settings.durability == Durability(replicas=2, timeout_ms=250)
    assert resolve("redis://h/0?durable_replicas=1").durability == resolve("rediss://h/0?durable_replicas=1").durability
    assert resolve("redis://h/0?durable_replicas=0").durability is None
    assert resolve("redis://h/0").sentinel is None
    assert mask_url("redis+sentinel://u:secret@h1,h2/m?sentinel_password=other&db=1") == (
        "redis+sentinel://u:***@h1,h2/m?sentinel_password=***&db=1"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://u:secret@h1:26379", "needs the service (master) name"),
        ("redis+sentinel://u:secret@/m", "names its sentinels and the service"),
        ("redis+sentinel://u:secret@h1,,h2/m", "names a sentinel without a host"),
        ("redis+sentinel://u:secret@h1:0/m", "bad port"),
        ("redis+sentinel://u:secret@h1:x/m", "bad port"),
        ("redis+sentinel://u:secret@h1/m/zero", "database must be a number"),
        ("redis+sentinel://u:secret@h1/m/1/2", "path is /service or /service/db"),
        ("redis+sentinel://u:secret@h1/m?ssl_ca_certs=/ca.pem", "ssl_ca_certs: not a parameter"),
        ("redis+sentinel://u:secret@h1/m?socket_timeout=0", "socket_timeout must be a number of seconds"),
        ("redis+sentinel://u:se@cret@h1/m", "percent-encode them"),
        ("redis+sentinel://u:secret@h1/m?durable_replicas=many", "durable_replicas must be a whole number"),
        ("redis://u:secret@h1/0?durable_timeout_ms=5", "durable_timeout_ms without durable_replicas"),
        ("redis://u:secret@h1/0?durable_replicas=1&durable_timeout_ms=0", "durable_timeout_ms must be"),
        ("sentinel://u:secret@h1/m", "redis+sentinel://"),
    ],
)
def test_bad_sentinel_urls_are_one_line_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Client(url)
    text = str(caught.value)
    assert message in text and "\n" not in text and "secret" not in text and "cret" not in text.split("://", 1)[1]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_durable_submits_on_a_plain_url(kind: str, redis_url: str, prefix: str) -> None:
    """The session's Redis has no replica: a durable submit writes the task and says it is not durable;
    a taken id is still TaskExists (nothing written, nothing to wait for)."""
    with blocking_client(kind, f"{redis_url}?durable_replicas=1&durable_timeout_ms=50", prefix) as client:
        with pytest.raises(TaskNotDurable) as caught:
            client.submit("echo", _task_id="one")
        assert (caught.value.task_id, caught.value.acknowledged) == ("one", 0)
        assert client.info("one").state == "pending"
        with pytest.raises(TaskExists):
            client.submit("echo", _task_id="one")


def test_a_worker_refuses_a_socket_timeout_shorter_than_its_blocking_take() -> None:
    done = WorkerProcess.run_cli("--app", "tests.apps.basic", "--redis-url",
                                 "redis+sentinel://u:secret@127.0.0.1:1/m?socket_timeout=0.5")  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "socket_timeout (0.5 s) must be longer" in done.stderr and "secret" not in done.stderr


# --------------------------------------------------------------------------- through real sentinels


def test_clients_workers_and_the_cli_through_sentinels(sentinels: SentinelSet, start_worker: Any, prefix: str) -> None:
    start_worker(prefix, "--pool", "inline")
    url = sentinels.url("durable_replicas=1&durable_timeout_ms=2000")
    with Client(url, prefix=prefix) as client:
        assert client.submit("echo", text="sync").wait_result(timeout=10) == "sync"

    async def main() -> Any:
        async with AsyncClient(url, prefix=prefix) as aclient:
            task = await aclient.submit("echo", text="async")
            return await task.wait_result(timeout=10)

    assert asyncio.run(main()) == "async"
    done = subprocess.run(
        [sys.executable, "-m", "doshit._ops.cli", "workers", "-r", sentinels.url(), "--prefix", prefix],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "inline" in done.stdout
    assert sentinels.doshit_clients(sentinels.master_port())  # the worker's connections are on the master


def test_a_durable_submit_that_no_replica_acknowledges(sentinels: SentinelSet, prefix: str) -> None:
    url = sentinels.url("durable_replicas=2&durable_timeout_ms=100")
    with Client(url, prefix=prefix) as client, pytest.raises(TaskNotDurable) as caught:
        client.submit("echo", text="once", _task_id=f"{prefix}-one")
    assert caught.value.task_id == f"{prefix}-one" and caught.value.acknowledged == 1
    assert "1 of the 2 replica(s)" in str(caught.value)
    with sentinels.master() as conn:  # written all the same
        assert conn.hget(f"{prefix}:task:{prefix}-one", "state") == "pending"


@pytest.mark.skipif(not NODE_READY, reason="needs node on PATH and `npm ci` in clients/node")
def test_the_node_client_through_sentinels(sentinels: SentinelSet, start_worker: Any, prefix: str) -> None:
    start_worker(prefix, "--pool", "inline")
    node = NodeDriver(sentinels.url("durable_replicas=1&durable_timeout_ms=2000"), prefix)
    out = node("call", fn="echo", args={"text": "from node"}, timeout=10000)
    assert out["ok"] and out["value"]["json"] == '"from node"', out
    refused = NodeDriver(sentinels.url("durable_replicas=2&durable_timeout_ms=100"), prefix)("submit", fn="echo")
    assert refused["error"] == "TaskNotDurableError" and "1 of the 2 replica(s)" in refused["message"], refused


def test_a_master_that_refuses_writes_is_waited_out(sentinels: SentinelSet, start_worker: Any, prefix: str) -> None:
    """NOREPLICAS (min-replicas-to-write not met): nothing is written; a submit fails as Redis being
    unavailable, after asking the sentinels again; the worker waits and goes on."""
    worker = start_worker(prefix, "--pool", "inline")
    with Client(sentinels.url(), prefix=prefix) as client, sentinels.master() as conn:
        conn.config_set("min-replicas-to-write", 2)
        try:
            with pytest.raises(redis.ConnectionError, match="NOREPLICAS"):
                client.submit("echo", text="refused")
        finally:
            conn.config_set("min-replicas-to-write", 0)
        assert client.submit("echo", text="taken").wait_result(timeout=15) == "taken"
        assert conn.llen(f"{prefix}:default:pending") == 0 and len(conn.keys(f"{prefix}:task:*")) == 1
    assert worker.alive()


def lose_the_end(conn: redis.Redis, prefix: str, task_id: str, worker_id: str) -> None:
    """Make a finished task look as if its end never reached the new master: executing, its worker's."""
    key = f"{prefix}:task:{task_id}"
    conn.hset(key, mapping={"state": "executing", "worker": worker_id, "attempt": "1"})
    conn.hdel(key, "result", "result-value", "finished-created")
    conn.persist(key)
    conn.rpush(f"{prefix}:default:executing", task_id)


def test_a_forced_failover_is_followed(sentinels: SentinelSet, start_worker: Any, prefix: str) -> None:
    """SENTINEL FAILOVER leaves the old master running and taking writes for ~10 s: every doshit
    connection must leave it within a few seconds, waits in flight must get their result, and no
    durable submit may be lost (without durability, hundreds a second are). A task whose end the new
    master lacks (forged here) is given back by its worker and runs again."""
    worker = start_worker(prefix, "--pool", "inline", "--concurrency", "16", "--recovery-interval", "1")
    url = sentinels.url()
    results: dict[str, Any] = {}
    durable_url = sentinels.url("durable_replicas=1&durable_timeout_ms=500")
    with Client(url, prefix=prefix) as client, DurableLoad(durable_url, prefix, rate=200) as load:
        lost = client.submit("echo", text="lost")
        assert lost.wait_result(timeout=10) == "lost"
        with sentinels.master() as conn:
            (worker_key,) = conn.keys(f"{prefix}:worker:*")
            lose_the_end(conn, prefix, lost.task_id, worker_key.rsplit(":", 1)[1])
            conn.execute_command("WAIT", 1, 1000)  # on the replica, which becomes the master
        slow = [client.submit("async_sleep", seconds=2.0) for _ in range(4)]
        node = NodeDriver(url, prefix) if NODE_READY else None
        node_call = node.start("call", fn="async_sleep", args={"seconds": 2.0}, timeout=40000) if node else None
        waiters = [
            threading.Thread(target=lambda t=t: results.__setitem__(t.task_id, t.wait_result(timeout=40))) for t in slow
        ]
        for thread in waiters:
            thread.start()
        time.sleep(0.5)  # they run now
        started = time.monotonic()
        before = len(load.acknowledged)
        old, new = sentinels.failover()
        switched = time.monotonic() - started
        try:
            wait_for(lambda: not sentinels.doshit_clients(old), 6, "doshit's connections to leave the old master")
        except AssertionError:
            raise AssertionError(f"still on the old master: {sentinels.doshit_clients(old)}") from None
        left = time.monotonic() - started
        durable = Client(sentinels.url("durable_replicas=1&durable_timeout_ms=100"), prefix=prefix)
        with durable, pytest.raises(TaskNotDurable):  # the new master has no replica yet
            durable.submit("echo")
        assert client.submit("echo", text="after").wait_result(timeout=15) == "after"
        for thread in waiters:
            thread.join(40)
        assert results == {t.task_id: 2.0 for t in slow}
        if node is not None and node_call is not None:
            out = node.output(node_call)
            assert out["ok"] and out["value"]["json"] == "2", out  # (Node writes 2.0 as 2)
        assert lost.wait_result(timeout=15) == "lost"  # given back, run again
        assert client.info(lost.task_id).attempt == 1  # (the lost run does not count)
        # (a slow task whose end reached the old master after the switch is given back too)
        assert f"task {lost.task_id}: Redis says this worker runs it" in worker.process.log()
        assert worker.alive()
        assert sentinels.doshit_clients(new)
        sentinels.rejoin(old)  # a replica again: durable submits are acknowledged again
        load.since = time.monotonic()
        wait_for(lambda: load.first_after is not None, 15, "a durable submit to be acknowledged again")
    settled = load.settle(sentinels.node(new))
    assert settled == Counter({"finished/successful": len(load.acknowledged)})
    print(
        f"\nforced failover: sentinels switched after {switched:.1f} s, doshit left the old master at {left:.1f} s; "
        f"{len(load.acknowledged)} durable submits acknowledged ({before} before), all finished; refused "
        f"{dict(load.refusals)} (of those, now {load.unconfirmed_states(sentinels.node(new))})"
    )


class DurableLoad:
    """Durable submits of quick tasks from a thread, ``rate`` a second, each with an id of its own,
    until ``total`` were acknowledged (or stop()); what was acknowledged, and what was not."""

    def __init__(self, url: str, prefix: str, *, rate: float, total: int | None = None) -> None:
        self.client = Client(url, prefix=prefix)
        self.prefix = prefix
        self.rate = rate
        self.total = total
        self.acknowledged: list[str] = []
        self.unconfirmed: list[str] = []
        self.refusals: Counter[str] = Counter()
        self.since: float | None = None
        """Set it (a monotonic moment) to learn when the first submit after it was acknowledged."""
        self.first_after: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set() and (self.total is None or len(self.acknowledged) < self.total):
            task_id = str(uuid.uuid4())
            try:
                self.client.submit("async_sleep", seconds=0.02, _task_id=task_id)
            except (TaskNotDurable, redis.RedisError, OSError) as exc:
                self.unconfirmed.append(task_id)
                self.refusals[type(exc).__name__] += 1
                time.sleep(0.05)
                continue
            self.acknowledged.append(task_id)
            if self.since is not None and self.first_after is None:
                self.first_after = time.monotonic()
            time.sleep(1 / self.rate)

    def __enter__(self) -> DurableLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 60) -> None:
        """Until it is done (``total`` acknowledged), for at most ``timeout`` seconds, then stop it."""
        self._thread.join(timeout if self.total is not None else 0)
        self._stop.set()
        self._thread.join(10)
        self.client.close()

    def states(self, conn: redis.Redis, task_ids: list[str]) -> Counter[str]:
        pipe = conn.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hmget(f"{self.prefix}:task:{task_id}", "state", "result")
        return Counter(f"{s}/{r}" if s else "lost" for s, r in pipe.execute())

    def settle(self, conn: redis.Redis, timeout: float = 40) -> Counter[str]:
        """Until every acknowledged task is finished (or ``timeout``): their states, counted."""
        expected = len(self.acknowledged)

        def done() -> Counter[str] | None:
            counts = self.states(conn, self.acknowledged)
            return counts if counts.get("finished/successful") == expected else None

        try:
            found: Counter[str] = wait_for(done, timeout, "every acknowledged task to finish")
        except AssertionError:
            found = self.states(conn, self.acknowledged)
        return found

    def unconfirmed_states(self, conn: redis.Redis) -> dict[str, int]:
        return dict(Counter(s.split("/")[0] for s in self.states(conn, self.unconfirmed).elements()))


def test_a_master_killed_under_load_loses_no_durable_task(
    sentinels: SentinelSet, start_worker: Any, prefix: str
) -> None:
    """SIGKILL the master while a worker drains durable submits: every task whose submit returned
    (WAIT: the replica had it) finishes; the worker lives on; waits in flight get their results."""
    worker = start_worker(prefix, "--pool", "inline", "--concurrency", "16", "--recovery-interval", "1")
    total = 1000
    with (
        DurableLoad(sentinels.url("durable_replicas=1&durable_timeout_ms=500"), prefix, rate=300, total=total) as load,
        Client(sentinels.url(), prefix=prefix) as waiter,
        blocking_client("async", sentinels.url(), prefix) as async_waiter,
    ):
        slow = [waiter.submit("async_sleep", seconds=1.5) for _ in range(6)]
        slow += [async_waiter.submit("async_sleep", seconds=1.5) for _ in range(4)]  # AsyncClient waits too
        waited: dict[str, Any] = {}
        waits = [threading.Thread(target=lambda t=t: waited.__setitem__(t.task_id, t.wait_result(timeout=60)))
                 for t in slow]  # fmt: skip
        for thread in waits:
            thread.start()
        wait_for(lambda: len(load.acknowledged) >= total // 3, 30, "a third of the tasks to be submitted")
        node = NodeDriver(sentinels.url(), prefix) if NODE_READY else None
        node_call = node.start("call", fn="async_sleep", args={"seconds": 1.5}, timeout=60000) if node else None
        time.sleep(0.5)  # it waits now
        old = sentinels.kill_master()
        killed = load.since = time.monotonic()
        before_kill = len(load.acknowledged)
        new = sentinels.wait_new_master(old, 30)
        switched = time.monotonic() - killed
        sentinels.rejoin(old)  # restarted as a replica: durable submits can succeed again
        load.stop()
        assert len(load.acknowledged) == total, (len(load.acknowledged), load.refusals)
        for thread in waits:
            thread.join(60)
        assert waited == {t.task_id: 1.5 for t in slow}
        if node is not None and node_call is not None:
            out = node.output(node_call)
            assert out["ok"] and out["value"]["json"] == "1.5", out

    conn = sentinels.node(new)
    settled = load.settle(conn)
    done = time.monotonic() - killed
    assert settled == Counter({"finished/successful": total})
    assert conn.llen(f"{prefix}:default:executing") == 0 and conn.llen(f"{prefix}:default:pending") == 0
    assert worker.alive(), worker.process.log()
    first = (load.first_after or float("nan")) - killed
    print(
        f"\nkill under load: {total} acknowledged ({before_kill} before the kill), "
        f"{settled['finished/successful']} finished, 0 lost, 0 stuck; refused {dict(load.refusals)} "
        f"(of those, now {load.unconfirmed_states(conn)}); new master after {switched:.1f} s, first durable "
        f"submit after {first:.1f} s, all finished {done:.1f} s after the kill; the worker gave back "
        f"{worker.process.log().count('gave it back')} task(s) whose end Redis lost"
    )
