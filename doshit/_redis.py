"""The edge where doshit meets redis-py: connections made from Settings, and the one script runner.

Scripts run by their SHA (EVALSHA); a Redis that does not know one yet (NOSCRIPT: restarted, flushed,
or new) gets it loaded and the call is made again. The sync client and both asyncio drivers (the
AsyncClient and the worker) share this module, and every reply comes back read by name.

A redis+sentinel:// URL makes connections that ask the sentinels where the master is each time they
connect (redis-py's SentinelConnectionPool), and a master that refuses writes (READONLY: it became a
replica; NOREPLICAS: it lost its replicas) is asked for again. Sentinel does not close the clients of
a master it demotes by hand (SENTINEL FAILOVER) for seconds, so a thread asks the sentinels every
second while such connections exist and drops them all when the master moved: they connect to the
new one. Every connection, command or subscription, is made here, so they all follow.

A redis+cluster:// URL makes a redis-py RedisCluster (sync or asyncio), typed here as the plain client
it stands in for: it routes each command by its key (a queue's keys and its tasks share a slot, see
Keys), follows MOVED and failovers, loads a script on every primary and takes classic pub/sub on any
node. What it cannot do, a transaction over several slots or a blocking command in a pipeline, doshit
does not ask of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, cast

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.backoff
import redis.cluster
import redis.retry
import redis.sentinel

from ._core.config import ClusterTarget, Durability, SentinelTarget, Settings
from ._core.schema import SubmitReply
from ._core.scripts import Reply, ScriptCall, parse_reply
from ._errors import DecodeError, TaskNotDurable

log = logging.getLogger("doshit.redis")

CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)
"""Errors that mean Redis could not be reached (as opposed to a command Redis refused)."""

REFUSED_ACCESS = (
    redis.exceptions.AuthenticationError,
    redis.exceptions.AuthenticationWrongNumberOfArgsError,
    redis.exceptions.AuthorizationError,
    redis.exceptions.NoPermissionError,
)
"""Errors that no retry cures: a wrong password or user, or an ACL that forbids the command."""

_BUSY_STATES = (
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)
_BUSY_WORDS = ("BUSY", "MASTERDOWN", "NOREPLICAS")


def unavailable(exc: BaseException) -> bool:
    """True when Redis cannot take commands right now but may later: unreachable, loading, busy with
    a script, out of memory, a read-only replica after a failover. Work that must not be lost waits
    and tries again; anything else (a refused password, a command Redis rejects) is not retried."""
    if isinstance(exc, REFUSED_ACCESS):
        return False
    if isinstance(exc, (*CONNECTION_ERRORS, *_BUSY_STATES)):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(_BUSY_WORDS)


_SCRIPT_REFUSED = ("ACL failure in script", "The user executing the script can't")
"""How Redis words an ACL refusal of a command, key or channel inside a script: a plain error, not
NOPERM (Redis 7.2 and later, then 7.0). A refused EXEC is an ExecAbortError that names NOPERM."""


def _access_refused(exc: BaseException) -> BaseException | None:
    """The refused access behind a RedisCluster that could not learn the cluster: redis-py words a
    node that refused the user CLUSTER SLOTS as "Cluster mode is not enabled", with the refusal two
    links down its chain of causes."""
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 5:
        if isinstance(cause, REFUSED_ACCESS):
            return cause
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None


def config_problem(exc: BaseException) -> str | None:
    """What is wrong with the configuration, when Redis's error says so (else None)."""
    if isinstance(exc, redis.exceptions.RedisClusterException):
        refusal = _access_refused(exc)
        return None if refusal is None else config_problem(refusal)
    refused = isinstance(exc, REFUSED_ACCESS) or (
        isinstance(exc, redis.ResponseError) and str(exc).startswith(_SCRIPT_REFUSED)
    )
    if refused or (isinstance(exc, redis.exceptions.ExecAbortError) and "NOPERM" in str(exc)):
        return f"Redis refused access: {exc}"
    if isinstance(exc, redis.ResponseError) and "DB index is out of range" in str(exc):
        return "the database number in the Redis URL is out of range for this server (its `databases` setting)"
    return None


SUBSCRIPTION_ERRORS = (redis.RedisError, redis.exceptions.RedisClusterException, OSError, ValueError)
"""Errors that end a subscription's connection: Redis unreachable or refusing it (ValueError: its
socket was closed under it)."""

