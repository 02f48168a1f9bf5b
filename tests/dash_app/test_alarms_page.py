"""The enterprise's alarms page (报警预警): new high-level alarms announce themselves, an alarm is
acknowledged and fed back with a real photo, and nothing of another enterprise can be touched."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dash
import psycopg
import pytest
from dash import html
from PIL import Image

from dash_app.alarm_queries import (
    HIGH_LEVELS,
    AlarmsView,
    PointLabel,
    new_high_alarms,
)
from dash_app.app import create_app
from dash_app.auth import COOKIE
from dash_app.enterprise_queries import EnterpriseHeader
from dusttwin.settings import Settings
from risk.alarms import Change, Deadlines, Subject, apply_changes
from tests.api.demo_data import JIADING_ONE, OWN
from tests.dash_app.components import walk
from tests.helpers import override
from twins.photos import LocalPhotoStore
from twins.scope import Scope
from twins.tokens import issue_token

OWN_CODE = OWN.record.credit_code
OTHER_CODE = JIADING_ONE.record.credit_code
OWN_SCOPE = Scope.enterprise("qiye-310113", OWN_CODE)
OTHER_SCOPE = Scope.enterprise("qiye-310114", OTHER_CODE)
BAOSHAN = Scope.regulator("baoshan", "310113")
UNKNOWN_CODE = "91310113MA1GXXXXX0"
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def png_bytes() -> bytes:
    """A real (small) PNG photo."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def data_url(data: bytes, content_type: str) -> str:
    """What ``dcc.Upload`` sends for a file."""
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def an_alarm(alarm_id: int, level: str, **changes: Any) -> dict[str, Any]:
    """An open alarm row as ``risk.alarms.list_alarms`` gives it."""
    row: dict[str, Any] = {
        "id": alarm_id,
        "thing_id": f"dusttwin:point-X-DC01-HOPPER_TEMP-{alarm_id}",
        "level": level,
        "alarm_type": "HIGH",
        "state": "ACTIVE",
        "condition_active": True,
        "suppressed": False,
        "backfilled": False,
        "raised_at": NOW,
        "acknowledged_at": None,
    }
    return {**row, **changes}


# ---------------------------------------------------------------- pure


def test_the_high_levels_are_the_two_top_severities() -> None:
    assert {"EXPLOSION", "HHA", "LLA"} == HIGH_LEVELS


def test_only_new_high_level_alarms_are_flagged() -> None:
    alarms = [
        an_alarm(1, "HHA"),  # there before
        an_alarm(2, "HHA"),  # new, high
        an_alarm(3, "HA"),  # new, but not high
        an_alarm(4, "EXPLOSION", suppressed=True),  # new, raised in an approved maintenance
        an_alarm(5, "LLA", backfilled=True, condition_active=False),  # old news from a backlog
        an_alarm(6, "LLA", backfilled=True),  # from a backlog, still present
        an_alarm(7, "EXPLOSION", state="HANDLING"),  # escalated after acknowledgement
    ]
    new = new_high_alarms([1, 3], alarms)
    assert [a["id"] for a in new] == [2, 6, 7]
    assert new_high_alarms(None, alarms) == []  # the first look at the page: nothing is "new"
    assert new_high_alarms([1, 2, 6, 7], alarms) == []


def test_an_alarm_that_escalates_to_hha_counts_as_new() -> None:
    before = [an_alarm(9, "HA")]
    after = [an_alarm(9, "HHA")]
    seen = [a["id"] for a in before if a["level"] in HIGH_LEVELS]
    assert [a["id"] for a in new_high_alarms(seen, after)] == [9]


def _view(alarms: list[dict[str, Any]]) -> AlarmsView:
    header = EnterpriseHeader("X", "dusttwin:enterprise-X", "测试企业", "310113")
    label = PointLabel("1#除尘器", "灰斗温度", "°C")
    return AlarmsView(header, len(alarms), alarms, 0, [], {a["thing_id"]: label for a in alarms})


