"""`doshit serve`, run as a real process on loopback against the private Redis and driven with httpx:
every endpoint, every refusal (400, 401, 403, 404), --read-only, the event stream, the metrics, the
OpenAPI document, and a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from doshit import Client
from doshit.testing import free_port

from .conftest import ROOT, WorkerProcess, end_process, wait_for

BODY_LIMIT = 16 * 1024 * 1024


class Served:
    """A `doshit serve` process and an httpx client on its address."""

    def __init__(self, proc: subprocess.Popen[str], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log
        self.http = httpx.Client(base_url=url, timeout=httpx.Timeout(20.0))

    def stop(self) -> int | None:
        self.http.close()
        return end_process(self.proc)


def _command(redis_url: str, prefix: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "doshit._ops.cli", "serve", "--port", str(port), "-r", redis_url,
            "--prefix", prefix, *extra]  # fmt: skip


@pytest.fixture
def serve(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """serve(*extra_args, url=redis_url): a server on a free loopback port, once /healthz answers."""
    started: list[Served] = []

    def start(*extra: str, url: str = redis_url) -> Served:
        port = free_port()
        log = tmp_path / f"serve{len(started)}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                _command(url, prefix, port, *extra), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True
            )
        served = Served(proc, f"http://127.0.0.1:{port}", log)
        started.append(served)

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"doshit serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                return served.http.get("/healthz", timeout=1).status_code in (200, 503)
            except httpx.TransportError:
                return False

        wait_for(up, timeout=20, what="doshit serve to answer")
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def api(serve: Callable[..., Served]) -> Served:
    return serve()


def error(response: httpx.Response, status: int) -> str:
    """The response must be that status with a JSON {"error": ...}; returns the message."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    return str(body["error"])


def submit(api: Served, **body: Any) -> dict[str, Any]:
    response = api.http.post("/tasks", json=body)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    assert response.headers["location"] == "/tasks/" + quote(task["id"], safe="")
    return task


# --------------------------------------------------------------------------- the endpoints


def test_health_queues_workers_openapi(api: Served, start_worker: Callable[..., WorkerProcess]) -> None:
    assert api.http.get("/healthz").json() == {"ok": True, "redis": True}
    start_worker("-q", "default", "-q", "other")
    queues = api.http.get("/queues").json()
    names = [queue["queue"] for queue in queues["queues"]]
    assert names == ["default", "other"]
    assert queues["workers"] == 1
    assert queues["queues"][0]["done"] == {"successful": 0, "failed": 0, "retried": 0, "recovered": 0}
    assert {"pending", "executing", "scheduled", "failed"} <= set(queues["queues"][0])
    workers = api.http.get("/workers").json()["workers"]
    assert len(workers) == 1 and workers[0]["queues"] == ["default", "other"]
    assert "busy_seconds" in workers[0] and workers[0]["pid"] > 0

    document = api.http.get("/openapi.json").json()
    assert {"/tasks", "/tasks/{task_id}", "/tasks/{task_id}/wait", "/tasks/{task_id}/requeue", "/queues", "/workers",
            "/events", "/healthz", "/metrics"} <= set(document["paths"])  # fmt: skip
    assert {"get", "post"} <= set(document["paths"]["/tasks"])
    assert "SubmitIn" in document["components"]["schemas"]
    assert api.http.get("/docs").status_code == 200


