"""Prometheus metrics of a doshit prefix, read from Redis at scrape time (nothing is kept in the
server: several ``doshit serve`` processes, or a restarted one, report the same numbers).

- ``doshit_queue_tasks{queue,state}`` (gauge): tasks on each queue's pending and executing lists and
  scheduled and failed sets;
- ``doshit_workers`` (gauge): live workers;
- ``doshit_tasks_total{queue,function,outcome}`` (counter): the stats hash the workers add to, outcome
  successful, failed, retried or recovered;
- ``doshit_task_duration_seconds{queue,function}`` (histogram): the stats durations hash, whose
  per-bucket counts are made cumulative here;
- ``doshit_worker_busy_seconds_total{worker,hostname}`` (counter): each live worker's busy-seconds;
- ``doshit_redis_up`` (gauge): 1 when Redis answered the scrape's reads, else 0 (and nothing else).

Every field of those hashes was written by someone else: one that is not JSON, has the wrong number
of labels, labels that are not text, or a value that is not a number is skipped, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .._core import codec
from .._core.keys import Keys, valid_queue
from .._core.schema import STATS_BUCKETS, Result, State, WorkerField
from .._core.stats import RECOVERED, SUM
from .._core.text import is_utf8
from .._core.worker_rules import RETRIED
from .._errors import DecodeError
from .._ops.queries import Ops

OUTCOMES = (Result.SUCCESSFUL, Result.FAILED, RETRIED, RECOVERED)
"""The outcomes of the stats hash."""
QUEUE_STATES = (State.PENDING, State.EXECUTING, State.SCHEDULED, Result.FAILED)
"""The states doshit_queue_tasks counts (failed: the failed index)."""
MAX_FIELDS = 100_000
"""At most this many fields of a stats hash are read (HSCAN would not make a huge one cheaper)."""

Labels = tuple[str, str, str]


def _label(value: Any) -> bool:
    return isinstance(value, str) and is_utf8(value)


def parse_labels(text: str) -> Labels | None:
    """The [queue, function, third] labels of a stats hash field, or None when it is malformed."""
    if not isinstance(text, str) or not is_utf8(text):
        return None
    try:
        value = codec.decode(text, max_depth=1)
    except DecodeError:
        return None
    if not isinstance(value, list) or len(value) != 3 or not all(_label(item) for item in value):
        return None
    return value[0], value[1], value[2]


def parse_count(text: Any) -> int | None:
    """A whole number from 0, or None."""
    if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > 30:
        return None
    return int(text)


def parse_seconds(text: Any) -> float | None:
    """A finite number of seconds from 0, or None."""
    if not isinstance(text, str) or not text.isascii() or len(text) > 60:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


@dataclass
class Histogram:
    """One (queue, function)'s run times: runs per bucket (not cumulative) and their total seconds."""

    buckets: dict[str, int] = field(default_factory=dict)
    total: float = 0.0

    def cumulative(self) -> list[tuple[str, float]]:
        running = 0
        out: list[tuple[str, float]] = []
        for bound in STATS_BUCKETS:
            running += self.buckets.get(bound, 0)
            out.append((bound, float(running)))
        return out


@dataclass
class Stats:
    """The stats hashes of a prefix, read and checked."""

    counts: dict[Labels, int] = field(default_factory=dict)
    durations: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def queues(self) -> list[str]:
        """The queues the stats name (those that no queue could have left out)."""
        names = {labels[0] for labels in self.counts} | {labels[0] for labels in self.durations}
        return sorted(name for name in names if valid_queue(name))

    def done(self, queue: str) -> dict[str, int]:
        """The queue's totals by outcome, over its functions."""
        totals = dict.fromkeys(OUTCOMES, 0)
        for (name, _, outcome), count in self.counts.items():
            if name == queue and outcome in totals:
                totals[outcome] += count
        return totals