# Strings in, strings out. Bytes that are not UTF-8 survive a round trip instead of raising.
_CONNECTION_DEFAULTS: dict[str, Any] = {"decode_responses": True, "encoding_errors": "surrogateescape"}


RECONNECT_RETRIES = 2
"""How many times redis-py sends a command again on a fresh connection when the one it used was
closed (the server's idle timeout, a restart); beyond that the error reaches doshit's own retries."""


def _kwargs(settings: Settings, extra: dict[str, Any], retry: object) -> dict[str, Any]:
    return {"retry": retry, **settings.redis_kwargs, **_CONNECTION_DEFAULTS, **extra}


def connect(settings: Settings, *, retries: int = RECONNECT_RETRIES, **extra: Any) -> redis.Redis:
    """A sync redis-py client for these settings (it connects at its first command). ``retries=0``
    for a connection whose owner reconnects by itself (a subscription that must notice)."""
    retry = redis.retry.Retry(redis.backoff.ExponentialBackoff(cap=0.5, base=0.05), retries)
    kwargs = _kwargs(settings, extra, retry)
    if settings.cluster is not None:  # (it asks a node for the cluster's layout here, not at the first command)
        with _cluster_errors():
            return cast(redis.Redis, _SyncCluster(**_cluster_kwargs(settings.cluster, kwargs)))
    if settings.sentinel is not None:
        single = bool(kwargs.pop("single_connection_client", False))
        pool = _SyncSentinelPool.make(settings.sentinel, kwargs)
        client = redis.Redis(connection_pool=pool, single_connection_client=single)
        client.auto_close_connection_pool = True
        return client
    if settings.url is not None:
        return redis.Redis.from_url(settings.redis_py_url or "", **kwargs)
    return redis.Redis(**kwargs)


def connect_async(
    settings: Settings, *, pool_size: int | None = None, retries: int = RECONNECT_RETRIES, **extra: Any
) -> redis.asyncio.Redis:
    """An asyncio redis-py client for these settings (it connects at its first command). With
    ``pool_size`` it opens at most that many connections, and a command waits for a free one instead
    of failing, however many run at once."""
    retry = redis.asyncio.retry.Retry(redis.backoff.ExponentialBackoff(cap=0.5, base=0.05), retries)
    kwargs = _kwargs(settings, extra, retry)
    url = settings.redis_py_url
    if settings.cluster is not None:  # (pool_size: a command waits for no free connection, there is one pool per node)
        return cast(redis.asyncio.Redis, _AsyncCluster(**_cluster_kwargs(settings.cluster, kwargs, asynchronous=True)))
    if pool_size is not None:
        kwargs.update(max_connections=pool_size, timeout=None)
    if settings.sentinel is not None:
        kind = _AsyncSentinelPool if pool_size is None else _AsyncBlockingSentinelPool
        return redis.asyncio.Redis.from_pool(kind.make(settings.sentinel, kwargs))
    if pool_size is None:
        if url is not None:
            return redis.asyncio.Redis.from_url(url, **kwargs)
        return redis.asyncio.Redis(**kwargs)
    if url is not None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(url, **kwargs)
    else:
        pool = redis.asyncio.BlockingConnectionPool(**kwargs)
    return redis.asyncio.Redis.from_pool(pool)


_CLUSTER_BUGS = (redis.exceptions.CrossSlotTransactionError, redis.exceptions.InvalidPipelineStack)
"""RedisCluster's errors that are doshit's mistakes, not the cluster's state."""


@contextlib.contextmanager
def _cluster_errors() -> Iterator[None]:
    """RedisCluster's own errors as the ones doshit handles everywhere: a cluster it cannot reach or
    whose slots no node serves (RedisClusterUnreachableError, SlotNotCoveredError: not RedisErrors)
    is a ConnectionError (wait and retry); a node that refused the user is that refusal."""
    try:
        yield
    except _CLUSTER_BUGS:
        raise
    except redis.exceptions.RedisClusterException as exc:
        raise _access_refused(exc) or redis.ConnectionError(str(exc)) from exc


