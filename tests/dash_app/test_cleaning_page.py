"""The cleaning page (粉尘清扫打卡): a check-in with real photos through the page's callback is
stored with its photos and shows done; bad photos, early check-ins, other enterprises' tasks and
regulators are refused with a message and nothing stored; another enterprise's page is "not
found"."""

from __future__ import annotations

import asyncio
import base64
import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dash
import psycopg
import pytest
from dash.development.base_component import Component
from PIL import Image

from dash_app.app import create_app
from dash_app.auth import COOKIE
from dusttwin.settings import Settings
from risk.cleaning import CleaningKpi, PlanSpec, create_plan, day_range, summed_kpi
from risk.statistics import CHINA
from tests.api.demo_data import JIADING_ONE, OWN
from tests.helpers import override
from twins.scope import Scope
from twins.tokens import issue_token

OWN_CODE = OWN.record.credit_code
OTHER_CODE = JIADING_ONE.record.credit_code
OWN_SCOPE = Scope.enterprise("qiye-310113", OWN_CODE)
OTHER_SCOPE = Scope.enterprise("qiye-310114", OTHER_CODE)
UNKNOWN_CODE = "91310113MA1GXXXXX0"


def png() -> bytes:
    """A small real PNG photo."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 130, 140)).save(out, "PNG")
    return out.getvalue()


def data_url(data: bytes, content_type: str = "image/png") -> str:
    """What ``dcc.Upload`` hands the callback for one file."""
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def find(component: Any, element_id: str) -> Any:
    """The component with this id inside a component tree (None when absent)."""
    if isinstance(component, Component):
        if getattr(component, "id", None) == element_id:
            return component
        return find(getattr(component, "children", None), element_id)
    if isinstance(component, list | tuple):
        for child in component:
            found = find(child, element_id)
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------- the app, plans and tasks


@pytest.fixture(scope="module")
def dsn(seeded: dict[str, str]) -> str:
    """The seeded demo database."""
    return seeded["DUSTTWIN_DATABASE_URL"]


@pytest.fixture(scope="module")
def data_dir(seeded: dict[str, str]) -> Path:
    """Where the app keeps its photos (a local photo store under it)."""
    return Path(seeded["DUSTTWIN_DATA_DIR"])


@pytest.fixture(scope="module")
def app(settings: Settings, dsn: str, data_dir: Path) -> dash.Dash:
    """The Dash app on the seeded database, its photos under the test's data directory."""
    return create_app(override(settings, database_url=dsn, data_dir=data_dir))


@pytest.fixture(scope="module")
def page(app: dash.Dash) -> Any:
    """The page module as Dash Pages imported it."""
    found = next(
        p for p in dash.page_registry.values() if p["path_template"] == "/cleaning/<credit_code>"
    )
    return sys.modules[found["module"]]


def make_plan(dsn: str, scope: Scope, credit_code: str, spec: PlanSpec) -> int:
    """A plan made through the domain (its tasks of the next two days appear at once)."""

    async def go() -> int:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            row = await create_plan(conn, scope, credit_code, spec, datetime.now(UTC))
            return int(row["id"])

    return asyncio.run(go())


def current_task(dsn: str, plan_id: int) -> int:
    """The plan's task whose window holds now."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT id FROM cleaning_tasks WHERE plan_id = %s"
            " AND window_start <= now() AND window_end > now()",
            (plan_id,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def shift_plan(area: str, *, photos: bool = True) -> PlanSpec:
    """A per-shift plan: one of its tasks is always open."""
    return PlanSpec(
        area=area,
        zone=21,
        frequency="per_shift",
        method="explosion_proof_vacuum",
        responsible="王班长",
        area_kind="beams",
        photos_required=photos,
    )


@pytest.fixture
def own_task(dsn: str) -> int:
    """An open task of the own enterprise (a fresh per-shift plan each test)."""
    plan = make_plan(dsn, OWN_SCOPE, OWN_CODE, shift_plan(f"打磨车间梁架-{datetime.now(UTC):%f}"))
    return current_task(dsn, plan)


def checkin_of(dsn: str, task_id: int) -> tuple[Any, ...] | None:
    """The task's stored check-in (operator, by, late, remarks) and its state, if any."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT c.operator, c.checked_in_by, c.late, c.remarks, t.state"
            " FROM cleaning_tasks t JOIN cleaning_checkins c ON c.task_id = t.id WHERE t.id = %s",
            (task_id,),
        ).fetchone()


