"""Command lines: ``doshit-worker`` and the legacy ``doshit worker tasks.py -q QUEUE``.

Exit status: 0 after a clean stop; 1 when results could not be written before exiting (Redis was
unavailable for longer than the shutdown timeout; those tasks stay executing, to be recovered); 2 for
a configuration error (a bad argument or URL, a registry that cannot be loaded, a password or database
that Redis refuses).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import traceback
from collections.abc import Callable

from . import _config_file as config_file
from ._core.config import resolve
from ._core.schema import (
    DEFAULT_PREFIX,
    DEFAULT_QUEUE,
    DEFAULT_URL,
    HEARTBEAT_INTERVAL,
    MAX_ARGS_BYTES,
    MAX_DEPTH,
    MAX_RESULT_BYTES,
    RESULT_TTL,
    RESULT_TTL_MAX_SECONDS,
    Env,
)
from ._errors import DoshitError
from ._logs import LOG_FORMATS, configure
from ._version import __version__
from ._worker.app import AppRef
from ._worker.events import HOOK_TIMEOUT
from ._worker.worker import (
    POOLS,
    RECOVERY_GRACE,
    RECOVERY_INTERVAL,
    RECOVERY_RETRIES,
    SHUTDOWN_TIMEOUT,
    Worker,
)

QUEUE_HELP = (
    f"queue to serve (default: ${Env.QUEUE} or {DEFAULT_QUEUE}); repeat it to serve several, earlier ones first: "
    "-q high -q default"
)


EXIT_UNWRITTEN = 1
"""Exit status when results could not be written before exiting."""
EXIT_CONFIG = 2
"""Exit status for a configuration error (argparse uses it for bad arguments too)."""


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"must be from {low} to {high}: {text}" if high else f"must be at least {low}: {text}"
            )
        return value

    return parse


_positive = _whole(1)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, at least 0: {text}")
    return value


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--concurrency", "-c", type=_positive, help="tasks at once (default: CPU count for the process pool, 10 inline)"
    )
    parser.add_argument(
        "--pool",
        choices=POOLS,
        default=POOLS[0],
        help="process: long-lived child processes (default); inline: in the worker, for I/O-bound async work",
    )
    parser.add_argument("--prefix", help=f"key prefix (default: ${Env.PREFIX} or {DEFAULT_PREFIX})")
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    parser.add_argument(
        "--result-ttl",
        type=_whole(0, RESULT_TTL_MAX_SECONDS),
        default=RESULT_TTL,
        metavar="SECONDS",
        help="keep finished task hashes this long unless the task says (0: forever; default %(default)s)",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=_seconds,
        default=SHUTDOWN_TIMEOUT,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, wait this long for running tasks before killing them, and as long again "
        "for Redis to take the results (default %(default)s)",
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-args-bytes", type=_positive, default=MAX_ARGS_BYTES, metavar="BYTES",
                        help="fail tasks whose args JSON is larger (default %(default)s)")  # fmt: skip
    limits.add_argument("--max-result-bytes", type=_positive, default=MAX_RESULT_BYTES, metavar="BYTES",
                        help="fail tasks whose return value is larger as JSON (default %(default)s)")  # fmt: skip
    limits.add_argument("--max-depth", type=_positive, default=MAX_DEPTH, metavar="LEVELS",
                        help="fail tasks whose args nest deeper (default %(default)s)")  # fmt: skip
    limits.add_argument("--max-tasks-per-child", type=_positive, metavar="N",
                        help="process pool: replace a child process after N tasks (default: never)")  # fmt: skip
    limits.add_argument("--max-memory-per-child", type=_positive, metavar="BYTES",
                        help="process pool: replace a child process whose resident memory is above this after a "
                        "task (default: never)")  # fmt: skip
    recovery = parser.add_argument_group("time limits and recovery")
    recovery.add_argument("--task-timeout", type=_seconds, metavar="SECONDS",
                          help="kill a task running longer, unless the task or its function says otherwise "
                          "(default: no limit)")  # fmt: skip
    recovery.add_argument("--recovery-interval", type=_seconds, default=RECOVERY_INTERVAL, metavar="SECONDS",
                          help="look this often for the tasks of dead workers (default %(default)s)")  # fmt: skip
    recovery.add_argument("--recovery-grace", type=_seconds, default=RECOVERY_GRACE, metavar="SECONDS",
                          help="give a task back only after it has been without a live owner this long "
                          "(default %(default)s)")  # fmt: skip
    recovery.add_argument("--recovery-retries", type=_whole(0, 1000), default=RECOVERY_RETRIES, metavar="N",
                          help="runs a task gets again after its worker died, when it does not say "
                          "(default %(default)s)")  # fmt: skip
    hooks = parser.add_argument_group("failure hook")
    hooks.add_argument("--on-failure", metavar="COMMAND",
                       help="run this command (split like a shell would, but run without one) when a task fails for "
                       "good: the task id, function, reason and attempt in DOSHIT_* variables, the whole event as "
                       "JSON on stdin")  # fmt: skip
    hooks.add_argument("--hook-timeout", type=_seconds, default=HOOK_TIMEOUT, metavar="SECONDS",
                       help="kill a failure command, or give up on a hook, after this long "
                       "(default %(default)s)")  # fmt: skip
    parser.add_argument("--heartbeat-interval", type=_seconds, default=HEARTBEAT_INTERVAL, metavar="SECONDS",
                        help="renew the worker hash this often; it expires after 3 intervals without (default "
                        "%(default)s)")  # fmt: skip
    parser.add_argument("--log-format", choices=LOG_FORMATS, default=LOG_FORMATS[0],
                        help="text (default) or json: one JSON object per line, for log shippers")  # fmt: skip
    parser.add_argument("--verbose", "-v", action="store_true", help="log every task")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")


def _queues(given: list[str] | str | None) -> list[str] | None:
    """The queues named by -q (and a config file), in order, each once; None for the default."""
    if not given:
        return None
    names = [given] if isinstance(given, str) else given
    return list(dict.fromkeys(names))


def _command(given: list[str] | str | None) -> list[str] | None:
    """A command given as one string (split like a shell would, never run by one) or as a list."""
    if not given:
        return None
    if isinstance(given, str):
        try:
            argv = shlex.split(given)
        except ValueError as exc:
            raise ValueError(f"--on-failure {given!r}: {exc}") from None
        if not argv:
            raise ValueError("--on-failure names no command")
        return argv
    return list(given)


def worker_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doshit-worker", description="Run registered functions for doshit tasks.")
    parser.add_argument(
        "--app",
        "-a",
        metavar="MODULE[:ATTR]",
        help="where the Registry is: tasks:registry, tasks (finds `registry`), or path/to/tasks.py "
        "(required unless --config names apps or command tasks)",
    )
    config_file.add_argument(parser)
    parser.add_argument("--queue", "-q", action="append", metavar="QUEUE", help=QUEUE_HELP)
    parser.add_argument(
        "--redis-url",
        "-r",
        help=f"redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URL "
        f"(default: ${Env.URL}, then ${Env.REDIS_JSON}, then {DEFAULT_URL})",
    )
    _add_common(parser)
    return parser


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, app: AppRef, url: str | None) -> int:
    configure(logging.DEBUG if args.verbose else logging.INFO, args.log_format)
    try:
        registry = app.load()
        queues = _queues(args.queue)
        settings = resolve(url, prefix=args.prefix, queue=queues[0] if queues else None)
        worker = Worker(
            registry,
            settings=settings,
            queues=queues,
            on_failure=_command(args.on_failure),
            hook_timeout=args.hook_timeout,
            concurrency=args.concurrency,
            pool=args.pool,
            app=app,
            burst=args.burst,
            result_ttl=args.result_ttl,
            shutdown_timeout=args.shutdown_timeout,
            max_args_bytes=args.max_args_bytes,
            max_result_bytes=args.max_result_bytes,
            max_depth=args.max_depth,
            max_tasks_per_child=args.max_tasks_per_child,
            max_memory_per_child=args.max_memory_per_child,
            log_format=args.log_format,
            heartbeat_interval=args.heartbeat_interval,
            task_timeout=args.task_timeout or None,
            recovery_interval=args.recovery_interval,
            recovery_grace=args.recovery_grace,
            recovery_retries=args.recovery_retries,
        )
        worker.run()
    except (DoshitError, ValueError) as exc:
        if args.verbose:
            traceback.print_exc()
        parser.exit(EXIT_CONFIG, f"{parser.prog}: error: {exc}\n")
    return EXIT_UNWRITTEN if worker.unwritten else 0


def worker_main(argv: list[str] | None = None) -> int:
    parser = worker_parser()
    parser.set_defaults(**config_file.defaults(parser, argv))
    args = parser.parse_args(argv)
    return _run(parser, args, config_file.worker_app(parser, args), args.redis_url)


def legacy_main(argv: list[str] | None = None) -> int:
    """``doshit worker TASKS [-q QUEUE] [-r REDIS_JSON]``: the legacy command, running @task() functions."""
    parser = argparse.ArgumentParser(prog="doshit", description="doshit command line (legacy form).")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run the functions a module decorated with @task()")
    worker.add_argument("tasks", metavar="TASKS", help="tasks module or file, e.g. tasks.py")
    worker.add_argument("--queue", "-q", action="append", metavar="QUEUE", help=QUEUE_HELP)
    worker.add_argument(
        "--redis", "-r", metavar="JSON", help="redis connection keywords as JSON (legacy), or a redis:// URL"
    )
    _add_common(worker)
    args = parser.parse_args(argv)
    url = None
    if args.redis:
        if "://" in args.redis:
            url = args.redis
        else:
            try:
                json.loads(args.redis)
            except ValueError as exc:
                parser.exit(2, f"doshit: error: --redis is neither JSON nor a URL: {exc}\n")
            os.environ[Env.REDIS_JSON] = args.redis
            os.environ.pop(Env.URL, None)
    return _run(worker, args, AppRef(args.tasks, legacy=True), url)


if __name__ == "__main__":
    sys.exit(worker_main())
