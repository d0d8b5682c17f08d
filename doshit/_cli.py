"""Command lines: ``doshit-worker`` and the legacy ``doshit worker tasks.py -q QUEUE``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback

from ._core.config import resolve
from ._core.schema import DEFAULT_PREFIX, DEFAULT_QUEUE, DEFAULT_URL, RESULT_TTL, Env
from ._errors import DoshitError
from ._worker.app import AppRef
from ._worker.worker import POOLS, SHUTDOWN_TIMEOUT, Worker

QUEUE_HELP = f"queue to serve (default: ${Env.QUEUE} or {DEFAULT_QUEUE})"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
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
        type=int,
        default=RESULT_TTL,
        metavar="SECONDS",
        help="keep finished task hashes this long unless the task says (0: forever; default %(default)s)",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=SHUTDOWN_TIMEOUT,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, wait this long for running tasks before killing them (default %(default)s)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log every task")


def worker_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doshit-worker", description="Run registered functions for doshit tasks.")
    parser.add_argument(
        "--app",
        "-a",
        required=True,
        metavar="MODULE[:ATTR]",
        help="where the Registry is: tasks:registry, tasks (finds `registry`), or path/to/tasks.py",
    )
    parser.add_argument("--queue", "-q", help=QUEUE_HELP)
    parser.add_argument(
        "--redis-url",
        "-r",
        help=f"redis://, rediss:// or unix:// URL (default: ${Env.URL}, then ${Env.REDIS_JSON}, then {DEFAULT_URL})",
    )
    _add_common(parser)
    return parser


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, app: AppRef, url: str | None) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        registry = app.load()
        settings = resolve(url, prefix=args.prefix, queue=args.queue)
        worker = Worker(
            registry,
            settings=settings,
            concurrency=args.concurrency,
            pool=args.pool,
            app=app,
            burst=args.burst,
            result_ttl=args.result_ttl,
            shutdown_timeout=args.shutdown_timeout,
        )
    except (DoshitError, ValueError) as exc:
        if args.verbose:
            traceback.print_exc()
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    worker.run()
    return 0


def worker_main(argv: list[str] | None = None) -> int:
    parser = worker_parser()
    args = parser.parse_args(argv)
    return _run(parser, args, AppRef(args.app), args.redis_url)


def legacy_main(argv: list[str] | None = None) -> int:
    """``doshit worker TASKS [-q QUEUE] [-r REDIS_JSON]``: the legacy command, running @task() functions."""
    parser = argparse.ArgumentParser(prog="doshit", description="doshit command line (legacy form).")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run the functions a module decorated with @task()")
    worker.add_argument("tasks", metavar="TASKS", help="tasks module or file, e.g. tasks.py")
    worker.add_argument("--queue", "-q", help=QUEUE_HELP)
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
