"""Command-line tasks: any executable as a task, declared in a deployment file (``doshit.toml``).

Each run starts a small guard process, leader of a new session and process group, which starts the
command in that group and waits for it. The guard dies with whoever started it (PR_SET_PDEATHSIG) and
then kills its whole group, so the command and everything it started go when the worker or its child
process goes, even by SIGKILL. When the command exits, the guard reports its status on a pipe and
kills the group too: a task is over when its command exits, and nothing it left behind runs on.

A kill reaches a run both ways a pool kills: in a process pool's child, the run is synchronous (an
event loop of its own) and the child's KeyboardInterrupt ends it; in the inline pool it is a coroutine
on the worker's loop, and cancelling it ends it. Either way the group is killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core import codec
from .._core.text import echo
from .._errors import DecodeError, EncodeError, RegistryError, TaskError
from .context import TaskContext
from .registry import Registry, loop_running

ARG_MODES = ("argv", "stdin", "json-arg")
"""How a task's args object reaches its command: its values as arguments in the order of ``params``,
the whole object as JSON on stdin, or the whole object as JSON in one extra argument."""

STDOUT_LIMIT = 16 * 1024 * 1024
"""Bytes of stdout a command may write (its result); a command that writes more is killed and fails."""
DETAIL_BYTES = 4096
"""The last bytes of stdout and of stderr kept for a failed task's error-exception."""
PIPE_GRACE = 1.0
"""Seconds to wait for a command's output pipes to close after it ended (a process that left its
group may hold them) before its output is taken as it is."""
CONTEXT_PARAMETER = "_doshit_task_context"
"""The parameter the worker passes the TaskContext in (its annotation says so)."""

TASK_KEYS = (
    "command", "args", "params", "env", "cwd", "concurrency", "timeout", "memory_limit", "stderr_fails",
    "retries", "backoff", "max_backoff", "on_failure",
)  # fmt: skip
"""The keys a ``[tasks.NAME]`` table may have (dashes or underscores)."""

log = logging.getLogger("doshit.task")

_GUARD = r"""
import ctypes, os, resource, signal, sys
parent, status, limit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
argv = sys.argv[4:]
def kill_group(signum=None, frame=None):
    os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGTERM, kill_group)
signal.signal(signal.SIGHUP, kill_group)
linux = sys.platform.startswith("linux")
libc = ctypes.CDLL(None, use_errno=True)
if linux:
    libc.prctl(1, signal.SIGTERM)
if os.getppid() != parent:
    kill_group()
os.set_inheritable(status, False)
pid = os.fork()
if pid == 0:
    try:
        if linux:
            libc.prctl(1, signal.SIGKILL)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(status, b"E%d" % (exc.errno or 0))
    os._exit(127)
while True:
    try:
        _, code = os.waitpid(pid, 0)
        break
    except ChildProcessError:
        code = -1
        break
os.write(status, b"%d" % code)
kill_group()
"""
"""The guard: ``python -I -S -c GUARD PARENT_PID STATUS_FD MEMORY_LIMIT ARGV...``. It reports the
command's wait status (or E and the errno of a failed exec) on STATUS_FD, then kills its group."""


class CommandFailed(TaskError):
    """The command ran and failed (worth a retry when its task has retries)."""


class ArgsRejected(TaskError):
    """The args object does not fit the command (never worth a retry)."""


