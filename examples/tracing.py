"""Tracing doshit tasks with OpenTelemetry: one span per run of a task, joined to the producer's trace.

The producer puts its trace context (a W3C ``traceparent``) in the task's ``meta`` field; the
worker's hooks get it back in ``event.meta`` and open the task's span under it. The spans go to the
console here; use any exporter (OTLP to a collector, Jaeger, ...) in their place.

    doshit-worker --app examples/tracing.py          # the worker: prints a span per task
    python examples/tracing.py                       # a producer: one traced submit
"""

from __future__ import annotations

import sys

from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from doshit import Client, Event, Registry, Task

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("doshit.example")

registry = Registry()


@registry.task
def resize(width: int) -> int:
    return width // 2


def task_span(event: Event) -> None:
    """A span for a run that ended: it started ``duration`` seconds before the event."""
    end = int(event.at.timestamp() * 1e9)
    start = end - int((event.duration or 0.0) * 1e9)
    span = tracer.start_span(
        f"doshit.task {event.function}",
        context=extract(event.meta),  # the producer's trace, when it sent one
        kind=SpanKind.CONSUMER,
        start_time=start,
        attributes={
            "doshit.task_id": event.task_id or "",
            "doshit.queue": event.queue,
            "doshit.attempt": event.attempt or 0,
            "doshit.worker": event.worker_id,
        },
    )
    if event.kind != "task_succeeded":
        span.set_status(Status(StatusCode.ERROR, event.reason))
    span.end(end_time=end)


for kind in ("task_succeeded", "task_failed", "task_retried"):
    registry.on(kind)(task_span)


def submit_traced(client: Client, function: str, /, **kwargs: object) -> Task:
    """Submit inside a producer span, its context in the task's meta field."""
    with tracer.start_as_current_span(f"submit {function}", kind=SpanKind.PRODUCER):
        carrier: dict[str, str] = {}
        inject(carrier)
        return client.submit(function, _meta=carrier, **kwargs)


def main() -> None:
    with Client() as client:
        task = submit_traced(client, "resize", width=640)
        print("result", task.wait_result(timeout=30))
        meta = task.info().meta or {}
        print("trace", str(meta.get("traceparent", "")).split("-")[1])  # 00-TRACE_ID-SPAN_ID-01


if __name__ == "__main__":
    main()
