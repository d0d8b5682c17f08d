"""The command lines: start-up line, clear errors for a bad --app, the legacy form."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from .conftest import ROOT


def run_worker(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doshit._cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("tests.apps.no_such_module", "no module named 'tests.apps.no_such_module'"),
        ("tests.apps.basic:echo", "is a function, not a doshit.Registry"),
        ("tests.apps.basic:nothing", "that is nothing, not a doshit.Registry"),
        ("tests.apps.legacy_other", "no doshit.Registry in it"),
        ("tests/apps/missing.py", "no such file"),
        (":registry", "name a module"),
    ],
)
def test_bad_app_is_a_clear_error(app: str, message: str, redis_url: str) -> None:
    done = run_worker("--app", app, "--redis-url", redis_url)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_redis_url(redis_url: str) -> None:
    done = run_worker("--app", "tests.apps.basic", "--redis-url", "http://localhost")
    assert done.returncode == 2
    assert "redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://" in done.stderr


def test_bad_concurrency() -> None:
    done = run_worker("--app", "tests.apps.basic", "--concurrency", "0")
    assert done.returncode == 2
    assert "--concurrency" in done.stderr


def test_help() -> None:
    done = run_worker("--help")
    assert done.returncode == 0
    for flag in ("--app", "--queue", "--concurrency", "--redis-url", "--prefix", "--burst", "--pool", "-v"):
        assert flag in done.stdout


def test_start_up_line_and_burst(redis_url: str, prefix: str, client: Any) -> None:
    """`--app tests.apps.basic` finds `registry`; --burst drains the queue and exits."""
    tasks = [client.submit("add", a=i, b=1) for i in range(5)]
    done = run_worker(
        "--app", "tests.apps.basic", "--redis-url", redis_url, "--prefix", prefix, "--burst", "-q", "default"
    )
    assert done.returncode == 0, done.stderr
    assert f"serving queue 'default' on {redis_url} (prefix '{prefix}')" in done.stderr
    assert "functions: add, allocate" in done.stderr
    assert [t.wait_result(timeout=1) for t in tasks] == [1, 2, 3, 4, 5]


def test_legacy_command_line_form(redis_url: str, prefix: str, client: Any) -> None:
    task = client.submit("bare", x=21, _queue="old")
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from doshit._cli import legacy_main; sys.exit(legacy_main())",
         "worker", "tests/apps/legacy_tasks.py", "-q", "old", "-r", redis_url, "--prefix", prefix, "--burst"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert task.wait_result(timeout=1) == 42


def test_installed_entry_points() -> None:
    """`doshit-worker` and `doshit` are on PATH next to the interpreter."""
    bindir = ROOT / ".venv" / "bin"
    for name in ("doshit-worker", "doshit"):
        path = bindir / name if bindir.exists() else None
        if path is None:
            pytest.skip("not running from the project's .venv")
        done = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
