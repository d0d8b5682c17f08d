"""Celery's side of bench/peers.py: ``celery -A celery_tasks worker -c 1 -P prefork``.

Broker and result backend on the same Redis database; JSON (Celery's default). The worker runs
without gossip, mingle and heartbeat (no other workers to talk to: that only costs start-up time).
"""

import os

from celery import Celery
from counted import counted

URL = os.environ["PEERS_REDIS_URL"]
QUEUE = os.environ.get("PEERS_QUEUE", "peers")

app = Celery("peers", broker=URL, backend=URL)
app.conf.update(
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="echo")
def echo(value):
    return counted(value)