class _SyncCluster(redis.cluster.RedisCluster):
    """A RedisCluster whose commands and pipelines raise the errors doshit handles (_cluster_errors)."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with _cluster_errors():
            return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)  # type: ignore[no-untyped-call]
        execute = pipe.execute

        def guarded(raise_on_error: bool = True) -> Any:
            with _cluster_errors():
                return execute(raise_on_error)

        pipe.execute = guarded
        return pipe


class _AsyncCluster(redis.asyncio.cluster.RedisCluster):
    """The asyncio _SyncCluster."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with _cluster_errors():
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        async def guarded(raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
            with _cluster_errors():
                return await execute(raise_on_error, allow_redirections)

        pipe.execute = guarded  # type: ignore[method-assign]
        return pipe


def _cluster_kwargs(target: ClusterTarget, kwargs: dict[str, Any], *, asynchronous: bool = False) -> dict[str, Any]:
    """RedisCluster's keyword arguments: the URL's nodes and credentials, and what doshit asks of
    every connection (a cluster connection is shared by design: single_connection_client has no
    meaning there)."""
    kwargs = {name: value for name, value in kwargs.items() if name != "single_connection_client"}
    node = redis.asyncio.cluster.ClusterNode if asynchronous else redis.cluster.ClusterNode
    given = {
        "username": target.username,
        "password": target.password,
        "socket_timeout": target.socket_timeout,
        "socket_connect_timeout": target.socket_connect_timeout,
    }
    kwargs.update({name: value for name, value in given.items() if value is not None and name not in kwargs})
    return {"startup_nodes": [node(host, port) for host, port in target.nodes], **kwargs}


# --------------------------------------------------------------------------- Sentinel

SENTINEL_TIMEOUT = 2.0
"""Seconds to wait for a sentinel (to connect, and for its answer) before asking the next one, unless
the URL's socket_timeout says otherwise."""
FOLLOW_INTERVAL = 1.0
"""How often the sentinels are asked where the master is while connections made for them exist."""


class WriteRefused(redis.ConnectionError):
    """A master that no longer takes writes (it became a replica, or lost the replicas that
    min-replicas-to-write asks for): nothing was written. The connection is closed, so the next
    command asks the sentinels again."""


def _sentinel_kwargs(target: SentinelTarget) -> dict[str, Any]:
    """How to talk to the sentinels: no retries (the next sentinel is the retry), short timeouts."""
    timeout = target.socket_timeout or SENTINEL_TIMEOUT
    kwargs: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": target.socket_connect_timeout or timeout,
        "retry": redis.retry.Retry(redis.backoff.NoBackoff(), 0),
    }
    if target.sentinel_username:
        kwargs["username"] = target.sentinel_username
    if target.sentinel_password:
        kwargs["password"] = target.sentinel_password
    return kwargs


