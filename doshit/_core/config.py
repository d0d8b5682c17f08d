"""Where to connect and which prefix and queue to use: arguments, then environment, then defaults.

The environment variables and the default URL are the schema's (``config`` in schema/schema.json),
the same for every language:

- ``DOSHIT_REDIS_URL``: ``redis://``, ``rediss://``, ``unix://``, ``redis+sentinel://`` or ``redis+cluster://``
  URL, with user and password if needed.
- ``DOSHIT_REDIS``: legacy; a JSON object of redis-py connection keyword arguments, used when there is no URL.
- ``DOSHIT_APP_PREFIX``: legacy name of the key prefix.
- ``DOSHIT_QUEUE``: the queue.
- ``DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT``: legacy default virtual memory limit (bytes) for submitted tasks.

Making connections from a ``Settings`` is the Redis edge's job (doshit/_redis.py); nothing here does I/O.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from .._errors import ConfigError
from .keys import Keys
from .schema import CLUSTER_DEFAULT_PORT, CLUSTER_SCHEME, DEFAULT_PREFIX, DEFAULT_QUEUE, DEFAULT_URL, URL_SCHEMES, Env


@dataclass(frozen=True)
class Settings:
    """A resolved configuration: a URL, or (legacy) redis-py connection keywords."""

    url: str | None
    redis_kwargs: Mapping[str, Any] = field(default_factory=dict)
    prefix: str = DEFAULT_PREFIX
    queue: str = DEFAULT_QUEUE
    virtual_memory_limit: int | None = None

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix, cluster=self.cluster is not None)

    @functools.cached_property
    def sentinel(self) -> SentinelTarget | None:
        """Where the sentinels are and what to ask them, for a redis+sentinel:// URL (else None)."""
        if self.url is None or not self.url.lower().startswith(f"{SENTINEL_SCHEME}://"):
            return None
        return parse_sentinel_url(self.url)

    @functools.cached_property
    def cluster(self) -> ClusterTarget | None:
        """The nodes to start from and how to talk to them, for a redis+cluster:// URL (else None)."""
        if self.url is None or not self.url.lower().startswith(f"{CLUSTER_SCHEME}://"):
            return None
        return parse_cluster_url(self.url)

    @functools.cached_property
    def durability(self) -> Durability | None:
        """How many replicas must have a submitted task before a submit returns (the URL's
        durable_replicas and durable_timeout_ms), or None: a submit returns once the master has it."""
        return None if self.url is None else parse_durability(self.url)

    @property
    def socket_timeout(self) -> float | None:
        """The longest a connection waits for a reply, when the configuration sets it."""
        if self.url is None:
            value = self.redis_kwargs.get("socket_timeout")
            return float(value) if isinstance(value, (int, float)) else None
        text = _query(self.url, "").get("socket_timeout")
        try:
            return None if text is None else float(text)
        except ValueError:
            return None

    @property
    def redis_py_url(self) -> str | None:
        """The URL as redis-py reads it: without doshit's own query parameters."""
        return None if self.url is None else without_params(self.url, DURABILITY_PARAMS)

    def describe(self) -> str:
        """Where this connects, with any password masked."""
        if self.url is None:
            shown = {k: ("***" if "password" in k else v) for k, v in self.redis_kwargs.items()}
            return f"{Env.REDIS_JSON} {json.dumps(shown, sort_keys=True)}"
        return mask_url(self.url)


SENTINEL_SCHEME = "redis+sentinel"
"""The scheme of a URL that names sentinels and the service (master name) to ask them for."""
SENTINEL_PORT = 26379
"""A sentinel's port when the URL gives none."""
DURABILITY_PARAMS = ("durable_replicas", "durable_timeout_ms")
"""Query parameters of any Redis URL that ask a submit to wait for replicas (WAIT)."""
TIMEOUT_PARAMS = ("socket_timeout", "socket_connect_timeout")
SENTINEL_PARAMS = ("db", "sentinel_username", "sentinel_password", *TIMEOUT_PARAMS)
"""The other query parameters a redis+sentinel:// URL may have."""
DURABLE_TIMEOUT_MS = 1000
"""How long a durable submit waits for its replicas when the URL says only how many."""
MAX_DURABLE_TIMEOUT_MS = 60_000
MAX_REPLICAS = 100


