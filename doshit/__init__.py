"""doshit: a cross-language, RPC-style job protocol on Redis.

from doshit import Client, Registry
"""

from ._client.aio import AsyncClient, AsyncTask
from ._client.legacy import task
from ._client.sync import Client, Task
from ._core.taskinfo import TaskInfo
from ._errors import (
    ConfigError,
    DecodeError,
    DoshitError,
    EncodeError,
    RegistryError,
    TaskError,
    TaskExists,
    TaskFailed,
    TaskNotDurable,
    TaskNotFound,
    TaskTimeout,
)
from ._version import __version__ as __version__
from ._worker.app import AppRef
from ._worker.context import TaskContext
from ._worker.events import EVENTS, Event
from ._worker.registry import Registry
from ._worker.worker import Worker

__all__ = [
    "EVENTS",
    "AppRef",
    "AsyncClient",
    "AsyncTask",
    "Client",
    "ConfigError",
    "DecodeError",
    "DoshitError",
    "EncodeError",
    "Event",
    "Registry",
    "RegistryError",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskExists",
    "TaskFailed",
    "TaskInfo",
    "TaskNotDurable",
    "TaskNotFound",
    "TaskTimeout",
    "Worker",
    "task",
]
