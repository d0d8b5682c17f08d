"""Where to connect and which prefix and queue to use: arguments, then environment, then defaults.

The environment variables and the default URL are the schema's (``config`` in schema/schema.json),
the same for every language:

- ``DOSHIT_REDIS_URL``: ``redis://``, ``rediss://`` or ``unix://`` URL, with user and password if needed.
- ``DOSHIT_REDIS``: legacy; a JSON object of redis-py connection keyword arguments, used when there is no URL.
- ``DOSHIT_APP_PREFIX``: legacy name of the key prefix.
- ``DOSHIT_QUEUE``: the queue.
- ``DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT``: legacy default virtual memory limit (bytes) for submitted tasks.

Making connections from a ``Settings`` is the Redis edge's job (doshit/_redis.py); nothing here does I/O.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._errors import ConfigError
from .keys import Keys
from .schema import DEFAULT_PREFIX, DEFAULT_QUEUE, DEFAULT_URL, URL_SCHEMES, Env


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
        return Keys(self.prefix)

    def describe(self) -> str:
        """Where this connects, with any password masked."""
        if self.url is None:
            shown = {k: ("***" if "password" in k else v) for k, v in self.redis_kwargs.items()}
            return f"{Env.REDIS_JSON} {json.dumps(shown, sort_keys=True)}"
        return mask_url(self.url)


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)@", re.S)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, whatever the password holds ('@' and '/' too)."""
    found = _USERINFO.match(url)
    if found is None or ":" not in found.group(2):
        return url
    user = found.group(2).split(":", 1)[0]
    return f"{found.group(1)}{user}:***@{url[found.end() :]}"


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
