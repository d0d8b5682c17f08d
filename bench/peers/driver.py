"""The producer side of a Python peer for bench/peers.py, run in a peers venv (never the project's):

    PEERS_REDIS_URL=redis://127.0.0.1:PORT/DB python driver.py SYSTEM PHASE COUNT [BATCH] [WARMUP]

SYSTEM is one of rq, arq, saq, dramatiq, huey, celery, taskiq; PHASE one of

- ``submit``: COUNT enqueues one after the other from this one producer (after one untimed enqueue
  that connects); prints ``{"rate": tasks per second}``.
- ``fill``: COUNT tasks queued in batches of BATCH with the system's batch API, timed (``{"rate":
  ...}``); a system without one queues them one after the other, untimed (``{"na": why}``).
- ``roundtrips``: WARMUP untimed calls (the first one waits up to 60 s for the worker to start),
  then COUNT timed ones: enqueue, then wait for the result with the system's own waiting API;
  prints the samples in milliseconds.

Each task is the system's ``echo``, which counts itself on a Redis counter and returns its argument
(each round trip checks it gets its argument back). One JSON line on stdout; errors on stderr.
"""

import asyncio
import json
import sys
import time

FIRST_TIMEOUT = 60
TIMEOUT = 30
POLL = 0.001
"""Seconds between two looks at a result, for the systems whose only wait is to poll (arq, SAQ,
taskiq); their defaults are 0.2 to 0.5 s."""


class Peer:
    """A synchronous producer."""

    batch_api = None
    """Name of the batch enqueue API, None if the system has none."""

    def submit(self, value):
        raise NotImplementedError

    def submit_batch(self, values):
        raise NotImplementedError

    def call(self, value, timeout):
        """Enqueue, then wait for the result and return it."""
        raise NotImplementedError

    def close(self):
        pass


class RQ(Peer):
    batch_api = "Queue.enqueue_many"

    def __init__(self):
        import redis
        import rq
        import rq_tasks

        self.rq = rq
        self.connection = redis.Redis.from_url(rq_tasks.URL)
        self.queue = rq.Queue(rq_tasks.QUEUE, connection=self.connection)
        self.echo = rq_tasks.echo

    def submit(self, value):
        self.queue.enqueue(self.echo, value)

    def submit_batch(self, values):
        self.queue.enqueue_many([self.rq.Queue.prepare_data(self.echo, (value,)) for value in values])

    def call(self, value, timeout):
        job = self.queue.enqueue(self.echo, value)
        result = job.latest_result(timeout=timeout)  # XREAD BLOCK on the job's result stream
        if result is None:
            raise TimeoutError(f"no result within {timeout} s")
        if result.type != result.Type.SUCCESSFUL:
            raise RuntimeError(f"job failed: {result.exc_string}")
        return result.return_value

    def close(self):
        self.connection.close()


class Celery(Peer):
    batch_api = "group(...).apply_async() (one publish per task, one producer)"

    def __init__(self):
        import celery
        import celery_tasks

        self.group = celery.group
        self.app = celery_tasks.app
        self.echo = celery_tasks.echo

    def submit(self, value):
        self.echo.apply_async((value,))

    def submit_batch(self, values):
        self.group(self.echo.s(value) for value in values).apply_async()

    def call(self, value, timeout):
        return self.echo.apply_async((value,)).get(timeout=timeout)

    def close(self):
        self.app.close()


class Dramatiq(Peer):
    def __init__(self):
        import dramatiq_tasks

        self.backend = dramatiq_tasks.backend
        self.broker = dramatiq_tasks.broker
        self.echo = dramatiq_tasks.echo

    def submit(self, value):
        self.echo.send(value)

    def call(self, value, timeout):
        message = self.echo.send(value)
        return message.get_result(backend=self.backend, block=True, timeout=timeout * 1000)

    def close(self):
        self.broker.close()


class Huey(Peer):
    def __init__(self):
        import huey_tasks

        self.echo = huey_tasks.echo

    def submit(self, value):
        self.echo(value)

    def call(self, value, timeout):
        return self.echo(value).get(blocking=True, timeout=timeout)


class AsyncPeer:
    """An asyncio producer."""

    batch_api = None

    async def start(self):
        pass

    async def submit(self, value):
        raise NotImplementedError

    async def submit_batch(self, values):
        raise NotImplementedError

    async def call(self, value, timeout):
        raise NotImplementedError

    async def close(self):
        pass