def test_the_banner_stays_until_dismissed_or_acknowledged(page: Any) -> None:
    first = _view([an_alarm(1, "HHA")])
    items, new = page.next_banner(first, [], [], dismissed=False)
    assert [a["id"] for a in new] == [1]
    again, new = page.next_banner(first, [1], items, dismissed=False)
    assert (again, new) == (items, [])
    acked = _view([an_alarm(1, "HHA", state="HANDLING", acknowledged_at=NOW)])
    assert page.next_banner(acked, [1], items, dismissed=False)[0] == []
    assert page.next_banner(first, [1], items, dismissed=True)[0] == []


def test_an_alarm_card_shows_point_level_value_deadlines_and_overdue(page: Any) -> None:
    alarm = an_alarm(
        5,
        "HHA",
        last_value=95.0,
        peak_value=97.5,
        limit_value=90.0,
        count=2,
        ack_deadline=NOW - timedelta(minutes=1),
        feedback_deadline=NOW + timedelta(hours=23),
        ack_overdue=True,
        feedback_overdue=False,
    )
    card = page.alarm_card(alarm, PointLabel("1#除尘器", "灰斗温度", "°C"), "zh", "acknowledge")
    text = str(card)
    assert card.id == "alm-alarm-5"
    assert "overdue" in card.className
    for shown in ("HHA 上上限", "1#除尘器 · 灰斗温度", "95 / 97.5 °C", "90 °C", "未确认 (已超期)"):
        assert shown in text
    button = next(c for c in walk(card) if isinstance(c, html.Button))  # what a browser clicks
    assert button.id == {"type": "alm-pick", "kind": "alarm", "id": 5, "at": "list"}  # type: ignore[attr-defined]
    assert getattr(button, "data-id") == "5"


def test_a_non_image_upload_is_refused_with_a_message_and_a_png_is_kept(page: Any) -> None:
    png = data_url(png_bytes(), "image/png")
    text = data_url(b"cause: dust on the filter", "text/plain")
    disguised = data_url(b"not a picture at all", "image/png")
    kept, problems = page.add_photos(
        [], [png, text, disguised], ["a.png", "notes.txt", "fake.png"], "zh", 5 * 1024 * 1024
    )
    assert [p["name"] for p in kept] == ["a.png"]
    assert problems == [
        "“notes.txt”不是 JPEG 或 PNG 图片，未添加。",
        "“fake.png”不是 JPEG 或 PNG 图片，未添加。",
    ]
    _, too_large = page.add_photos([], png, "a.png", "en", 64)
    assert too_large == ["“a.png” is larger than the 6.10352e-05 MB limit: not added."]


# ---------------------------------------------------------------- on the seeded database


