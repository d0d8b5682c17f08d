"""Command-line tasks and deployment files: real ``doshit-worker --config`` processes running the
small executables in tests/commands (sh, Python, Node), in both pools."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from doshit import Client, TaskFailed
from doshit._cli import worker_parser
from doshit._config_file import worker_defaults

from .conftest import ROOT, WorkerProcess, finished, wait_for, wait_listening

COMMANDS = ROOT / "tests" / "commands"
EXAMPLE = ROOT / "examples" / "commands"


def q(value: object) -> str:
    """A TOML string (a JSON string is one, for these paths)."""
    return json.dumps(str(value))


def tasks_toml(folder: Path) -> str:
    """The command tasks every shared worker serves."""
    return f"""
[tasks.echo_args]
command = [{q(COMMANDS / "echo_args.sh")}, "first"]
params = ["a", "b"]

[tasks.fail]
command = [{q(COMMANDS / "fail.sh")}, "3"]

[tasks.add]
command = [{q(sys.executable)}, {q(COMMANDS / "add.py")}]
args = "stdin"

[tasks.greet]
command = ["node", {q(COMMANDS / "greet.mjs")}]
args = "json-arg"

[tasks.env]
command = [{q(COMMANDS / "env.sh")}]
env = {{ GREETING = "hi there" }}
cwd = {q(folder)}

[tasks.warn]
command = [{q(COMMANDS / "warn.sh")}]

[tasks.warn_strict]
command = [{q(COMMANDS / "warn.sh")}]
stderr-fails = true

[tasks.sleeper]
command = [{q(COMMANDS / "grandchild.sh")}]
params = ["pidfile"]

[tasks.sleeper_timed]
command = [{q(COMMANDS / "grandchild.sh")}]
params = ["pidfile"]
timeout = 1

[tasks.serial]
command = [{q(COMMANDS / "serial.sh")}]
params = ["log"]
concurrency = 1

[tasks.flood]
command = ["head", "-c", "20000000", "/dev/zero"]

