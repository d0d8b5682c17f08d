"""The numbers a task may not exceed, and the limits a worker applies (each configurable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .schema import MAX_ARGS_BYTES, MAX_DEPTH, MAX_RESULT_BYTES

MAX_MEMORY_LIMIT = 2**63 - 1
"""The largest RLIMIT_AS that setrlimit takes; a larger virtual-memory-limit is refused."""
MAX_RETRIES = 1000
"""The most retries a task may ask for."""
MAX_TIMEOUT = 10**9
"""The longest time limit a task may ask for, in seconds."""


@dataclass(frozen=True)
class Limits:
    """What a worker refuses to run or to write: args and results larger than so many bytes of JSON,
    and args nested deeper than so many levels."""

    max_args_bytes: int = MAX_ARGS_BYTES
    max_result_bytes: int = MAX_RESULT_BYTES
    max_depth: int = MAX_DEPTH

    def __post_init__(self) -> None:
        for name in ("max_args_bytes", "max_result_bytes", "max_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def argv(self) -> list[str]:
        """The limits as command line options of a child process (see from_argv)."""
        return [f"--max-args-bytes={self.max_args_bytes}", f"--max-result-bytes={self.max_result_bytes}",
                f"--max-depth={self.max_depth}"]  # fmt: skip

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> Limits:
        given = dict(arg[2:].replace("-", "_").split("=", 1) for arg in argv if arg.startswith("--max-"))
        return cls(**{name: int(value) for name, value in given.items()})


DEFAULT_LIMITS = Limits()