@pytest.fixture(scope="module")
def dsn(seeded: dict[str, str]) -> str:
    """The seeded demo database."""
    return seeded["DUSTTWIN_DATABASE_URL"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the Dash app keeps its photos in these tests."""
    return tmp_path_factory.mktemp("alarms-page-data")


@pytest.fixture(scope="module")
def app(settings: Settings, dsn: str, data_dir: Path) -> dash.Dash:
    """The Dash app on the seeded database, storing photos under its own data directory."""
    return create_app(override(settings, database_url=dsn, data_dir=data_dir))


@pytest.fixture(scope="module")
def page(settings: Settings) -> Any:
    """The page module as Dash Pages imported it (importing it again would register it twice)."""
    if not any(p["path_template"] == "/alarms/<credit_code>" for p in dash.page_registry.values()):
        create_app(settings)  # connects to nothing: it imports the pages
    found = next(
        p for p in dash.page_registry.values() if p["path_template"] == "/alarms/<credit_code>"
    )
    return sys.modules[found["module"]]


@pytest.fixture
def store(tmp_path: Path) -> LocalPhotoStore:
    """A photo store of the test's own."""
    return LocalPhotoStore(tmp_path / "photos")


def _one(dsn: str, query: str, *params: Any) -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


def a_point_of(dsn: str, credit_code: str) -> tuple[str, int, str]:
    """(thing id, point id, system code) of the enterprise's first hopper temperature point."""
    thing_id, point_id, system_code = _one(
        dsn,
        "SELECT thing_id, id, attributes ->> 'system_code' FROM things WHERE kind = 'point'"
        " AND credit_code = %s AND attributes ->> 'indicator' = 'HOPPER_TEMP' ORDER BY id LIMIT 1",
        credit_code,
    )
    return thing_id, int(point_id), system_code


async def _raise(dsn: str, subject: Subject, change: Change) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await apply_changes(conn, [(subject, change)], datetime.now(UTC), Deadlines())
        await conn.commit()


def raise_alarm(
    dsn: str, enterprise: Any, level: str = "HHA", *, on_real_point: bool = True
) -> int:
    """A new open alarm of the enterprise (a type of its own, so no other alarm is updated)."""
    cc, adcode = enterprise.record.credit_code, enterprise.record.adcode
    if on_real_point:
        thing_id, point_id, system = a_point_of(dsn, cc)
    else:
        thing_id, point_id, system = (
            f"dusttwin:point-{cc}-DC01-T{uuid.uuid4().hex[:8]}",
            None,
            "DC01",
        )
    alarm_type = f"TEST_{uuid.uuid4().hex[:8]}"
    subject = Subject(thing_id, cc, adcode, point_id, system, "HOPPER_TEMP", mandatory=True)
    change = Change("raise", alarm_type, level, datetime.now(UTC), value=95.0, limit=90.0)
    asyncio.run(_raise(dsn, subject, change))
    (alarm_id,) = _one(
        dsn, "SELECT id FROM alarms WHERE thing_id = %s AND alarm_type = %s", thing_id, alarm_type
    )
    return int(alarm_id)


def clear_condition(dsn: str, alarm_id: int) -> None:
    """The value is back inside its limits (the loop stays open)."""
    thing_id, cc, adcode, alarm_type, level = _one(
        dsn,
        "SELECT thing_id, credit_code, adcode, alarm_type, level FROM alarms WHERE id = %s",
        alarm_id,
    )
    subject = Subject(thing_id, cc, adcode)
    asyncio.run(_raise(dsn, subject, Change("clear", alarm_type, level, datetime.now(UTC))))


def alarm_row(dsn: str, alarm_id: int) -> dict[str, Any]:
    """The alarm as stored, with its history actions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(
            "SELECT state, acknowledged_by, verification, fed_back_by, feedback FROM alarms"
            " WHERE id = %s",
            (alarm_id,),
        )
        state, acked_by, verification, fed_by, feedback = cur.fetchone() or (None,) * 5
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM alarm_history WHERE alarm_id = %s ORDER BY at, id", (alarm_id,)
            )
        ]
    return {
        "state": state,
        "acknowledged_by": acked_by,
        "verification": verification,
        "fed_back_by": fed_by,
        "feedback": feedback,
        "actions": actions,
    }


def photos_of(dsn: str, kind: str, ref: int) -> list[tuple[int, str, str]]:
    """(id, key, uploaded_by) of the photos attached to an alarm or warning."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [
            (int(i), k, u)
            for i, k, u in conn.execute(
                "SELECT id, key, uploaded_by FROM photos WHERE kind = %s AND ref = %s ORDER BY id",
                (kind, str(ref)),
            )
        ]


def token_for(settings: Settings, username: str) -> str:
    """The login token of ``username`` (what the cookie holds)."""
    return issue_token(settings.secret_key.get_secret_value(), username)


def cookie_for(settings: Settings, username: str) -> dict[str, str]:
    """The request headers of a browser holding ``username``'s token cookie."""
    return {"Cookie": f"{COOKIE}={token_for(settings, username)}"}


def post_callback(
    app: dash.Dash,
    token: str,
    output_id: str,
    inputs: list[dict[str, Any]],
    state: list[dict[str, Any]],
    changed: str,
) -> Any:
    """Call the callback that writes ``output_id`` over HTTP, as a browser does."""
    client = app.server.test_client()
    client.set_cookie(COOKIE, token)  # the login cookie, as a browser holds it
    client.get("/")  # the app takes its callbacks on its first request
    key = next(k for k in app.callback_map if f"..{output_id}." in k or k.startswith(output_id))
    outputs = [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1].split("@")[0]}
        for part in key.strip(".").split("...")
    ]
    body = {
        "output": key,
        "outputs": outputs,
        "inputs": inputs,
        "state": state,
        "changedPropIds": [changed],
    }
    return client.post("/_dash-update-component", json=body)