[tasks.allocate]
command = [{q(sys.executable)}, {q(COMMANDS / "allocate.py")}]
params = ["size"]
memory_limit = 300_000_000
"""


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for its reaper counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def start_config(redis_url: str, r: redis.Redis, prefix: str, config: Path, log: Path, *extra: str) -> WorkerProcess:
    """``doshit-worker --config CONFIG`` on ``prefix``, once its worker hash exists."""
    args = [sys.executable, "-m", "doshit._cli", "--config", str(config), "--redis-url", redis_url,
            "--prefix", prefix, *extra]  # fmt: skip
    worker = WorkerProcess(args, log, {**os.environ, "PYTHONUNBUFFERED": "1"})

    def registered() -> bool:
        if worker.proc.poll() is not None:
            raise AssertionError(f"worker exited with {worker.proc.returncode}:\n{worker.log()}")
        return bool(r.keys(f"{prefix}:worker:*"))

    wait_for(registered, what="the worker hash")
    wait_listening(r, prefix)
    return worker


@dataclass
class Deployed:
    pool: str
    prefix: str
    folder: Path
    worker: WorkerProcess
    client: Client
    r: redis.Redis

    def run(self, function: str, **kwargs: Any) -> Any:
        return self.client.submit(function, **kwargs).wait_result(timeout=20)

    def fails(self, function: str, **kwargs: Any) -> TaskFailed:
        with pytest.raises(TaskFailed) as failed:
            self.run(function, **kwargs)
        assert self.worker.proc.poll() is None, self.worker.log()
        return failed.value


@pytest.fixture(scope="module")
def deployments(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Deployed]]:
    """One worker per pool kind for the module, serving tasks_toml, started on first use."""
    started: dict[str, Deployed] = {}

    def get(pool: str) -> Deployed:
        if pool not in started:
            folder = tmp_path_factory.mktemp(f"commands-{pool}")
            config = folder / "doshit.toml"
            config.write_text(tasks_toml(folder))
            prefix = f"t{uuid.uuid4().hex[:12]}"
            r = redis.Redis.from_url(redis_url, decode_responses=True)
            worker = start_config(redis_url, r, prefix, config, folder / "worker.log", "--pool", pool,
                                  "--concurrency", "3")  # fmt: skip
            started[pool] = Deployed(pool, prefix, folder, worker, Client(redis_url, prefix=prefix), r)
        deployed = started[pool]
        if deployed.worker.proc.poll() is not None:
            pytest.fail(f"the {pool} worker died in an earlier test:\n{deployed.worker.log()}")
        return deployed

    yield get
    for deployed in started.values():
        deployed.worker.stop()
        deployed.client.close()
        deployed.r.close()


@pytest.fixture(params=["process", "inline"])
def deployed(request: pytest.FixtureRequest, deployments: Callable[[str], Deployed]) -> Deployed:
    return deployments(request.param)


# --------------------------------------------------------------------------- results and failures


def test_argument_mappings_and_results(deployed: Deployed) -> None:
    """argv (values in params order, non-strings as JSON), stdin (Python), json-arg (Node); stdout is
    the result: JSON when it parses, else the text without its trailing newline."""
    assert deployed.run("echo_args", b={"k": [1, None]}, a="x y") == 'first\nx y\n{"k":[1,null]}'
    assert deployed.run("echo_args", a=3, b=True) == "first\n3\ntrue"
    assert deployed.run("add", a=2, b=3.5) == {"sum": 5.5}
    assert deployed.run("greet", name="Ada") == {"greeting": "hello Ada", "runtime": "node"}


def test_failure_reason_and_detail(deployed: Deployed) -> None:
    failed = deployed.fails("fail")
    assert failed.reason == f"command {COMMANDS / 'fail.sh'} exited with status 3"
    assert "--- stdout ---\nsome output\n" in failed.exception
    assert "--- stderr ---\nsomething went wrong\n" in failed.exception


def test_args_that_do_not_fit_fail_readably(deployed: Deployed) -> None:
    assert deployed.fails("echo_args", a="x").reason == "echo_args takes a, b: missing 'b'"
    assert deployed.fails("echo_args", a=1, b=2, c=3).reason == "echo_args takes a, b: unexpected 'c'"
    assert deployed.fails("env", x=1).reason == "env takes no arguments: unexpected 'x'"
    assert deployed.fails("echo_args", a="nul\0", b="").reason == "echo_args: argument 'a' contains a NUL character"


def test_stderr_fails(deployed: Deployed) -> None:
    assert deployed.run("warn") == {"ok": True}
    failed = deployed.fails("warn_strict")
    assert failed.reason == f"command {COMMANDS / 'warn.sh'} wrote to stderr"
    assert "careful" in failed.exception


def test_environment_and_folder(deployed: Deployed) -> None:
    task = deployed.client.submit("env")
    lines = task.wait_result(timeout=20).split("\n")
    assert lines == [task.task_id, "env", "default", "1", "hi there", str(deployed.folder)]


def test_memory_limit(deployed: Deployed) -> None:
    assert deployed.run("allocate", size=1_000_000) == "allocated 1000000 bytes"
    failed = deployed.fails("allocate", size=2_000_000_000)
    assert failed.reason == f"command {sys.executable} exited with status 1"
    assert "MemoryError" in failed.exception


def test_stdout_is_capped(deployed: Deployed) -> None:
    failed = deployed.fails("flood")
    assert failed.reason == "command head wrote more than 16777216 bytes to stdout"


# --------------------------------------------------------------------------- kills and limits


def pids(path: Path) -> list[int]:
    """The pids grandchild.sh wrote: its sleeping child and itself."""
    text = wait_for(lambda: path.exists() and path.read_text(), what=f"{path.name}")
    return [int(pid) for pid in text.split()]


def test_time_limit_kills_the_whole_group(deployed: Deployed) -> None:
    pidfile = deployed.folder / f"timed-{uuid.uuid4().hex}"
    task = deployed.client.submit("sleeper_timed", pidfile=str(pidfile))
    running = pids(pidfile)
    fields = finished(deployed.r, deployed.prefix, task.task_id, timeout=20)
    assert fields["result"] == "failed"
    assert "time limit" in fields["error-reason"]
    for pid in running:
        wait_for(lambda pid=pid: gone(pid), what=f"process {pid} to be killed")  # type: ignore[misc]


def test_cancel_kills_the_whole_group(deployed: Deployed) -> None:
    pidfile = deployed.folder / f"cancel-{uuid.uuid4().hex}"
    task = deployed.client.submit("sleeper", pidfile=str(pidfile))
    running = pids(pidfile)
    assert all(not gone(pid) for pid in running)
    task.cancel()
    fields = finished(deployed.r, deployed.prefix, task.task_id, timeout=20)
    assert fields["result"] == "failed"
    for pid in running:
        wait_for(lambda pid=pid: gone(pid), what=f"process {pid} to be killed")  # type: ignore[misc]
    assert deployed.run("add", a=1, b=1) == {"sum": 2}


def test_concurrency_limit(deployed: Deployed) -> None:
    """Three runs of a concurrency-1 command on a worker with three slots never overlap."""
    log = deployed.folder / f"serial-{uuid.uuid4().hex}.log"
    tasks = [deployed.client.submit("serial", log=str(log)) for _ in range(3)]
    for task in tasks:
        assert task.wait_result(timeout=20) is None
    lines = [line.split() for line in log.read_text().splitlines()]
    assert len(lines) == 6
    for start, end in zip(lines[::2], lines[1::2], strict=True):
        assert start[0] == "start" and end == ["end", start[1]], lines


@pytest.mark.parametrize("pool", ["process", "inline"])
def test_killed_worker_leaves_no_command_behind(
    pool: str, redis_url: str, r: redis.Redis, prefix: str, client: Client, tmp_path: Path
) -> None:
    config = tmp_path / "doshit.toml"
    config.write_text(tasks_toml(tmp_path))
    worker = start_config(redis_url, r, prefix, config, tmp_path / "worker.log", "--pool", pool)
    try:
        pidfile = tmp_path / "pids"
        client.submit("sleeper", pidfile=str(pidfile))
        running = pids(pidfile)
        worker.proc.kill()
        worker.wait()
        for pid in running:
            wait_for(lambda pid=pid: gone(pid), what=f"process {pid} to die with the worker")  # type: ignore[misc]
    finally:
        worker.stop()


# --------------------------------------------------------------------------- the deployment file


def run_cli(*args: str) -> Any:
    return WorkerProcess.run_cli(*args)


def test_worker_table_apps_and_the_command_line_winning(
    redis_url: str, prefix: str, client: Client, tmp_path: Path
) -> None:
    """[worker] sets the flags (the command line wins); app and commands are served together."""
    config = tmp_path / "deploy.toml"
    config.write_text(f"""
