"""Dust cleaning through the API: a plan, today's tasks, a check-in with photos, who sees what."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest_asyncio
from PIL import ExifTags, Image

from dusttwin import worker_context
from dusttwin.settings import Settings
from risk import cleaning_jobs
from risk.cleaning import PlanSpec, create_plan
from risk.statistics import CHINA
from tests.api.demo_data import OWN
from tests.helpers import override
from twins.scope import Scope

CC = OWN.record.credit_code
PLANS = f"/api/v1/enterprises/{CC}/cleaning/plans"
TASKS = f"/api/v1/enterprises/{CC}/cleaning/tasks"


def photo(fmt: str = "JPEG", taken: str | None = None) -> bytes:
    """A small photo made here (JPEG with an EXIF time, or PNG)."""
    out = io.BytesIO()
    exif = Image.Exif()
    if taken:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    Image.new("RGB", (40, 30), (150, 140, 120)).save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def files(
    before: bytes | None = None, after: bytes | None = None, before_type: str = "image/jpeg"
) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [
        ("before", ("before.jpg", before if before is not None else photo(), before_type)),
        ("after", ("after.png", after if after is not None else photo("PNG"), "image/png")),
    ]


@pytest_asyncio.fixture(scope="module")
async def routed(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The API over the seeded database (every router is registered in api/app.py)."""
    return api


@pytest_asyncio.fixture(scope="module")
async def shift_plan(routed: httpx.AsyncClient, tokens: dict[str, dict[str, str]]) -> int:
    """qiye-310113's per-shift plan for the grinding workshop's beams, zone 21."""
    body = {
        "area": "打磨车间 梁架",
        "area_kind": "beams",
        "zone": 21,
        "frequency": "per_shift",
        "method": "explosion_proof_vacuum",
        "responsible": "王班长",
    }
    created = await routed.post(PLANS, json=body, headers=tokens["qiye-310113"])
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def _current_task(
    api: httpx.AsyncClient, headers: dict[str, str], plan_id: int
) -> dict[str, Any]:
    reply = await api.get(TASKS, headers=headers)
    assert reply.status_code == 200, reply.text
    now = datetime.now(UTC)
    items: list[dict[str, Any]] = reply.json()["items"]
    [task] = [
        t
        for t in items
        if t["plan_id"] == plan_id
        and datetime.fromisoformat(t["window_start"])
        <= now
        < datetime.fromisoformat(t["window_end"])
    ]
    return task


async def test_the_enterprise_checks_in_the_current_shift_with_photos_its_regulator_sees_them(
    routed: httpx.AsyncClient, tokens: dict[str, dict[str, str]], shift_plan: int
) -> None:
    qiye = tokens["qiye-310113"]
    task = await _current_task(routed, qiye, shift_plan)
    assert (task["state"], task["zone"], task["area"]) == ("PENDING", 21, "打磨车间 梁架")

    done = await routed.post(
        f"/api/v1/cleaning/tasks/{task['id']}/checkin",
        files=files(before=photo(taken="2024:05:01 09:30:00")),
        data={"remarks": "梁架积尘已用防爆吸尘器清理", "operator": "赵师傅"},
        headers=qiye,
    )
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["state"] == "DONE"
    assert body["checkin"]["operator"] == "赵师傅"
    assert body["checkin"]["checked_in_by"] == "qiye-310113"
    assert body["checkin"]["late"] is False
    sides = {p["side"]: p for p in body["photos"]}
    taken = datetime.fromisoformat(sides["before"]["exif_time"])
    assert taken == datetime(2024, 5, 1, 9, 30, tzinfo=CHINA)  # the camera's clock, China time
    assert sides["after"]["content_type"] == "image/png"

    # the county regulator sees the photo; another county and another enterprise do not
    url = sides["before"]["url"]
    seen = await routed.get(url, headers=tokens["baoshan"])
    assert seen.status_code == 200
    assert seen.headers["content-type"] == "image/jpeg"
    assert seen.content.startswith(b"\xff\xd8\xff")
    for outsider in ("jiading", "qiye-310114"):
        assert (await routed.get(url, headers=tokens[outsider])).status_code == 404

    again = await routed.post(
        f"/api/v1/cleaning/tasks/{task['id']}/checkin", files=files(), headers=qiye
    )
    assert again.status_code == 409
    assert "checked in already" in again.json()["detail"]