def _master_kwargs(target: SentinelTarget, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The connection keywords of the master's connections: the URL's database, user, password and
    timeouts win over the caller's, as the query of a redis:// URL does in redis-py."""
    given: dict[str, Any] = {"db": target.db, "username": target.username, "password": target.password}
    given.update(socket_timeout=target.socket_timeout, socket_connect_timeout=target.socket_connect_timeout)
    return {**kwargs, **{name: value for name, value in given.items() if value is not None}}


def _refusal(exc: redis.ResponseError) -> WriteRefused | None:
    text = str(exc)
    if isinstance(exc, redis.exceptions.ReadOnlyError) or text.startswith(("READONLY", "NOREPLICAS")):
        return WriteRefused(f"the master refused the write ({text}); asking the sentinels again")
    return None


class _SentinelConnection(redis.sentinel.SentinelManagedConnection):
    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self._sock:  # redis-py connects again to the last address here, asking no sentinel (#3874)
            self.connect()  # type: ignore[no-untyped-call]
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return redis.Connection.read_response(self, *args, **kwargs)
        except redis.ResponseError as exc:
            refused = _refusal(exc)
            if refused is None or not self.connection_pool.is_master:
                raise
            self.disconnect()  # type: ignore[no-untyped-call]
            raise refused from exc


class _AsyncSentinelConnection(redis.asyncio.sentinel.SentinelManagedConnection):
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:  # (as above)
            await self.connect()  # type: ignore[no-untyped-call]
        await super().send_packed_command(command, check_health)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await redis.asyncio.Connection.read_response(self, *args, **kwargs)
        except redis.ResponseError as exc:
            refused = _refusal(exc)
            if refused is None or not self.connection_pool.is_master:
                raise
            await self.disconnect()
            raise refused from exc


Address = tuple[str, int]


def _valid(manager: Any, state: Any, service: str) -> tuple[Address, int] | None:
    """A sentinel's view of the master, if it is a master it sees up: its address and config epoch."""
    if not state or not manager.check_master_state(state, service):
        return None
    return (str(state["ip"]), int(state["port"])), int(state.get("config-epoch", 0))


def _masters(reply: Any) -> dict[str, Any]:
    """SENTINEL MASTERS as redis-py reads it: the state of each master by name."""
    return reply if isinstance(reply, dict) else {}


def _newer(target: SentinelTarget, address: Address, epoch: int) -> Address:
    """The master one sentinel named, unless a newer failover (a higher config epoch) named another.
    Sentinels learn of a failover one after the other (within a few seconds): the first to answer
    may still name the old master, which takes writes until it is made a replica."""
    with _FOLLOWERS_LOCK:
        known = _NEWEST.get(target)
        if known is None or epoch > known[1]:
            _NEWEST[target] = (address, epoch)
            return address
        return known[0] if known[1] > epoch else address


class _SyncSentinel(redis.sentinel.Sentinel):
    """Sentinels whose answer about the master is checked against the newest failover seen."""

    def __init__(self, target: SentinelTarget) -> None:
        super().__init__(list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target))  # type: ignore[no-untyped-call,unused-ignore]
        self.target = target

    def discover_master(self, service_name: str) -> Address:
        errors = []
        for index, sentinel in enumerate(self.sentinels):
            try:
                found = _valid(self, _masters(sentinel.sentinel_masters()).get(service_name), service_name)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                errors.append(f"{sentinel.get_connection_kwargs().get('port')}: {exc}")
                continue
            if found is not None:
                self.sentinels[0], self.sentinels[index] = sentinel, self.sentinels[0]
                return _newer(self.target, *found)
        raise redis.sentinel.MasterNotFoundError(f"No master found for {service_name!r}: {'; '.join(errors)}")

    def newest_master(self, service_name: str) -> tuple[Address, int] | None:
        """What every sentinel that answers says, the newest (highest config epoch) valid answer."""
        best: tuple[Address, int] | None = None
        for sentinel in self.sentinels:
            try:
                found = _valid(self, _masters(sentinel.sentinel_masters()).get(service_name), service_name)
            except (redis.ConnectionError, redis.TimeoutError):
                continue
            if found is not None and (best is None or found[1] > best[1]):
                best = found
        return best


class _AsyncSentinel(redis.asyncio.sentinel.Sentinel):
    """The asyncio _SyncSentinel."""

    def __init__(self, target: SentinelTarget) -> None:
        super().__init__(list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target))  # type: ignore[no-untyped-call,unused-ignore]
        self.target = target

    async def discover_master(self, service_name: str) -> Address:
        errors = []
        for index, sentinel in enumerate(self.sentinels):
            try:
                found = _valid(self, _masters(await sentinel.sentinel_masters()).get(service_name), service_name)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                errors.append(f"{sentinel.get_connection_kwargs().get('port')}: {exc}")
                continue
            if found is not None:
                self.sentinels[0], self.sentinels[index] = sentinel, self.sentinels[0]
                return _newer(self.target, *found)
        raise redis.asyncio.sentinel.MasterNotFoundError(f"No master found for {service_name!r}: {'; '.join(errors)}")


class _SyncSentinelPool(redis.sentinel.SentinelConnectionPool):
    """The master's connections of one sync client; they follow a failover (see the module)."""

    @classmethod
    def make(cls, target: SentinelTarget, kwargs: dict[str, Any]) -> _SyncSentinelPool:
        sentinel = _SyncSentinel(target)
        pool = cls(target.service, sentinel, connection_class=_SentinelConnection, **_master_kwargs(target, kwargs))
        _follow(target, pool)
        return pool

    @property
    def connected_to(self) -> set[Address]:
        """Where its connections are connected (a connection made before a failover stays put)."""
        with self._lock:
            connections = [*self._available_connections, *self._in_use_connections]
        return {(str(c.host), int(c.port)) for c in connections if c._sock is not None}

    def drop(self) -> None:
        """The master moved: close every connection, in use or not (from the follower's thread)."""
        holder: Any = getattr(self, "proxy", self)  # (redis-py before 5.0.2 keeps it on the pool)
        holder.master_address = None
        with contextlib.suppress(Exception):
            self.disconnect(inuse_connections=True)

    def disconnect(self, inuse_connections: bool = True) -> None:
        """Also the connections to the sentinels, with the ones in use (when the client closes)."""
        super().disconnect(inuse_connections)
        if inuse_connections:
            for sentinel in self.sentinel_manager.sentinels:
                with contextlib.suppress(Exception):
                    sentinel.close()