def photos_of(dsn: str, task_id: int) -> list[tuple[str, str, str]]:
    """The task's photo rows: (kind, content type, key)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT kind, content_type, key FROM photos WHERE ref = %s"
            " AND kind LIKE 'cleaning_%%' ORDER BY kind",
            (str(task_id),),
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def stored_files(data_dir: Path) -> set[Path]:
    """Every photo file in the local store."""
    root = data_dir / "photos"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def as_user(app: dash.Dash, settings_secret: str) -> Iterator[Any]:
    """A request context of a logged-in user (``as_user(name)``), as a callback runs in."""
    contexts: list[Any] = []

    def enter(username: str, path: str = f"/cleaning/{OWN_CODE}") -> None:
        token = issue_token(settings_secret, username)
        ctx = app.server.test_request_context(path, headers={"Cookie": f"{COOKIE}={token}"})
        ctx.push()
        contexts.append(ctx)

    yield enter
    for ctx in reversed(contexts):
        ctx.pop()


def submit(page: Any, task_id: object, before: list[str], after: list[str], **kw: Any) -> Any:
    """Press "check in" with these photos picked (the callback's arguments, as the browser sends
    them: each side's store holds ``{name, contents}`` per pick)."""
    return page.submit(
        1,
        OWN_CODE,
        task_id,
        [{"name": f"before-{i}.png", "contents": c} for i, c in enumerate(before)],
        [{"name": f"after-{i}.png", "contents": c} for i, c in enumerate(after)],
        kw.get("operator"),
        kw.get("remarks"),
        kw.get("lang", "zh"),
        0,
    )


# ---------------------------------------------------------------- checking in


def test_a_check_in_with_real_photos_is_stored_and_the_task_shows_done(
    page: Any, as_user: Any, dsn: str, data_dir: Path, own_task: int
) -> None:
    photo = png()
    as_user("qiye-310113")
    result = submit(
        page,
        own_task,
        [data_url(photo)],
        [data_url(photo)],
        operator="赵师傅",
        remarks="梁架已清理",
    )
    shown, version, *cleared = result
    assert shown.className == "cln-ok"
    assert "打卡成功" in shown.children
    assert version == 1
    assert cleared == [[], "", [], "", "", None]  # photos, remarks and choice emptied

    assert checkin_of(dsn, own_task) == ("赵师傅", "qiye-310113", False, "梁架已清理", "DONE")
    photos = photos_of(dsn, own_task)
    assert [(kind, ctype) for kind, ctype, _ in photos] == [
        ("cleaning_after", "image/png"),
        ("cleaning_before", "image/png"),
    ]
    for _, _, key in photos:
        assert (data_dir / "photos" / key).read_bytes() == photo

    # the lists, read again, show the task done in today's list and in the history
    rendered = page.render("zh", 1, 0, OWN_CODE)
    history = page.render_history("zh", 1, OWN_CODE)
    assert find(rendered[1], f"cln-task-{own_task}").className == "cln-card cln-done"
    assert find(history, f"cln-history-{own_task}") is not None
    assert own_task not in [o["value"] for o in rendered[3]]  # no longer offered for check-in


def test_a_second_check_in_of_the_same_task_is_refused(
    page: Any, as_user: Any, dsn: str, own_task: int
) -> None:
    as_user("qiye-310113")
    first = submit(page, own_task, [data_url(png())], [data_url(png())])
    assert first[0].className == "cln-ok"
    again = submit(page, own_task, [data_url(png())], [data_url(png())])
    assert again[0].className == "cln-refused"
    assert "checked in already" in again[0].children
    assert len(photos_of(dsn, own_task)) == 2


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_stored(
    page: Any, as_user: Any, dsn: str, data_dir: Path, own_task: int
) -> None:
    before_files = stored_files(data_dir)
    as_user("qiye-310113")
    pdf = data_url(b"%PDF-1.7 cleaning report", "application/pdf")
    shown, version, *kept = submit(page, own_task, [pdf], [data_url(png())])
    assert shown.className == "cln-refused"
    assert "打卡未成功" in shown.children
    assert "not a JPEG or PNG" in shown.children
    assert version is dash.no_update
    assert all(k is dash.no_update for k in kept)  # the form keeps what was chosen
    assert checkin_of(dsn, own_task) is None
    assert photos_of(dsn, own_task) == []
    assert stored_files(data_dir) == before_files


def test_a_png_sent_as_a_jpeg_is_refused_like_the_api_refuses_it(
    page: Any, as_user: Any, dsn: str, own_task: int
) -> None:
    as_user("qiye-310113")
    shown, *_ = submit(page, own_task, [data_url(png(), "image/jpeg")], [data_url(png())])
    assert shown.className == "cln-refused"
    assert "does not match" in shown.children
    assert checkin_of(dsn, own_task) is None


def test_a_photo_over_the_size_limit_is_refused(
    page: Any, as_user: Any, dsn: str, own_task: int, settings: Settings
) -> None:
    as_user("qiye-310113")
    huge = png() + b"\0" * settings.photo_max_bytes
    shown, *_ = submit(page, own_task, [data_url(huge)], [data_url(png())])
    assert shown.className == "cln-refused"
    assert "limit" in shown.children
    assert checkin_of(dsn, own_task) is None


def test_a_plan_with_photos_required_needs_before_and_after(
    page: Any, as_user: Any, dsn: str, own_task: int
) -> None:
    as_user("qiye-310113")
    shown, *_ = submit(page, own_task, [], [data_url(png())], remarks="只拍了清扫后")
    assert shown.className == "cln-refused"
    assert "before and after" in shown.children
    assert checkin_of(dsn, own_task) is None


def test_a_forged_task_id_of_another_enterprise_is_refused(
    page: Any, as_user: Any, dsn: str
) -> None:
    other_plan = make_plan(dsn, OTHER_SCOPE, OTHER_CODE, shift_plan("嘉定 抛光工位", photos=False))
    foreign = current_task(dsn, other_plan)
    as_user("qiye-310113")
    shown, version, *_ = submit(page, foreign, [data_url(png())], [data_url(png())])
    assert shown.className == "cln-refused"
    assert "not yours to check in" in shown.children
    assert version is dash.no_update
    assert checkin_of(dsn, foreign) is None
    assert photos_of(dsn, foreign) == []


def test_a_regulator_reads_the_page_but_cannot_check_in(
    page: Any, as_user: Any, dsn: str, own_task: int
) -> None:
    as_user("baoshan")
    shown = page.layout(credit_code=OWN_CODE)
    assert OWN.record.name in str(find(shown, "cln-name").children)
    assert "cln-hidden" in find(shown, "cln-form").className
    assert "cln-hidden" not in find(shown, "cln-readonly").className
    refused, *_ = submit(page, own_task, [data_url(png())], [data_url(png())])
    assert refused.className == "cln-refused"
    assert "only enterprise" in refused.children
    assert checkin_of(dsn, own_task) is None


def test_a_check_in_before_the_window_opens_is_refused(page: Any, as_user: Any, dsn: str) -> None:
    start = (datetime.now(CHINA) + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    plan = make_plan(
        dsn,
        OWN_SCOPE,
        OWN_CODE,
        PlanSpec(
            area="筛分工位 地面",
            zone=22,
            frequency="daily",
            method="wet",
            responsible="李班长",
            window_start=start,
            window_minutes=60,
            photos_required=False,
        ),
    )
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT id FROM cleaning_tasks WHERE plan_id = %s AND window_start > now()"
            " ORDER BY window_start LIMIT 1",
            (plan,),
        ).fetchone()
    assert row is not None
    as_user("qiye-310113")
    shown, *_ = submit(page, row[0], [], [])
    assert shown.className == "cln-refused"
    assert "清扫时段未开始" in shown.children
    assert checkin_of(dsn, int(row[0])) is None


def test_an_overdue_task_is_offered_and_its_check_in_is_marked_late(
    page: Any, as_user: Any, dsn: str
) -> None:
    plan = make_plan(dsn, OWN_SCOPE, OWN_CODE, shift_plan("除尘器卸灰口", photos=False))
    start, _ = day_range(datetime.now(CHINA).date() - timedelta(days=1))
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "INSERT INTO cleaning_tasks (plan_id, credit_code, adcode, area, zone, window_start,"
            " window_end) VALUES (%s, %s, %s, %s, 21, %s, %s) RETURNING id",
            (plan, OWN_CODE, OWN.record.adcode, "除尘器卸灰口", start, start + timedelta(hours=8)),
        ).fetchone()
    assert row is not None
    overdue = int(row[0])
    as_user("qiye-310113")
    offered = {o["value"]: o["label"] for o in page.render("en", 0, 0, OWN_CODE)[3]}
    assert "Overdue" in offered[overdue]
    history = page.render_history("en", 0, OWN_CODE)
    assert find(history, f"cln-history-{overdue}").className == "cln-card cln-overdue"

    shown, *_ = submit(page, overdue, [], [], lang="en")
    assert shown.className == "cln-ok"
    assert "marked late" in shown.children
    assert checkin_of(dsn, overdue) == ("qiye-310113", "qiye-310113", True, None, "LATE")