class Arq(AsyncPeer):
    async def start(self):
        from arq import create_pool
        from arq_tasks import REDIS_SETTINGS

        self.pool = await create_pool(REDIS_SETTINGS)

    async def submit(self, value):
        await self.pool.enqueue_job("echo", value)

    async def call(self, value, timeout):
        job = await self.pool.enqueue_job("echo", value)
        return await job.result(timeout=timeout, poll_delay=POLL)

    async def close(self):
        await self.pool.aclose()


class Saq(AsyncPeer):
    async def start(self):
        from saq_tasks import queue

        self.queue = queue
        await queue.connect()

    async def submit(self, value):
        await self.queue.enqueue("echo", value=value)

    async def call(self, value, timeout):
        # apply() polls every poll_interval. Job.refresh(until_complete=...) listens on pub/sub
        # instead, but subscribes only after it has read the job: a fast job's message is lost.
        return await self.queue.apply("echo", timeout=timeout, poll_interval=POLL, value=value)

    async def close(self):
        await self.queue.disconnect()


class Taskiq(AsyncPeer):
    async def start(self):
        import taskiq_tasks

        self.broker = taskiq_tasks.broker
        self.echo = taskiq_tasks.echo
        await self.broker.startup()

    async def submit(self, value):
        await self.echo.kiq(value)

    async def call(self, value, timeout):
        task = await self.echo.kiq(value)
        result = await task.wait_result(check_interval=POLL, timeout=timeout)
        if result.is_err:
            raise RuntimeError(f"task failed: {result.error!r}")
        return result.return_value

    async def close(self):
        await self.broker.shutdown()


SYSTEMS = {"rq": RQ, "celery": Celery, "dramatiq": Dramatiq, "huey": Huey, "arq": Arq, "saq": Saq, "taskiq": Taskiq}


def chunks(count, size):
    for start in range(0, count, size):
        yield list(range(start, min(count, start + size)))


def run_sync(peer, phase, count, batch, warmup):
    if phase == "submit":
        peer.submit(-1)
        started = time.perf_counter()
        for value in range(count):
            peer.submit(value)
        return {"rate": count / (time.perf_counter() - started)}
    if phase == "fill":
        if peer.batch_api is None:
            for value in range(count):
                peer.submit(value)
            return {"na": "no batch API"}
        started = time.perf_counter()
        for values in chunks(count, batch):
            peer.submit_batch(values)
        return {"rate": count / (time.perf_counter() - started), "api": peer.batch_api}
    if phase == "roundtrips":
        for value in range(warmup):
            check(value, peer.call(value, FIRST_TIMEOUT if value == 0 else TIMEOUT))
        samples = []
        for value in range(count):
            started = time.perf_counter()
            result = peer.call(value, TIMEOUT)
            samples.append((time.perf_counter() - started) * 1000)
            check(value, result)
        return {"samples": samples}
    raise SystemExit(f"unknown phase {phase!r}")


async def run_async(peer, phase, count, batch, warmup):
    await peer.start()
    try:
        if phase == "submit":
            await peer.submit(-1)
            started = time.perf_counter()
            for value in range(count):
                await peer.submit(value)
            return {"rate": count / (time.perf_counter() - started)}
        if phase == "fill":
            if peer.batch_api is None:
                for value in range(count):
                    await peer.submit(value)
                return {"na": "no batch API"}
            started = time.perf_counter()
            for values in chunks(count, batch):
                await peer.submit_batch(values)
            return {"rate": count / (time.perf_counter() - started), "api": peer.batch_api}
        if phase == "roundtrips":
            for value in range(warmup):
                check(value, await peer.call(value, FIRST_TIMEOUT if value == 0 else TIMEOUT))
            samples = []
            for value in range(count):
                started = time.perf_counter()
                result = await peer.call(value, TIMEOUT)
                samples.append((time.perf_counter() - started) * 1000)
                check(value, result)
            return {"samples": samples}
        raise SystemExit(f"unknown phase {phase!r}")
    finally:
        await peer.close()


def check(value, result):
    if result != value:
        raise RuntimeError(f"a task called with {value!r} returned {result!r}")


def main():
    system, phase, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 50
    kind = SYSTEMS[system]
    if issubclass(kind, AsyncPeer):
        reply = asyncio.run(run_async(kind(), phase, count, batch, warmup))
    else:
        peer = kind()
        try:
            reply = run_sync(peer, phase, count, batch, warmup)
        finally:
            peer.close()
    print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