def read_stats(conn: redis.Redis, keys: Keys) -> Stats:
    """Both stats hashes; a key of the wrong type is a problem, not an error. Raises only when Redis is
    unavailable."""
    pipe = conn.pipeline(transaction=False)
    pipe.hlen(keys.stats)
    pipe.hlen(keys.stats_durations)
    sizes = pipe.execute(raise_on_error=False)
    stats = Stats()
    replies: list[Any] = []
    for key, size in zip((keys.stats, keys.stats_durations), sizes, strict=True):
        if isinstance(size, Exception):
            stats.problems.append(f"{key}: {type(size).__name__}: {size}")
            replies.append({})
        elif size > MAX_FIELDS:
            stats.problems.append(f"{key}: {size} fields, more than the {MAX_FIELDS} read")
            replies.append({})
        else:
            try:
                replies.append(conn.hgetall(key))
            except redis.ResponseError as exc:  # it changed type meanwhile
                stats.problems.append(f"{key}: {type(exc).__name__}: {exc}")
                replies.append({})
    counts, durations = replies
    _read_counts(stats, counts)
    _read_durations(stats, durations)
    return stats


def _read_counts(stats: Stats, fields: Mapping[str, str]) -> None:
    for name, value in fields.items():
        labels, count = parse_labels(name), parse_count(value)
        if labels is None or count is None:
            continue
        stats.counts[labels] = stats.counts.get(labels, 0) + count


def _read_durations(stats: Stats, fields: Mapping[str, str]) -> None:
    bounds = set(STATS_BUCKETS)
    for name, value in fields.items():
        labels = parse_labels(name)
        if labels is None:
            continue
        queue, function, bound = labels
        if bound == SUM:
            seconds = parse_seconds(value)
            if seconds is not None:
                stats.durations.setdefault((queue, function), Histogram()).total += seconds
        elif bound in bounds:
            count = parse_count(value)
            if count is not None:
                histogram = stats.durations.setdefault((queue, function), Histogram())
                histogram.buckets[bound] = histogram.buckets.get(bound, 0) + count


class DoshitCollector(Collector):
    """Reads the prefix's queues, workers and stats from Redis at each scrape."""

    def __init__(self, ops: Callable[[], Ops], extra_queues: Sequence[str] = ()) -> None:
        self.ops = ops
        self.extra_queues = list(extra_queues)

    def describe(self) -> Iterable[Metric]:
        return []  # nothing is read when the collector is registered

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("doshit_redis_up", "1 when Redis answered this scrape's reads, else 0")
        try:
            families = list(self._families())
        except (redis.RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        ops = self.ops()
        stats = read_stats(ops.redis, ops.keys)
        workers, _ = ops.workers([])
        queues = ops.queues([*self.extra_queues, *stats.queues], workers)

        depth = GaugeMetricFamily("doshit_queue_tasks", "Tasks on each queue, by state", labels=["queue", "state"])
        for counts in ops.queue_stats(queues):
            values = (counts.pending, counts.executing, counts.scheduled, counts.failed)
            for state, value in zip(QUEUE_STATES, values, strict=True):
                if value is not None:
                    depth.add_metric([counts.name, state], value)
        yield depth

        yield GaugeMetricFamily("doshit_workers", "Live workers", value=len(workers))

        tasks = CounterMetricFamily(
            "doshit_tasks", "Tasks by queue, function and outcome", labels=["queue", "function", "outcome"]
        )
        for labels, count in sorted(stats.counts.items()):
            tasks.add_metric(list(labels), count)
        yield tasks

        durations = HistogramMetricFamily(
            "doshit_task_duration_seconds", "Run time of tasks", labels=["queue", "function"], unit="seconds"
        )
        for (queue, function), histogram in sorted(stats.durations.items()):
            durations.add_metric([queue, function], histogram.cumulative(), histogram.total)
        yield durations

        busy = CounterMetricFamily(
            "doshit_worker_busy_seconds",
            "Seconds each live worker's tasks ran since it started, over its slots",
            labels=["worker", "hostname"],
            unit="seconds",
        )
        for row in workers:
            seconds = parse_seconds(row.fields.get(WorkerField.BUSY_SECONDS))
            hostname = row.fields.get(WorkerField.HOSTNAME, "")
            if seconds is not None:
                busy.add_metric([row.worker_id, hostname if is_utf8(hostname) else ""], seconds)
        yield busy


def registry(ops: Callable[[], Ops], extra_queues: Sequence[str] = ()) -> CollectorRegistry:
    """A registry of the doshit collector alone (no process metrics of the server itself)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(DoshitCollector(ops, extra_queues))
    return found
