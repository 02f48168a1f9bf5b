"""The risk overview's history: how many enterprises went up and down today (China time), and
enterprises per level over 30 days, exactly from the stored evaluations, within a jurisdiction.

The test's own enterprises lie in Minhang (310112), where the demo has none, so the counts there
are exact; Shanghai's regulator sees them, Baoshan's does not.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import psycopg
import pytest
from dash import dcc
from psycopg_pool import AsyncConnectionPool

from dash_app import ids
from dash_app.app import create_app
from dash_app.auth import COOKIE
from dash_app.figures.region import LEVEL_COLOURS, level_changes_view, level_trend_figure
from dash_app.queries import (
    TREND_DAYS,
    LevelChange,
    LevelTrend,
    level_changes_today,
    level_trend,
)
from device_catalog import load_catalog
from dusttwin.settings import Settings
from risk.statistics import china_day, day_bounds
from tests.dash_app.components import walk
from tests.helpers import made_up_credit_code, override
from twins.records import create_record
from twins.registry import ENTERPRISE, RegistryValidator
from twins.schemas import EnterpriseCreate
from twins.scope import Scope
from twins.store import PostgresTwinStore
from twins.tokens import issue_token

MINHANG = "310112"
MINHANG_SCOPE = Scope.regulator("minhang", MINHANG)
SHANGHAI = Scope.regulator("shanghai", "310000")
BAOSHAN = Scope.regulator("baoshan", "310113")
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY_START, _ = day_bounds(china_day(NOW), NOW)
# A: rises today, B: falls today, C: re-evaluated today at the same level, D: first evaluated
# today, E: rose and came back down today (no net change), F: never evaluated
CODES = {key: made_up_credit_code("TRD", n, MINHANG) for n, key in enumerate("ABCDEF", start=1)}


def at(days_ago: int) -> datetime:
    """Noon China time ``days_ago`` days before today; for today, halfway from midnight to now."""
    if days_ago == 0:
        return TODAY_START + (NOW - TODAY_START) / 2
    return TODAY_START - timedelta(days=days_ago) + timedelta(hours=12)


# (enterprise, days ago, level), oldest first
EVALUATIONS = (
    ("A", 20, "blue"),
    ("A", 10, "yellow"),
    ("A", 0, "red"),
    ("B", 5, "orange"),
    ("B", 0, "blue"),
    ("C", 3, "yellow"),
    ("C", 0, "yellow"),
    ("D", 0, "blue"),
    ("E", 1, "blue"),
    ("E", 0, "orange"),
    ("E", 0, "blue"),
)


async def _register(dsn: str) -> None:
    async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
        store = PostgresTwinStore(pool, RegistryValidator(load_catalog()))
        for key, code in CODES.items():
            record = EnterpriseCreate.model_validate(
                {"credit_code": code, "name": f"闵行趋势测试企业{key}", "adcode": MINHANG}
            )
            await create_record(store, Scope.admin(), ENTERPRISE, record)


@pytest.fixture(scope="module")
def dsn(seeded: dict[str, str]) -> Iterator[str]:
    """The seeded database with the test's enterprises and their evaluation history."""
    url = seeded["DUSTTWIN_DATABASE_URL"]
    asyncio.run(_register(url))
    seen: dict[tuple[str, int], int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for key, days_ago, level in EVALUATIONS:
            n = seen[(key, days_ago)] = seen.get((key, days_ago), -1) + 1
            # a later one the same day: a minute later; today a bit later, still before now
            step = (NOW - TODAY_START) / 8 if days_ago == 0 else timedelta(minutes=1)
            when = at(days_ago) + n * step
            conn.execute(
                "INSERT INTO risk_evaluations (credit_code, adcode, evaluated_at, confirmed_at,"
                " score, level, model_version, result, fingerprint)"
                " VALUES (%s, %s, %s, %s, 50, %s, 'test', '{}', %s)",
                (CODES[key], MINHANG, when, when, level, f"{key}-{days_ago}-{n}"),
            )
    yield url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM risk_evaluations WHERE credit_code = ANY(%s)", (list(CODES.values()),)
        )
        conn.execute("DELETE FROM things WHERE credit_code = ANY(%s)", (list(CODES.values()),))


