"""A task whose threads report progress as fast as they can, for the frame test."""

from __future__ import annotations

import threading

from doshit import Registry, TaskContext

registry = Registry()


@registry.task
def chatty(threads: int, ctx: TaskContext) -> int:
    def report(number: int) -> None:
        for i in range(20_000):
            ctx.progress({"thread": number, "i": i})

    running = [threading.Thread(target=report, args=(n,)) for n in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return threads
