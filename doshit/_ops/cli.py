"""``doshit``: inspect and control a doshit deployment from a terminal or a script.

    doshit status [--watch [SECONDS]]       queues (pending, executing, scheduled, failed) and live workers
    doshit workers                          live workers and what each runs now
    doshit tasks [--state S] [-q Q] [--function F] [--limit N] [--order date|state|function]
    doshit show ID [--watch] [--full]       every field of a task, decoded
    doshit submit FUNCTION key=value ...    submit a task (value: JSON when it parses, else a string)
    doshit wait ID [--timeout S]            wait for a task and print its result
    doshit cancel ID... | -q Q --all-pending
    doshit requeue ID... | --failed [-q Q] [--function F] [--since T]
    doshit purge --failed|--finished [-q Q] [--older-than 1d] [--dry-run]
    doshit kill ID | --all
    doshit serve [--host H] [--port P] [--token-file F] [--read-only] [-q Q]   HTTP API, dashboard, metrics
    doshit worker TASKS -q Q                the legacy worker command, unchanged

Every command takes ``--redis-url/-r``, ``--prefix`` and ``--json`` (one JSON document on stdout),
and reads ``DOSHIT_REDIS_URL``, ``DOSHIT_REDIS``, ``DOSHIT_APP_PREFIX`` and ``DOSHIT_QUEUE`` as the
worker does.

Exit status:
  0  done
  1  an id was not found, or a task was not in a state the command acts on (nothing done to it)
  2  usage or configuration error: a bad argument, URL, prefix or queue name, Redis refused access
  3  a task waited for (wait, submit --wait) finished failed
  4  a wait timed out (the task may still finish later)
  5  Redis is unreachable or unavailable (loading, busy), or answered with an unexpected error
  130  interrupted (Ctrl-C), except --watch, which stops with 0 on Ctrl-C or SIGTERM
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any, NoReturn

import redis

from .._core import codec
from .._core.config import Settings, resolve
from .._core.keys import check_queue, check_task_id
from .._core.schema import Env, Result, State, TaskField, WorkerField
from .._core.taskinfo import TaskInfo
from .._core.text import is_utf8, shown
from .._errors import ConfigError, DecodeError, DoshitError, TaskExists, TaskNotFound, TaskTimeout
from .._redis import config_problem, unavailable
from .._version import __version__
from .queries import (
    ORDERS,
    STATES,
    FieldView,
    Ops,
    Outcome,
    QueueStats,
    TaskRow,
    WorkerRow,
    decode_fields,
    order_rows,
    parse_time,
    seconds_since,
)
from .table import DASH, Progress, age, bar, clean, number, table

EXIT_OK = 0
EXIT_NOT_DONE = 1
EXIT_USAGE = 2
EXIT_TASK_FAILED = 3
EXIT_TIMEOUT = 4
EXIT_UNAVAILABLE = 5
EXIT_INTERRUPTED = 130

EPILOG = """\
exit status:
  0  done
  1  an id was not found, or a task was not in a state the command acts on
  2  usage or configuration error (bad argument, URL, prefix, queue; Redis refused access)
  3  a task waited for (wait, submit --wait) finished failed
  4  a wait timed out (the task may still finish later)
  5  Redis unreachable or unavailable, or an unexpected Redis error
  130  interrupted (Ctrl-C); --watch stops with 0 on Ctrl-C or SIGTERM

Every command takes --redis-url/-r, --prefix and --json (one JSON document on stdout), and reads
DOSHIT_REDIS_URL, DOSHIT_REDIS, DOSHIT_APP_PREFIX and DOSHIT_QUEUE as the worker does.
Cost: status, workers, show, wait, cancel, kill and the indexed states of tasks read only the
queues' lists and sets; tasks --state successful|finished|all and purge --finished SCAN the task
keys of the prefix, O(keys in the database). KEYS is never used.
"""

DEFAULT_LIMIT = 50
VALUE_CHARS = 500
"""At most this much of a field's value is shown by `show` without --full."""
TRACEBACK_LINES = 60
"""At most this many last lines of error-exception are shown by `show` without --full."""


# --------------------------------------------------------------------------- argument types


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors say ``doshit: error: ...`` and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"doshit: error: {message}\n")


