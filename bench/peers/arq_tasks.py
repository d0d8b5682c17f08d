"""arq's side of bench/peers.py: ``python arq_tasks.py`` runs one worker (``arq``'s own command
logs every job at INFO; this runs the same worker with warnings only, like every other system here).

arq polls: its worker looks for jobs every ``poll_delay`` (default 0.5 s, which caps a worker with
10 slots near 20 jobs/s and makes a round trip ~250 ms). Here 1 ms, for speed.
"""

import os
from typing import ClassVar

from arq import run_worker
from arq.connections import RedisSettings

URL = os.environ["PEERS_REDIS_URL"]
COUNTER = os.environ.get("PEERS_COUNTER", "peers:done")
POLL = 0.001

REDIS_SETTINGS = RedisSettings.from_dsn(URL)


async def echo(ctx, value):
    await ctx["redis"].incr(COUNTER)
    return value


class WorkerSettings:
    functions: ClassVar = [echo]
    redis_settings = REDIS_SETTINGS
    poll_delay = POLL


if __name__ == "__main__":
    run_worker(WorkerSettings)
