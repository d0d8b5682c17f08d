"""RQ's side of bench/peers.py: the no-op task, served by ``rq worker -w rq.worker.SimpleWorker``."""

import os

from counted import counted

URL = os.environ["PEERS_REDIS_URL"]
QUEUE = os.environ.get("PEERS_QUEUE", "peers")


def echo(value):
    """Counts itself on the shared counter and returns its argument (counted.py)."""
    return counted(value)
