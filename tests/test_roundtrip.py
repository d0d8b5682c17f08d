"""Submit → worker → result, through both clients."""

from __future__ import annotations

from typing import Any

import pytest

from doshit import TaskFailed, TaskTimeout

from .conftest import assert_clean


@pytest.fixture
def worker(start_worker: Any) -> Any:
    return start_worker("--concurrency", "2")


def test_echo_round_trip(any_client: Any, worker: Any, r: Any, prefix: str) -> None:
    task = any_client.submit("echo", text="hi")
    assert task.wait_result(timeout=10) == "hi"
    fields = r.hgetall(f"{prefix}:task:{task.task_id}")
    assert fields["state"] == "finished"
    assert fields["result"] == "successful"
    assert fields["result-value"] == '"hi"'
    assert_clean(r, prefix)


def test_failure_raises_with_reason(any_client: Any, worker: Any) -> None:
    task = any_client.submit("fail", message="nope")
    with pytest.raises(TaskFailed, match=r"^ValueError: nope$") as caught:
        task.wait_result(timeout=10)
    assert "Traceback" in caught.value.exception


def test_timeout_then_result(any_client: Any, worker: Any) -> None:
    task = any_client.submit("sleep", seconds=0.5)
    with pytest.raises(TaskTimeout):
        task.wait_result(timeout=0.05)
    assert task.wait_result(timeout=10) == 0.5