@dataclass(frozen=True)
class Command:
    """One command task, as a ``[tasks.NAME]`` table declares it."""

    name: str
    argv: tuple[str, ...]
    """As written; ``argv[0]`` names the command in reasons."""
    executable: str
    """``argv[0]`` as run: made absolute when it is a relative path."""
    args: str = "argv"
    params: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    memory_limit: int | None = None
    stderr_fails: bool = False
    timeout: float | None = None
    concurrency: int | None = None
    retries: int = 0
    backoff: float = 1.0
    max_backoff: float = 300.0
    on_failure: tuple[str, ...] | None = None

    @property
    def shown(self) -> str:
        return self.argv[0]

    @classmethod
    def from_table(cls, name: str, table: object, base: Path, where: str) -> Command:
        """Check a ``[tasks.NAME]`` table; ``base`` is the folder relative paths start from. Raises
        RegistryError naming ``where`` (the file) and the table."""
        here = f"{where}: [tasks.{_toml_key(name)}]"

        def bad(message: str) -> RegistryError:
            return RegistryError(f"{here}: {message}")

        if not isinstance(table, dict):
            raise RegistryError(f"{where}: tasks.{_toml_key(name)} must be a table, got {kind_of(table)}")
        if not name:
            raise RegistryError(f"{where}: a task name must not be empty")
        values: dict[str, Any] = {}
        for key, value in table.items():
            norm = key.replace("-", "_")
            if norm not in TASK_KEYS:
                raise bad(f"unknown key {key!r}; a task takes: {', '.join(k.replace('_', '-') for k in TASK_KEYS)}")
            if norm in values:
                raise bad(f"{key!r} is given twice")
            values[norm] = value
        if "command" not in values:
            raise bad('no command; give one as a list, e.g. command = ["tasks/resize.sh"]')
        command = values["command"]
        if isinstance(command, str):
            try:
                suggestion = json.dumps(shlex.split(command))
            except ValueError:
                suggestion = '["program", "argument"]'
            raise bad(f"command must be a list of strings, run without a shell, not a string: "
                      f"command = {suggestion}")  # fmt: skip
        argv = _strings(command, "command", bad)
        if not argv or not argv[0]:
            raise bad("command must name a program: a non-empty list of strings")
        mode = values.get("args", "argv")
        if mode not in ARG_MODES:
            raise bad(f"args must be one of {', '.join(repr(m) for m in ARG_MODES)}, got {mode!r}")
        params = _strings(values.get("params", []), "params", bad)
        if "params" in values and mode != "argv":
            raise bad(f'params only goes with args = "argv" (this task has args = {json.dumps(mode)})')
        if len(set(params)) != len(params):
            raise bad(f"params names a parameter twice: {params}")
        env = values.get("env", {})
        if not isinstance(env, dict):
            raise bad(f"env must be a table of variables, got {kind_of(env)}")
        environment: dict[str, str] = {}
        for var, value in env.items():
            if not var or "=" in var or "\0" in var:
                raise bad(f"env: {var!r} is not a usable variable name")
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise bad(f"env.{var} must be a string or a number, got {kind_of(value)}")
            text = str(value)
            if "\0" in text:
                raise bad(f"env.{var} contains a NUL character")
            environment[var] = text
        cwd = values.get("cwd")
        if cwd is not None and (not isinstance(cwd, str) or not cwd):
            raise bad(f"cwd must be a folder path (a string), got {kind_of(cwd)}")
        folder = base / cwd if cwd is not None else base
        if not folder.is_dir():
            raise bad(f"cwd {str(folder)!r} is not a folder")
        executable = argv[0]
        if "/" in executable:
            path = Path(executable) if os.path.isabs(executable) else base / executable
            if not path.is_file():
                raise bad(f"command {executable!r}: no such file ({path})")
            if not os.access(path, os.X_OK):
                raise bad(f"command {executable!r}: {path} is not executable (chmod +x it, or run it with "
                          f"its interpreter: command = [\"sh\", {json.dumps(executable)}])")  # fmt: skip
            executable = str(path)
        elif shutil.which(executable, path=environment.get("PATH", os.environ.get("PATH"))) is None:
            raise bad(f"command {executable!r}: not found on PATH")
        on_failure = values.get("on_failure")
        return cls(
            name=name,
            argv=tuple(argv),
            executable=executable,
            args=mode,
            params=tuple(params),
            env=environment,
            cwd=str(folder.resolve()),
            memory_limit=_number(values, "memory_limit", bad, whole=True, low=1),
            stderr_fails=_flag(values, "stderr_fails", bad),
            timeout=_number(values, "timeout", bad, positive=True),
            concurrency=_number(values, "concurrency", bad, whole=True, low=1),
            retries=_number(values, "retries", bad, whole=True, low=0, default=0),
            backoff=_number(values, "backoff", bad, low=0, default=1.0),
            max_backoff=_number(values, "max_backoff", bad, low=0, default=300.0),
            on_failure=None if on_failure is None else tuple(_strings(on_failure, "on-failure", bad, nonempty=True)),
        )

    def register(self, registry: Registry) -> CommandTask:
        """Register the command's task in ``registry``, with its time limit, concurrency and retries."""
        task = CommandTask(self)
        registry.task(
            name=self.name,
            retries=self.retries,
            backoff=self.backoff,
            max_backoff=self.max_backoff,
            retry_on=CommandFailed,
            timeout=self.timeout,
            concurrency=self.concurrency,
            on_failure=list(self.on_failure) if self.on_failure else None,
        )(task)
        return task

    # ------------------------------------------------------------------ one run

    def arguments(self, args: dict[str, Any]) -> tuple[list[str], bytes | None]:
        """The argv to run and what goes on stdin, for a task's args; ArgsRejected when they do not fit."""
        argv = [self.executable, *self.argv[1:]]
        if self.args == "stdin":
            return argv, _json(args, self.name).encode("utf-8") + b"\n"
        if self.args == "json-arg":
            return [*argv, _json(args, self.name)], None
        missing = [p for p in self.params if p not in args]
        extra = [k for k in args if k not in self.params]
        if missing or extra:
            takes = f"takes {', '.join(self.params)}" if self.params else "takes no arguments"
            problems = [f"missing {', '.join(repr(k) for k in missing)}"] if missing else []
            problems += [f"unexpected {', '.join(repr(k) for k in extra)}"] if extra else []
            raise ArgsRejected(f"{self.name} {takes}: {'; '.join(problems)}", echo(_json(args, self.name)))
        for param in self.params:
            value = args[param]
            text = value if isinstance(value, str) else _json(value, self.name)
            if "\0" in text:
                raise ArgsRejected(f"{self.name}: argument {param!r} contains a NUL character", echo(text))
            argv.append(text)
        return argv, None

    def environment(self, context: TaskContext | None) -> dict[str, str]:
        """The worker's environment, the file's ``env``, and the task's own DOSHIT_* variables."""
        env = {**os.environ, **self.env}
        env.update(
            DOSHIT_TASK_ID=context.task_id if context else "",
            DOSHIT_FUNCTION=self.name,
            DOSHIT_QUEUE=context.queue if context else "",
            DOSHIT_ATTEMPT=str(context.attempt) if context else "",
            DOSHIT_WORKER=context.worker_id if context else "",
        )
        return env


