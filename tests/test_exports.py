"""The public surface is exactly what __all__ says, plus the documented doshit.testing module."""

from __future__ import annotations

from pathlib import Path

import doshit
import doshit.testing

EXPECTED = {
    "AppRef", "AsyncClient", "AsyncTask", "Client", "ConfigError", "DecodeError", "DoshitError", "EncodeError",
    "Registry", "RegistryError", "Task", "TaskExists", "TaskFailed", "TaskInfo", "TaskNotFound", "TaskTimeout",
    "Worker", "task",
}  # fmt: skip
PUBLIC_MODULES = {"testing"}
TESTING = {"PrivateRedis", "answers", "free_port", "redis_server_binary"}


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
