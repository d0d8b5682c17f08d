"""Dramatiq's side of bench/peers.py: ``dramatiq dramatiq_tasks --processes 1 --threads 1``.

The Redis broker with its default middleware, plus the Results middleware (Redis backend), which a
round trip needs.
"""

import os

import dramatiq
from counted import counted
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

URL = os.environ["PEERS_REDIS_URL"]
QUEUE = os.environ.get("PEERS_QUEUE", "peers")

backend = RedisBackend(url=URL)
broker = RedisBroker(url=URL)
broker.add_middleware(Results(backend=backend))
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=0)
def echo(value):
    return counted(value)