class CommandTask:
    """The registered callable of a command: synchronous in the main thread of a process (a process
    pool's child, Registry.call), where the child's KeyboardInterrupt ends it; elsewhere it returns a
    coroutine (the inline pool awaits it on its loop, where cancelling ends it)."""

    def __init__(self, command: Command) -> None:
        self.command = command
        self.__name__ = command.name
        self.__qualname__ = command.name
        self.__signature__ = inspect.Signature(
            [
                inspect.Parameter(
                    CONTEXT_PARAMETER, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=TaskContext
                ),
                inspect.Parameter("args", inspect.Parameter.VAR_KEYWORD),
            ]
        )

    def __repr__(self) -> str:
        return f"<command task {self.command.name}: {shlex.join(self.command.argv)}>"

    def __call__(self, **args: Any) -> Any:
        context = args.pop(CONTEXT_PARAMETER, None)
        if context is not None and not isinstance(context, TaskContext):
            raise ArgsRejected(f"{self.command.name}: the argument name {CONTEXT_PARAMETER!r} is reserved")
        if threading.current_thread() is threading.main_thread() and not loop_running():
            return self.run_sync(args, context)
        return _Run(self.command, context).main(args)

    def run_sync(self, args: dict[str, Any], context: TaskContext | None = None) -> Any:
        run = _Run(self.command, context)
        try:
            return asyncio.run(run.main(args))
        except KeyboardInterrupt:
            run.kill()
            raise CommandFailed(f"command {self.command.shown} was interrupted", run.detail()) from None
        finally:
            run.kill()