# ---------------------------------------------------------------- the page and its jurisdiction


def test_another_enterprise_or_an_unknown_code_is_not_found_and_anonymous_must_log_in(
    app: dash.Dash, page: Any, dsn: str
) -> None:
    with app.server.test_request_context(f"/alarms/{OWN_CODE}"):
        own = str(page.page_for(OWN_SCOPE, OWN_CODE, dsn))
        other = str(page.page_for(OTHER_SCOPE, OWN_CODE, dsn))
        unknown = str(page.page_for(OWN_SCOPE, UNKNOWN_CODE, dsn))
        nobody = page.page_for(None, OWN_CODE, dsn)
    assert OWN.record.name in own
    assert other == unknown
    assert "未找到该企业" in other
    assert OWN.record.name not in other
    links = [c for c in walk(nobody) if isinstance(c, dash.dcc.Link)]
    assert [link.href for link in links] == [f"/login?next=/alarms/{OWN_CODE}"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("username", "sees_own"), [("qiye-310113", True), ("qiye-310114", False), ("baoshan", True)]
)
def test_the_layout_with_a_real_token_cookie_follows_the_jurisdiction(
    app: dash.Dash, page: Any, settings: Settings, username: str, sees_own: bool
) -> None:
    with app.server.test_request_context(
        f"/alarms/{OWN_CODE}", headers=cookie_for(settings, username)
    ):
        shown = str(page.layout(credit_code=OWN_CODE))
    assert (OWN.record.name in shown) is sees_own
    assert ("未找到该企业" in shown) is not sees_own


def test_a_new_hha_alarm_raises_the_banner_and_the_beep_once(
    app: dash.Dash, page: Any, dsn: str
) -> None:
    first = page.refresh_for(OWN_SCOPE, OWN_CODE, dsn, "zh", None, None, 0)
    high = raise_alarm(dsn, OWN, "HHA")
    low = raise_alarm(dsn, OWN, "HA")
    second = page.refresh_for(OWN_SCOPE, OWN_CODE, dsn, "zh", first.seen, [], 0)
    third = page.refresh_for(OWN_SCOPE, OWN_CODE, dsn, "zh", second.seen, second.banner_items, 1)
    assert first.beep is None
    assert "alm-hidden" not in second.banner_class
    assert second.beep == 1
    assert [i for i, _ in second.banner_items] == [high]
    banner = str(second.banner)
    assert "新的高级别报警" in banner
    assert "HHA 上上限" in banner
    assert "灰斗温度" in banner  # the point, named as the plant names it
    assert f"alm-banner-{low}" not in banner
    assert third.beep is None  # announced once
    assert [i for i, _ in third.banner_items] == [high]  # stays until dismissed or acknowledged
    cards = str(second.alarms)
    assert cards.index(f"alm-alarm-{high}") < cards.index(f"alm-alarm-{low}")  # severe first


