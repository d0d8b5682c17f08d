"""The HTTP API of ``doshit serve``: JSON over the operator's queries (``doshit._ops.queries.Ops``,
the same that back the ``doshit`` command), the client for submit and wait, server-sent events,
Prometheus metrics and a health check. The OpenAPI document is generated from the code
(``/openapi.json``, ``/docs``).

Errors are JSON ``{"error": "..."}``: 400 for anything malformed a client sent (FastAPI's 422 is
turned into 400), 401 without credentials and 403 with wrong ones (when a token is configured), 403
for a write on a ``--read-only`` server, 404 for an unknown task, 409 for a conflict (an id taken, a
task that did not fail requeued), 503 when Redis cannot be reached, 502 when it answers with an
error. Nothing a client sends makes a 500.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any
from urllib.parse import quote

import redis
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._client.aio import AsyncClient, AsyncTask
from .._core.config import Settings
from .._core.keys import check_queue, check_task_id
from .._core.schema import CancelReply, RequeueReply
from .._errors import ConfigError, TaskExists, TaskNotFound, TaskTimeout
from .._ops.queries import ORDERS, STATES, Ops, order_rows
from .._redis import config_problem, connect, unavailable
from .._version import __version__
from . import events
from .metrics import read_stats, registry
from .views import Shutdown, jsonable, queue_json, row_json, task_json, worker_json

__all__ = ["BODY_LIMIT", "COOKIE", "create_app"]

BODY_LIMIT = 16 * 1024 * 1024
"""Request bodies over this many bytes are refused (400) before they are read whole."""
COOKIE = "doshit_token"
"""The cookie that carries the token for a browser (EventSource cannot send headers)."""
HEALTH_PATH = "/healthz"
"""The one path that needs no token."""
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_WAIT = 30.0
MAX_WAIT = 60.0
WAIT_SLICE = 1.0
"""A long poll looks at the shutdown flag at least this often (seconds)."""
HEALTH_TIMEOUT = 2.0
WEB_CLIENT_NAME = "doshit-web"


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An answer other than success: a status and one readable line (and any more JSON fields)."""

    def __init__(self, http_status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.extra = extra


def error_response(http_status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(jsonable({"error": message, **extra}), status_code=http_status, headers=headers)


def _where(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "the body"


def validation_message(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one readable line (the input itself is never echoed)."""
    messages: list[str] = []
    for error in errors:
        kind, loc = error.get("type", ""), tuple(error.get("loc", ()))
        where = _where(loc)
        if kind == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            messages.append(f"the body is not valid JSON{': ' + str(reason) if reason else ''}")
        elif loc == ("body",) and kind in ("model_attributes_type", "dict_type", "model_type"):
            messages.append("the body must be a JSON object (Content-Type: application/json)")
        elif loc == ("body",) and kind == "missing":
            messages.append("the body is missing: a JSON object is expected")
        elif kind == "missing":
            messages.append(f"{where} is required")
        elif kind == "extra_forbidden":
            messages.append(f"unknown field {where!r}")
        elif loc[-1:] in (("args",), ("meta",)) and kind in ("dict_type", "model_attributes_type"):
            messages.append(f"{where} must be a JSON object of names to values")
        else:
            messages.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(dict.fromkeys(messages)) or "invalid request"


# --------------------------------------------------------------------------- middleware


class BodyLimit:
    """Refuses a body over ``limit`` bytes: at once by its Content-Length, or as soon as a chunked
    body goes over (the endpoint reading it gets a 400 instead of the rest)."""

    def __init__(self, app: ASGIApp, limit: int = BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"the request body is over the limit of {self.limit} bytes ({self.limit // 1024 // 1024} MiB)"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not (value.isdigit() and len(value) < 20):
                    await error_response(400, "bad Content-Length header")(scope, receive, send)
                    return
                if int(value) > self.limit:
                    await error_response(400, too_big, headers={"Connection": "close"})(scope, receive, send)
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(400, too_big, headers={"Connection": "close"})
            return message

        await self.app(scope, limited, send)


def _token_ok(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


class TokenAuth:
    """Every path but the health check needs the token: ``Authorization: Bearer TOKEN`` or the cookie
    set by visiting ``/?token=TOKEN`` (then a redirect to ``/``). 401 without either, 403 when wrong."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == HEALTH_PATH:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if scope["path"] == "/" and "token" in request.query_params:
            if not _token_ok(request.query_params["token"], self.token):
                response: Response = error_response(403, "wrong token")
            else:
                response = Response(status_code=303, headers={"Location": "/", "Cache-Control": "no-store"})
                response.headers.append("Set-Cookie", f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/")
            await response(scope, receive, send)
            return
        header = request.headers.get("authorization")
        given: str | None = None
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                given = value.strip()
        if given is None:
            given = request.cookies.get(COOKIE)
        if given is None:
            message = "this server needs a token: send 'Authorization: Bearer TOKEN' (a browser: open /?token=TOKEN)"
            await error_response(401, message, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
        elif not _token_ok(given, self.token):
            await error_response(403, "wrong token")(scope, receive, send)
        else:
            await self.app(scope, receive, send)


# --------------------------------------------------------------------------- models (the OpenAPI document)


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong, in one line")


class SubmitIn(BaseModel):
    """A task to submit. Only ``function`` is required."""

    model_config = ConfigDict(extra="forbid", strict=True)

    function: str = Field(min_length=1, description="The registered name of the function to run")
    args: dict[str, Any] = Field(default_factory=dict, description="Named arguments (names may not start with _)")
    queue: str | None = Field(None, description="The queue to push on (default: the server's default queue)")
    delay: float | None = Field(None, ge=0, lt=1e9, description="Run it this many seconds from now")
    retries: int | None = Field(None, ge=0, description="Runs allowed again after a failure")
    timeout: int | None = Field(None, ge=1, description="Seconds it may run before it is killed")
    result_ttl: int | None = Field(None, ge=0, description="Seconds to keep the finished task (0: for ever)")
    task_id: str | None = Field(None, description="The id to give it (409 when taken; default: a new uuid4)")
    meta: dict[str, Any] | None = Field(None, description="Free metadata for the worker's hooks, not an argument")


class TaskOut(BaseModel):
    """A task hash, as ``doshit show --json`` prints it."""

    id: str
    key: str = Field(description="Its Redis key")
    state: str | None = Field(description="pending, executing, scheduled, or a finished task's result")
    finished: bool
    fields: dict[str, str] = Field(description="Every field, raw")
    decoded: dict[str, Any] = Field(description="The schema's fields that decoded, by their schema type")
    problems: dict[str, str] = Field(description="Why a field did not decode")


class TaskRowOut(BaseModel):
    id: str
    state: str
    queue: str | None
    function: str | None
    submitted: str | None
    fields: dict[str, str]
    problem: str | None


class TaskListOut(BaseModel):
    tasks: list[TaskRowOut]
    total: int = Field(description="Tasks that matched, before offset and limit")
    offset: int
    limit: int
    problems: list[str]


class DoneOut(BaseModel):
    """Tasks done on the queue since the prefix began, by outcome (the workers' stats hash)."""

    successful: int
    failed: int
    retried: int
    recovered: int


class QueueOut(BaseModel):
    queue: str
    pending: int | None
    executing: int | None
    scheduled: int | None
    failed: int | None = Field(description="Tasks in the queue's failed index")
    done: DoneOut
    problems: list[str]


class QueuesOut(BaseModel):
    queues: list[QueueOut]
    workers: int = Field(description="Live workers")
    problems: list[str]


class RunningOut(BaseModel):
    id: str
    function: str | None
    queue: str
    started: str | None
    seconds: float | None


class WorkerOut(BaseModel):
    id: str
    hostname: str | None
    pid: int | None
    queues: list[str]
    pool: str | None
    concurrency: int | None
    version: str | None
    heartbeat_age: float | None
    tasks_successful: int | None
    tasks_failed: int | None
    tasks_retried: int | None
    busy_seconds: float | None
    running: list[RunningOut]
    fields: dict[str, str]
    problems: list[str]


class WorkersOut(BaseModel):
    workers: list[WorkerOut]
    problems: list[str]


class StatusOut(BaseModel):
    id: str
    status: str = Field(description="cancel: cancelled, killing or finished; requeue: requeued")


class HealthOut(BaseModel):
    ok: bool
    redis: bool
    error: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "Malformed input"),
        (401, "No token (when the server has one)"),
        (403, "Wrong token, or a write on a read-only server"),
        (503, "Redis cannot be reached"),
    )
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such task"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut, "description": "Conflict"}}


# --------------------------------------------------------------------------- helpers


def _task_id(task_id: str) -> str:
    try:
        return check_task_id(task_id)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _queue(queue: str) -> str:
    try:
        return check_queue(queue)
    except ConfigError as exc:
        raise ApiError(400, str(exc)) from None


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(jsonable(data), status_code=status, headers=headers)


def _no_task(task_id: str) -> ApiError:
    return ApiError(404, f"no task {task_id} (never submitted, or its result expired)")


def _not_a_hash(task_id: str) -> ApiError:
    return ApiError(404, f"no task {task_id}: its key holds something other than a task hash")


@contextmanager
def _task_key(task_id: str) -> Iterator[None]:
    """Redis answering WRONGTYPE for a task's key is a 404 (the key is not a task), not a 500."""
    try:
        yield
    except redis.ResponseError as exc:
        if "WRONGTYPE" in str(exc):
            raise _not_a_hash(task_id) from None
        raise


# --------------------------------------------------------------------------- the application


class LazyOps:
    """The operator's queries, made at first use (their client connects as it is made), so that the
    server starts, and says 503, while Redis is away."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ops: Ops | None = None
        self._lock = threading.Lock()

    def get(self) -> Ops:
        with self._lock:
            if self._ops is None:
                self._ops = Ops(self.settings)
            return self._ops

    def close(self) -> None:
        with self._lock:
            if self._ops is not None:
                self._ops.close()
                self._ops = None


def create_app(
    settings: Settings, *, token: str | None = None, read_only: bool = False, queues: Sequence[str] = ()
) -> FastAPI:
    """The API of one prefix. ``token``: every path but /healthz needs it; ``read_only``: every write
    answers 403; ``queues`` are always listed, served or not. ``app.state.shutdown`` is set by the
    server when it stops (long polls and event streams end)."""
    lazy = LazyOps(settings)
    aclient = AsyncClient(settings=settings)
    health = connect(
        settings,
        retries=0,
        client_name=WEB_CLIENT_NAME,
        socket_connect_timeout=HEALTH_TIMEOUT,
        socket_timeout=HEALTH_TIMEOUT,
    )
    shutdown = Shutdown()
    metrics_registry = registry(lazy.get)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        shutdown.set()
        await aclient.close()
        lazy.close()
        health.close()

    app = FastAPI(
        title="doshit",
        version=__version__,
        summary="Queues, workers and tasks of a doshit prefix",
        description=(
            'The HTTP API of `doshit serve`. Errors are JSON objects `{"error": "..."}`. With a token, '
            "every path but /healthz needs `Authorization: Bearer TOKEN` (or the `doshit_token` cookie set "
            "by visiting `/?token=TOKEN`)."
        ),
        lifespan=lifespan,
    )
    app.state.shutdown = shutdown
    app.state.settings = settings
    app.state.read_only = read_only
    app.add_middleware(BodyLimit)
    if token is not None:
        app.add_middleware(TokenAuth, token=token)
        _document_security(app)

    # ----------------------------------------------------------------------- error handlers

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.http_status, exc.message, **exc.extra)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, validation_message(exc.errors()))

    @app.exception_handler(redis.RedisError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    async def redis_error(request: Request, exc: Exception) -> JSONResponse:
        problem = config_problem(exc)
        if problem is not None:
            return error_response(503, problem)
        if unavailable(exc):
            return error_response(503, f"cannot reach Redis at {settings.describe()}: {exc}")
        return error_response(502, f"Redis answered with an error: {exc}")

    def writable(request: Request) -> None:
        if read_only:
            raise ApiError(403, f"this server is read-only (doshit serve --read-only): {request.method} is refused")

    Writable = Depends(writable)

    # ----------------------------------------------------------------------- reads

    def read_task(task_id: str) -> dict[str, str]:
        with _task_key(task_id):
            fields = lazy.get().task(task_id)
        if not fields:
            raise _no_task(task_id)
        return fields

    def queues_data() -> dict[str, Any]:
        ops = lazy.get()
        workers, problems = ops.workers([])
        stats = read_stats(ops.redis, ops.keys)
        rows = ops.queue_stats(ops.queues([*queues, *stats.queues], workers))
        problems += stats.problems + [problem for row in rows for problem in row.problems]
        return {
            "queues": [queue_json(row, stats.done(row.name)) for row in rows],
            "workers": len(workers),
            "problems": problems,
        }

    @app.get(HEALTH_PATH, response_model=HealthOut, responses={503: {"model": HealthOut}}, tags=["server"])
    def healthz() -> JSONResponse:
        """200 when Redis answers PING (within 2 s), else 503. Needs no token."""
        try:
            health.ping()
        except (redis.RedisError, OSError) as exc:
            return ok({"ok": False, "redis": False, "error": f"{type(exc).__name__}: {exc}"}, 503)
        return ok({"ok": True, "redis": True})

    @app.get("/tasks", response_model=TaskListOut, responses=ERRORS, tags=["tasks"])
    def list_tasks(
        queue: Annotated[
            list[str] | None, Query(description="Only these queues (repeat; default: every known queue)")
        ] = None,
        state: Annotated[
            str | None,
            Query(
                description="pending, executing, scheduled, failed (indexed: cheap); successful, finished, all "
                "(SCAN of the task keys: O(keys in the database)). Default: the indexed states",
                json_schema_extra={"enum": list(STATES)},
            ),
        ] = None,
        function: Annotated[str | None, Query(description="Only tasks of this function")] = None,
        order: Annotated[
            str,
            Query(description="date: newest first; state; function", json_schema_extra={"enum": list(ORDERS)}),
        ] = ORDERS[0],
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many tasks")] = DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0, le=10**9, description="Skip this many first")] = 0,
    ) -> JSONResponse:
        """Tasks, newest first (or by state or function), with their listing fields."""
        if state is not None and state not in STATES:
            raise ApiError(400, f"unknown state {state!r}: give one of {', '.join(STATES)}")
        if order not in ORDERS:
            raise ApiError(400, f"unknown order {order!r}: give one of {', '.join(ORDERS)}")
        ops = lazy.get()
        queues = [_queue(name) for name in queue] if queue else ops.queues()
        rows, problems = ops.tasks(queues, state=state, function=function, all_queues=not queue)
        rows = order_rows(rows, order)
        return ok(
            {
                "tasks": [row_json(row) for row in rows[offset : offset + limit]],
                "total": len(rows),
                "offset": offset,
                "limit": limit,
                "problems": problems,
            }
        )

    # the ids may hold '/': the routes that end in a word come first
    @app.get("/tasks/{task_id:path}/wait", response_model=TaskOut, responses={**ERRORS, **NOT_FOUND}, tags=["tasks"])
    async def wait_task(
        task_id: str,
        timeout: Annotated[
            float,
            Query(ge=0, le=MAX_WAIT, allow_inf_nan=False, description="Seconds to wait at most (0 to 60)"),
        ] = DEFAULT_WAIT,
    ) -> JSONResponse:
        """Wait until the task is finished (a long poll), at most ``timeout`` seconds. Always 200 with
        the task: ``finished`` says whether it finished in time (false: ask again)."""
        _task_id(task_id)
        handle = AsyncTask(aclient, task_id)
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                with _task_key(task_id):
                    await handle.wait(min(WAIT_SLICE, remaining))
                break
            except TaskTimeout:
                if remaining <= WAIT_SLICE or shutdown.is_set:
                    break
            except TaskNotFound:
                raise _no_task(task_id) from None
        with _task_key(task_id):
            fields = await aclient.redis.execute_command("HGETALL", aclient.keys.task(task_id))
        if not fields:
            raise _no_task(task_id)
        return ok(task_json(task_id, aclient.keys.task(task_id), fields))

    @app.post(
        "/tasks/{task_id:path}/requeue",
        response_model=StatusOut,
        responses={**ERRORS, **NOT_FOUND, **CONFLICT},
        dependencies=[Writable],
        tags=["tasks"],
    )
    def requeue_task(task_id: str) -> JSONResponse:
        """Run a failed task again (its failure is kept in ``errors``). 409 when it did not fail."""
        _task_id(task_id)
        status = lazy.get().requeue([task_id]).items[task_id]
        if status == RequeueReply.MISSING:
            raise _no_task(task_id)
        if status == RequeueReply.NOT_FAILED:
            raise ApiError(409, f"task {task_id} did not fail: nothing to requeue", id=task_id, status=status)
        return ok({"id": task_id, "status": status})

    @app.get("/tasks/{task_id:path}", response_model=TaskOut, responses={**ERRORS, **NOT_FOUND}, tags=["tasks"])
    def get_task(task_id: str) -> JSONResponse:
        """Every field of the task, raw and decoded (``doshit show --json``)."""
        _task_id(task_id)
        return ok(task_json(task_id, settings.keys.task(task_id), read_task(task_id)))

    @app.delete(
        "/tasks/{task_id:path}",
        response_model=StatusOut,
        responses={**ERRORS, **NOT_FOUND},
        dependencies=[Writable],
        tags=["tasks"],
    )
    def cancel_task(task_id: str) -> JSONResponse:
        """Cancel a pending or scheduled task; an executing one is killed (it finishes failed). The
        status says cancelled, killing, or finished (it had finished already: nothing done)."""
        _task_id(task_id)
        status = lazy.get().cancel([task_id]).items[task_id]
        if status == CancelReply.MISSING:
            raise _no_task(task_id)
        return ok({"id": task_id, "status": status})

    @app.post(
        "/tasks",
        response_model=TaskOut,
        status_code=201,
        responses={**ERRORS, **CONFLICT},
        dependencies=[Writable],
        tags=["tasks"],
    )
    async def submit_task(body: SubmitIn) -> JSONResponse:
        """Submit a task; 201 with the task and its ``Location``."""
        queue = None if body.queue is None else _queue(body.queue)
        reserved = sorted(name for name in body.args if name.startswith("_"))
        if reserved:
            raise ApiError(400, f"argument names starting with '_' are reserved: {', '.join(reserved)}")
        if body.task_id is not None:
            _task_id(body.task_id)
        options = {
            "_queue": queue,
            "_delay": body.delay,
            "_retries": body.retries,
            "_timeout": body.timeout,
            "_result_ttl": body.result_ttl,
            "_task_id": body.task_id,
            "_meta": body.meta,
        }
        try:
            task = await aclient.submit(
                body.function, **body.args, **{name: value for name, value in options.items() if value is not None}
            )
        except TaskExists as exc:
            raise ApiError(409, str(exc)) from None
        except (ValueError, TypeError) as exc:
            raise ApiError(400, str(exc)) from None
        fields = await aclient.redis.execute_command("HGETALL", task.key)
        location = "/tasks/" + quote(task.task_id, safe="")
        return ok(task_json(task.task_id, task.key, fields), 201, headers={"Location": location})

    @app.get("/queues", response_model=QueuesOut, responses=ERRORS, tags=["queues and workers"])
    def list_queues() -> JSONResponse:
        """Every known queue (the default one, those live workers serve, those in the stats): its
        pending, executing, scheduled and failed counts, and its tasks done by outcome."""
        return ok(queues_data())

    @app.get("/workers", response_model=WorkersOut, responses=ERRORS, tags=["queues and workers"])
    def list_workers() -> JSONResponse:
        """The live workers and the tasks each runs now."""
        now = time.time()
        workers, problems = lazy.get().workers()
        return ok({"workers": [worker_json(row, now) for row in workers], "problems": problems})

    @app.get(
        "/events",
        responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}, **ERRORS},
        response_class=StreamingResponse,
        tags=["queues and workers"],
    )
    async def event_stream() -> StreamingResponse:
        """Server-sent events: ``task`` when a task finishes (id, function, queue, state, result,
        error_reason), ``counts`` every 2 s (as /queues), keep-alive comments, ``problem`` before the
        stream ends because Redis failed."""
        return StreamingResponse(
            events.stream(settings, queues_data, shutdown),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
        tags=["server"],
    )
    def metrics() -> Response:
        """Prometheus metrics, read from Redis at each scrape."""
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    from .dashboard import mount

    mount(app)
    return app


def _document_security(app: FastAPI) -> None:
    """The OpenAPI document says a token is needed (Swagger UI's Authorize button)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
            }
            schema["security"] = [{"bearer": []}, {"cookie": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
