"""Where to connect and which prefix and queue to use: arguments, then environment, then defaults.

Environment variables:

- ``DOSHIT_REDIS_URL``: ``redis://``, ``rediss://`` or ``unix://`` URL, with user and password if needed.
- ``DOSHIT_REDIS``: legacy; a JSON object of redis-py connection keyword arguments, used when there is no URL.
- ``DOSHIT_APP_PREFIX``: legacy name of the key prefix.
- ``DOSHIT_QUEUE``: the queue.
- ``DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT``: legacy default virtual memory limit (bytes) for submitted tasks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio

from ._errors import ConfigError
from ._keys import Keys
from ._schema import DEFAULT_PREFIX, DEFAULT_QUEUE

DEFAULT_URL = "redis://127.0.0.1:6379/0"
"""Used when neither an argument nor DOSHIT_REDIS_URL nor DOSHIT_REDIS says otherwise."""

# Strings in, strings out. Bytes that are not UTF-8 survive a round trip instead of raising.
_CONNECTION_DEFAULTS: dict[str, Any] = {"decode_responses": True, "encoding_errors": "surrogateescape"}


@dataclass(frozen=True)
class Settings:
    """A resolved configuration."""

    url: str | None
    redis_kwargs: Mapping[str, Any] = field(default_factory=dict)
    prefix: str = DEFAULT_PREFIX
    queue: str = DEFAULT_QUEUE
    virtual_memory_limit: int | None = None

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)

    def _kwargs(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.redis_kwargs, **_CONNECTION_DEFAULTS, **extra}

    def sync_redis(self, **extra: Any) -> redis.Redis:
        if self.url is not None:
            return redis.Redis.from_url(self.url, **self._kwargs(extra))
        return redis.Redis(**self._kwargs(extra))

    def async_redis(self, **extra: Any) -> redis.asyncio.Redis:
        if self.url is not None:
            return redis.asyncio.Redis.from_url(self.url, **self._kwargs(extra))
        return redis.asyncio.Redis(**self._kwargs(extra))

    def describe(self) -> str:
        """Where this connects, with any password masked."""
        if self.url is None:
            shown = {k: ("***" if "password" in k else v) for k, v in self.redis_kwargs.items()}
            return f"DOSHIT_REDIS {json.dumps(shown, sort_keys=True)}"
        return mask_url(self.url)


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _env_int(environ: Mapping[str, str], name: str) -> int | None:
    text = environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(f"{name} must be a positive integer number of bytes, got {text!r}")
    return int(text)


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
    url = url or env.get("DOSHIT_REDIS_URL") or None
    if url is None and env.get("DOSHIT_REDIS"):
        try:
            redis_kwargs = json.loads(env["DOSHIT_REDIS"])
        except ValueError as exc:
            raise ConfigError(f"DOSHIT_REDIS is not JSON: {exc}") from None
        if not isinstance(redis_kwargs, dict):
            raise ConfigError("DOSHIT_REDIS must be a JSON object of redis connection keyword arguments")
    elif url is None:
        url = DEFAULT_URL
    if url is not None and urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"Redis URL must start with redis://, rediss:// or unix://: {mask_url(url)}")
    settings = Settings(
        url=url,
        redis_kwargs=redis_kwargs,
        prefix=prefix or env.get("DOSHIT_APP_PREFIX") or DEFAULT_PREFIX,
        queue=queue or env.get("DOSHIT_QUEUE") or DEFAULT_QUEUE,
        virtual_memory_limit=virtual_memory_limit or _env_int(env, "DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT"),
    )
    settings.keys.pending(settings.queue)  # validates prefix and queue names
    return settings
