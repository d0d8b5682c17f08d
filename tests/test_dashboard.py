"""The dashboard of `doshit serve` in a real headless Chromium (selenium): a real server process, a
real worker, and the page read as a person would see it.

Skips when there is no chromium/chromedriver, except under CI=true, where it fails instead."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from doshit import Client
from doshit._core.schema import Result, State, TaskField
from doshit.testing import free_port

from .conftest import ROOT, WorkerProcess, end_process, wait_for

ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS_PICTURE = ROOT / "docs" / "dashboard.png"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the dashboard's browser tests must run)")
    pytest.skip(reason)


def _browser_paths() -> tuple[str, str] | None:
    browser = next(
        (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
    )
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module, at a laptop's screen size."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[dev]')")
    paths = _browser_paths()
    if paths is None:
        _missing("no chromium and chromedriver: apt-get install chromium chromium-driver (make test does, as root)")
        raise AssertionError("unreachable")
    options = Options()
    options.binary_location = paths[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1366,768", "--hide-scrollbars", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(paths[1]))
    driver.set_page_load_timeout(20)
    # the page itself 1366x768 (headless Chromium's window size would include its hidden toolbar)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False}
    )
    try:
        yield driver
    finally:
        driver.quit()


class Server:
    """A real `doshit serve` process."""

    def __init__(self, redis_url: str, prefix: str, log_path: Path, *extra: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        args = [sys.executable, "-m", "doshit._ops.cli", "--redis-url", redis_url, "--prefix", prefix,
                "serve", "--host", "127.0.0.1", "--port", str(self.port), *extra]  # fmt: skip
        self.proc = subprocess.Popen(
            args, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        wait_for(self._ready, 20, "doshit serve to answer /healthz")

    def _ready(self) -> bool:
        import httpx

        if self.proc.poll() is not None:
            raise AssertionError(f"doshit serve exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        end_process(self.proc, 10)
        self._log.close()


@pytest.fixture
def serve(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """serve(*extra_args): a `doshit serve` on this test's prefix, stopped after the test."""
    started: list[Server] = []

    def start(*extra: str, env: dict[str, str] | None = None) -> Server:
        server = Server(redis_url, prefix, tmp_path / f"serve{len(started)}.log", *extra, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def css(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements("css selector", selector))


def text_of(driver: Any, selector: str) -> str:
    """The text of the first element matching, or "" (no stale-element errors: the page re-renders)."""
    value = driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", selector
    )
    return str(value)


def page_errors(driver: Any) -> list[str]:
    """The browser console's errors, but the network ones (a 401 is expected in the token test)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and entry.get("source") != "network"
    ]


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 10, "the page to load")


def test_no_innerhtml_in_the_page_script() -> None:
    """Every string from the API is written with textContent: the script never assigns innerHTML."""
    static = ROOT / "doshit" / "_web" / "static"
    for name in ("app.js", "index.html"):
        text = (static / name).read_text()
        assert not re.search(r"\.(inner|outer)HTML\s*[+]?=|insertAdjacentHTML|document\.write|\beval\(", text), name


def traffic(client: Client, seconds: float = 40) -> None:
    """For the README's picture: tasks finishing at a varying rate, a few failing, two running."""
    client.submit("sleep", seconds=seconds + 30)
    client.submit("sleep", seconds=seconds + 30)
    started = time.monotonic()
    tick = 0
    while time.monotonic() - started < seconds:
        for i in range(3 + (tick * 7) % 11):
            client.submit("add", a=tick, b=i)
        if tick % 4 == 3:
            client.submit("fail", message=f"order {1000 + tick} has no customer")
        tick += 1
        time.sleep(1)


