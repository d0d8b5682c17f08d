"""The chaos test (bench/chaos.py, `make chaos`) in small: a few hundred tasks, workers SIGKILLed and
Redis restarted meanwhile; nothing may be lost, stuck or left on a list."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_nothing_is_lost_when_workers_are_killed_and_redis_restarts() -> None:
    done = subprocess.run(
        [sys.executable, "bench/chaos.py", "--tasks", "300", "--workers", "3", "--kills", "4", "--kill-every", "2",
         "--produce-seconds", "8", "--settle-seconds", "120"],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    table = dict(
        (cells[0], cells[1])
        for line in done.stdout.splitlines()
        if len(cells := [c.strip() for c in line.split("|")[1:-1]]) == 2
    )
    assert table["submitted"] == "300"
    assert (table["**lost** (no hash)"], table["**stuck** (not finished)"]) == ("0", "0")
    assert table["left on pending / executing / scheduled"] == "0 / 0 / 0"
    assert table["worker SIGKILLs (each replaced)"] == "4"
    assert table["Redis restarts"] == "1"
    assert table["ran more than once"].endswith(", 0 not)")
    assert (
        int(table["finished successful"])
        + sum(int(count) for what, count in table.items() if what.startswith("finished failed"))
        == 300
    )
