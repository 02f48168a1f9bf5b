"""Small helpers shared by tests."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence

import openpyxl  # type: ignore[import-untyped]
import redis

from dusttwin.settings import Settings
from twins.identifiers import credit_code_check_char


def override(settings: Settings, **changes: object) -> Settings:
    """A copy of ``settings`` with some values changed, validated like the environment's."""
    return Settings.model_validate({**settings.model_dump(), **changes})


def spreadsheet(rows: Sequence[Sequence[object]]) -> bytes:
    """An .xlsx file whose first sheet holds ``rows``."""
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def made_up_credit_code(tag: str, serial: int, adcode: str = "310113") -> str:
    """A valid credit code that neither the demo nor other tests use (``tag``: 3 letters/digits)."""
    body = f"91{adcode}{tag}{serial:06d}"
    return body + credit_code_check_char(body)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own on a free loopback port, to stop and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: run deploy/local/services.sh up"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