class _Output(asyncio.SubprocessProtocol):
    """The guard's pipes: stdout kept whole (up to STDOUT_LIMIT), the end of stderr, and when the
    guard exited and each pipe closed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, run: _Run) -> None:
        self.run = run
        self.stdout = bytearray()
        self.stdout_over = False
        self.stderr = bytearray()
        self.stderr_bytes = 0
        self.exited: asyncio.Future[None] = loop.create_future()
        self.ended = False
        """The guard has exited (and was reaped): its process group id may be reused from now on."""
        self.closed = {1: loop.create_future(), 2: loop.create_future()}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self.run.pgid = transport.get_pid()  # the guard leads a new session: its pid is the group's id
        self.run.output = self

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            if self.stdout_over:
                return
            if len(self.stdout) + len(data) > STDOUT_LIMIT:
                self.stdout_over = True
                self.stdout += data[: STDOUT_LIMIT - len(self.stdout)]
                self.run.kill()
                return
            self.stdout += data
        elif fd == 2:
            self.stderr_bytes += len(data)
            self.stderr += data
            if len(self.stderr) > 4 * DETAIL_BYTES:
                del self.stderr[: -2 * DETAIL_BYTES]

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        future = self.closed.get(fd)
        if future is not None and not future.done():
            future.set_result(None)

    def process_exited(self) -> None:
        self.ended = True
        if not self.exited.done():
            self.exited.set_result(None)


class _Run:
    """One run of a command."""

    def __init__(self, command: Command, context: TaskContext | None = None) -> None:
        self.command = command
        self.context = context
        self.pgid: int | None = None
        self.output: _Output | None = None

    def kill(self) -> None:
        """Kill the command's process group, unless its guard has already ended (and been reaped)."""
        if self.pgid is None or (self.output is not None and self.output.ended):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)

    def detail(self) -> str:
        """The end of the command's stdout and stderr, for the error-exception."""
        output = self.output
        if output is None:
            return "(the command had not started)"
        parts = []
        for label, data, total in (
            ("stdout", output.stdout, len(output.stdout)),
            ("stderr", output.stderr, output.stderr_bytes),
        ):
            kept = bytes(data[-DETAIL_BYTES:])
            text = kept.decode("utf-8", "replace")
            more = f" (the last {len(kept)} of {total} bytes)" if total > len(kept) else ""
            parts.append(f"--- {label}{more} ---\n{text}" + ("" if not text or text.endswith("\n") else "\n"))
        return "".join(parts)

    async def main(self, args: dict[str, Any]) -> Any:
        command = self.command
        argv, stdin = command.arguments(args)
        env = command.environment(self.context)
        loop = asyncio.get_running_loop()
        status_read, status_write = os.pipe()
        try:
            try:
                transport, output = await loop.subprocess_exec(
                    lambda: _Output(loop, self),
                    sys.executable, "-I", "-S", "-c", _GUARD, str(os.getpid()), str(status_write),
                    str(command.memory_limit or 0), *argv,
                    stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                    cwd=command.cwd, env=env, start_new_session=True, pass_fds=(status_write,),
                )  # fmt: skip
            finally:
                os.close(status_write)
        except OSError as exc:
            os.close(status_read)
            where = f" in {command.cwd}" if command.cwd else ""
            raise CommandFailed(f"command {command.shown} could not start{where}: {exc.strerror or exc}") from None
        try:
            if stdin is not None:
                pipe = transport.get_pipe_transport(0)
                assert isinstance(pipe, asyncio.WriteTransport)
                pipe.write(stdin)
                pipe.close()  # after what is buffered is written
            await asyncio.shield(output.exited)
            os.set_blocking(status_read, False)
            status = b""
            with contextlib.suppress(BlockingIOError):
                while chunk := os.read(status_read, 64):
                    status += chunk
            await asyncio.wait(list(output.closed.values()), timeout=PIPE_GRACE)
        finally:
            os.close(status_read)
            if not output.ended:  # cancelled or interrupted: kill it, and see the guard go
                self.kill()
                await asyncio.wait([output.exited], timeout=PIPE_GRACE)
            transport.close()
        return self.outcome(status.decode("ascii", "replace"))

    def outcome(self, status: str) -> Any:
        command, output = self.command, self.output
        assert output is not None
        shown = command.shown
        if output.stdout_over:
            raise CommandFailed(f"command {shown} wrote more than {STDOUT_LIMIT} bytes to stdout", self.detail())
        if status.startswith("E"):
            error = int(status[1:] or 0)
            raise CommandFailed(f"command {shown} could not start: {os.strerror(error)}", self.detail())
        try:
            code = int(status)
        except ValueError:
            raise CommandFailed(f"command {shown} was killed (its guard process ended without a status)",
                                self.detail()) from None  # fmt: skip
        if os.WIFSIGNALED(code):
            number = os.WTERMSIG(code)
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = f"signal {number}"
            raise CommandFailed(f"command {shown} was killed by signal {name}", self.detail())
        exit_code = os.waitstatus_to_exitcode(code) if os.WIFEXITED(code) else code
        if exit_code != 0:
            raise CommandFailed(f"command {shown} exited with status {exit_code}", self.detail())
        if output.stderr_bytes and command.stderr_fails:
            raise CommandFailed(f"command {shown} wrote to stderr", self.detail())
        if output.stderr_bytes:
            text = bytes(output.stderr[-DETAIL_BYTES:]).decode("utf-8", "replace").rstrip("\n")
            extra = {"task_id": self.context.task_id} if self.context else {}
            log.info("command %s wrote to stderr: %s", shown, text, extra=extra)
        return _result(bytes(output.stdout), shown, self.detail)


