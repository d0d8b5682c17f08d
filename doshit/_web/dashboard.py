"""The live dashboard of ``doshit serve``: one HTML page and its assets (plain HTML, CSS and JS
shipped in the package under ``doshit/_web/static/``), served at ``/`` and ``/static/``.

The page reads only the JSON API (``/queues``, ``/workers``, ``/tasks``, ``/events``...); nothing here
touches Redis. Authentication (``/?token=`` setting the cookie) is the application's business."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC", "mount"]

STATIC = Path(__file__).resolve().parent / "static"


def mount(app: FastAPI) -> None:
    """Serve the dashboard on ``app``: ``GET /`` is the page, ``/static/...`` its assets."""

    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    app.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
