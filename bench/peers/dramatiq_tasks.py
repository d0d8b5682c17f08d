"""Dramatiq's side of bench/peers.py: ``dramatiq dramatiq_tasks --processes 1 --threads 1``.

The Redis broker with its default middleware, plus the Results middleware (Redis backend), which a
round trip needs.
"""

import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

URL = os.environ["PEERS_REDIS_URL"]
QUEUE = os.environ.get("PEERS_QUEUE", "peers")
COUNTER = os.environ.get("PEERS_COUNTER", "peers:done")

backend = RedisBackend(url=URL)
broker = RedisBroker(url=URL)
broker.add_middleware(Results(backend=backend))
dramatiq.set_broker(broker)
_counter = None


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=0)
def echo(value):
    global _counter
    if _counter is None:
        _counter = redis.Redis.from_url(URL)
    _counter.incr(COUNTER)
    return value