def test_acknowledge_then_feed_back_with_a_png_over_http_changes_the_alarm(
    app: dash.Dash, page: Any, settings: Settings, dsn: str, data_dir: Path
) -> None:
    alarm_id = raise_alarm(dsn, OWN, "HHA")
    token = token_for(settings, "qiye-310113")
    chosen = {"kind": "alarm", "id": alarm_id}
    png = png_bytes()

    def step(button: str, clicks: tuple[int, int], **values: Any) -> Any:
        state = {
            page.ALM_SELECTED: ("data", chosen),
            page.ALM_CODE: ("data", OWN_CODE),
            page.ALM_VERIFICATION: ("value", "REAL"),
            page.ALM_REMARK: ("value", ""),
            page.ALM_CAUSE: ("value", ""),
            page.ALM_MEASURES: ("value", ""),
            page.ALM_PHOTOS: ("data", []),
            page.ALM_VERSION: ("data", {"n": 0, "reset": False}),
            "lang-store": ("data", "zh"),
        }
        state.update({k: (state[k][0], v) for k, v in values.items()})
        return post_callback(
            app,
            token,
            page.ALM_MESSAGE,
            [
                {"id": page.ALM_ACK, "property": "n_clicks", "value": clicks[0]},
                {"id": page.ALM_FEEDBACK, "property": "n_clicks", "value": clicks[1]},
            ],
            [{"id": i, "property": p, "value": v} for i, (p, v) in state.items()],
            f"{button}.n_clicks",
        )

    ack = step(page.ALM_ACK, (1, 0))
    photo = {"name": "现场.png", "contents": data_url(png, "image/png")}
    fed = step(
        page.ALM_FEEDBACK,
        (1, 1),
        **{
            page.ALM_CAUSE: "灰斗积灰自燃",
            page.ALM_MEASURES: "停机清灰，更换滤袋",
            page.ALM_PHOTOS: [photo],
        },
    )
    assert ack.status_code == 200, ack.get_data(as_text=True)
    assert fed.status_code == 200, fed.get_data(as_text=True)
    assert "已确认" in json.dumps(ack.get_json(), ensure_ascii=False)
    answer = fed.get_json()["response"]
    assert answer[page.ALM_MESSAGE]["children"] == "反馈已提交。"
    assert answer[page.ALM_VERSION]["data"] == {"n": 1, "reset": True}
    row = alarm_row(dsn, alarm_id)
    assert row["state"] == "FED_BACK"  # an HHA alarm waits for the regulator to close it
    assert (row["acknowledged_by"], row["verification"]) == ("qiye-310113", "REAL")
    assert row["fed_back_by"] == "qiye-310113"
    assert row["actions"] == ["raised", "acknowledged", "fed_back"]
    stored = photos_of(dsn, "alarm_feedback", alarm_id)
    assert len(stored) == 1
    photo_id, key, uploaded_by = stored[0]
    assert uploaded_by == "qiye-310113"
    assert row["feedback"]["cause"] == "灰斗积灰自燃"
    assert row["feedback"]["photos"] == [f"/api/v1/photos/{photo_id}"]
    assert (data_dir / "photos" / key).read_bytes() == png


def test_a_forged_alarm_id_of_another_enterprise_is_refused_and_nothing_changes(
    app: dash.Dash, page: Any, dsn: str, store: LocalPhotoStore
) -> None:
    theirs = raise_alarm(dsn, JIADING_ONE, "HHA", on_real_point=False)
    forged = {"kind": "alarm", "id": theirs}
    photo = {"name": "a.png", "contents": data_url(png_bytes(), "image/png")}
    form = page.StepForm(verification="REAL", cause="x", measures="y", photos=[photo])
    as_own = page.act_for(OWN_SCOPE, "acknowledge", OWN_CODE, forged, dsn, "zh", form)
    their_code = page.act_for(OWN_SCOPE, "acknowledge", OTHER_CODE, forged, dsn, "zh", form)
    admin_here = page.act_for(
        Scope.admin("admin"), "acknowledge", OWN_CODE, forged, dsn, "zh", form
    )
    feedback = page.act_for(OWN_SCOPE, "feedback", OWN_CODE, forged, dsn, "zh", form, store=store)
    for refused in (as_own, their_code, admin_here, feedback):
        assert not refused.ok
        assert refused.message == "操作未执行：该报警/预警不存在，或不属于本企业。"
    assert alarm_row(dsn, theirs)["state"] == "ACTIVE"
    assert alarm_row(dsn, theirs)["actions"] == ["raised"]
    assert photos_of(dsn, "alarm_feedback", theirs) == []
    assert not any(p.is_file() for p in store.root.rglob("*")) if store.root.exists() else True


def test_a_regulator_sees_the_alarms_read_only_and_may_not_acknowledge(
    app: dash.Dash, page: Any, dsn: str
) -> None:
    alarm_id = raise_alarm(dsn, OWN, "HHA")
    with app.server.test_request_context(f"/alarms/{OWN_CODE}"):
        shown = page.page_for(BAOSHAN, OWN_CODE, dsn)
        form = page.form_for(BAOSHAN, OWN_CODE, {"kind": "alarm", "id": alarm_id}, dsn, "zh")
    card = next(c for c in walk(shown) if getattr(c, "id", None) == f"alm-alarm-{alarm_id}")
    assert "data-id" not in str(card)  # no "处理" for a regulator
    assert form.title.startswith("只读")
    assert "alm-hidden" in form.body_class
    chosen = {"kind": "alarm", "id": alarm_id}
    refused = page.act_for(
        BAOSHAN, "acknowledge", OWN_CODE, chosen, dsn, "zh", page.StepForm(verification="REAL")
    )
    assert refused.message == "操作未执行：当前角色无权执行此操作。"
    assert alarm_row(dsn, alarm_id)["state"] == "ACTIVE"


