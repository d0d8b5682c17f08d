"""taskiq's side of bench/peers.py: ``taskiq worker taskiq_tasks:broker --workers 1``.

taskiq-redis's ListQueueBroker (LPUSH/BRPOP, the fastest of its brokers; RedisStreamBroker adds
acknowledgements) and its Redis result backend, which a round trip needs.
"""

import os

from redis.asyncio import BlockingConnectionPool, Redis
from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

URL = os.environ["PEERS_REDIS_URL"]
QUEUE = os.environ.get("PEERS_QUEUE", "peers")
COUNTER = os.environ.get("PEERS_COUNTER", "peers:done")

broker = ListQueueBroker(url=URL, queue_name=QUEUE).with_result_backend(RedisAsyncResultBackend(redis_url=URL))
_counter = None


@broker.task(task_name="echo")
async def echo(value):
    global _counter
    if _counter is None:
        _counter = Redis(connection_pool=BlockingConnectionPool.from_url(URL, max_connections=64))
    await _counter.incr(COUNTER)
    return value
