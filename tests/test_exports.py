"""The public surface is exactly what __all__ says."""

from __future__ import annotations

from pathlib import Path

import doshit

EXPECTED = {
    "AppRef", "AsyncClient", "AsyncTask", "Client", "ConfigError", "DecodeError", "DoshitError", "EncodeError",
    "Registry", "RegistryError", "Task", "TaskExists", "TaskFailed", "TaskInfo", "TaskNotFound", "TaskTimeout",
    "Worker", "task",
}  # fmt: skip


def test_exported_names() -> None:
    assert set(doshit.__all__) == EXPECTED
    public = {name for name in vars(doshit) if not name.startswith("_")}
    assert public == EXPECTED


def test_every_export_is_documented() -> None:
    for name in EXPECTED:
        assert getattr(doshit, name).__doc__, name


def test_typed_marker_ships() -> None:
    assert (Path(doshit.__file__).parent / "py.typed").is_file()
