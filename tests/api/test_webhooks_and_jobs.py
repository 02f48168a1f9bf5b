"""Webhooks push a regulator's events, signed and retried; administrators see failed jobs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import httpx
import psycopg
import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.results import Result

from dusttwin.scheduler import QUEUE_NAME
from dusttwin.settings import Settings
from risk.alarms import Change, Deadlines, Subject, apply_changes
from risk.webhooks import deliver, sign
from tests.api.demo_data import BAOSHAN, JIADING
from tests.helpers import free_port


class Receiver(BaseHTTPRequestHandler):
    """A regulator's endpoint: fails while ``failing`` is set, records what it accepted."""

    failing: ClassVar[bool] = True
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.failing:
            self.send_response(500)
        else:
            Receiver.received.append((dict(self.headers), body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", free_port()), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/dusttwin-events"
    server.shutdown()


async def _raise(dsn: str, credit_code: str, adcode: str, tag: str) -> None:
    subject = Subject(f"dusttwin:point-{credit_code}-WEBHOOK-{tag}", credit_code, adcode)
    change = Change("raise", "HIGH", "HHA", datetime.now(UTC), 95.0, 90.0)
    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.transaction():
        await apply_changes(conn, [(subject, change)], datetime.now(UTC), Deadlines())


async def test_a_regulator_gets_its_events_signed_and_a_failed_delivery_is_retried(
    api: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    seeded: dict[str, str],
    receiver: str,
) -> None:
    dsn = seeded["DUSTTWIN_DATABASE_URL"]
    made = await api.post(
        "/api/v1/webhooks",
        json={"url": receiver, "kinds": ["alarm.raised"]},
        headers=tokens["baoshan"],
    )
    refused = await api.post(
        "/api/v1/webhooks", json={"url": receiver}, headers=tokens["qiye-310113"]
    )
    bad_kind = await api.post(
        "/api/v1/webhooks",
        json={"url": receiver, "kinds": ["alarm.exploded"]},
        headers=tokens["baoshan"],
    )
    assert made.status_code == 201, made.text
    assert (refused.status_code, bad_kind.status_code) == (403, 422)
    secret = made.json()["secret"]

    baoshan = BAOSHAN[4].record.credit_code
    await _raise(dsn, JIADING[4].record.credit_code, "310114", "j")  # not Baoshan's
    await _raise(dsn, baoshan, "310113", "b")
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(dsn) as conn, httpx.AsyncClient() as client:
        Receiver.failing = True
        assert await deliver(conn, client, now) == 0
        Receiver.failing = False
        assert await deliver(conn, client, now + timedelta(seconds=2)) == 0  # backing off
        delivered = await deliver(conn, client, now + timedelta(seconds=11))
        again = await deliver(conn, client, now + timedelta(seconds=30))
    assert (delivered, again) == (1, 0)
    headers, body = Receiver.received[-1]
    event = json.loads(body)
    assert (event["kind"], event["credit_code"]) == ("alarm.raised", baoshan)
    assert headers["X-Dusttwin-Signature"] == sign(secret, body)
    mine = await api.get("/api/v1/webhooks", headers=tokens["baoshan"])
    assert [(h["failures"], h["last_error"]) for h in mine.json()] == [(0, None)]
    gone = await api.delete(f"/api/v1/webhooks/{made.json()['id']}", headers=tokens["baoshan"])
    assert gone.status_code == 204


async def test_administrators_see_failed_jobs_and_nobody_else(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], settings: Settings
) -> None:
    redis = Redis.from_url(settings.redis_url.get_secret_value())
    queue = Queue(QUEUE_NAME, connection=redis)
    job = Job.create("risk.jobs.evaluate_all", connection=redis, id="test-failed-job-view")
    job.save()
    error = "Traceback ...\npsycopg.OperationalError: the database is down"
    FailedJobRegistry(queue=queue).add(job, ttl=60, exc_string=error)
    Result.create_failure(job, ttl=60, exc_string=error)
    try:
        admin = await api.get("/api/v1/jobs/failed", headers=tokens["admin"])
        regulator = await api.get("/api/v1/jobs/failed", headers=tokens["shanghai"])
    finally:
        FailedJobRegistry(queue=queue).remove(job, delete_job=True)
    assert admin.status_code == 200, admin.text
    shown = [j for j in admin.json()["items"] if j["id"] == "test-failed-job-view"]
    assert shown[0]["function"] == "risk.jobs.evaluate_all"
    assert shown[0]["error"] == "psycopg.OperationalError: the database is down"
    assert regulator.status_code == 403