@dataclass(frozen=True)
class Durability:
    """A submit returns once ``replicas`` replicas have the task, or fails with TaskNotDurable after
    ``timeout_ms`` milliseconds (Redis's WAIT, sent after the submit on the same connection)."""

    replicas: int
    timeout_ms: int


@dataclass(frozen=True)
class SentinelTarget:
    """A redis+sentinel:// URL, read: the sentinels to ask, the service they monitor, and how to talk
    to its master (``username``, ``password``, ``db``) and to the sentinels."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    socket_timeout: float | None = None
    socket_connect_timeout: float | None = None


@dataclass(frozen=True)
class ClusterTarget:
    """A redis+cluster:// URL, read: the nodes to learn the cluster from (any few of them), and how
    to talk to every node."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    socket_timeout: float | None = None
    socket_connect_timeout: float | None = None


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)@", re.S)
_QUERY_PASSWORD = re.compile(r"([?&](?:sentinel_)?password=)[^&#]*", re.I)


def mask_url(url: str) -> str:
    """The URL with its passwords replaced by ***, whatever they hold ('@' and '/' too): the one in
    the user info, and a (sentinel_)password query parameter."""
    url = _QUERY_PASSWORD.sub(r"\1***", url)
    found = _USERINFO.match(url)
    if found is None or ":" not in found.group(2):
        return url
    user = found.group(2).split(":", 1)[0]
    return f"{found.group(1)}{user}:***@{url[found.end() :]}"


def without_params(url: str, names: tuple[str, ...]) -> str:
    """The URL without these query parameters (the rest kept as written)."""
    head, mark, rest = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = rest.partition("#")
    kept = [part for part in query.split("&") if part and part.split("=", 1)[0] not in names]
    return head + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment


def _query(url: str, shown: str) -> dict[str, str]:
    """The URL's query parameters (the last of each name wins, as in redis-py)."""
    query = url.partition("?")[2].partition("#")[0]
    try:
        return dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False))
    except ValueError as exc:  # pragma: no cover - parse_qsl is lenient
        raise ConfigError(f"Redis URL has a bad query ({exc}): {shown}") from None


def _whole_number(name: str, text: str, low: int, high: int, shown: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or not low <= int(text) <= high:
        raise ConfigError(f"Redis URL's {name} must be a whole number from {low} to {high}, got {text!r}: {shown}")
    return int(text)


def _seconds(name: str, text: str, shown: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 3600:  # (NaN fails too)
        raise ConfigError(f"Redis URL's {name} must be a number of seconds above 0, got {text!r}: {shown}")
    return value


def parse_durability(url: str) -> Durability | None:
    """The durable_replicas and durable_timeout_ms query parameters of a URL (any scheme);
    ConfigError for values that cannot be used."""
    shown = mask_url(url)
    query = _query(url, shown)
    replicas, timeout = query.get(DURABILITY_PARAMS[0]), query.get(DURABILITY_PARAMS[1])
    if replicas is None:
        if timeout is not None:
            raise ConfigError(f"Redis URL gives {DURABILITY_PARAMS[1]} without {DURABILITY_PARAMS[0]}: {shown}")
        return None
    count = _whole_number(DURABILITY_PARAMS[0], replicas, 0, MAX_REPLICAS, shown)
    ms = DURABLE_TIMEOUT_MS
    if timeout is not None:
        ms = _whole_number(DURABILITY_PARAMS[1], timeout, 1, MAX_DURABLE_TIMEOUT_MS, shown)
    return Durability(count, ms) if count else None


def _host_port(text: str, scheme: str, noun: str, default_port: int, shown: str) -> tuple[str, int]:
    found = re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]*)(?::(.*))?", text)
    host = "" if found is None else found.group(1).strip("[]")
    if not host:
        raise ConfigError(f"a {scheme}:// URL names a {noun} without a host ({text!r}): {shown}")
    port = None if found is None else found.group(2)
    if port is None or port == "":
        return host, default_port
    if not (port.isascii() and port.isdigit() and len(port) <= 5) or not 0 < int(port) <= 65535:
        raise ConfigError(f"Redis URL has a bad port {port!r} (a number from 1 to 65535): {shown}")
    return host, int(port)


