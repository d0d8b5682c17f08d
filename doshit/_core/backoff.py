"""How long to wait before each retry: one helper for every retry loop in the package."""

from __future__ import annotations

from collections.abc import Sequence


class Backoff:
    """Each failure takes the next delay of ``delays``, the last one repeating; a success starts over.

    >>> backoff = Backoff((0.5, 1.0))
    >>> backoff.failed(), backoff.failed(), backoff.failed()
    (0.5, 1.0, 1.0)
    >>> backoff.reset()
    True
    """

    def __init__(self, delays: Sequence[float]) -> None:
        if not delays:
            raise ValueError("a backoff needs at least one delay")
        self.delays = tuple(delays)
        self.failures = 0
        """Failures since the last success."""

    def failed(self) -> float:
        """Count a failure; returns the seconds to wait before the next attempt."""
        delay = self.delays[min(self.failures, len(self.delays) - 1)]
        self.failures += 1
        return delay

    def reset(self) -> bool:
        """Count a success; True when it ends a run of failures."""
        had_failed = self.failures > 0
        self.failures = 0
        return had_failed
