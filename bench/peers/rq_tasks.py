"""RQ's side of bench/peers.py: the no-op task, served by ``rq worker -w rq.worker.SimpleWorker``."""

import os

import redis

URL = os.environ["PEERS_REDIS_URL"]
QUEUE = os.environ.get("PEERS_QUEUE", "peers")
COUNTER = os.environ.get("PEERS_COUNTER", "peers:done")
_counter = None


def echo(value):
    """Counts itself on the shared counter (how bench/peers.py sees a drain progress) and returns its argument."""
    global _counter
    if _counter is None:
        _counter = redis.Redis.from_url(URL)
    _counter.incr(COUNTER)
    return value
