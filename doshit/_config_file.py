"""Deployment files: ``doshit-worker --config doshit.toml``.

One TOML file describes a deployment: the Python registries to serve (``app`` or ``apps``), command
tasks (``[tasks.NAME]`` tables, see doshit/_worker/commands.py) and any ``doshit-worker`` flag in a
``[worker]`` table. The ``[worker]`` keys are mapped onto the argument parser's own options, so a flag
added to the parser later works in the file without change; what the command line gives wins.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._errors import RegistryError
from ._worker.app import AppRef
from ._worker.commands import Command, kind_of
from ._worker.registry import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TOP_KEYS = ("app", "apps", "worker", "tasks")
"""The keys a deployment file may have at its top level."""
NOT_IN_FILE = {
    "app": "name the Python registries at the top level of the file: app = ... or apps = [...]",
    "config": "a deployment file cannot name another one",
}
"""Flags that have no place in the [worker] table, and why."""


class _FromFile(list):  # type: ignore[type-arg]
    """A list default from the file: an ``append`` flag given on the command line starts from an
    empty list instead of adding to it (argparse copies a non-list default with copy.copy)."""

    def __copy__(self) -> list[Any]:
        return []


def read(path: str | Path) -> dict[str, Any]:
    """The file's TOML, its top-level keys checked. RegistryError for a file that is missing, not
    TOML, or has keys a deployment file does not."""
    where = str(path)
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise RegistryError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise RegistryError(f"{where}: is a folder, not a file") from None
    except OSError as exc:
        raise RegistryError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{where}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{where}: not UTF-8 text: {exc}") from None
    for key in data:
        if key not in TOP_KEYS:
            raise RegistryError(f"{where}: unknown top-level key {key!r}{_close(key, TOP_KEYS)}; a deployment "
                                f"file has {', '.join(TOP_KEYS)} (tasks and worker as tables)")  # fmt: skip
    if "app" in data and "apps" in data:
        raise RegistryError(f"{where}: give app or apps, not both")
    if "app" in data and not isinstance(data["app"], str):
        raise RegistryError(f'{where}: app must be a string such as "tasks:registry", got {kind_of(data["app"])}')
    apps = data.get("apps", [])
    if not isinstance(apps, list) or not all(isinstance(app, str) and app for app in apps):
        raise RegistryError(f"{where}: apps must be a list of strings such as [\"tasks:registry\"], got "
                            f"{kind_of(apps)}")  # fmt: skip
    for key in ("worker", "tasks"):
        if not isinstance(data.get(key, {}), dict):
            raise RegistryError(f"{where}: {key} must be a table ([{key}]), got {kind_of(data[key])}")
    return data


def apps_of(data: dict[str, Any]) -> list[str]:
    return [data["app"]] if "app" in data else list(data.get("apps", []))


def commands(data: dict[str, Any], path: str | Path) -> list[Command]:
    """The file's command tasks, checked; relative paths in them start at the file's folder."""
    base = Path(path).resolve().parent
    return [Command.from_table(name, table, base, str(path)) for name, table in data.get("tasks", {}).items()]


def load_registry(path: str | Path, apps: Sequence[str] | None = None) -> Registry:
    """The registry a deployment file describes: its Python registries (or ``apps``, given on the
    command line instead) and its command tasks. A name defined twice is a RegistryError."""
    data = read(path)
    where = str(path)
    found = commands(data, path)
    specs = list(apps) if apps is not None else apps_of(data)
    base = Path(path).resolve().parent
    loaded: list[tuple[str, Registry]] = []
    for spec in specs:
        loaded.append((spec, _load_app(spec, base)))
    if len(loaded) == 1 and not found:
        return loaded[0][1]
    registry = Registry()
    origin: dict[str, str] = {}
    seen: list[Registry] = []
    for spec, app in loaded:
        if any(app is other for other in seen):
            continue
        seen.append(app)
        for name in app.names():
            if name in registry:
                raise RegistryError(
                    f"{where}: the task name {name!r} is defined twice: by {origin[name]} and by {spec}"
                )
            function = app.get(name)
            assert function is not None
            registry.register(function, name=name, policy=app.policy(name))
            origin[name] = spec
        for event, hooks in app.hooks().items():
            for hook in hooks:
                registry.on(event)(hook)
    for command in found:
        if command.name in registry:
            raise RegistryError(f"{where}: the task name {command.name!r} is defined twice: by "
                                f"{origin[command.name]} and by [tasks.{command.name}]")  # fmt: skip
        command.register(registry)
        origin[command.name] = f"[tasks.{command.name}]"
    if not len(registry):
        raise RegistryError(f"{where}: no tasks in it: give app = \"module:registry\", apps = [...] or "
                            f"[tasks.NAME] tables (or --app on the command line)")  # fmt: skip
    return registry


def _load_app(spec: str, base: Path) -> Registry:
    """An app named in the file: a file path is relative to the file's folder, and modules are looked
    for in that folder too (after the working directory)."""
    module, colon, attr = spec.partition(":")
    if (module.endswith(".py") or "/" in module) and not Path(module).is_absolute():
        spec = f"{base / module}{colon}{attr}"
    if str(base) not in sys.path:
        sys.path.append(str(base))
    return AppRef(spec).load()


# --------------------------------------------------------------------------- the command line


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a deployment file (TOML): Python apps, command tasks ([tasks.NAME]) and these flags ([worker]); "
        "flags given here win",
    )


def defaults(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The defaults the ``--config`` file in ``argv`` sets, by the parser's ``dest`` names, for
    ``parser.set_defaults`` before ``parse_args`` (so the command line wins); {} without --config.
    A bad file ends the program with status 2 and one line naming the file and the problem."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if known.config is None:
        return {}
    try:
        data = read(known.config)
        commands(data, known.config)
        return worker_defaults(parser, data.get("worker", {}), known.config)
    except RegistryError as exc:
        _exit(parser, str(exc))


def worker_defaults(parser: argparse.ArgumentParser, table: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``[worker]`` table as parser defaults: each key is a long flag name (dashes or underscores)."""
    options: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        for option in action.option_strings:
            if option.startswith("--"):
                options[option[2:]] = action
        if action.option_strings:
            options.setdefault(action.dest.replace("_", "-"), action)
    found: dict[str, Any] = {}
    given: dict[str, str] = {}
    for key, value in table.items():
        name = key.replace("_", "-")
        if name in NOT_IN_FILE:
            raise RegistryError(f"{where}: [worker] {key}: {NOT_IN_FILE[name]}")
        flag = options.get(name)
        if flag is None:
            raise RegistryError(f"{where}: [worker] has an unknown key {key!r}{_close(name, list(options))}; "
                                f"the keys are doshit-worker's flags (see doshit-worker --help)")  # fmt: skip
        if flag.dest in given:
            raise RegistryError(f"{where}: [worker] sets {flag.dest.replace('_', '-')} twice ({given[flag.dest]} "
                                f"and {key})")  # fmt: skip
        given[flag.dest] = key
        found[flag.dest] = _value(flag, key, value, f"{where}: [worker] {key}")
    return found