def _result(stdout: bytes, shown: str, detail: Any) -> Any:
    """Stdout as the result: its JSON value if it is JSON, else its text without trailing newlines;
    no output at all is null."""
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandFailed(f"command {shown} wrote stdout that is not UTF-8 text", detail()) from None
    text = text.rstrip("\r\n")
    if not text.strip():
        return None
    try:
        return codec.decode(text)
    except DecodeError:
        return text


def _json(value: Any, name: str) -> str:
    try:
        return codec.encode(value)
    except EncodeError as exc:  # pragma: no cover - args are decoded JSON, so they encode again
        raise ArgsRejected(f"{name}: the arguments cannot be written as JSON: {exc}") from None


def kind_of(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _toml_key(name: str) -> str:
    bare = name and all(c.isalnum() or c in "-_" for c in name) and name.isascii()
    return name if bare else json.dumps(name)


def _strings(value: object, key: str, bad: Any, nonempty: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad(f"{key} must be a list of strings, got {kind_of(value)}")
    if nonempty and not value:
        raise bad(f"{key} must not be empty")
    for item in value:
        if "\0" in item:
            raise bad(f"{key} contains a NUL character")
    return list(value)


def _flag(values: dict[str, Any], key: str, bad: Any) -> bool:
    value = values.get(key, False)
    if not isinstance(value, bool):
        raise bad(f"{key.replace('_', '-')} must be true or false, got {kind_of(value)}")
    return value


def _number(
    values: dict[str, Any], key: str, bad: Any, *, whole: bool = False, low: float | None = None,
    positive: bool = False, default: Any = None,
) -> Any:  # fmt: skip
    if key not in values:
        return default
    value = values[key]
    shown = key.replace("_", "-")
    if whole and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad(f"{shown} must be a whole number, got {kind_of(value)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value == float("inf"):
        raise bad(f"{shown} must be a number, got {kind_of(value)}")
    if positive and not value > 0:
        raise bad(f"{shown} must be more than 0, got {value!r}")
    if low is not None and value < low:
        raise bad(f"{shown} must be at least {low:g}, got {value!r}")
    return value
