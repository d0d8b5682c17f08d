"""What every synchronous peer's task does (RQ, Dramatiq, Huey, Celery): count itself on the shared
counter, which is how bench/peers.py sees a drain progress, and return its argument. Imported by the
task modules, which run from this folder in the peers' venv."""

import os

import redis

URL = os.environ["PEERS_REDIS_URL"]
COUNTER = os.environ.get("PEERS_COUNTER", "peers:done")
_counter = None


def counted(value):
    global _counter
    if _counter is None:
        _counter = redis.Redis.from_url(URL)
    _counter.incr(COUNTER)
    return value