@dataclass(frozen=True)
class _ManyHosts:
    """A URL that names several hosts: ``scheme://[user:password@]host[:port][,host[:port]...][path][?query]``."""

    hosts: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    segments: list[str]
    query: dict[str, str]


def _many_hosts(
    url: str, scheme: str, noun: str, default_port: int, form: str, params: tuple[str, ...], names: str
) -> _ManyHosts:
    shown = mask_url(url)
    rest = url[len(scheme) + 3 :]
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i != -1), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    path = tail.partition("?")[0].partition("#")[0]
    if "@" in tail or authority.count("@") > 1:
        raise ConfigError(f"Redis URL has '@' or '/' in its password or user: percent-encode them (%40, %2F): {shown}")
    userinfo, at, places = authority.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon and secret else None
    if not places:
        raise ConfigError(f"a {scheme}:// URL names {names}: {form}: {shown}")
    hosts = tuple(_host_port(place, scheme, noun, default_port, shown) for place in places.split(","))
    query = _query(url, shown)
    unknown = sorted(set(query) - set(params) - set(DURABILITY_PARAMS))
    if unknown:
        known = ", ".join((*params, *DURABILITY_PARAMS))
        raise ConfigError(f"{', '.join(unknown)}: not a parameter of a {scheme}:// URL (it takes {known}): {shown}")
    parse_durability(url)
    return _ManyHosts(hosts, username, password, path.split("/")[1:] if path else [], query)


def _timeouts(query: Mapping[str, str], shown: str) -> dict[str, float]:
    return {name: _seconds(name, query[name], shown) for name in TIMEOUT_PARAMS if name in query}


def parse_sentinel_url(url: str) -> SentinelTarget:
    """``redis+sentinel://[user:password@]host[:port][,host[:port]...]/service[/db][?query]``, read;
    ConfigError (one line, the password masked) for one that cannot be used. The user and password
    are the master's (and its replicas'); the sentinels' are the query's sentinel_username and
    sentinel_password. A port left out is 26379."""
    shown = mask_url(url)
    form = f"{SENTINEL_SCHEME}://host1:26379,host2:26379/service[/db]"
    read = _many_hosts(
        url, SENTINEL_SCHEME, "sentinel", SENTINEL_PORT, form, SENTINEL_PARAMS, "its sentinels and the service"
    )
    segments, query = read.segments, read.query
    if not segments or not segments[0]:
        raise ConfigError(f"a {SENTINEL_SCHEME}:// URL needs the service (master) name: {form}: {shown}")
    if len(segments) > 2 or (len(segments) == 2 and not segments[1]):
        raise ConfigError(f"a {SENTINEL_SCHEME}:// URL's path is /service or /service/db: {form}: {shown}")
    database = query.get("db", segments[1] if len(segments) == 2 else "0")
    if not (database.isascii() and database.isdigit() and len(database) <= 9):
        raise ConfigError(f"Redis URL's database must be a number, got {database!r}: {shown}")
    return SentinelTarget(
        sentinels=read.hosts,
        service=unquote(segments[0]),
        db=int(database),
        username=read.username,
        password=read.password,
        sentinel_username=query.get("sentinel_username") or None,
        sentinel_password=query.get("sentinel_password") or None,
        **_timeouts(query, shown),
    )


