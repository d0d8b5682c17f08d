"""Processes doshit starts die with the process that started them."""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1


def killed_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies, however it dies (Linux; elsewhere
    nothing). Made to run in a child between fork and exec (``preexec_fn``): a task's command, a
    hook, a Redis server a test or a benchmark started."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