# ---------------------------------------------------------------- pure builders


def test_the_trend_is_stacked_areas_with_blue_at_the_bottom() -> None:
    trend = LevelTrend((NOW.date(),), {"red": (1,), "orange": (0,), "yellow": (2,), "blue": (3,)})
    fig = level_trend_figure(trend, "en")
    assert [tr.name for tr in fig.data] == [
        "Blue (low)",
        "Yellow (moderate)",
        "Orange (high)",
        "Red (major)",
    ]
    assert {tr.stackgroup for tr in fig.data} == {"levels"}
    assert [tr.line.color for tr in fig.data][-1] == LEVEL_COLOURS["red"]
    assert [list(tr.y) for tr in fig.data] == [[3], [2], [0], [1]]


def test_the_changes_view_counts_up_and_down_and_links_each_enterprise() -> None:
    changes = [
        LevelChange("CC1", "甲企业", MINHANG, "yellow", "red", NOW),
        LevelChange("CC2", "乙企业", MINHANG, "orange", "blue", NOW),
        LevelChange("CC3", "丙企业", MINHANG, "blue", "yellow", NOW),
    ]
    walked = walk(level_changes_view(changes, "zh", id_prefix="x"))
    parts = {c.id: c for c in walked if getattr(c, "id", None)}
    links = [c.href for c in walked if isinstance(c, dcc.Link)]  # type: ignore[attr-defined]
    assert parts["x-up"].children == "2"
    assert parts["x-down"].children == "1"
    assert links == ["/enterprise/CC1", "/enterprise/CC2", "/enterprise/CC3"]
    assert parts["x-CC2"].className == "ovw-fell"
    assert parts["x-CC3"].className == "ovw-rose"
    assert "今日（北京时间）暂无" in str(level_changes_view([], "zh", id_prefix="x"))


# ---------------------------------------------------------------- on the stored history


