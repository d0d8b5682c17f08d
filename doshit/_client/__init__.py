"""The client side: submit tasks and read their results.

- ``sync``: ``Client`` and ``Task``, with a subscriber thread; ``aio``: ``AsyncClient`` and
  ``AsyncTask``, with a subscriber task. Both drive the same flows (doshit/_core/flows.py).
- ``watch``: who waits for which task key, and the flow runner both drivers share (no I/O).
- ``legacy``: the doshit 0.2 API (``@task()``, ``exec_async``) on top of ``Client``.
"""
