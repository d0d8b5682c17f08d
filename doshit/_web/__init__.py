"""``doshit serve``: an HTTP API, a live dashboard and Prometheus metrics over a doshit prefix.

Needs the ``web`` extra (``pip install 'doshit[web]'``: FastAPI, uvicorn, prometheus-client); nothing
here is imported by the rest of doshit, so the package works without it."""