def test_a_non_image_at_feedback_or_a_step_out_of_order_changes_nothing(
    page: Any, dsn: str, store: LocalPhotoStore
) -> None:
    alarm_id = raise_alarm(dsn, OWN, "HHA")
    chosen = {"kind": "alarm", "id": alarm_id}
    text = {"name": "notes.txt", "contents": data_url(b"just text", "text/plain")}
    photo = {"name": "a.png", "contents": data_url(png_bytes(), "image/png")}
    early = page.act_for(
        OWN_SCOPE,
        "feedback",
        OWN_CODE,
        chosen,
        dsn,
        "en",
        page.StepForm(cause="c", measures="m", photos=[photo]),
        store=store,
    )
    page.act_for(
        OWN_SCOPE, "acknowledge", OWN_CODE, chosen, dsn, "zh", page.StepForm(verification="REAL")
    )
    not_image = page.act_for(
        OWN_SCOPE,
        "feedback",
        OWN_CODE,
        chosen,
        dsn,
        "zh",
        page.StepForm(cause="c", measures="m", photos=[photo, text]),
        store=store,
    )
    empty = page.act_for(
        OWN_SCOPE, "feedback", OWN_CODE, chosen, dsn, "zh", page.StepForm(), store=store
    )
    assert not early.ok
    assert early.message.startswith("Not done: cannot feedback an alarm that is ACTIVE")
    assert not not_image.ok
    assert "“notes.txt”不是 JPEG 或 PNG 图片" in not_image.message
    assert empty.message == "操作未执行：请填写原因。 请填写处置措施。"
    assert alarm_row(dsn, alarm_id)["state"] == "HANDLING"
    assert photos_of(dsn, "alarm_feedback", alarm_id) == []
    assert not store.root.exists() or not any(p.is_file() for p in store.root.rglob("*"))


def test_history_shows_who_acknowledged_fed_back_and_closed(
    page: Any, dsn: str, store: LocalPhotoStore
) -> None:
    alarm_id = raise_alarm(dsn, OWN, "HA")
    clear_condition(dsn, alarm_id)  # back to normal: an HA alarm closes once fed back
    chosen = {"kind": "alarm", "id": alarm_id}
    page.act_for(
        OWN_SCOPE, "acknowledge", OWN_CODE, chosen, dsn, "zh", page.StepForm(verification="REAL")
    )
    fed = page.act_for(
        OWN_SCOPE,
        "feedback",
        OWN_CODE,
        chosen,
        dsn,
        "zh",
        page.StepForm(cause="滤袋破损", measures="更换滤袋"),
        store=store,
    )
    history = page.history_for(OWN_SCOPE, OWN_CODE, 30, 0, dsn, "zh")
    other = page.history_for(OTHER_SCOPE, OWN_CODE, 30, 0, dsn, "zh")
    assert fed.message == "反馈已提交，报警已自动闭环。"
    children, page_no, text, no_prev, _ = history
    item = next(
        c for c in walk(html.Div(children)) if getattr(c, "id", None) == f"alm-history-{alarm_id}"
    )
    shown = str(item)
    assert "确认" in shown
    assert "qiye-310113" in shown
    assert "系统" in shown  # closed by itself
    assert "滤袋破损" in shown
    assert (page_no, no_prev) == (0, True)
    assert text.startswith("第 1 / ")
    assert other is None


