"""Huey's side of bench/peers.py: ``huey_consumer huey_tasks.huey -w 1 -k thread``.

notify_result=True: a result wait blocks on BLPOP instead of polling (from 50 ms, growing 1.15x).
"""

import os

import redis
from huey import RedisHuey

URL = os.environ["PEERS_REDIS_URL"]
QUEUE = os.environ.get("PEERS_QUEUE", "peers")
COUNTER = os.environ.get("PEERS_COUNTER", "peers:done")

huey = RedisHuey(QUEUE, url=URL, notify_result=True)
_counter = None


@huey.task()
def echo(value):
    global _counter
    if _counter is None:
        _counter = redis.Redis.from_url(URL)
    _counter.incr(COUNTER)
    return value