def worker_app(parser: argparse.ArgumentParser, args: argparse.Namespace) -> AppRef:
    """What the worker serves: ``--app``, or the ``--config`` file's registry (with ``--app`` instead
    of the file's apps when both are given)."""
    app = getattr(args, "app", None)
    apps = None if app is None else [app] if isinstance(app, str) else list(app)
    config = getattr(args, "config", None)
    if config is not None:
        return AppRef.config(config, apps)
    if not apps:
        parser.error("give --app MODULE[:ATTR], or --config FILE naming apps or command tasks")
    return AppRef(apps[0])


def _value(action: argparse.Action, key: str, value: Any, where: str) -> Any:
    """A file value as the parser would have stored it for its flag."""
    if isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise RegistryError(f"{where}: must be true or false, got {kind_of(value)}")
        return value
    if isinstance(action, argparse._StoreConstAction) and action.nargs == 0:  # store_true, store_false, const
        if not isinstance(value, bool):
            raise RegistryError(f"{where}: must be true or false, got {kind_of(value)}")
        return action.const if value else action.default
    if isinstance(action, argparse._CountAction):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RegistryError(f"{where}: must be a whole number from 0, got {kind_of(value)}")
        return value
    if action.nargs == 0:
        raise RegistryError(f"{where}: this flag cannot be set in a file")
    many = action.nargs not in (None, argparse.OPTIONAL)
    if isinstance(action, (argparse._AppendAction, argparse._ExtendAction)):
        items = value if isinstance(value, list) else [value]
        if many and not isinstance(action, argparse._ExtendAction):
            return _FromFile(_list(action, item, where) for item in items)
        return _FromFile(_scalar(action, item, where) for item in items)
    if many:
        return _list(action, value, where)
    return _scalar(action, value, where)


def _list(action: argparse.Action, value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RegistryError(f"{where}: must be a list, got {kind_of(value)}")
    if action.nargs == argparse.ONE_OR_MORE and not value:
        raise RegistryError(f"{where}: must not be empty")
    if isinstance(action.nargs, int) and len(value) != action.nargs:
        raise RegistryError(f"{where}: must be a list of {action.nargs}, got {len(value)}")
    return [_scalar(action, item, where) for item in value]


def _scalar(action: argparse.Action, value: Any, where: str) -> Any:
    if action.metavar == "COMMAND" and action.type is None and isinstance(value, list):
        if not value or not all(isinstance(arg, str) and arg for arg in value):
            raise RegistryError(f"{where}: must be a command: a non-empty list of strings, got {value!r}")
        return list(value)  # a command flag takes its argv as a list (or a string split like a shell)
    if isinstance(value, (bool, list, dict)) or not isinstance(value, (str, int, float)):
        raise RegistryError(f"{where}: must be {_wanted(action)}, got {kind_of(value)}")
    convert = action.type
    if convert is None:
        if not isinstance(value, str):
            raise RegistryError(f"{where}: must be a string, got {kind_of(value)}")
        result: Any = value
    else:
        text = value if isinstance(value, str) else repr(value)
        try:
            result = convert(text)  # type: ignore[operator]
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            raise RegistryError(f"{where}: {exc or 'invalid value'}") from None
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(repr(choice) for choice in action.choices)
        raise RegistryError(f"{where}: must be one of {choices}, got {result!r}")
    return result


def _wanted(action: argparse.Action) -> str:
    if action.choices is not None:
        return "one of " + ", ".join(repr(choice) for choice in action.choices)
    return "a string" if action.type is None else "a string or a number"


def _close(key: str, known: Sequence[str]) -> str:
    matches = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _exit(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.exit(2, f"{parser.prog}: error: {message}\n")
