"""Finding the registry a worker serves: ``--app module[:attr]``, a file path, legacy ``@task()``s, or
a deployment file (``--config doshit.toml``: its apps and command tasks)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .._client.legacy import LegacyTask
from .._errors import RegistryError
from .registry import Registry

DEFAULT_ATTR = "registry"
CONFIG_SEPARATOR = "::"
"""Between a deployment file's path and the apps that replace the file's own in an AppRef spec."""


@dataclass(frozen=True)
class AppRef:
    """Where a registry lives, so a child process can load the same one.

    ``spec`` is ``module``, ``module:attr``, ``path/to/file.py`` or ``path/to/file.py:attr``.
    With ``legacy`` the registry is the module's legacy ``@task()`` functions. A spec that is the
    absolute path of a ``.toml`` deployment file (see ``config``) is the registry that file describes.
    """

    spec: str
    legacy: bool = False

    def argv(self) -> list[str]:
        return [self.spec, *(["--legacy"] if self.legacy else [])]

    @classmethod
    def config(cls, path: str | Path, apps: Sequence[str] | None = None) -> AppRef:
        """The registry of a deployment file: its apps (or ``apps`` instead) and its command tasks."""
        return cls(CONFIG_SEPARATOR.join([str(Path(path).resolve()), *(apps or [])]))

    @property
    def config_file(self) -> str | None:
        """The deployment file this refers to, if it is one."""
        path = self.spec.split(CONFIG_SEPARATOR, 1)[0]
        return path if path.endswith(".toml") and not self.legacy else None

    def load(self) -> Registry:
        config = self.config_file
        if config is not None:
            from .._config_file import load_registry

            apps = self.spec.split(CONFIG_SEPARATOR)[1:]
            return load_registry(config, apps or None)
        module_part, _, attr = self.spec.partition(":")
        if not module_part:
            raise RegistryError(f"--app {self.spec!r}: name a module, e.g. tasks or tasks:registry")
        module = _import(module_part)
        if self.legacy:
            return legacy_registry(module)
        return _registry_in(module, attr)

    @classmethod
    def find(cls, registry: Registry) -> AppRef | None:
        """Where an already imported registry can be imported from, if it is a module attribute."""
        for name, module in list(sys.modules.items()):
            for attr, value in list(getattr(module, "__dict__", {}).items()):
                if value is registry:
                    if name == "__main__":
                        path = getattr(module, "__file__", None)
                        return cls(f"{path}:{attr}") if path else None
                    return cls(f"{name}:{attr}")
        return None


def _import(name: str) -> ModuleType:
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if name.endswith(".py") or os.sep in name:
        path = Path(name).resolve()
        if not path.is_file():
            raise RegistryError(f"--app {name!r}: no such file")
        name = _module_name(path)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name or (exc.name and name.startswith(exc.name + ".")):
            raise RegistryError(
                f"--app {name!r}: no module named {exc.name!r} (searched {os.getcwd()} and sys.path)"
            ) from exc
        raise RegistryError(f"--app {name!r}: importing it failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise RegistryError(f"--app {name!r}: importing it failed: {type(exc).__name__}: {exc}") from exc


def _module_name(path: Path) -> str:
    """The dotted name to import a file by: its package path under the working directory when it
    lies in packages there (so its relative imports work), else its bare name from its own folder."""
    cwd = Path.cwd().resolve()
    parts = [path.stem]
    folder = path.parent
    while folder != cwd and (folder / "__init__.py").is_file() and cwd in folder.parents:
        parts.insert(0, folder.name)
        folder = folder.parent
    if folder == cwd:
        return ".".join(parts)
    sys.path.insert(0, str(path.parent))
    return path.stem


def _registry_in(module: ModuleType, attr: str) -> Registry:
    if attr:
        value = getattr(module, attr, None)
        if isinstance(value, Registry):
            return value
        what = "nothing" if value is None else f"a {type(value).__name__}"
        raise RegistryError(f"--app {module.__name__}:{attr}: that is {what}, not a doshit.Registry")
    value = getattr(module, DEFAULT_ATTR, None)
    if isinstance(value, Registry):
        return value
    found = [name for name, v in vars(module).items() if isinstance(v, Registry)]
    if len(found) == 1:
        return getattr(module, found[0])  # type: ignore[no-any-return]
    if found:
        raise RegistryError(
            f"--app {module.__name__}: it has several registries ({', '.join(found)}); name one with :ATTR"
        )
    raise RegistryError(
        f"--app {module.__name__}: no doshit.Registry in it; define `registry = Registry()` or name one with :ATTR"
    )


def legacy_registry(module: ModuleType) -> Registry:
    """The functions this module itself decorated with the legacy @task(): its whole whitelist."""
    registry = Registry()
    for name, value in vars(module).items():
        if isinstance(value, LegacyTask) and value.function.__module__ == module.__name__:
            registry.register(value.function, name=name)
    if not len(registry):
        raise RegistryError(f"{module.__name__}: no function in it is decorated with @task()")
    return registry