class _AsyncSentinelPool(redis.asyncio.sentinel.SentinelConnectionPool):
    """The master's connections of one asyncio client; they follow a failover (see the module)."""

    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def make(cls, target: SentinelTarget, kwargs: dict[str, Any]) -> _AsyncSentinelPool:
        sentinel = _AsyncSentinel(target)
        pool = cls(
            target.service, sentinel, connection_class=_AsyncSentinelConnection, **_master_kwargs(target, kwargs)
        )
        _follow(target, pool)
        return pool

    @property
    def connected_to(self) -> set[Address]:
        """As for _SyncSentinelPool (read from the follower's thread: a look that meets a change is
        skipped, the next one a second later will do)."""
        try:
            connections: list[Any] = [*self._available_connections, *self._in_use_connections]
            return {(str(c.host), int(c.port)) for c in connections if c.is_connected}
        except RuntimeError:  # changed while it was read
            return set()

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        self._loop = asyncio.get_running_loop()  # where the follower sends drop()
        return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]

    def drop(self) -> None:
        """The master moved: close every connection, in use or not, on the pool's own loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            asyncio.run_coroutine_threadsafe(self._drop(), loop)

    async def _drop(self) -> None:
        self.master_address = None
        with contextlib.suppress(Exception):
            await self.disconnect(inuse_connections=True)

    async def disconnect(self, inuse_connections: bool = True) -> None:
        """Also the connections to the sentinels, with the ones in use (when the client closes)."""
        await super().disconnect(inuse_connections)
        if inuse_connections:
            for sentinel in self.sentinel_manager.sentinels:
                with contextlib.suppress(Exception):
                    await sentinel.aclose()


class _AsyncBlockingSentinelPool(_AsyncSentinelPool, redis.asyncio.BlockingConnectionPool):
    """The same, with at most max_connections connections: a command waits for a free one."""


class _Follower:
    """Asks the sentinels of one URL where the master is, every FOLLOW_INTERVAL, in a daemon thread
    that ends when no pool of that URL is left; drops the connections of every pool that is still
    connected to another master."""

    def __init__(self, target: SentinelTarget) -> None:
        self.target = target
        self.pools: weakref.WeakSet[Any] = weakref.WeakSet()
        self.sentinel = _SyncSentinel(target)
        self.thread = threading.Thread(target=self._run, name="doshit-sentinel", daemon=True)

    def _run(self) -> None:
        try:
            while True:
                time.sleep(FOLLOW_INTERVAL)
                with _FOLLOWERS_LOCK:
                    pools = list(self.pools)
                    if not pools:
                        del _FOLLOWERS[self.target]
                        return
                try:
                    newest = self.sentinel.newest_master(self.target.service)
                except (redis.RedisError, OSError):
                    newest = None
                if newest is None:
                    continue  # no sentinel knows a master now (a failover is under way): ask again
                with _FOLLOWERS_LOCK:  # what the sentinels say now (epochs start again if they are reset)
                    _NEWEST[self.target] = newest
                master = newest[0]
                moved = [pool for pool in pools if pool.connected_to - {master}]
                if moved:
                    note_disruption()
                    log.warning(
                        "the sentinels moved master %r to %s:%s; reconnecting", self.target.service, *master
                    )  # fmt: skip
                    for pool in moved:
                        pool.drop()
        finally:
            with contextlib.suppress(Exception):
                self.sentinel.close()


_FOLLOWERS: dict[SentinelTarget, _Follower] = {}
_FOLLOWERS_LOCK = threading.Lock()
_NEWEST: dict[SentinelTarget, tuple[Address, int]] = {}
"""The master of the newest failover (highest config epoch) the sentinels of a URL named: as the
follower last saw them all, or newer if a connection heard of a newer one since."""


def _follow(target: SentinelTarget, pool: Any) -> None:
    with _FOLLOWERS_LOCK:
        follower = _FOLLOWERS.get(target)
        if follower is None:
            follower = _FOLLOWERS[target] = _Follower(target)
            follower.thread.start()
        follower.pools.add(pool)


_disruptions = 0


def note_disruption() -> None:
    """Redis was unavailable, or the master moved: writes acknowledged just before may be lost."""
    global _disruptions
    _disruptions += 1


def disruptions() -> int:
    """How many times this process saw Redis unavailable or the master move (it only grows)."""
    return _disruptions


def _evalsha(call: ScriptCall) -> tuple[Any, ...]:
    return ("EVALSHA", call.spec.sha, len(call.keys), *call.keys, *call.argv)


DURABLE_SCRIPTS = frozenset({"submit", "submit_many"})
"""The scripts that write tasks: with a durability, each is followed by WAIT on its connection."""


def _not_durable(call: ScriptCall, acknowledged: int, durability: Durability) -> TaskNotDurable:
    named = dict(zip(call.spec.argv, call.argv, strict=False))  # (argv ends in field/value pairs)
    task_id = named.get("task_id", "")
    what = f"task {task_id} was" if task_id else "the tasks were"
    return TaskNotDurable(
        f"{what} written to the master, but {acknowledged} of the {durability.replicas} replica(s) asked for "
        f"had it after {durability.timeout_ms} ms: a failover now may lose it",
        task_id=task_id,
        acknowledged=acknowledged,
    )


def _wait_args(durability: Durability) -> tuple[Any, ...]:
    return ("WAIT", durability.replicas, durability.timeout_ms)


def _wait_timeout(connection: Any, durability: Durability) -> float:
    """How long to read WAIT's reply: its own timeout and the usual one on top."""
    return durability.timeout_ms / 1000 + (connection.socket_timeout or 5.0)


