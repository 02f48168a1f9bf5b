"""``dusttwin demo``: every platform process as a child, stopped together, watched for deaths."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSpec:
    """A child process: its name and its ``dusttwin`` arguments."""

    name: str
    args: tuple[str, ...]


DEMO_PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec("api", ("serve", "api")),
    ProcessSpec("dash", ("serve", "dash")),
    ProcessSpec("connector", ("serve", "connector")),
    ProcessSpec("worker", ("serve", "worker")),
    ProcessSpec("scheduler", ("serve", "scheduler")),
    ProcessSpec("simulator", ("simulate",)),
)


def supervise(specs: tuple[ProcessSpec, ...], *, poll_s: float = 0.5) -> int:
    """Start every child; when one dies or we are told to stop, stop them all.

    Returns 0 after a requested stop (Ctrl-C, SIGTERM), 1 when a child died on its own: a demo
    with a dead part must not look healthy.
    """
    stopping = False

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    children = {
        s.name: subprocess.Popen([sys.executable, "-m", "dusttwin.cli", *s.args]) for s in specs
    }
    died: str | None = None
    while not stopping and died is None:
        time.sleep(poll_s)
        for name, proc in children.items():
            if proc.poll() is not None:
                died = name
                log.error(
                    "demo: %s exited with code %s; stopping everything", name, proc.returncode
                )
                break
    for proc in children.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 10
    for proc in children.values():
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
    return 1 if died else 0