def parse_cluster_url(url: str) -> ClusterTarget:
    """``redis+cluster://[user:password@]host[:port][,host[:port]...][/][?query]``, read: the nodes to
    learn the cluster from (one that answers is enough; a port left out is 6379) and the user and
    password of every node; ConfigError (one line, the password masked) for one that cannot be used.
    A cluster has one database, 0."""
    shown = mask_url(url)
    form = f"{CLUSTER_SCHEME}://host1:6379,host2:6379"
    read = _many_hosts(url, CLUSTER_SCHEME, "node", CLUSTER_DEFAULT_PORT, form, TIMEOUT_PARAMS, "one node or more")
    if [segment for segment in read.segments if segment not in ("", "0")] or len(read.segments) > 1:
        raise ConfigError(f"a {CLUSTER_SCHEME}:// URL has no path (a cluster has one database, 0): {form}: {shown}")
    return ClusterTarget(read.hosts, read.username, read.password, **_timeouts(read.query, shown))


def check_url(url: str) -> None:
    """ConfigError unless the URL is one a connection can be made from; nothing is sent."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"not a Redis URL ({exc}): {shown}") from None
    if parts.scheme not in URL_SCHEMES:
        *others, last = (f"{scheme}://" for scheme in URL_SCHEMES)
        raise ConfigError(f"Redis URL must start with {', '.join(others)} or {last}: {shown}")
    if parts.scheme == SENTINEL_SCHEME:
        parse_sentinel_url(url)
        return
    if parts.scheme == CLUSTER_SCHEME:
        parse_cluster_url(url)
        return
    parse_durability(url)
    if "@" in parts.path or "@" in parts.query or ("@" in parts.netloc and parts.netloc.count("@") > 1):
        raise ConfigError(f"Redis URL has '@' or '/' in its password or user: percent-encode them (%40, %2F): {shown}")
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigError(f"a unix:// Redis URL needs the socket's path: {shown}")
        database = parse_qs(parts.query).get("db", ["0"])[-1]
    else:
        try:
            parts.port  # noqa: B018 - it parses the port
        except ValueError as exc:
            raise ConfigError(f"Redis URL has a bad port ({exc}): {shown}") from None
        if not parts.hostname:
            raise ConfigError(f"Redis URL names no host: {shown}")
        database = parts.path.lstrip("/") or parse_qs(parts.query).get("db", ["0"])[-1]
    if not (database.isascii() and database.isdigit() and len(database) <= 9):
        raise ConfigError(f"Redis URL's database must be a number, got {database!r}: {shown}")


def _env_int(environ: Mapping[str, str], name: str) -> int | None:
    text = environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(f"{name} must be a positive integer number of bytes, got {text!r}")
    return int(text)


def _legacy_kwargs(text: str) -> dict[str, Any]:
    try:
        kwargs = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{Env.REDIS_JSON} is not JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{Env.REDIS_JSON} must be a JSON object of redis connection keyword arguments")
    return kwargs


def resolve(
    url: str | None = None,
    *,
    prefix: str | None = None,
    queue: str | None = None,
    virtual_memory_limit: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Arguments win; then the environment; then the defaults."""
    env = os.environ if environ is None else environ
    redis_kwargs: dict[str, Any] = {}
    url = url or env.get(Env.URL) or None
    if url is None and env.get(Env.REDIS_JSON):
        redis_kwargs = _legacy_kwargs(env[Env.REDIS_JSON])
    elif url is None:
        url = DEFAULT_URL
    if url is not None:
        check_url(url)
    settings = Settings(
        url=url,
        redis_kwargs=redis_kwargs,
        prefix=prefix or env.get(Env.PREFIX) or DEFAULT_PREFIX,
        queue=queue or env.get(Env.QUEUE) or DEFAULT_QUEUE,
        virtual_memory_limit=virtual_memory_limit or _env_int(env, Env.VIRTUAL_MEMORY_LIMIT),
    )
    settings.keys.pending(settings.queue)  # validates prefix and queue names
    return settings