def _read_wait(connection: Any, durability: Durability) -> int:
    try:
        return int(connection.read_response(timeout=_wait_timeout(connection, durability)))
    except TypeError:  # redis-py before 6 reads with the socket's timeout only
        return int(connection.read_response())


def _take(pool: Any) -> Any:
    try:
        return pool.get_connection()
    except TypeError:  # redis-py before 5.3 wants a command name
        return pool.get_connection("EVALSHA")


async def _take_async(pool: Any) -> Any:
    try:
        return await pool.get_connection()
    except TypeError:
        return await pool.get_connection("EVALSHA")


_NOT_HERE = (redis.exceptions.AskError, redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError)
"""A cluster node's answers that mean the script did not run: its slot is on another node (MOVED, ASK),
or no node serves it yet (CLUSTERDOWN, TRYAGAIN: a failover under way)."""
_REFRESH_ERRORS = (redis.RedisError, redis.exceptions.RedisClusterException, OSError)
"""What asking the cluster for its slots again may raise while a failover is under way (no node to
ask: RedisClusterUnreachableError, not a RedisError); the next attempt asks again."""
ROUTING_RETRIES = 40
ROUTING_PAUSE = 0.25
"""A durable submit on a cluster asks again where its slot is and resends, this often, this far apart
(10 s: a failover takes the node timeout and a second or two)."""


def _run_durable(conn: redis.Redis, call: ScriptCall, durability: Durability) -> Reply:
    """_run_durable_on the connection's pool; on a cluster, on the pool of the master of the call's
    slot (WAIT counts the replicas of the node it is sent to), sent again while the cluster says the
    slot is elsewhere or not served. A lost connection is not resent: the write may have happened."""
    if not isinstance(conn, redis.cluster.RedisCluster):
        return _run_durable_on(conn.connection_pool, call, durability)
    with _cluster_errors():  # (this path goes round RedisCluster's commands, so its errors are seen here)
        for attempt in range(ROUTING_RETRIES + 1):
            try:
                pool = conn.get_node_from_key(call.keys[0]).redis_connection.connection_pool
                return _run_durable_on(pool, call, durability)
            except (*_NOT_HERE, *CONNECTION_ERRORS, redis.exceptions.SlotNotCoveredError) as exc:
                with contextlib.suppress(*_REFRESH_ERRORS):
                    conn.nodes_manager.initialize()
                if attempt == ROUTING_RETRIES or isinstance(exc, CONNECTION_ERRORS):
                    raise
                time.sleep(ROUTING_PAUSE)
    raise AssertionError("unreachable")  # pragma: no cover


