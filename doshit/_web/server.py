"""``doshit serve``: the HTTP API and dashboard under uvicorn, stopped gracefully by SIGTERM or SIGINT
(Ctrl-C) with exit status 0: no new connections, long polls and event streams end within a second,
requests under way finish (at most GRACE seconds), then the connections to Redis are closed."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import uvicorn

from .._core.config import Settings
from .app import create_app
from .views import Shutdown

GRACE = 10
"""Seconds a stop waits for requests under way before it cancels them."""
TOKEN_CHARS = frozenset(chr(code) for code in range(0x21, 0x7F)) - set('",;\\')
"""What a token may hold: visible ASCII but for the characters a cookie value cannot carry as is."""


class TokenError(Exception):
    """The token file cannot be used."""


def read_token(path: str) -> str:
    """The first line of the file, stripped; TokenError when it cannot be read or is empty."""
    try:
        with Path(path).open(encoding="utf-8") as file:
            line = file.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"cannot read the token file {path}: {exc}") from None
    token = line.strip()
    if not token:
        raise TokenError(f"the token file {path} is empty: its first line must hold the token")
    if not set(token) <= TOKEN_CHARS:
        raise TokenError(
            f"the token in {path} must be visible ASCII characters without spaces, quotes, commas, semicolons or "
            "backslashes (e.g. from `openssl rand -hex 32`)"
        )
    return token


class Server(uvicorn.Server):
    """uvicorn's server that also tells the application it is stopping, and exits 0 on a signal
    (uvicorn would raise the signal again once stopped)."""

    def __init__(self, config: uvicorn.Config, shutdown: Shutdown) -> None:
        super().__init__(config)
        self.stopping = shutdown

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.stopping.set()
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: do not wait for requests under way
        else:
            self.should_exit = True


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token_file: str | None = None,
    read_only: bool = False,
    queues: Sequence[str] = (),
) -> int:
    """Run until SIGTERM or SIGINT; the exit status (2: the token file cannot be used)."""
    token = None
    if token_file is not None:
        try:
            token = read_token(token_file)
        except TokenError as exc:
            sys.stderr.write(f"doshit: error: {exc}\n")
            return 2
    app = create_app(settings, token=token, read_only=read_only, queues=queues)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        timeout_graceful_shutdown=GRACE,
        server_header=False,
        proxy_headers=False,
        log_level="info",
    )
    server = Server(config, app.state.shutdown)
    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        sys.stderr.write(
            f"doshit: warning: serving on {host} without --token-file: anyone who can reach it can read and "
            "change the queues\n"
        )
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"doshit: serving {settings.describe()} prefix {settings.prefix} on http://{shown}:{port}/"
        f"{' (read-only)' if read_only else ''}{' (token required)' if token else ''}\n"
    )
    server.run()
    return 0
