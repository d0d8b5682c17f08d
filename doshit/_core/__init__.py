"""The protocol core: the rules both sides share, with no I/O and no Redis import.

- ``schema``: generated from schema/schema.json (keys, fields, states, reasons, scripts).
- ``keys``: names to keys; ``codec``: values and timestamps; ``config``: settings from arguments and
  the environment.
- ``scripts``: named script calls and their replies read by name.
- ``taskinfo``: a task hash, decoded; ``outcome``: how one call ended and the fields that record it.
- ``flows``: the client operations as generators of steps, driven by the sync and async clients.
- ``worker_rules``: what a worker's claim, finish, unclaim and registration write and what their
  replies mean.
- ``backoff``: the one table of delays between retries.
"""
