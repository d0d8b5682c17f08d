"""SAQ's side of bench/peers.py: ``saq saq_tasks.settings --workers 1`` (concurrency 10, SAQ's default)."""

import os

from saq import Queue

URL = os.environ["PEERS_REDIS_URL"]
QUEUE = os.environ.get("PEERS_QUEUE", "peers")
COUNTER = os.environ.get("PEERS_COUNTER", "peers:done")

queue = Queue.from_url(URL, name=QUEUE)


async def echo(ctx, *, value):
    await queue.redis.incr(COUNTER)
    return value


settings = {"queue": queue, "functions": [echo]}