async def test_regulators_read_plans_but_do_not_write_them(
    routed: httpx.AsyncClient, tokens: dict[str, dict[str, str]], shift_plan: int
) -> None:
    listed = await routed.get(PLANS, headers=tokens["baoshan"])
    assert listed.status_code == 200
    assert shift_plan in [p["id"] for p in listed.json()]
    body = {
        "area": "除尘器灰斗",
        "zone": 20,
        "frequency": "daily",
        "method": "wet",
        "responsible": "x",
    }
    written = await routed.post(PLANS, json=body, headers=tokens["baoshan"])
    assert written.status_code == 403
    assert "only enterprise" in written.json()["detail"]
    assert (await routed.get(PLANS, headers=tokens["jiading"])).status_code == 404


async def test_compressed_air_blowing_is_refused_as_a_method(
    routed: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    body = {
        "area": "抛光工位",
        "zone": 22,
        "frequency": "daily",
        "method": "compressed air",
        "responsible": "王班长",
    }
    refused = await routed.post(PLANS, json=body, headers=tokens["qiye-310113"])
    assert refused.status_code == 422
    assert "compressed-air blowing is forbidden" in refused.json()["detail"]


async def test_bad_photos_and_other_enterprises_tasks_are_refused(
    routed: httpx.AsyncClient, tokens: dict[str, dict[str, str]], settings: Settings
) -> None:
    qiye = tokens["qiye-310113"]
    body = {
        "area": "布袋除尘器 卸灰口",
        "zone": 21,
        "frequency": "daily",
        "window_start": "00:00:00",
        "window_minutes": 1440,
        "method": "wet",
        "responsible": "王班长",
    }
    created = await routed.post(PLANS, json=body, headers=qiye)
    assert created.status_code == 201, created.text
    task = await _current_task(routed, qiye, created.json()["id"])
    url = f"/api/v1/cleaning/tasks/{task['id']}/checkin"

    not_image = await routed.post(url, files=files(before=b"%PDF-1.7 report"), headers=qiye)
    assert not_image.status_code == 422
    assert "not a JPEG or PNG" in not_image.json()["detail"]
    too_large = photo() + b"\0" * settings.photo_max_bytes
    large = await routed.post(url, files=files(before=too_large), headers=qiye)
    assert large.status_code == 413
    assert "limit" in large.json()["detail"]
    no_photos = await routed.post(url, data={"remarks": "done"}, headers=qiye)
    assert no_photos.status_code == 422
    assert "before and after" in no_photos.json()["detail"]
    foreign = await routed.post(url, files=files(), headers=tokens["qiye-310114"])
    assert foreign.status_code == 404
    assert "not yours to check in" in foreign.json()["detail"]
    regulator = await routed.post(url, files=files(), headers=tokens["baoshan"])
    assert regulator.status_code == 403

    # none of these left a check-in: the task is still open
    still = await routed.get(f"/api/v1/cleaning/tasks/{task['id']}", headers=qiye)
    assert (still.json()["state"], still.json()["photos"]) == ("PENDING", [])


async def test_tomorrows_task_cannot_be_checked_in_today(
    routed: httpx.AsyncClient, tokens: dict[str, dict[str, str]], shift_plan: int
) -> None:
    qiye = tokens["qiye-310113"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1, hours=8)).date().isoformat()
    reply = await routed.get(TASKS, params={"day": tomorrow}, headers=qiye)
    future = [
        t
        for t in reply.json()["items"]
        if datetime.fromisoformat(t["window_start"]) > datetime.now(UTC)
    ]
    refused = await routed.post(
        f"/api/v1/cleaning/tasks/{future[-1]['id']}/checkin", files=files(), headers=qiye
    )
    assert refused.status_code == 409
    assert "opens at" in refused.json()["detail"]


