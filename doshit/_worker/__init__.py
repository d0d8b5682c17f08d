"""The worker side: take tasks, run registered functions, write and announce their results.

- ``worker``: ``Worker``, which wires the parts and runs the worker's life, shutdown included.
- ``consumer``: takes and claims tasks, hands them to the pool, keeps the tasks in flight.
- ``finisher``: writes outcomes in batches. ``upkeep``: the retry policy, the worker hash and its
  heartbeat, the command listener.
- ``pool``: the Pool interface and the inline pool; ``process_pool``: long-lived child processes;
  ``child``: the child process itself; ``frames``: what the two say to each other.
- ``runner``: running one call; ``registry``: the functions a worker may run; ``app``: finding them.
"""
