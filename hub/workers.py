"""``hub run --workers N``: N hub processes on one port (SO_REUSEPORT), supervised.

Each worker is a plain ``hub run`` process that binds the same port with
``SO_REUSEPORT``, so the kernel spreads connections across them. They share
their work through the Redis store like any other hub processes. The
supervisor forwards SIGINT and SIGTERM, and restarts a worker that dies.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = ["supervise"]

logger = logging.getLogger(__name__)

RESTART_PAUSE_S = 1.0


def _spawn(argv: Sequence[str], index: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "hub.cli", *argv])
    logger.info("worker %d started (pid %d)", index, process.pid)
    return process


def supervise(argv: Sequence[str], workers: int, stop_timeout_s: float) -> int:
    """Run ``workers`` copies of ``hub <argv>`` until SIGINT/SIGTERM; 0 on a clean stop."""
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        logger.info("stopping %d workers (%s)", workers, signal.Signals(signum).name)
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    running = [_spawn(argv, i) for i in range(workers)]
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        time.sleep(0.2)
        for index, process in enumerate(running):
            code = process.poll()
            if code is not None and not stopping:
                logger.error("worker %d (pid %d) exited with %d; restarting it",
                             index, process.pid, code)
                time.sleep(RESTART_PAUSE_S)
                running[index] = _spawn(argv, index)
    deadline = time.monotonic() + stop_timeout_s
    codes = []
    for process in running:
        try:
            codes.append(process.wait(timeout=max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    return 0 if all(code == 0 for code in codes) else 1