def test_a_warning_is_acknowledged_and_fed_back_with_a_photo(
    page: Any, dsn: str, store: LocalPhotoStore
) -> None:
    now = datetime.now(UTC)
    (warning_id,) = _one(
        dsn,
        "INSERT INTO warnings (credit_code, adcode, trigger, level, raised_at, tier, tier_adcode,"
        " ack_deadline, feedback_deadline, detail) VALUES (%s, %s, %s, 'orange', %s, 'county',"
        " '310113', %s, %s, %s) RETURNING id",
        OWN_CODE,
        OWN.record.adcode,
        f"test-{uuid.uuid4().hex[:8]}",
        now,
        now + timedelta(minutes=30),
        now + timedelta(hours=4),
        json.dumps({"reason_zh": "风险升至橙色", "reason_en": "risk rose to orange"}),
    )
    chosen = {"kind": "warning", "id": int(warning_id)}
    listed = page.refresh_for(OWN_SCOPE, OWN_CODE, dsn, "zh", None, None, 0)
    acked = page.act_for(OWN_SCOPE, "acknowledge", OWN_CODE, chosen, dsn, "zh", page.StepForm())
    photo = {"name": "整改.png", "contents": data_url(png_bytes(), "image/png")}
    fed = page.act_for(
        OWN_SCOPE,
        "feedback",
        OWN_CODE,
        chosen,
        dsn,
        "zh",
        page.StepForm(cause="清扫不及时", measures="增加清扫频次", photos=[photo]),
        store=store,
    )
    other = page.act_for(OTHER_SCOPE, "acknowledge", OTHER_CODE, chosen, dsn, "zh", page.StepForm())
    state, feedback = _one(dsn, "SELECT state, feedback FROM warnings WHERE id = %s", warning_id)
    assert f"alm-warning-{warning_id}" in str(listed.warnings)
    assert "风险升至橙色" in str(listed.warnings)
    assert (acked.ok, fed.ok) == (True, True)
    assert state == "FED_BACK"
    assert len(feedback["photos"]) == 1
    assert len(photos_of(dsn, "warning_feedback", int(warning_id))) == 1
    assert other.message == "操作未执行：该报警/预警不存在，或不属于本企业。"


def test_the_refresh_callback_over_http_follows_the_cookie(
    app: dash.Dash, page: Any, settings: Settings, dsn: str
) -> None:
    alarm_id = raise_alarm(dsn, OWN, "HHA")

    def refresh(username: str) -> Any:
        return post_callback(
            app,
            token_for(settings, username),
            page.ALM_ALARMS,
            [
                {"id": page.ALM_TICK, "property": "n_intervals", "value": 3},
                {"id": "lang-store", "property": "data", "value": "en"},
                {"id": page.ALM_VERSION, "property": "data", "value": {"n": 0}},
                {"id": page.ALM_BANNER_DISMISS, "property": "n_clicks", "value": 0},
            ],
            [
                {"id": page.ALM_CODE, "property": "data", "value": OWN_CODE},
                {"id": page.ALM_SEEN, "property": "data", "value": []},
                {"id": page.ALM_BANNER_ITEMS, "property": "data", "value": []},
                {"id": page.ALM_BEEP, "property": "data", "value": 4},
            ],
            f"{page.ALM_TICK}.n_intervals",
        )

    own = refresh("qiye-310113")
    other = refresh("qiye-310114")
    assert own.status_code == 200, own.get_data(as_text=True)
    answer = own.get_json()["response"]
    assert f"alm-alarm-{alarm_id}" in json.dumps(answer[page.ALM_ALARMS])
    assert answer[page.ALM_NAME]["children"] == f"{OWN.record.name} · Alarms and warnings"
    assert answer[page.ALM_BEEP]["data"] == 5
    assert "New high-level alarm!" in json.dumps(answer[page.ALM_BANNER_TEXT])
    assert other.status_code == 204  # another enterprise's: nothing is sent


def test_the_fixed_texts_switch_to_english_over_http(
    app: dash.Dash, page: Any, settings: Settings
) -> None:
    answer = post_callback(
        app,
        token_for(settings, "qiye-310113"),
        page.ALM_ALARMS_HEADING,
        [{"id": "lang-store", "property": "data", "value": "en"}],
        [],
        "lang-store.data",
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    shown = answer.get_json()["response"]
    assert shown[page.ALM_ALARMS_HEADING]["children"] == "Open alarms"
    assert shown[page.ALM_FEEDBACK]["children"] == "Submit feedback"
    labels = [o["label"] for o in shown[page.ALM_VERIFICATION]["options"]]
    assert labels == ["real alarm", "false alarm", "device fault", "maintenance"]