def _run_durable_on(pool: Any, call: ScriptCall, durability: Durability) -> Reply:
    """EVALSHA and WAIT, sent together on one connection of the pool (WAIT counts the replicas that
    have this connection's writes), without redis-py's resending: a second send on another connection
    could not tell whether the first one's write was copied. A write refused (READONLY, NOREPLICAS:
    nothing written) is sent again on a new connection."""
    refusals = 0
    while True:
        connection = _take(pool)
        try:
            raw, acknowledged = _send_durable(connection, call, durability)
            if isinstance(raw, redis.exceptions.NoScriptError):  # loaded where it runs, then sent again
                connection.send_command("SCRIPT", "LOAD", call.spec.source)
                connection.read_response()
                raw, acknowledged = _send_durable(connection, call, durability)
            if acknowledged < durability.replicas:
                connection.disconnect()  # the next command asks again where the master is
        except WriteRefused:
            connection.disconnect()
            if refusals >= RECONNECT_RETRIES:
                raise
            refusals += 1
            continue
        except BaseException:
            connection.disconnect()  # what it still has to read is no one's
            raise
        finally:
            pool.release(connection)
        return _durable_reply(call, raw, acknowledged, durability)


def _send_durable(connection: Any, call: ScriptCall, durability: Durability) -> tuple[Any, int]:
    """EVALSHA and WAIT in one write; the script's raw reply (or its error) and WAIT's count."""
    connection.send_packed_command(connection.pack_commands([_evalsha(call), _wait_args(durability)]))
    try:
        raw: Any = connection.read_response()
    except redis.ResponseError as exc:
        raw = exc
    try:
        return raw, _read_wait(connection, durability)
    except redis.ResponseError:
        if isinstance(raw, Exception):  # the script did not run (MOVED: the node is a replica now)
            return raw, 0
        raise


class _NodePool:
    """One node of an asyncio RedisCluster as a pool _run_durable_async_on takes connections from."""

    def __init__(self, node: redis.asyncio.cluster.ClusterNode) -> None:
        self.node = node

    async def get_connection(self) -> Any:
        return self.node.acquire_connection()

    async def release(self, connection: Any) -> None:
        self.node.release(connection)


async def _run_durable_async(conn: redis.asyncio.Redis, call: ScriptCall, durability: Durability) -> Reply:
    """The asyncio _run_durable."""
    if not isinstance(conn, redis.asyncio.cluster.RedisCluster):
        return await _run_durable_async_on(conn.connection_pool, call, durability)
    with _cluster_errors():
        for attempt in range(ROUTING_RETRIES + 1):
            try:
                await conn.initialize()  # (the client's first command does it, and this one bypasses it)
                node = conn.get_node_from_key(call.keys[0])
                return await _run_durable_async_on(_NodePool(node), call, durability)
            except (*_NOT_HERE, *CONNECTION_ERRORS, redis.exceptions.SlotNotCoveredError) as exc:
                with contextlib.suppress(*_REFRESH_ERRORS):
                    await conn.nodes_manager.initialize()
                if attempt == ROUTING_RETRIES or isinstance(exc, CONNECTION_ERRORS):
                    raise
                await asyncio.sleep(ROUTING_PAUSE)
    raise AssertionError("unreachable")  # pragma: no cover


async def _run_durable_async_on(pool: Any, call: ScriptCall, durability: Durability) -> Reply:
    """The asyncio _run_durable_on."""
    refusals = 0
    while True:
        connection = await _take_async(pool)
        try:
            raw, acknowledged = await _send_durable_async(connection, call, durability)
            if isinstance(raw, redis.exceptions.NoScriptError):
                await connection.send_command("SCRIPT", "LOAD", call.spec.source)
                await connection.read_response()
                raw, acknowledged = await _send_durable_async(connection, call, durability)
            if acknowledged < durability.replicas:
                await connection.disconnect()
        except WriteRefused:
            await connection.disconnect()
            if refusals >= RECONNECT_RETRIES:
                raise
            refusals += 1
            continue
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)
        return _durable_reply(call, raw, acknowledged, durability)


