"""What a worker counts for metrics, with no I/O: task outcomes and run times by queue and function,
gathered as tasks end and handed over in one batch with each heartbeat (the stats and
stats_durations hashes of the schema). Safe to use from several threads."""

from __future__ import annotations

import bisect
import functools
import threading
from collections import Counter
from dataclasses import dataclass, field

from . import codec
from .schema import STATS_BUCKETS

UNKNOWN_FUNCTION = "(unknown)"
"""The function label of a task whose function the worker has not registered (any producer could
otherwise add a label per made-up name)."""
RECOVERED = "recovered"
"""The outcome counted when a worker gives back or fails a dead worker's task."""
SUM = "sum"
"""The label of the total seconds in the stats_durations hash."""

_BOUNDS = [float(bound) for bound in STATS_BUCKETS]


@functools.lru_cache(maxsize=4096)
def stat_field(*labels: str) -> str:
    """A field of the stats hashes: its labels as a compact JSON array."""
    return codec.encode(list(labels))


def bucket(seconds: float) -> str:
    """The bucket (its upper bound, as the schema writes it) a run of this many seconds falls in."""
    return STATS_BUCKETS[min(bisect.bisect_left(_BOUNDS, seconds), len(STATS_BUCKETS) - 1)]


@dataclass
class StatsDelta:
    """What to add to the stats hashes: counts by field, run counts by bucket field, seconds by field."""

    counts: Counter[str] = field(default_factory=Counter)
    durations: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counts or self.durations or self.seconds)

    def add(self, other: StatsDelta) -> None:
        self.counts.update(other.counts)
        self.durations.update(other.durations)
        for name, seconds in other.seconds.items():
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds


class Stats:
    """A worker's counts since its last hand-over, and its busy seconds since it started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._delta = StatsDelta()
        self.busy_seconds = 0.0

    def record(self, queue: str, function: str, outcome: str, duration: float | None = None) -> None:
        with self._lock:
            self._delta.counts[stat_field(queue, function, outcome)] += 1
            if duration is not None:
                self._delta.durations[stat_field(queue, function, bucket(duration))] += 1
                name = stat_field(queue, function, SUM)
                self._delta.seconds[name] = self._delta.seconds.get(name, 0.0) + duration
                self.busy_seconds += duration

    def recovered(self, queue: str) -> None:
        self.record(queue, "", RECOVERED)

    def take(self) -> StatsDelta:
        """What was recorded since the last take; ``give_back`` it if it could not be written."""
        with self._lock:
            delta, self._delta = self._delta, StatsDelta()
        return delta

    def give_back(self, delta: StatsDelta) -> None:
        with self._lock:
            self._delta.add(delta)
