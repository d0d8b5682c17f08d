#!/usr/bin/env python3
"""How fast the dashboard of `doshit serve` loads with many tasks around.

    .venv/bin/python bench/dashboard_load.py [--tasks 10000] [--runs 5]

It starts a private redis-server, writes ``--tasks`` task hashes as a busy deployment would hold them
(pending on two queues, failed, scheduled, and finished successful ones with no index), a real
`doshit serve`, and a headless Chromium (Debian's chromium and chromium-driver) at 1366x768. Each run
opens the page afresh and prints, from the browser's navigation timing: the time to the load event,
and the time until the page shows its data (the queue counts and the recent failures filled in).
The page fetches only counts and pages of tasks (never all of them), so these should not grow with
the number of tasks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson
import redis
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from doshit._core.codec import format_timestamp
from doshit._core.keys import Keys
from doshit._core.schema import Result, State, TaskField
from doshit.testing import PrivateRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "bench"

READY = """
const rows = document.querySelectorAll('#queues [data-queue]').length;
const failures = document.querySelectorAll('#failures [data-requeue]').length;
return rows > 0 && failures > 0 ? performance.now() : null;
"""
NAVIGATION = """
const [nav] = performance.getEntriesByType('navigation');
return nav ? [nav.responseStart, nav.domContentLoadedEventEnd, nav.loadEventEnd] : null;
"""


def fill(url: str, count: int) -> None:
    """``count`` tasks: 40 % pending (two queues), 10 % failed, 5 % scheduled, the rest successful."""
    keys = Keys(PREFIX)
    now = datetime.now(timezone.utc)
    with redis.Redis.from_url(url) as r:
        pipe = r.pipeline(transaction=False)
        for i in range(count):
            task_id = str(uuid.uuid4())
            created = format_timestamp(now - timedelta(seconds=count - i))
            queue = "default" if i % 2 else "reports"
            fields: dict[str, str] = {
                TaskField.FUNCTION: f"app.job{i % 7}",
                TaskField.ARGS: orjson.dumps({"n": i, "text": "x" * 40}).decode(),
                TaskField.QUEUE: queue,
                TaskField.PENDING_CREATED: created,
                TaskField.SCHEMA_VERSION: "2",
            }
            kind = i % 20
            if kind < 8:
                fields[TaskField.STATE] = State.PENDING
                pipe.lpush(keys.pending(queue), task_id)
            elif kind < 10:
                fields.update({
                    TaskField.STATE: State.FINISHED, TaskField.RESULT: Result.FAILED,
                    TaskField.FINISHED_CREATED: created, TaskField.ATTEMPT: "1",
                    TaskField.ERROR_REASON: f"ValueError: bad input {i}",
                    TaskField.ERROR_EXCEPTION: "Traceback (most recent call last):\n  ...\nValueError: bad input",
                })  # fmt: skip
                pipe.zadd(keys.failed(queue), {task_id: int(time.time() * 1000) - (count - i)})
            elif kind < 11:
                fields[TaskField.STATE] = State.SCHEDULED
                due = now + timedelta(hours=1)
                fields[TaskField.SCHEDULED_FOR] = format_timestamp(due)
                pipe.zadd(keys.scheduled(queue), {task_id: due.timestamp()})
            else:
                fields.update({
                    TaskField.STATE: State.FINISHED, TaskField.RESULT: Result.SUCCESSFUL,
                    TaskField.FINISHED_CREATED: created, TaskField.ATTEMPT: "1", TaskField.RESULT_VALUE: str(i),
                })  # fmt: skip
            pipe.hset(keys.task(task_id), mapping=fields)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()


def browser() -> webdriver.Chrome:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        sys.exit("needs chromium and chromedriver: apt-get install chromium chromium-driver")
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,768"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(driver))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with PrivateRedis() as url:
        started = time.monotonic()
        fill(url, options.tasks)
        print(f"{options.tasks} tasks written in {time.monotonic() - started:.1f} s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        args = [sys.executable, "-m", "doshit._ops.cli", "--redis-url", url, "--prefix", PREFIX,
                "serve", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        server = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ)
        driver = None
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    err = server.stderr.read().decode(errors="replace") if server.stderr else ""
                    sys.exit(f"doshit serve did not start:\n{err}")
                time.sleep(0.1)
            driver = browser()
            loads: list[float] = []
            shown: list[float] = []
            for run in range(options.runs + 1):  # the first run warms up the browser and the server
                driver.get("about:blank")
                driver.get(f"{base}/")
                ready = None
                deadline = time.monotonic() + 10
                while ready is None and time.monotonic() < deadline:
                    ready = driver.execute_script(READY)
                    if ready is None:
                        time.sleep(0.01)
                timing = driver.execute_script(NAVIGATION)
                if ready is None or not timing:
                    sys.exit("the page did not show its data within 10 s")
                if run:
                    loads.append(float(timing[2]))
                    shown.append(float(ready))
                    print(
                        f"run {run}: first byte {timing[0]:.0f} ms, DOMContentLoaded {timing[1]:.0f} ms, "
                        f"load {timing[2]:.0f} ms, data shown {ready:.0f} ms"
                    )
            print(
                f"median over {options.runs} runs with {options.tasks} tasks: load event "
                f"{statistics.median(loads):.0f} ms, data shown {statistics.median(shown):.0f} ms"
            )
        finally:
            if driver is not None:
                driver.quit()
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