async def _send_durable_async(connection: Any, call: ScriptCall, durability: Durability) -> tuple[Any, int]:
    await connection.send_packed_command(connection.pack_commands([_evalsha(call), _wait_args(durability)]))
    try:
        raw: Any = await connection.read_response()
    except redis.ResponseError as exc:
        raw = exc
    try:
        return raw, int(await connection.read_response(timeout=_wait_timeout(connection, durability)))
    except redis.ResponseError:
        if isinstance(raw, Exception):
            return raw, 0
        raise


def _durable_reply(call: ScriptCall, raw: Any, acknowledged: int, durability: Durability) -> Reply:
    """The script's reply, or TaskNotDurable when it wrote and too few replicas have the write."""
    if isinstance(raw, Exception):
        raise raw
    reply = parse_reply(call.name, raw)
    if acknowledged < durability.replicas and reply.status != SubmitReply.EXISTS:  # (EXISTS: nothing written)
        raise _not_durable(call, acknowledged, durability)
    return reply


def run_script(conn: redis.Redis, call: ScriptCall, durability: Durability | None = None) -> Reply:
    """Run one script call and read its reply. With a ``durability``, a script that writes tasks
    returns only once that many replicas have its writes (else TaskNotDurable)."""
    if durability is not None and call.name in DURABLE_SCRIPTS:
        return _run_durable(conn, call, durability)
    try:
        raw = conn.execute_command(*_evalsha(call))
    except redis.exceptions.NoScriptError:
        conn.script_load(call.spec.source)
        raw = conn.execute_command(*_evalsha(call))
    return parse_reply(call.name, raw)


async def run_scripts(
    conn: redis.asyncio.Redis, calls: Sequence[ScriptCall], durability: Durability | None = None
) -> list[Reply]:
    """Run script calls in one pipeline and read their replies; raises the first error a call got.
    With a ``durability``, one call of a script that writes tasks is run as run_script runs it."""
    if durability is not None and len(calls) == 1 and calls[0].name in DURABLE_SCRIPTS:
        return [await _run_durable_async(conn, calls[0], durability)]
    replies: list[Reply] = []
    for reply in await run_scripts_apart(conn, calls):
        if isinstance(reply, Exception):
            raise reply
        replies.append(reply)
    return replies


async def run_scripts_apart(conn: redis.asyncio.Redis, calls: Sequence[ScriptCall]) -> list[Reply | Exception]:
    """Run script calls in one pipeline (one call: no pipeline, which costs more than the command) and
    read their replies; a call that Redis refused, or whose reply is not one its script lists, gets
    its error in its place, so one call cannot fail the others. Raises when Redis is unavailable
    (then nothing is known of any call) or refuses access. (redis-py's own script pipelining costs an
    extra SCRIPT EXISTS round trip per pipeline; here a script is loaded only on NOSCRIPT.)"""
    raws: list[Any]
    if len(calls) == 1:
        try:
            raws = [await conn.execute_command(*_evalsha(calls[0]))]
        except redis.ResponseError as exc:
            raws = [exc]
    else:
        pipe = conn.pipeline(transaction=False)
        for call in calls:
            pipe.execute_command(*_evalsha(call))
        raws = list(await pipe.execute(raise_on_error=False))
    redo = [i for i, raw in enumerate(raws) if isinstance(raw, redis.exceptions.NoScriptError)]
    for source in dict.fromkeys(calls[i].spec.source for i in redo):
        await conn.script_load(source)
    if redo:
        for i, again in zip(redo, await run_scripts_apart(conn, [calls[i] for i in redo]), strict=True):
            raws[i] = again
    replies: list[Reply | Exception] = []
    for call, raw in zip(calls, raws, strict=True):
        if isinstance(raw, Exception) and (unavailable(raw) or isinstance(raw, REFUSED_ACCESS)):
            raise raw
        if isinstance(raw, (Reply, Exception)):
            replies.append(raw)
            continue
        try:
            replies.append(parse_reply(call.name, raw))
        except DecodeError as exc:
            replies.append(exc)
    return replies