app = "tests.apps.basic"

[worker]
redis_url = {q(redis_url)}
prefix = {q(prefix)}
queue = "special"
pool = "inline"
concurrency = 2
burst = true
max-depth = 10

[tasks.listing]
command = [{q(COMMANDS / "echo_args.sh")}]
params = ["word"]
""")
    python = client.submit("echo", text="from python", _queue="special")
    command = client.submit("listing", word="from a command", _queue="special")
    done = run_cli("--config", str(config), "--concurrency", "3")
    assert done.returncode == 0, done.stderr
    assert "inline x3" in done.stderr
    assert python.wait_result(timeout=5) == "from python"
    assert command.wait_result(timeout=5) == "from a command"


def test_app_on_the_command_line_replaces_the_files(
    redis_url: str, prefix: str, client: Client, tmp_path: Path
) -> None:
    """--app with --config: that app instead of the file's, with the file's commands; the process
    pool's children load the same registry."""
    config = tmp_path / "deploy.toml"
    config.write_text(f"""
app = "no_such_module_anywhere"

[tasks.listing]
command = [{q(COMMANDS / "echo_args.sh")}]
params = ["word"]
""")
    python = client.submit("echo", text="from python")
    command = client.submit("listing", word="from a command")
    done = run_cli("--config", str(config), "--app", "tests.apps.basic", "--redis-url", redis_url,
                   "--prefix", prefix, "--concurrency", "1", "--burst")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert python.wait_result(timeout=5) == "from python"
    assert command.wait_result(timeout=5) == "from a command"