def test_a_photo_shows_to_its_enterprise_and_not_to_another(
    page: Any, app: dash.Dash, settings_secret: str, dsn: str, own_task: int
) -> None:
    def as_(username: str) -> Any:
        token = issue_token(settings_secret, username)
        return app.server.test_request_context("/", headers={"Cookie": f"{COOKIE}={token}"})

    with as_("qiye-310113"):
        assert submit(page, own_task, [data_url(png())], [data_url(png())])[0].className == "cln-ok"
        photo_id = photos_of_ids(dsn, own_task)[0]
        button = {"type": page.PHOTO_BUTTON, "photo": photo_id}
        figure = page.toggle_photo(1, button, "zh")
        hidden = page.toggle_photo(2, button, "zh")  # a second tap hides it
    assert figure.children[0].src.startswith("data:image/png;base64,")
    assert hidden is None
    with as_("qiye-310114"):
        other = page.toggle_photo(1, button, "zh")
    assert "照片无法显示" in str(other)
    assert "data:image" not in str(other)


def photos_of_ids(dsn: str, task_id: int) -> list[int]:
    """The ids of a task's photos."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id FROM photos WHERE ref = %s AND kind LIKE 'cleaning_%%' ORDER BY id",
            (str(task_id),),
        ).fetchall()
    return [int(r[0]) for r in rows]


# ---------------------------------------------------------------- who sees the page


def test_another_enterprise_or_an_unknown_code_is_not_found(
    page: Any, app: dash.Dash, settings_secret: str
) -> None:
    token = issue_token(settings_secret, "qiye-310114")
    with app.server.test_request_context(
        f"/cleaning/{OWN_CODE}", headers={"Cookie": f"{COOKIE}={token}"}
    ):
        other = str(page.layout(credit_code=OWN_CODE))
        unknown = str(page.layout(credit_code=UNKNOWN_CODE))
    assert "未找到该企业" in other
    assert OWN.record.name not in other
    assert other == unknown
    with app.server.test_request_context(f"/cleaning/{OWN_CODE}"):
        nobody = str(page.layout(credit_code=OWN_CODE))
    assert "请先登录后查看" in nobody
    assert OWN.record.name not in nobody


def test_the_page_over_http_answers_with_the_cleaning_page(
    app: dash.Dash, settings_secret: str
) -> None:
    client = app.server.test_client()
    client.set_cookie(COOKIE, issue_token(settings_secret, "qiye-310113"))
    response = client.get(f"/cleaning/{OWN_CODE}")
    assert response.status_code == 200
    assert "cleaning.css" in response.get_data(as_text=True)


# ---------------------------------------------------------------- pure builders


def test_window_text_reads_like_a_shift(page: Any) -> None:
    day = datetime(2025, 3, 3, tzinfo=CHINA)
    builders = page
    assert builders.window_text(day.replace(hour=8), day.replace(hour=16)) == "08:00–16:00"
    assert builders.window_text(day.replace(hour=16), day + timedelta(days=1)) == "16:00–24:00"
    assert (
        builders.window_text(day.replace(hour=8), day.replace(hour=16), with_day=True)
        == "03-03 08:00–16:00"
    )


def test_the_period_kpi_rates_come_from_summed_counts() -> None:
    def day(due: int, done: int, on_time: int) -> CleaningKpi:
        return CleaningKpi(
            "enterprise",
            "X",
            "310113",
            1,
            due,
            done,
            on_time,
            done - on_time,
            due - on_time,
            due - done,
            done / due if due else None,
            on_time / due if due else None,
        )

    kpi = summed_kpi([day(3, 3, 3), day(0, 0, 0), day(1, 0, 0)], "X", "310113")
    assert (kpi.due, kpi.done, kpi.on_time, kpi.overdue, kpi.missed) == (4, 3, 3, 1, 1)
    assert kpi.completion_rate == 0.75
    assert kpi.on_time_rate == 0.75
