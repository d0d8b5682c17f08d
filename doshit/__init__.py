"""doshit: a cross-language, RPC-style job protocol on Redis.

from doshit import Client, Registry
"""

from ._aio import AsyncClient, AsyncTask
from ._app import AppRef
from ._client import Client, Task
from ._errors import (
    ConfigError,
    DecodeError,
    DoshitError,
    EncodeError,
    RegistryError,
    TaskExists,
    TaskFailed,
    TaskNotFound,
    TaskTimeout,
)
from ._legacy import task
from ._protocol import TaskInfo
from ._registry import Registry
from ._worker import Worker

__all__ = [
    "AppRef",
    "AsyncClient",
    "AsyncTask",
    "Client",
    "ConfigError",
    "DecodeError",
    "DoshitError",
    "EncodeError",
    "Registry",
    "RegistryError",
    "Task",
    "TaskExists",
    "TaskFailed",
    "TaskInfo",
    "TaskNotFound",
    "TaskTimeout",
    "Worker",
    "task",
]