def test_worker_table_maps_onto_the_flags() -> None:
    """Each key becomes the flag's value as the parser would store it; the command line wins (a
    repeatable flag given there replaces the file's list instead of adding to it)."""
    table = {"queue": ["high", "default"], "concurrency": 4, "burst": True, "task_timeout": 2.5,
             "on-failure": ["notify", "--x"], "pool": "inline", "redis-url": "redis://h:1/2"}  # fmt: skip
    parser = worker_parser()
    defaults = worker_defaults(parser, table, "f.toml")
    assert defaults == {"queue": ["high", "default"], "concurrency": 4, "burst": True, "task_timeout": 2.5,
                        "on_failure": ["notify", "--x"], "pool": "inline", "redis_url": "redis://h:1/2"}  # fmt: skip
    parser.set_defaults(**defaults)
    args = parser.parse_args(["--app", "x", "-q", "low", "--concurrency", "1"])
    assert args.queue == ["low"] and args.concurrency == 1 and args.burst is True
    parser = worker_parser()
    parser.set_defaults(**worker_defaults(parser, table, "f.toml"))
    assert parser.parse_args(["--app", "x"]).queue == ["high", "default"]


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[worker]\nconcurrenzy = 3\n", "[worker] has an unknown key 'concurrenzy' (did you mean 'concurrency'?)"),
        ('[worker]\nconcurrency = "four"\n', "[worker] concurrency: not a whole number: 'four'"),
        ("[worker]\nconcurrency = 1.5\n", "[worker] concurrency: not a whole number: '1.5'"),
        ('[worker]\npool = "threads"\n', "[worker] pool: must be one of 'process', 'inline', got 'threads'"),
        ("[worker]\nburst = 1\n", "[worker] burst: must be true or false, got a number (1)"),
        ('[worker]\napp = "tasks"\n', "[worker] app: name the Python registries at the top level"),
        ('[tasks.listing]\ncommand = "ls -l /tmp"\n', 'command = ["ls", "-l", "/tmp"]'),
        ('[tasks.listing]\ncommand = ["ls"]\ntimeout_s = 3\n', "[tasks.listing]: unknown key 'timeout_s'"),
        ('[tasks.listing]\ncommand = ["ls"]\ntimeout = "soon"\n', "timeout must be a number, got a string ('soon')"),
        ('[tasks.listing]\ncommand = ["./missing.sh"]\n', "command './missing.sh': no such file"),
        ('[tasks.listing]\ncommand = ["ls"]\nargs = "env"\n', "args must be one of 'argv', 'stdin', 'json-arg'"),
        ('[tasks.listing]\ncommand = ["ls"]\nargs = "stdin"\nparams = ["a"]\n', 'params only goes with args = "argv"'),
        ("[worker\n", "not valid TOML"),
        ('queue = "x"\n', "unknown top-level key 'queue'"),
        ("", "no tasks in it"),
        ('app = "tests.apps.basic"\n[tasks.echo]\ncommand = ["ls"]\n', "'echo' is defined twice"),
    ],
)
def test_config_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    done = run_cli("--config", path, "--redis-url", "redis://127.0.0.1:1/0")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"doshit-worker: error: {path}: ")
    assert message in done.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    done = run_cli("--config", str(tmp_path / "nope.toml"))
    assert done.returncode == 2
    assert done.stderr == f"doshit-worker: error: {tmp_path / 'nope.toml'}: no such file\n"


def test_app_or_config_is_required() -> None:
    done = run_cli("--redis-url", "redis://127.0.0.1:1/0")
    assert done.returncode == 2
    assert "give --app MODULE[:ATTR], or --config FILE" in done.stderr


def test_the_readme_example(redis_url: str, prefix: str, client: Client, tmp_path: Path) -> None:
    """examples/commands/doshit.toml as written (the README shows it), against the test's Redis."""
    data = tmp_path / "data.txt"
    data.write_text("two words\nand three more\n")
    checksum = client.submit("checksum", path=str(data), algorithm="sha256")
    unknown = client.submit("checksum", path=str(data), algorithm="crc32")
    words = client.submit("wordcount", text=data.read_text())
    greeting = client.submit("greet", name="Ada")
    shout = client.submit("shout", text="hi")
    done = run_cli("--config", str(EXAMPLE / "doshit.toml"), "--redis-url", redis_url, "--prefix", prefix, "--burst")
    assert done.returncode == 0, done.stderr
    assert checksum.wait_result(timeout=5) == hashlib.sha256(data.read_bytes()).hexdigest()
    with pytest.raises(TaskFailed) as failed:
        unknown.wait_result(timeout=5)
    assert failed.value.reason == "command ./checksum.sh exited with status 2"
    assert "unknown algorithm: crc32" in failed.value.exception
    assert words.wait_result(timeout=5) == {"lines": 2, "words": 5}
    assert greeting.wait_result(timeout=5) == f"Hello, Ada (task {greeting.task_id})"
    assert shout.wait_result(timeout=5) == "HI!"


def test_the_readme_shows_the_example_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command-line tasks and deployment files\n", 1)[1].split("\n## ", 1)[0]
    for name, lang in [("doshit.toml", "toml"), ("checksum.sh", "sh"), ("wordcount.py", "python"),
                       ("greet.mjs", "js"), ("python_tasks.py", "python")]:  # fmt: skip
        assert f"```{lang}\n{(EXAMPLE / name).read_text()}```\n" in section, name