def test_counts_live_failures_requeue_and_screenshot(
    browser: Any,
    serve: Callable[..., Server],
    start_worker: Callable[..., WorkerProcess],
    client: Client,
    r: redis.Redis,
    prefix: str,
) -> None:
    # a queue is known once a worker served it (it is in the stats): one burst worker runs a task on
    # "nightly" and exits; then nobody serves it and its 30 tasks stay pending
    client.submit("echo", text="first", _queue="nightly")
    burst = start_worker("--queue", "nightly", "--burst", ready=False)
    assert burst.wait(20) == 0, burst.log()
    for i in range(30):
        client.submit("echo", text=i, _queue="nightly")
    worker = start_worker("--heartbeat-interval", "1", "--concurrency", "4")
    for i in range(5):
        client.submit("add", a=i, b=1).wait_result(timeout=10)
    server = serve()
    open_page(browser, server.url + "/")

    # the counts of the queue the test filled
    wait_for(lambda: text_of(browser, '#queues [data-queue="nightly"] [data-count="pending"]') == "30", 10,
             "the nightly queue's 30 pending tasks")  # fmt: skip
    assert css(browser, '#queues [data-queue="default"]')
    wait_for(lambda: text_of(browser, "#live") == "live", 10, "the server-sent events")
    # the live worker
    wait_for(lambda: text_of(browser, "#workers tbody tr[data-worker] td:nth-child(2)") == str(worker.proc.pid), 10,
             "the worker's row with its pid")  # fmt: skip

    # a failure shows within seconds, its reason as text (no markup from the data)
    failing = client.submit("fail", message="boom <b>bold</b> & <script>alert(1)</script>")
    wait_for(lambda: r.hget(f"{prefix}:task:{failing.task_id}", TaskField.RESULT) == Result.FAILED, 10, "the failure")
    appeared = time.monotonic()
    wait_for(lambda: css(browser, f'#failures [data-requeue="{failing.task_id}"]'), 8, "the failure on the page")
    print(f"failure on the page {time.monotonic() - appeared:.2f} s after it happened")
    row_text = text_of(browser, f'#failures tr[data-task="{failing.task_id}"]')
    assert "ValueError: boom <b>bold</b> & <script>alert(1)</script>" in row_text
    assert not css(browser, "#failures b") and not css(browser, "#failures script")
    wait_for(lambda: text_of(browser, '#queues [data-queue="default"] [data-count="failed"]') == "1", 8,
             "the default queue's failed count")  # fmt: skip

    # the screenshot (the artifact always; the README's picture only when asked for, after some traffic)
    if os.environ.get("DOSHIT_SCREENSHOT") == "1":
        traffic(client)
    time.sleep(1)  # one more refresh: the chart has its first bars
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    if os.environ.get("DOSHIT_SCREENSHOT") == "1":
        DOCS_PICTURE.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(DOCS_PICTURE))

    # requeue: the task goes back on its queue and runs again (and fails again)
    first_finish = r.hget(f"{prefix}:task:{failing.task_id}", TaskField.FINISHED_CREATED)
    css(browser, f'#failures [data-requeue="{failing.task_id}"]')[0].click()

    def ran_again() -> bool:
        fields = r.hgetall(f"{prefix}:task:{failing.task_id}")
        return (
            fields.get(TaskField.STATE) == State.FINISHED
            and fields.get(TaskField.FINISHED_CREATED) != first_finish
            and '"attempt"' in fields.get(TaskField.ERRORS, "")
        )

    wait_for(ran_again, 10, "the requeued task to run again")
    assert page_errors(browser) == []


def test_search_opens_the_task_page(
    browser: Any,
    serve: Callable[..., Server],
    start_worker: Callable[..., WorkerProcess],
    client: Client,
) -> None:
    start_worker()
    failing = client.submit("fail", message="searched for")
    wait_for(lambda: client.info(failing.task_id).result == Result.FAILED, 10, "the failure")
    server = serve()
    open_page(browser, server.url + "/")
    box = css(browser, "#search")[0]
    box.clear()
    box.send_keys(failing.task_id)
    css(browser, "#search-go")[0].click()
    wait_for(lambda: "searched for" in text_of(browser, "#task-args"), 10, "the task's arguments")
    assert f"#task/{failing.task_id}" in browser.current_url
    traceback = text_of(browser, "#task-traceback")
    assert "Traceback" in traceback and "ValueError: searched for" in traceback
    assert text_of(browser, "#panel [data-state]") == Result.FAILED
    assert text_of(browser, '#panel [data-field="function"]') == "fail"
    # an unknown id says so
    box = css(browser, "#search")[0]
    box.clear()
    box.send_keys("no-such-task")
    css(browser, "#search-go")[0].click()
    wait_for(lambda: "No task with id no-such-task" in text_of(browser, "#task-missing"), 10, "the not-found note")
    assert page_errors(browser) == []


def test_token_via_cookie(browser: Any, serve: Callable[..., Server], client: Client, tmp_path: Path) -> None:
    client.submit("echo", text="x")
    token = "s3cret-token-for-the-dashboard"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    server = serve("--token-file", str(token_file))
    browser.delete_all_cookies()
    open_page(browser, server.url + "/")
    assert not css(browser, '#queues [data-queue="default"]')
    open_page(browser, f"{server.url}/?token={token}")
    wait_for(lambda: text_of(browser, '#queues [data-queue="default"] [data-count="pending"]') == "1", 10,
             "the counts once authorized")  # fmt: skip
    assert "token" not in browser.current_url  # kept out of the address bar
    wait_for(lambda: text_of(browser, "#live") == "live", 10, "the server-sent events, with the cookie")
    browser.delete_all_cookies()


def test_polls_without_server_sent_events(
    browser: Any,
    serve: Callable[..., Server],
    start_worker: Callable[..., WorkerProcess],
    client: Client,
) -> None:
    """A browser (or a proxy) without EventSource: the page polls every 2 s and still shows a failure."""
    start_worker()
    server = serve()
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.EventSource;"})
    try:
        open_page(browser, server.url + "/")
        assert browser.execute_script("return typeof EventSource") == "undefined"
        wait_for(lambda: css(browser, '#queues [data-queue="default"]'), 10, "the default queue")
        failing = client.submit("fail", message="seen by polling")
        wait_for(lambda: css(browser, f'#failures [data-requeue="{failing.task_id}"]'), 8, "the failure, polled")
        assert "polling" in text_of(browser, "#live")
        assert page_errors(browser) == []
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