def test_submit_wait_show_and_list(api: Served, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker()
    task = submit(api, function="echo", args={"text": "hi"}, meta={"request": "r1"}, retries=1, timeout=30)
    assert task["decoded"]["args"] == {"text": "hi"} and task["decoded"]["meta"] == {"request": "r1"}
    done = api.http.get(f"/tasks/{task['id']}/wait", params={"timeout": 20}).json()
    assert done["finished"] is True and done["state"] == "successful"
    assert done["decoded"]["result-value"] == "hi"
    shown = api.http.get(f"/tasks/{task['id']}").json()
    assert shown["fields"]["result"] == "successful" and shown["decoded"]["retries"] == 1 and shown["problems"] == {}

    listed = api.http.get("/tasks", params={"state": "successful"}).json()
    assert [row["id"] for row in listed["tasks"]] == [task["id"]]
    assert listed["tasks"][0]["function"] == "echo" and listed["total"] == 1

    # a queue no worker serves: the task stays pending, a wait ends without it
    later = [submit(api, function=f"f{n}", queue="idle")["id"] for n in range(3)]
    page = api.http.get("/tasks", params={"queue": "idle", "order": "function", "limit": 2, "offset": 1}).json()
    assert [row["id"] for row in page["tasks"]] == later[1:] and page["total"] == 3
    assert page["tasks"][0]["state"] == "pending"
    waited = api.http.get(f"/tasks/{later[0]}/wait", params={"timeout": 0.2})
    assert waited.status_code == 200 and waited.json()["finished"] is False
    delayed = submit(api, function="echo", delay=3600, task_id=f"mine-{uuid.uuid4()}", result_ttl=60)
    assert delayed["state"] == "scheduled" and delayed["id"].startswith("mine-")
    assert error(api.http.post("/tasks", json={"function": "echo", "task_id": delayed["id"]}), 409)


def test_cancel_and_requeue(api: Served) -> None:
    task = submit(api, function="echo", queue="nobody")
    assert api.http.delete(f"/tasks/{task['id']}").json() == {"id": task["id"], "status": "cancelled"}
    assert api.http.delete(f"/tasks/{task['id']}").json()["status"] == "finished"
    assert api.http.get(f"/tasks/{task['id']}").json()["state"] == "failed"
    assert api.http.post(f"/tasks/{task['id']}/requeue").json() == {"id": task["id"], "status": "requeued"}
    assert api.http.get(f"/tasks/{task['id']}").json()["state"] == "pending"
    assert "did not fail" in error(api.http.post(f"/tasks/{task['id']}/requeue"), 409)
    assert error(api.http.delete("/tasks/no-such-task"), 404)
    assert error(api.http.post("/tasks/no-such-task/requeue"), 404)


def test_ids_with_a_slash(api: Served, r: redis.Redis, prefix: str) -> None:
    task = submit(api, function="echo", task_id="a/b", queue="nobody")
    assert api.http.get("/tasks/a%2Fb").json()["id"] == "a/b"
    assert api.http.get("/tasks/a/b/wait", params={"timeout": 0}).json()["finished"] is False
    assert api.http.delete("/tasks/a/b").json()["status"] == "cancelled"
    assert task["id"] == "a/b"


# --------------------------------------------------------------------------- refusals


def test_every_malformed_input_is_a_400(api: Served, r: redis.Redis, prefix: str) -> None:
    http = api.http
    bad_gets = [
        ("/tasks", {"state": "bogus"}, "unknown state"),
        ("/tasks", {"state": ""}, "unknown state"),
        ("/tasks", {"order": "size"}, "unknown order"),
        ("/tasks", {"limit": "0"}, "limit"),
        ("/tasks", {"limit": "1001"}, "limit"),
        ("/tasks", {"limit": "ten"}, "limit"),
        ("/tasks", {"offset": "-1"}, "offset"),
        ("/tasks", {"queue": "a b"}, "queue"),
        ("/tasks", {"queue": "a:b"}, "queue"),
        ("/tasks/x/wait", {"timeout": "-1"}, "timeout"),
        ("/tasks/x/wait", {"timeout": "61"}, "timeout"),
        ("/tasks/x/wait", {"timeout": "nan"}, "timeout"),
        ("/tasks/x/wait", {"timeout": "soon"}, "timeout"),
        ("/tasks/" + "x" * 300, {}, "task id"),
    ]
    for path, params, word in bad_gets:
        assert word in error(http.get(path, params=params), 400), (path, params)

    def post(content: str | bytes, content_type: str = "application/json") -> httpx.Response:
        return http.post("/tasks", content=content, headers={"content-type": content_type})

    assert "not valid JSON" in error(post("{"), 400)
    assert "not valid JSON" in error(post(b"\xff\xfe"), 400)
    assert "JSON object" in error(post("[1, 2]"), 400)
    assert "JSON object" in error(post('"echo"'), 400)
    assert "JSON object" in error(post('{"function": "echo"}', "text/plain"), 400)
    assert "body" in error(post(""), 400)
    bad_bodies = [
        ({"args": {}}, "function is required"),
        ({"function": ""}, "function"),
        ({"function": 3}, "function"),
        ({"function": "echo", "args": [1]}, "args must be a JSON object"),
        ({"function": "echo", "args": "{}"}, "args must be a JSON object"),
        ({"function": "echo", "args": {"_queue": "x"}}, "reserved"),
        ({"function": "echo", "queue": "a b"}, "queue"),
        ({"function": "echo", "queue": "with:colon"}, "queue"),
        ({"function": "echo", "delay": -1}, "delay"),
        ({"function": "echo", "delay": "1"}, "delay"),
        ({"function": "echo", "retries": -1}, "retries"),
        ({"function": "echo", "retries": 1.5}, "retries"),
        ({"function": "echo", "timeout": 0}, "timeout"),
        ({"function": "echo", "meta": [1]}, "meta must be a JSON object"),
        ({"function": "echo", "task_id": "has space"}, "task id"),
        ({"function": "echo", "colour": "red"}, "unknown field 'colour'"),
    ]
    for body, word in bad_bodies:
        assert word in error(http.post("/tasks", json=body), 400), body
    assert r.keys(f"{prefix}:task:*") == []  # nothing was submitted

    assert error(http.get("/tasks/no-such-task"), 404)
    assert error(http.get("/tasks/no-such-task/wait", params={"timeout": 0}), 404)
    r.set(f"{prefix}:task:stringly", "not a hash")
    assert "other than a task hash" in error(http.get("/tasks/stringly"), 404)
    assert error(http.get("/no/such/path"), 404)
    assert error(http.put("/tasks"), 405)


def _raw(url: str, request: bytes, chunks: Iterable[bytes] = ()) -> str:
    """Send a request by hand (headers, then body chunks) and return the status line and body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(request)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed before the rest
        reply = b""
        while True:
            try:
                part = sock.recv(65536)
            except OSError:
                break
            if not part:
                break
            reply += part
            if b"\r\n\r\n" in reply and b'"}' in reply:
                break
    return reply.decode("utf-8", "replace")


def test_oversized_bodies_are_refused_unread(api: Served, r: redis.Redis, prefix: str) -> None:
    head = (
        f"POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {BODY_LIMIT + 1}\r\n\r\n"
    ).encode()
    reply = _raw(api.url, head + b'{"function": "echo", "args": {"x": "')
    assert reply.startswith("HTTP/1.1 400") and "over the limit" in reply, reply

    def chunked() -> Iterator[bytes]:
        piece = b"x" * (1024 * 1024)
        yield b'%x\r\n{"function": "echo", "args": {"x": "\r\n' % len(b'{"function": "echo", "args": {"x": "')
        for _ in range(17):
            yield b"%x\r\n%s\r\n" % (len(piece), piece)
        yield b"0\r\n\r\n"

    head = b"POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    reply = _raw(api.url, head, chunked())
    assert reply.startswith("HTTP/1.1 400") and "over the limit" in reply, reply[:300]
    assert r.keys(f"{prefix}:task:*") == []
    assert api.http.get("/healthz").status_code == 200


def test_token(serve: Callable[..., Served], tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    (tmp_path / "token").write_text(f"  {token}  \nsecond line ignored\n")
    api = serve("--token-file", str(tmp_path / "token"))
    http = api.http
    assert http.get("/healthz").status_code == 200
    missing = http.get("/queues")
    assert "token" in error(missing, 401) and missing.headers["www-authenticate"] == "Bearer"
    assert error(http.get("/queues", headers={"Authorization": "Basic abc"}), 401)
    assert error(http.get("/queues", headers={"Authorization": "Bearer nope"}), 403)
    assert error(http.get("/metrics", headers={"Authorization": "Bearer nope"}), 403)
    assert error(http.post("/tasks", json={"function": "echo"}), 401)
    good = {"Authorization": f"Bearer {token}"}
    assert http.get("/queues", headers=good).status_code == 200
    assert http.get("/openapi.json", headers=good).json()["components"]["securitySchemes"]["bearer"]

    assert error(http.get("/", params={"token": "nope"}), 403)
    visit = http.get("/", params={"token": token})
    assert visit.status_code == 303 and visit.headers["location"] == "/"
    cookie = visit.headers["set-cookie"]
    assert cookie.startswith(f"doshit_token={token};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with httpx.Client(base_url=api.url, cookies={"doshit_token": token}, timeout=10) as browser:
        assert browser.get("/queues").status_code == 200
        with browser.stream("GET", "/events") as stream:
            assert stream.status_code == 200
            assert next(stream.iter_lines()).startswith("retry:")
    with httpx.Client(base_url=api.url, cookies={"doshit_token": "nope"}, timeout=10) as browser:
        assert error(browser.get("/events"), 403)


def test_token_file_problems_stop_the_start(redis_url: str, prefix: str, tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n  \n")
    (tmp_path / "spaced").write_text("two words\n")
    procs = [
        subprocess.Popen(
            _command(redis_url, prefix, free_port(), "--token-file", str(path)),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in (tmp_path / "empty", tmp_path / "spaced", tmp_path / "absent")
    ]  # in parallel: each is a process start
    for proc in procs:
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 2, stderr
        assert "token" in stderr and "Traceback" not in stderr


def test_read_only(serve: Callable[..., Served], client: Any) -> None:
    api = serve("--read-only")
    task = client.submit("echo", _queue="nobody")
    for response in (
        api.http.post("/tasks", json={"function": "echo"}),
        api.http.delete(f"/tasks/{task.task_id}"),
        api.http.post(f"/tasks/{task.task_id}/requeue"),
    ):
        assert "read-only" in error(response, 403)
    assert api.http.get(f"/tasks/{task.task_id}").json()["state"] == "pending"
    assert api.http.get("/tasks").status_code == 200


def test_missing_extra_is_one_line(redis_url: str) -> None:
    code = "import sys; sys.modules['fastapi'] = None; from doshit._ops.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", code, "serve", "-r", redis_url], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "pip install 'doshit[web]'" in done.stderr


def test_redis_down(serve: Callable[..., Served]) -> None:
    api = serve(url=f"redis://127.0.0.1:{free_port()}/0")
    health = api.http.get("/healthz")
    assert health.status_code == 503 and health.json()["ok"] is False and health.json()["redis"] is False
    assert "cannot reach Redis" in error(api.http.get("/queues"), 503)
    assert error(api.http.get("/tasks/x"), 503)
    metrics = {family.name: family for family in text_string_to_metric_families(api.http.get("/metrics").text)}
    assert metrics["doshit_redis_up"].samples[0].value == 0


# --------------------------------------------------------------------------- events, metrics, stop


def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event, data) of a text/event-stream; comments and retry lines are skipped."""
    event, data = "message", ""
    for line in lines:
        if line == "":
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data += line[6:]


def test_events(api: Served, start_worker: Callable[..., WorkerProcess], r: redis.Redis, prefix: str) -> None:
    start_worker()
    seen: dict[str, dict[str, Any]] = {}
    counts: list[dict[str, Any]] = []
    with httpx.Client(base_url=api.url, timeout=httpx.Timeout(10.0)) as http, http.stream("GET", "/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        ok_id = fail_id = ""
        deadline = time.monotonic() + 30
        for event, data in _events(stream.iter_lines()):
            assert time.monotonic() < deadline, "the events did not come"
            if event == "counts":
                counts.append(data)
                if not ok_id:  # subscribed by now: submit, and the results come through
                    ok_id = submit(api, function="echo", args={"text": "x"})["id"]
                    fail_id = submit(api, function="fail", args={"message": "boom"})["id"]
            elif event == "task":
                seen[data["id"]] = data
                if ok_id in seen and fail_id in seen:
                    break
    assert seen[ok_id] == {"id": ok_id, "function": "echo", "queue": "default", "state": "finished",
                           "result": "successful", "error_reason": None}  # fmt: skip
    assert seen[fail_id]["result"] == "failed" and "boom" in seen[fail_id]["error_reason"]
    assert counts[0]["queues"][0]["queue"] == "default" and counts[0]["workers"] == 1
    # the client went away: its subscription ends
    channel = f"{prefix}:results"
    wait_for(lambda: dict(r.pubsub_numsub(channel)).get(channel, 0) <= 1, what="the stream's subscription to end")
    assert api.http.get("/healthz").status_code == 200


def test_metrics(api: Served, r: redis.Redis, prefix: str, client: Any) -> None:
    stats, durations = f"{prefix}:stats", f"{prefix}:stats:durations"
    r.hincrby(stats, '["default","echo","successful"]', 5)
    r.hincrby(stats, '["default","echo","failed"]', 2)
    r.hincrby(stats, '["default","echo","retried"]', 1)
    r.hincrby(stats, '["default","","recovered"]', 3)
    r.hincrby(stats, '["other","add","successful"]', 4)
    for malformed in ("not json", '["default","echo"]', '["default","echo","x","y"]', "[1,2,3]", '{"a":1}'):
        r.hset(stats, malformed, 9)
    r.hset(stats, '["default","echo","bogus-count"]', "many")
    r.hincrby(durations, '["default","echo","0.005"]', 2)
    r.hincrby(durations, '["default","echo","1"]', 3)
    r.hincrby(durations, '["default","echo","+Inf"]', 1)
    r.hincrbyfloat(durations, '["default","echo","sum"]', 400.5)
    r.hset(durations, '["default","echo","7"]', 5)  # not a bucket
    r.hset(durations, '["default","add","0.1"]', "-3")
    r.hset(durations, '["default","add","sum"]', "nan")
    worker_id = "w1"
    r.hset(f"{prefix}:worker:{worker_id}", mapping={"hostname": "box", "busy-seconds": "12.5", "queues": '["default"]'})
    r.zadd(f"{prefix}:workers", {worker_id: time.time() + 60})
    client.submit("echo")
    client.submit("echo", _queue="other", _delay=600)

    response = api.http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families.values()
        for sample in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("doshit_redis_up") == 1
    assert value("doshit_workers") == 1
    assert value("doshit_queue_tasks", queue="default", state="pending") == 1
    assert value("doshit_queue_tasks", queue="other", state="scheduled") == 1
    assert value("doshit_tasks_total", queue="default", function="echo", outcome="successful") == 5
    assert value("doshit_tasks_total", queue="default", function="", outcome="recovered") == 3
    assert value("doshit_tasks_total", queue="other", function="add", outcome="successful") == 4
    assert len([key for key in samples if key[0] == "doshit_tasks_total"]) == 5
    assert value("doshit_task_duration_seconds_bucket", queue="default", function="echo", le="0.005") == 2
    assert value("doshit_task_duration_seconds_bucket", queue="default", function="echo", le="0.5") == 2
    assert value("doshit_task_duration_seconds_bucket", queue="default", function="echo", le="1") == 5
    assert value("doshit_task_duration_seconds_bucket", queue="default", function="echo", le="+Inf") == 6
    assert value("doshit_task_duration_seconds_count", queue="default", function="echo") == 6
    assert value("doshit_task_duration_seconds_sum", queue="default", function="echo") == 400.5
    assert value("doshit_worker_busy_seconds_total", worker=worker_id, hostname="box") == 12.5

    queues = {queue["queue"]: queue for queue in api.http.get("/queues").json()["queues"]}
    assert queues["default"]["done"] == {"successful": 5, "failed": 2, "retried": 1, "recovered": 3}
    assert queues["other"]["done"]["successful"] == 4 and queues["other"]["scheduled"] == 1

    r.delete(stats)
    r.set(stats, "a string, not a hash")  # a key of the wrong type: no 500
    assert api.http.get("/metrics").status_code == 200
    assert api.http.get("/queues").status_code == 200


def test_sigterm_stops_streams_and_long_polls(api: Served, client: Any) -> None:
    task = client.submit("echo", _queue="nobody")
    ended: dict[str, Any] = {}

    def long_poll() -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            ended["wait"] = http.get(f"/tasks/{task.task_id}/wait", params={"timeout": 60})

    def stream() -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http, http.stream("GET", "/events") as events:
            ended["lines"] = sum(1 for _ in events.iter_lines())

    threads = [threading.Thread(target=long_poll), threading.Thread(target=stream)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # both are under way (no assertion rests on it)
    api.proc.send_signal(signal.SIGTERM)
    assert api.proc.wait(20) == 0
    for thread in threads:
        thread.join(20)
    assert ended["wait"].status_code == 200 and ended["wait"].json()["finished"] is False
    assert ended["lines"] >= 1
    assert "Traceback" not in api.log.read_text()


def test_help_lists_serve() -> None:
    done = subprocess.run([sys.executable, "-m", "doshit._ops.cli", "serve", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, env={**os.environ})  # fmt: skip
    assert done.returncode == 0 and "--read-only" in done.stdout and "--token-file" in done.stdout


def test_a_queue_named_with_queue_is_listed_before_any_worker_serves_it(
    serve: Callable[..., Served], client: Client
) -> None:
    for n in range(3):
        client.submit("echo", text=str(n), _queue="nightly")
    api = serve("--queue", "nightly")
    queues = {queue["queue"]: queue for queue in api.http.get("/queues").json()["queues"]}
    assert set(queues) == {"default", "nightly"}
    assert queues["nightly"]["pending"] == 3
    bare = serve()  # without it, a queue nobody serves and nothing finished on is not known
    assert [queue["queue"] for queue in bare.http.get("/queues").json()["queues"]] == ["default"]
    refused = subprocess.run(
        _command("redis://127.0.0.1:1/0", "p", free_port(), "--queue", "task"), capture_output=True, text=True
    )
    assert refused.returncode == 2 and "queue" in refused.stderr and "Traceback" not in refused.stderr
