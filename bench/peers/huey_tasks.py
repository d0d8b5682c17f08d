"""Huey's side of bench/peers.py: ``huey_consumer huey_tasks.huey -w 1 -k thread``.

notify_result=True: a result wait blocks on BLPOP instead of polling (from 50 ms, growing 1.15x).
"""

import os

from counted import counted
from huey import RedisHuey

URL = os.environ["PEERS_REDIS_URL"]
QUEUE = os.environ.get("PEERS_QUEUE", "peers")

huey = RedisHuey(QUEUE, url=URL, notify_result=True)


@huey.task()
def echo(value):
    return counted(value)