def test_changes_today_are_the_net_changes_since_china_midnight(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        changes = level_changes_today(conn, MINHANG_SCOPE, MINHANG, NOW)
        from_shanghai = level_changes_today(conn, SHANGHAI, MINHANG, NOW)
        from_baoshan = level_changes_today(conn, BAOSHAN, "310000", NOW)
    by_code = {c.credit_code: c for c in changes}
    assert set(by_code) == {CODES["A"], CODES["B"]}
    assert (by_code[CODES["A"]].old, by_code[CODES["A"]].new, by_code[CODES["A"]].rose) == (
        "yellow",
        "red",
        True,
    )
    assert (by_code[CODES["B"]].old, by_code[CODES["B"]].new, by_code[CODES["B"]].rose) == (
        "orange",
        "blue",
        False,
    )
    assert by_code[CODES["A"]].at >= TODAY_START
    assert {c.credit_code for c in from_shanghai} == set(by_code)
    assert not set(CODES.values()) & {c.credit_code for c in from_baoshan}


def test_the_trend_counts_each_enterprise_by_its_last_evaluation_of_the_day(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        trend = level_trend(conn, MINHANG_SCOPE, MINHANG, NOW)
        outsider = level_trend(conn, BAOSHAN, MINHANG, NOW)

    def day(days_ago: int) -> dict[str, int]:
        index = TREND_DAYS - 1 - days_ago
        return {level: counts[index] for level, counts in trend.counts.items()}

    assert len(trend.days) == TREND_DAYS
    assert trend.days[-1] == china_day(NOW)
    # today: A red, C yellow, B/D/E blue (E went orange and back); F never evaluated
    assert day(0) == {"red": 1, "orange": 0, "yellow": 1, "blue": 3}
    assert day(1) == {"red": 0, "orange": 1, "yellow": 2, "blue": 1}
    assert day(5) == {"red": 0, "orange": 1, "yellow": 1, "blue": 0}
    assert day(15) == {"red": 0, "orange": 0, "yellow": 0, "blue": 1}
    assert day(20) == {"red": 0, "orange": 0, "yellow": 0, "blue": 1}
    assert day(21) == {"red": 0, "orange": 0, "yellow": 0, "blue": 0}
    assert sum(sum(c) for c in outsider.counts.values()) == 0


# ---------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def app(settings: Settings, dsn: str) -> dash.Dash:
    """The Dash app on the seeded database."""
    return create_app(override(settings, database_url=dsn))


def overview_module() -> Any:
    """The overview page module as Dash Pages imported it."""
    page = next(p for p in dash.page_registry.values() if p["path"] == "/overview")
    return sys.modules[page["module"]]


def headers(settings: Settings, username: str) -> dict[str, str]:
    """A browser's headers carrying ``username``'s login cookie."""
    return {"Cookie": f"{COOKIE}={issue_token(settings.secret_key.get_secret_value(), username)}"}


def browser(app: dash.Dash, settings: Settings, username: str) -> Any:
    """An HTTP client holding ``username``'s login cookie, as a browser would."""
    client = app.server.test_client()
    client.set_cookie(COOKIE, issue_token(settings.secret_key.get_secret_value(), username))
    client.get("/_dash-layout")  # Dash sets up its routes on the first request
    return client


def test_the_history_part_shows_changes_and_trend_to_the_jurisdiction_only(
    app: dash.Dash, settings: Settings
) -> None:
    overview = overview_module()
    with app.server.test_request_context("/overview", headers=headers(settings, "shanghai")):
        shown = overview.render_history(MINHANG, "zh")
        english = overview.render_history(MINHANG, "en")
    with app.server.test_request_context("/overview", headers=headers(settings, "baoshan")):
        forged = overview.render_history(MINHANG, "zh")
        own = overview.render_history(None, "zh")
    with app.server.test_request_context("/overview"):
        anonymous = overview.render_history(MINHANG, "zh")
    parts = [c for part in shown for c in walk(part)]
    graphs = [c for c in parts if isinstance(c, dcc.Graph)]
    links = {c.href for c in parts if isinstance(c, dcc.Link)}  # type: ignore[attr-defined]
    up = next(c for c in parts if getattr(c, "id", None) == f"{overview.OVERVIEW_CHANGES}-up")
    assert [getattr(g, "id", None) for g in graphs] == [overview.OVERVIEW_TREND]
    assert links == {f"/enterprise/{CODES['A']}", f"/enterprise/{CODES['B']}"}
    assert up.children == "1"
    assert "企业风险等级今日变化" in str(shown)
    assert "Risk level changes today" in str(english)
    assert forged == []
    assert anonymous == []
    assert CODES["A"] not in str(own)


def test_the_history_callback_over_http_follows_the_cookie(
    app: dash.Dash, settings: Settings
) -> None:
    body = {
        "output": f"{overview_module().OVERVIEW_HISTORY}.children",
        "outputs": {"id": overview_module().OVERVIEW_HISTORY, "property": "children"},
        "inputs": [
            {"id": ids.OVERVIEW_ADCODE, "property": "data", "value": MINHANG},
            {"id": ids.LANG_STORE, "property": "data", "value": "zh"},
        ],
        "changedPropIds": [f"{ids.OVERVIEW_ADCODE}.data"],
        "state": [],
    }
    seen = browser(app, settings, "shanghai").post("/_dash-update-component", json=body)
    refused = browser(app, settings, "baoshan").post("/_dash-update-component", json=body)
    assert seen.status_code == 200
    assert CODES["A"] in seen.get_data(as_text=True)
    assert refused.status_code == 200
    assert json.loads(refused.get_data(as_text=True))["response"] == {
        overview_module().OVERVIEW_HISTORY: {"children": []}
    }