async def test_an_overdue_task_raises_an_alarm_and_a_late_check_in_is_accepted_and_marked(
    routed: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    settings: Settings,
    seeded: dict[str, str],
) -> None:
    qiye, baoshan = tokens["qiye-310113"], tokens["baoshan"]
    dsn = seeded["DUSTTWIN_DATABASE_URL"]
    # a daily one-hour window that ended yesterday: made as the scheduler would have made it
    yesterday = datetime.now(UTC) - timedelta(days=1, hours=2)
    spec = PlanSpec(
        area="筛分工位 地面",
        zone=20,
        frequency="daily",
        method="explosion_proof_vacuum",
        responsible="王班长",
        window_start=yesterday.astimezone(CHINA).time().replace(microsecond=0),
        window_minutes=60,
    )
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        made = await create_plan(conn, Scope.admin(), CC, spec, yesterday)
    worker_context.install(override(settings, database_url=dsn))
    # the jobs as the RQ worker runs them (their own event loop, so in a thread here)
    first = await asyncio.to_thread(cleaning_jobs.mark_cleaning_overdue)
    again = await asyncio.to_thread(cleaning_jobs.mark_cleaning_overdue)
    assert first["overdue_tasks"] >= 2
    assert again["overdue_tasks"] == 0  # marked once
    await asyncio.to_thread(cleaning_jobs.generate_cleaning_tasks)
    generated = await asyncio.to_thread(cleaning_jobs.generate_cleaning_tasks)
    assert generated["created"] == 0  # a second pass finds every task made

    alarms = await routed.get(
        "/api/v1/alarms",
        params={"credit_code": CC, "alarm_type": "CLEANING_OVERDUE", "open": True},
        headers=baoshan,
    )
    [alarm] = [a for a in alarms.json()["items"] if a["thing_id"].endswith(f"-{made['id']}")]
    assert (alarm["level"], alarm["condition_active"]) == ("HA", True)

    history = await routed.get(
        f"/api/v1/enterprises/{CC}/cleaning/history", params={"state": "OVERDUE"}, headers=qiye
    )
    # yesterday's window and today's (an hour ago) both ended unchecked
    overdue = [t for t in history.json()["items"] if t["plan_id"] == made["id"]]
    assert len(overdue) == 2
    assert overdue[0]["state"] == "OVERDUE"
    late = await routed.post(
        f"/api/v1/cleaning/tasks/{overdue[0]['id']}/checkin", files=files(), headers=qiye
    )
    assert late.status_code == 201, late.text
    assert (late.json()["state"], late.json()["checkin"]["late"]) == ("LATE", True)
    cleared = await routed.get(f"/api/v1/alarms/{alarm['id']}", headers=baoshan)
    assert cleared.json()["condition_active"] is False


async def test_kpis_per_enterprise_and_region_within_the_jurisdiction(
    routed: httpx.AsyncClient, tokens: dict[str, dict[str, str]], shift_plan: int
) -> None:
    mine = await routed.get(
        f"/api/v1/enterprises/{CC}/cleaning/kpis", headers=tokens["qiye-310113"]
    )
    assert mine.status_code == 200
    # the shift checked in today counts as due and done
    assert mine.json()["due"] >= 1
    assert mine.json()["done"] >= 1
    county = await routed.get("/api/v1/cleaning/kpis", headers=tokens["baoshan"])
    keys = {(k["scope_kind"], k["key"]) for k in county.json()}
    assert {("region", "310113"), ("enterprise", CC)} <= keys
    # the county regulator gets no figures of the city, the country or the next county
    assert not any(k[1] in ("310100", "310000", "000000", "310114") for k in keys)
    jiading = await routed.get("/api/v1/cleaning/kpis", headers=tokens["jiading"])
    assert CC not in {k["key"] for k in jiading.json()}
    assert (
        await routed.get(f"/api/v1/enterprises/{CC}/cleaning/kpis", headers=tokens["jiading"])
    ).status_code == 404