def _task_id(text: str) -> str:
    try:
        return check_task_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _queue(text: str) -> str:
    try:
        return check_queue(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < 1e9:
        raise argparse.ArgumentTypeError(f"must be a number of seconds from 0: {text}")
    return value


def _interval(text: str) -> float:
    value = _seconds(text)
    if value < 0.1:
        raise argparse.ArgumentTypeError(f"must be at least 0.1 seconds: {text}")
    return value


def _add_watch(parser: argparse.ArgumentParser, every: float, until: str) -> None:
    parser.add_argument("--watch", "-w", nargs="?", const=every, type=_interval, metavar="SECONDS",
                        help=f"redraw every SECONDS (default {every:g}) {until}")  # fmt: skip


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"not a whole number from 0: {text!r}")
    return int(text)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` (or a sum: ``1h30m``)."""
    rest, total, seen = text.strip().lower(), 0.0, False
    if rest.replace(".", "", 1).isdigit():
        return float(rest)
    while rest:
        digits = ""
        while rest and (rest[0].isdigit() or rest[0] == "."):
            digits, rest = digits + rest[0], rest[1:]
        if not digits or not rest or rest[0] not in _UNITS:
            raise argparse.ArgumentTypeError(f"not a duration (e.g. 90s, 15m, 2h, 1d, 1w): {text!r}")
        try:
            total += float(digits) * _UNITS[rest[0]]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a duration (e.g. 90s, 15m, 2h, 1d, 1w): {text!r}") from None
        rest, seen = rest[1:], True
    if not seen:
        raise argparse.ArgumentTypeError(f"not a duration (e.g. 90s, 15m, 2h, 1d, 1w): {text!r}")
    return total


def moment(text: str) -> datetime:
    """A point in time: a duration ago (``1h``: an hour ago) or an ISO date and time (UTC unless it
    says otherwise)."""
    try:
        return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=duration(text))
    except argparse.ArgumentTypeError:
        pass
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: give a duration ago (30m, 2h, 1d) or an ISO date (2024-05-01T12:00:00Z): {text!r}"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _key_value(text: str) -> tuple[str, Any]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"arguments are key=value, got {text!r}")
    if key.startswith("_"):
        raise argparse.ArgumentTypeError(f"argument names starting with '_' are reserved for options: {key!r}")
    try:
        return key, codec.decode(value)
    except DecodeError:
        return key, value


# --------------------------------------------------------------------------- the parser


def _common(sub: argparse.ArgumentParser, *, output_json: bool = True) -> None:
    """Options every command takes, after the command name too (they only override when given)."""
    sub.add_argument("--redis-url", "-r", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub.add_argument("--prefix", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    if output_json:
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document")


def parser() -> Parser:
    main = Parser(
        prog="doshit",
        description="Inspect and control doshit queues, workers and tasks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    main.add_argument(
        "--redis-url",
        "-r",
        help=f"redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URL "
        f"(default: ${Env.URL}, then ${Env.REDIS_JSON}, then the default)",
    )
    main.add_argument("--prefix", help=f"key prefix (default: ${Env.PREFIX} or doshit)")
    main.add_argument("--json", action="store_true", help="print one JSON document on stdout, for scripts")
    main.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = main.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def add(name: str, help_text: str, description: str | None = None, **kwargs: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=description or help_text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(sub, **kwargs)
        return sub

    queue_help = "a queue (repeat for several; default: the default queue and every queue a live worker serves)"

    sub = add(
        "status",
        "queue counts and live workers",
        "Per queue: pending, executing, scheduled and failed counts; then the live workers. Reads the queues' "
        "lists and sets and the workers index (no scan). Queues: the default queue ($DOSHIT_QUEUE or default), "
        "every --queue, and every queue a live worker serves.",
    )
    sub.add_argument("--queue", "-q", action="append", type=_queue, help=queue_help)
    _add_watch(sub, 2.0, "until Ctrl-C or SIGTERM (exit 0)")

    sub = add(
        "workers",
        "live workers and what they run",
        "The live workers (workers index, then each worker hash) and the tasks each runs now (the executing lists "
        "of the queues they serve). tasks-successful/failed/retried show a dash for workers that do not write them.",
    )
    _add_watch(sub, 2.0, "until Ctrl-C or SIGTERM (exit 0)")

    sub = add(
        "tasks",
        "list tasks",
        "List tasks. Without --state: pending, executing, scheduled and failed tasks, read from the queues' lists "
        "and sets (cost: their length). --state successful, finished or all SCAN every task key of the prefix: "
        "O(keys in the database); finished tasks have no index.",
    )
    sub.add_argument("--queue", "-q", action="append", type=_queue, help=queue_help)
    sub.add_argument("--state", "-s", choices=STATES, help="only tasks in this state (failed/successful: finished so)")
    sub.add_argument("--function", "-f", help="only tasks of this function")
    sub.add_argument("--limit", "-n", type=_count, default=DEFAULT_LIMIT,
                     help="show at most N (default %(default)s; 0: all)")  # fmt: skip
    sub.add_argument("--order", "-o", choices=ORDERS, default=ORDERS[0],
                     help="date: newest submitted first (default); state; function")  # fmt: skip

    sub = add("show", "every field of one task", "Every field of the task hash, decoded (HGETALL: no scan).")
    sub.add_argument("task_id", metavar="ID", type=_task_id)
    _add_watch(sub, 1.0, "until the task is finished")
    sub.add_argument("--full", action="store_true", help="whole values and tracebacks, not cut")

    sub = add(
        "submit",
        "submit a task",
        "Submit a call of FUNCTION. Arguments are key=value: the value is read as JSON when it parses "
        '(n=3 is the number 3, flag=true a boolean, tags=\'["a","b"]\' a list, s=\'"3"\' the string "3"), '
        "else taken as a string (name=alice). Or give them all as one JSON object: --json '{\"n\": 3}' "
        "(--json without a value asks for JSON output, as for every command; --args OBJECT does both).",
        output_json=False,
    )
    sub.add_argument("function", metavar="FUNCTION")
    sub.add_argument("arguments", metavar="key=value", nargs="*", type=_key_value)
    sub.add_argument("--json", nargs="?", const=True, default=argparse.SUPPRESS, metavar="OBJECT",
                     help="the arguments as a JSON object; without OBJECT: print one JSON document")  # fmt: skip
    sub.add_argument("--args", metavar="OBJECT", help="the arguments as a JSON object")
    sub.add_argument("--queue", "-q", type=_queue, help="queue to push on (default: $DOSHIT_QUEUE or default)")
    sub.add_argument("--delay", type=_seconds, metavar="SECONDS", help="run it this many seconds from now")
    sub.add_argument("--retries", type=_count, metavar="N", help="runs allowed again after a failure")
    sub.add_argument("--timeout", type=_count, metavar="SECONDS", help="kill the task if it runs longer")
    sub.add_argument("--result-ttl", type=_count, metavar="SECONDS", help="keep the finished task this long (0: ever)")
    sub.add_argument("--task-id", type=_task_id, metavar="ID", help="the id to give it (refused if taken)")
    sub.add_argument("--wait", action="store_true", help="wait for the result and print it (exit 3 if it failed)")
    sub.add_argument("--wait-timeout", type=_seconds, metavar="SECONDS", help="with --wait: give up after (exit 4)")

    sub = add("wait", "wait for a task and print its result", "Wait until the task is finished; print its result.")
    sub.add_argument("task_id", metavar="ID", type=_task_id)
    sub.add_argument("--timeout", "-t", type=_seconds, metavar="SECONDS", help="give up after (exit 4)")

    sub = add(
        "cancel",
        "cancel tasks (kill executing ones)",
        "Cancel pending or scheduled tasks; an executing one is killed. --all-pending cancels every task on the "
        "queue's pending list (cost: its length).",
    )
    sub.add_argument("task_ids", metavar="ID", nargs="*", type=_task_id)
    sub.add_argument("--queue", "-q", type=_queue, help="with --all-pending: the queue (default: the default queue)")
    sub.add_argument("--all-pending", action="store_true", help="every pending task of the queue")

    sub = add(
        "requeue",
        "run failed tasks again",
        "Run failed tasks again (their failure is kept in errors). --failed selects them from the queues' failed "
        "indexes (no scan; cost: the index's size).",
    )
    sub.add_argument("task_ids", metavar="ID", nargs="*", type=_task_id)
    sub.add_argument("--failed", action="store_true", help="every failed task of the queues (see the filters)")
    sub.add_argument("--queue", "-q", action="append", type=_queue, help=queue_help)
    sub.add_argument("--function", "-f", help="with --failed: only tasks of this function")
    sub.add_argument("--since", type=moment, metavar="T",
                     help="with --failed: only tasks that failed since T (a duration ago: 30m, 2h, 1d; or an ISO "
                     "time)")  # fmt: skip

    sub = add(
        "purge",
        "delete finished task hashes",
        "Delete the hashes of finished tasks. --failed reads the queues' failed indexes (no scan); --finished "
        "(successful and failed) SCANs every task key of the prefix: O(keys in the database). A task that changes "
        "while it is being purged (requeued, say) is left alone.",
    )
    which = sub.add_mutually_exclusive_group(required=True)
    which.add_argument("--failed", action="store_true", help="failed tasks")
    which.add_argument("--finished", action="store_true", help="every finished task, successful or failed")
    sub.add_argument("--queue", "-q", action="append", type=_queue,
                     help="only tasks of this queue (repeat for several; default: every queue)")  # fmt: skip
    sub.add_argument("--older-than", type=duration, metavar="AGE",
                     help="only tasks that finished longer ago than AGE (90s, 15m, 2h, 1d, 1w)")  # fmt: skip
    sub.add_argument("--dry-run", "-n", action="store_true", help="count what would be deleted, delete nothing")

    sub = add("kill", "kill executing tasks", "Kill an executing task (it finishes failed), or --all tasks of all "
              "workers of the prefix.")  # fmt: skip
    target = sub.add_mutually_exclusive_group(required=True)
    target.add_argument("task_id", metavar="ID", nargs="?", type=_task_id)
    target.add_argument("--all", action="store_true", help="every task every worker of the prefix runs")

    sub = add(
        "serve",
        "HTTP API, dashboard and metrics",
        "Serve the JSON API, the live dashboard and Prometheus metrics over HTTP (needs pip install "
        "'doshit[web]'). Loopback only by default. Stops gracefully on SIGTERM or Ctrl-C (exit 0).",
        output_json=False,
    )
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    sub.add_argument("--port", type=int, default=8000, help="port to listen on (default %(default)s)")
    sub.add_argument("--token-file", metavar="FILE",
                     help="require the token on the first line of FILE (Authorization: Bearer TOKEN)")  # fmt: skip
    sub.add_argument("--read-only", action="store_true", help="refuse every write (submit, cancel, requeue): 403")
    sub.add_argument("--queue", "-q", dest="queues", action="append", type=_queue, default=[], metavar="QUEUE",
                     help="always show this queue, even before a worker serves it (repeat for several)")  # fmt: skip

    commands.add_parser(
        "worker",
        help="run the functions of a module decorated with @task() (the legacy form; see doshit worker --help)",
        add_help=False,
    )
    return main


# --------------------------------------------------------------------------- output


def _jsonable(value: Any) -> Any:
    """The value with datetimes as schema timestamps and text that is not UTF-8 escaped, for json.dumps."""
    if isinstance(value, str):
        return value if is_utf8(value) else value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, datetime):
        return codec.format_timestamp(value)
    if isinstance(value, dict):
        return {_jsonable(str(key)): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def dump(data: Any) -> str:
    return json.dumps(_jsonable(data), ensure_ascii=False, indent=None, separators=(",", ":"))


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    sys.stderr.write(f"doshit: warning: {clean(message, 500)}\n")


def fail(message: str) -> None:
    sys.stderr.write(f"doshit: error: {message}\n")


class Stop(Exception):
    """SIGTERM during --watch."""


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Stop


def watch(interval: float, frame: Callable[[], tuple[str, bool]], as_json: bool) -> int:
    """Redraw ``frame()`` every interval until it says done, Ctrl-C or SIGTERM: exit 0. On a terminal
    the screen is cleared before each frame; elsewhere frames follow each other (one JSON document a
    line with --json). A Redis that goes away is shown, and tried again at the next interval."""
    previous = signal.signal(signal.SIGTERM, _on_term)
    tty = sys.stdout.isatty() and not as_json
    try:
        while True:
            try:
                text, done = frame()
            except (redis.RedisError, OSError) as exc:
                if not unavailable(exc):
                    raise
                text, done = f"Redis unavailable ({clean(str(exc), 200)}); trying again\n", False
            if tty:
                sys.stdout.write("\033[H\033[2J" + time.strftime("%H:%M:%S") + f"  every {interval:g}s\n\n")
            out(text)
            if done:
                return EXIT_OK
            time.sleep(interval)
    except (KeyboardInterrupt, Stop):
        return EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- status and workers


def _running_cell(row: WorkerRow, now: float) -> str:
    if not row.running:
        return "idle"
    first = row.running[0]
    text = f"{clean(first.function or '?', 30)} {age(seconds_since(first.started, now))}"
    return text + (f" +{len(row.running) - 1}" if len(row.running) > 1 else "")


def workers_table(rows: Sequence[WorkerRow], now: float) -> str:
    if not rows:
        return "no live workers\n"
    body = [
        [
            clean(row.worker_id, 40),
            clean(row.fields.get(WorkerField.HOSTNAME, DASH), 30),
            number(row.count(WorkerField.PID)),
            clean(",".join(row.queues) or DASH, 40),
            clean(row.fields.get(WorkerField.POOL, DASH), 10),
            number(row.count(WorkerField.CONCURRENCY)),
            _running_cell(row, now),
            age(seconds_since(row.heartbeat, now)),
            number(row.count(WorkerField.TASKS_SUCCESSFUL)),
            number(row.count(WorkerField.TASKS_FAILED)),
            number(row.count(WorkerField.TASKS_RETRIED)),
        ]
        for row in rows
    ]
    headers = ["WORKER", "HOST", "PID", "QUEUES", "POOL", "CONC", "RUNNING", "HEARTBEAT", "DONE", "FAILED", "RETRIED"]
    return table(headers, body, right=(2, 5, 7, 8, 9, 10))


def running_table(rows: Sequence[WorkerRow], now: float) -> str:
    body = [
        [
            clean(row.worker_id, 40),
            clean(task.task_id, 80),
            clean(task.function or DASH, 40),
            task.queue,
            age(seconds_since(task.started, now)),
        ]
        for row in rows
        for task in row.running
    ]
    if not body:
        return ""
    return "\n" + table(["WORKER", "TASK", "FUNCTION", "QUEUE", "RUNNING FOR"], body, right=(4,))


def queues_table(stats: Sequence[QueueStats]) -> str:
    def cell(value: int | None) -> str:
        return "?" if value is None else str(value)

    body = [[row.name, cell(row.pending), cell(row.executing), cell(row.scheduled), cell(row.failed)] for row in stats]
    return table(["QUEUE", "PENDING", "EXECUTING", "SCHEDULED", "FAILED"], body, right=(1, 2, 3, 4))


def _problems_text(problems: Sequence[str]) -> str:
    return "".join(f"warning: {clean(problem, 300)}\n" for problem in problems)


def cmd_status(ops: Ops, args: argparse.Namespace) -> int:
    def frame() -> tuple[str, bool]:
        now = time.time()
        workers, problems = ops.workers()
        stats = ops.queue_stats(ops.queues(args.queue or (), workers))
        problems += [problem for row in stats for problem in row.problems]
        if args.json:
            data = {
                "queues": [row.as_dict() for row in stats],
                "workers": [row.as_dict(now) for row in workers],
                "problems": problems,
            }
            return dump(data), False
        text = queues_table(stats) + "\n" + workers_table(workers, now) + _problems_text(problems)
        return text, False

    if args.watch:
        return watch(args.watch, frame, args.json)
    out(frame()[0])
    return EXIT_OK


def cmd_workers(ops: Ops, args: argparse.Namespace) -> int:
    def frame() -> tuple[str, bool]:
        now = time.time()
        workers, problems = ops.workers()
        if args.json:
            return dump({"workers": [row.as_dict(now) for row in workers], "problems": problems}), False
        return workers_table(workers, now) + running_table(workers, now) + _problems_text(problems), False

    if args.watch:
        return watch(args.watch, frame, args.json)
    out(frame()[0])
    return EXIT_OK


# --------------------------------------------------------------------------- tasks


def _note(row: TaskRow, now: float) -> str:
    if row.problem is not None:
        return f"unreadable: {row.problem}"
    fields = row.fields
    if fields.get(TaskField.ERROR_REASON):
        return fields[TaskField.ERROR_REASON]
    if fields.get(TaskField.STATE) == State.SCHEDULED:
        due = parse_time(fields.get(TaskField.SCHEDULED_FOR))
        return DASH if due is None else f"due in {age(due.timestamp() - now)}"
    if fields.get(TaskField.STATE) == State.EXECUTING:
        started = parse_time(fields.get(TaskField.EXECUTING_CREATED))
        return f"running {age(seconds_since(started, now))} on {fields.get(TaskField.WORKER, '?')}"
    return ""


def cmd_tasks(ops: Ops, args: argparse.Namespace) -> int:
    queues = args.queue or ops.queues()
    with Progress("scanning task keys", None) as progress:
        rows, problems = ops.tasks(
            queues, state=args.state, function=args.function, all_queues=not args.queue, on_step=progress.step
        )
    rows = order_rows(rows, args.order)
    shown_rows = rows[: args.limit] if args.limit else rows
    now = time.time()
    if args.json:
        out(dump({"tasks": [row.as_dict() for row in shown_rows], "total": len(rows), "problems": problems}))
        return EXIT_OK
    body = [
        [
            clean(row.task_id, 80),
            clean(row.fields.get(TaskField.QUEUE, DASH), 30),
            clean(row.fields.get(TaskField.FUNCTION, DASH), 40),
            clean(row.state or DASH, 12),
            age(seconds_since(row.submitted, now)),
            clean(row.fields.get(TaskField.ATTEMPT, DASH), 8),
            clean(_note(row, now), 80),
        ]
        for row in shown_rows
    ]
    if body:
        out(table(["ID", "QUEUE", "FUNCTION", "STATE", "AGE", "ATTEMPT", "NOTE"], body, right=(4, 5)))
    else:
        out("no tasks")
    if len(shown_rows) < len(rows):
        sys.stderr.write(f"showing {len(shown_rows)} of {len(rows)} tasks (--limit 0 for all)\n")
    for problem in problems:
        warn(problem)
    return EXIT_OK


# --------------------------------------------------------------------------- show


def _fraction(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def _render_value(view: FieldView, limit: int | None, now: float) -> str:
    if view.kind == "timestamp" and isinstance(view.value, datetime):
        ago = now - view.value.timestamp()
        return f"{view.raw}  ({age(ago)} ago)" if ago >= 0 else f"{view.raw}  (in {age(-ago)})"
    fraction = view.value
    if view.name == TaskField.PROGRESS and _fraction(fraction):
        return f"{fraction:.0%} {bar(float(fraction))}"
    if view.kind in ("json", "json-object", "json-array"):
        try:
            return clean(codec.encode(view.value), limit)
        except DoshitError:
            return clean(view.raw, limit)
    return clean(view.raw, limit)


def _block(text: str, full: bool, lines: int = TRACEBACK_LINES) -> list[str]:
    parts = text.rstrip("\n").split("\n")
    head: list[str] = []
    if not full and len(parts) > lines:
        head = [f"    ... {len(parts) - lines} lines above (--full shows them)"]
        parts = parts[-lines:]
    return head + [f"    {clean(line, None if full else VALUE_CHARS)}" for line in parts]


def _render_errors(value: Any, full: bool) -> list[str]:
    lines = []
    for index, entry in enumerate(value if isinstance(value, list) else [], 1):
        if not isinstance(entry, dict):
            lines.append(f"  {index}. {clean(codec.encode(entry), VALUE_CHARS)}")
            continue
        where = f" on worker {clean(str(entry['worker']), 60)}" if entry.get("worker") else ""
        lines.append(
            f"  {index}. attempt {clean(str(entry.get('attempt', '?')), 20)} at {clean(str(entry.get('at', '?')), 40)}"
            f"{where}: {clean(str(entry.get('reason', '')), None if full else VALUE_CHARS)}"
        )
        if isinstance(entry.get("exception"), str) and entry["exception"]:
            lines += _block(entry["exception"], full, 12)
    return lines


def render_task(task_id: str, fields: dict[str, str], full: bool) -> str:
    now = time.time()
    limit = None if full else VALUE_CHARS
    views = decode_fields(fields)
    width = max(len(clean(view.name, 40)) for view in views)
    lines = [f"task {clean(task_id, None)}"]
    later: list[str] = []
    for view in views:
        name = clean(view.name, 40).ljust(width)
        if view.problem is not None:
            lines.append(f"  {name}  {clean(view.raw, limit)}  (shown raw: {clean(view.problem, 200)})")
        elif view.kind is None:
            lines.append(f"  {name}  {clean(view.raw, limit)}  (not a schema field)")
        elif view.name == TaskField.ERROR_EXCEPTION and view.raw:
            lines.append(f"  {name}  ({len(view.raw.splitlines())} lines, below)")
            later += ["", "error-exception:", *_block(view.raw, full)]
        elif view.name == TaskField.ERRORS and isinstance(view.value, list) and view.value:
            lines.append(f"  {name}  ({len(view.value)} earlier failures, below)")
            later += ["", "errors (earlier attempts, oldest first):", *_render_errors(view.value, full)]
        else:
            lines.append(f"  {name}  {_render_value(view, limit, now)}")
    return "\n".join(lines + later) + "\n"


def _show_json(task_id: str, key: str, fields: dict[str, str]) -> dict[str, Any]:
    views = decode_fields(fields)
    return {
        "id": task_id,
        "key": key,
        "fields": fields,
        "decoded": {view.name: view.value for view in views if view.problem is None and view.kind is not None},
        "problems": {view.name: view.problem for view in views if view.problem is not None},
    }


class NotATask(DoshitError):
    """The task key exists but is not a hash."""


def _read_task(ops: Ops, task_id: str) -> dict[str, str]:
    try:
        fields = ops.task(task_id)
    except redis.ResponseError as exc:
        if "WRONGTYPE" not in str(exc):
            raise
        kind = ops.key_type(task_id)
        raise NotATask(f"key {shown(ops.keys.task(task_id))} is a {kind}, not a task hash") from None
    if not fields:
        raise TaskNotFound(f"no task {clean(task_id, None)} (never submitted, or its result expired)")
    return fields


def cmd_show(ops: Ops, args: argparse.Namespace) -> int:
    key = ops.keys.task(args.task_id)

    def frame() -> tuple[str, bool]:
        fields = _read_task(ops, args.task_id)
        done = fields.get(TaskField.STATE) == State.FINISHED
        if args.json:
            return dump(_show_json(args.task_id, key, fields)), done
        return render_task(args.task_id, fields, args.full), done

    if args.watch:
        return watch(args.watch, frame, args.json)
    out(frame()[0])
    return EXIT_OK


# --------------------------------------------------------------------------- submit and wait


def _finished(task_id: str, info: TaskInfo, as_json: bool) -> int:
    """Print a finished task's outcome; the exit status says how it ended."""
    data: dict[str, Any] = {"id": task_id, "state": info.fields.get(TaskField.STATE), "result": None}
    result = info.fields.get(TaskField.RESULT)
    data["result"] = result
    code = EXIT_OK
    if result == Result.FAILED:
        data["error_reason"] = info.fields.get(TaskField.ERROR_REASON)
        data["error_exception"] = info.fields.get(TaskField.ERROR_EXCEPTION)
        code = EXIT_TASK_FAILED
    else:
        raw = info.fields.get(TaskField.RESULT_VALUE)
        try:
            data["value"] = info.result_value
        except DecodeError as exc:
            data["value_raw"] = raw
            data["problem"] = str(exc)
    if as_json:
        out(dump(data))
    elif code == EXIT_TASK_FAILED:
        sys.stderr.write(
            f"doshit: task {clean(task_id, 80)} failed: {clean(data['error_reason'] or '(no error-reason)', 2000)}\n"
        )
        if data["error_exception"]:
            sys.stderr.write("\n".join(_block(data["error_exception"], False)) + "\n")
    elif "problem" in data:
        warn(f"result-value shown raw: {data['problem']}")
        out(clean(data["value_raw"] or "", None))
    else:
        out(clean(codec.encode(data["value"]), None))
    return code


def _wait(ops: Ops, task_id: str, timeout: float | None, as_json: bool) -> int:
    try:
        info = ops.handle(task_id).wait(timeout)
    except TaskTimeout as exc:
        if as_json:
            out(dump({"id": task_id, "timeout": True, "error": str(exc)}))
        fail(str(exc))
        return EXIT_TIMEOUT
    return _finished(task_id, info, as_json)


def cmd_submit(ops: Ops, args: argparse.Namespace) -> int:
    as_json = args.json is True
    objects = [text for text in (args.json if isinstance(args.json, str) else None, args.args) if text is not None]
    kwargs: dict[str, Any] = {}
    for text in objects:
        try:
            value = codec.decode(text)
        except DecodeError as exc:
            raise UsageError(f"the arguments are not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise UsageError("the arguments must be a JSON object of named arguments ('{\"name\": value}')")
        kwargs.update(value)
    for key, value in args.arguments:
        if key in kwargs:
            raise UsageError(f"argument {key!r} is given twice")
        kwargs[key] = value
    reserved = sorted(key for key in kwargs if key.startswith("_"))
    if reserved:
        raise UsageError(f"argument names starting with '_' are reserved for options: {', '.join(reserved)}")
    if args.wait_timeout is not None and not args.wait:
        raise UsageError("--wait-timeout needs --wait")
    options = {
        "_queue": args.queue,
        "_delay": args.delay,
        "_retries": args.retries,
        "_timeout": args.timeout or None,
        "_result_ttl": args.result_ttl,
        "_task_id": args.task_id,
    }
    try:
        task = ops.client.submit(args.function, **kwargs, **{k: v for k, v in options.items() if v is not None})
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    if not args.wait:
        out(dump({"id": task.task_id, "queue": task.queue}) if as_json else task.task_id)
        return EXIT_OK
    if not as_json:
        out(task.task_id)
    return _wait(ops, task.task_id, args.wait_timeout, as_json)


def cmd_wait(ops: Ops, args: argparse.Namespace) -> int:
    return _wait(ops, args.task_id, args.timeout, args.json)


# --------------------------------------------------------------------------- cancel, requeue, kill


def _report(outcome: Outcome, as_json: bool, ok: Sequence[str], verb: str, explicit: bool) -> int:
    """Print per-id statuses (ids given by hand) or counts (a selection); 1 when an id given by hand
    was not in a state the command acts on."""
    bad = [task_id for task_id, status in outcome.items.items() if status not in ok]
    code = EXIT_NOT_DONE if explicit and bad else EXIT_OK
    if as_json:
        out(dump({"counts": outcome.counts, "tasks": outcome.items if explicit or len(outcome.items) <= 10000 else {}}))
        return code
    if explicit:
        out(table(["ID", "STATUS"], [[clean(task_id, 80), status] for task_id, status in outcome.items.items()]))
    else:
        summary = ", ".join(f"{count} {status}" for status, count in sorted(outcome.counts.items()))
        out(f"{verb}: {summary or 'nothing to do'}")
    return code


class UsageError(DoshitError):
    """A combination of arguments argparse cannot check."""


def cmd_cancel(ops: Ops, args: argparse.Namespace) -> int:
    if bool(args.task_ids) == bool(args.all_pending):
        raise UsageError("give task ids, or --all-pending (with --queue)")
    if args.queue and not args.all_pending:
        raise UsageError("--queue goes with --all-pending")
    if args.task_ids:
        return _report(ops.cancel(args.task_ids), args.json, ("cancelled", "killing"), "cancel", True)
    problems: list[str] = []
    ids = ops.indexed_ids(args.queue or ops.settings.queue, State.PENDING, problems)
    for problem in problems:
        warn(problem)
    with Progress("cancelling", len(ids)) as progress:
        outcome = ops.cancel(ids, progress.step)
    return _report(outcome, args.json, ("cancelled", "killing"), "cancel", False)


def cmd_requeue(ops: Ops, args: argparse.Namespace) -> int:
    if bool(args.task_ids) == bool(args.failed):
        raise UsageError("give task ids, or --failed (with --queue, --function, --since)")
    if not args.failed and (args.queue or args.function or args.since):
        raise UsageError("--queue, --function and --since go with --failed")
    if args.task_ids:
        return _report(ops.requeue(args.task_ids), args.json, ("requeued",), "requeue", True)
    queues = args.queue or ops.queues()
    since_ms = None if args.since is None else codec.unix_ms(args.since)
    ids, problems = ops.failed_ids(queues, since_ms=since_ms)
    for problem in problems:
        warn(problem)
    if args.function is not None:
        functions = ops.functions(ids)
        ids = [task_id for task_id in ids if functions.get(task_id) == args.function]
    with Progress("requeueing", len(ids)) as progress:
        outcome = ops.requeue(ids, progress.step)
    return _report(outcome, args.json, ("requeued",), "requeue", False)


def cmd_kill(ops: Ops, args: argparse.Namespace) -> int:
    if args.all:
        heard = ops.client.kill_all()
        out(dump({"workers": heard}) if args.json else f"kill sent to every task; {heard} worker(s) heard it")
        return EXIT_OK
    fields = _read_task(ops, args.task_id)
    state = fields.get(TaskField.STATE)
    if state != State.EXECUTING:
        message = f"task {shown(args.task_id)} is not executing (state {shown(state or '')}): nothing to kill"
        if args.json:
            out(dump({"id": args.task_id, "status": "not_executing", "state": state}))
        fail(message + (": `doshit cancel` cancels a task that has not started" if state != State.FINISHED else ""))
        return EXIT_NOT_DONE
    status = ops.handle(args.task_id).cancel()
    out(dump({"id": args.task_id, "status": status}) if args.json else f"{args.task_id} {status}")
    return EXIT_OK if status in ("killing", "cancelled") else EXIT_NOT_DONE


# --------------------------------------------------------------------------- purge


def cmd_purge(ops: Ops, args: argparse.Namespace) -> int:
    cutoff = None if args.older_than is None else time.time() - args.older_than
    if args.failed:
        queues = args.queue or ops.queues()
        total = sum(row.failed or 0 for row in ops.queue_stats(queues))
        with Progress("purging failed tasks", total) as progress:
            result, problems = ops.purge_failed(
                queues,
                until_ms=None if cutoff is None else int(cutoff * 1000),
                dry_run=args.dry_run,
                on_step=progress.step,
            )
    else:
        until = None if cutoff is None else datetime.fromtimestamp(cutoff, timezone.utc)
        with Progress("scanning task keys", None) as progress:
            result, problems = ops.purge_finished(args.queue, until=until, dry_run=args.dry_run, on_step=progress.step)
    for problem in problems:
        warn(problem)
    if args.json:
        out(
            dump(
                {
                    "dry_run": args.dry_run,
                    "matched": result.matched,
                    "deleted": result.deleted,
                    "skipped": result.skipped,
                    "sample": result.sample,
                }
            )
        )
    elif args.dry_run:
        out(f"would delete {result.matched} task hash(es)")
        for task_id in result.sample:
            out(f"  {clean(task_id, 80)}")
        if result.matched > len(result.sample):
            out(f"  ... and {result.matched - len(result.sample)} more")
    else:
        skipped = f" ({result.skipped} changed meanwhile, left alone)" if result.skipped else ""
        out(f"deleted {result.deleted} task hash(es){skipped}")
    return EXIT_OK


# --------------------------------------------------------------------------- serve

WEB_MODULES = ("fastapi", "starlette", "pydantic", "uvicorn", "prometheus_client", "anyio")
"""What ``doshit serve`` needs from the web extra."""


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from .._web.server import serve
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in WEB_MODULES:
            raise
        fail(f"doshit serve needs the web extra ({exc.name} is missing): pip install 'doshit[web]'")
        return EXIT_USAGE
    return serve(
        settings, host=args.host, port=args.port, token_file=args.token_file, read_only=args.read_only,
        queues=args.queues,
    )  # fmt: skip


# --------------------------------------------------------------------------- main

COMMANDS: dict[str, Callable[[Ops, argparse.Namespace], int]] = {
    "status": cmd_status,
    "workers": cmd_workers,
    "tasks": cmd_tasks,
    "show": cmd_show,
    "submit": cmd_submit,
    "wait": cmd_wait,
    "cancel": cmd_cancel,
    "requeue": cmd_requeue,
    "purge": cmd_purge,
    "kill": cmd_kill,
}


def _redis_error(exc: BaseException, where: str) -> int:
    problem = config_problem(exc)
    if problem is not None:
        fail(problem)
        return EXIT_USAGE
    if unavailable(exc):
        fail(f"cannot reach Redis at {where}: {clean(str(exc) or type(exc).__name__, 500)}")
    else:
        fail(f"Redis answered with an error: {clean(str(exc), 500)}")
    return EXIT_UNAVAILABLE


def run(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    try:
        settings = resolve(args.redis_url, prefix=args.prefix)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
        return EXIT_USAGE
    if args.command == "serve":
        return cmd_serve(settings, args)
    try:
        with Ops(settings) as ops:
            return COMMANDS[args.command](ops, args)
    except (TaskNotFound, NotATask, TaskExists) as exc:
        if getattr(args, "json", False) is True:
            out(dump({"error": str(exc)}))
        fail(clean(str(exc), 1000))
        return EXIT_NOT_DONE
    except UsageError as exc:
        fail(str(exc))
        return EXIT_USAGE
    except (redis.RedisError, ConnectionError, TimeoutError) as exc:
        return _redis_error(exc, settings.describe())
    except (ConfigError, DecodeError) as exc:
        fail(clean(str(exc), 1000))
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_NOT_DONE


def main(argv: Sequence[str] | None = None) -> int:
    """The ``doshit`` command: ``doshit worker ...`` is the legacy worker command, anything else an
    operator command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "worker":
        from .._cli import legacy_main  # the worker's imports, only for the worker

        return legacy_main(argv)
    try:
        return run(argv)
    except KeyboardInterrupt:
        sys.stderr.write("\ndoshit: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `doshit tasks | head`: the reader has gone, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # the promise is one line, never a traceback
        if os.environ.get("DOSHIT_DEBUG"):
            raise
        fail(f"unexpected {type(exc).__name__}: {clean(str(exc), 500)} (set DOSHIT_DEBUG=1 for the traceback)")
        return EXIT_NOT_DONE


if __name__ == "__main__":
    sys.exit(main())
