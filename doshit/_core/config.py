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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
    if url is not None and urlsplit(url).scheme not in URL_SCHEMES:
        *others, last = (f"{scheme}://" for scheme in URL_SCHEMES)
        raise ConfigError(f"Redis URL must start with {', '.join(others)} or {last}: {mask_url(url)}")
    settings = Settings(
        url=url,
        redis_kwargs=redis_kwargs,
        prefix=prefix or env.get(Env.PREFIX) or DEFAULT_PREFIX,
        queue=queue or env.get(Env.QUEUE) or DEFAULT_QUEUE,
        virtual_memory_limit=virtual_memory_limit or _env_int(env, Env.VIRTUAL_MEMORY_LIMIT),
    )
    settings.keys.pending(settings.queue)  # validates prefix and queue names
    return settings
