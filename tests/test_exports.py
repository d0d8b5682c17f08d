"""The public surface is exactly what __all__ says, plus the documented doshit.testing module."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import doshit
import doshit.testing

from .conftest import ROOT

EXPECTED = {
    "EVENTS", "AppRef", "AsyncClient", "AsyncTask", "Client", "ConfigError", "DecodeError", "DoshitError",
    "EncodeError", "Event", "Registry", "RegistryError", "Task", "TaskContext", "TaskError", "TaskExists",
    "TaskFailed", "TaskInfo", "TaskNotDurable", "TaskNotFound", "TaskTimeout", "Worker", "task",
}  # fmt: skip
PUBLIC_MODULES = {"testing"}
TESTING = {"PrivateCluster", "PrivateRedis", "answers", "free_port", "kill_all", "redis_server_binary"}


def test_exported_names() -> None:
    assert set(doshit.__all__) == EXPECTED
    public = {name for name in vars(doshit) if not name.startswith("_")}
    assert public == EXPECTED | PUBLIC_MODULES


def test_public_modules() -> None:
    """Every other module is private: its name starts with an underscore."""
    package = Path(doshit.__file__).parent
    names = {path.stem for path in package.iterdir() if path.suffix == ".py" or (path / "__init__.py").is_file()}
    assert {name for name in names if not name.startswith("_")} == PUBLIC_MODULES
    assert set(doshit.testing.__all__) == TESTING
    for name in TESTING:
        assert getattr(doshit.testing, name).__doc__, name


def test_every_export_is_documented() -> None:
    for name in EXPECTED:
        assert getattr(doshit, name).__doc__, name


def test_typed_marker_ships() -> None:
    assert (Path(doshit.__file__).parent / "py.typed").is_file()


def test_version_everywhere() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    package = json.loads((ROOT / "clients" / "node" / "package.json").read_text())
    assert doshit.__version__ == package["version"]
    assert 'dynamic = ["version"]' in pyproject and "doshit._version.__version__" in pyproject
    assert f"## {doshit.__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_the_wheel_ships_the_license(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("doshit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        license_text = next(archive.read(n) for n in names if n.endswith("LICENSE"))
        metadata = next(archive.read(n) for n in names if n.endswith("METADATA")).decode()
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert "doshit/py.typed" in names and "doshit/_core/schema.py" in names
    assert f"Version: {doshit.__version__}" in metadata and "Project-URL:" in metadata
