"""The top bar offers each role its own pages, marks the one shown, and names who is logged in."""

from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html
from dash.development.base_component import Component

from dash_app.components.nav import nav_bar
from twins.scope import Scope


def _links(items: Sequence[Component]) -> dict[str, str]:
    """Each link's text and class."""
    return {
        str(getattr(item, "children", "")): str(getattr(item, "className", ""))
        for item in items
        if isinstance(item, dcc.Link | html.A)
    }


def test_a_regulator_gets_the_regulators_pages_and_log_out() -> None:
    items = nav_bar(Scope.regulator("baoshan", "310113"), "zh", "/region/310113")
    links = _links(items)
    assert list(links) == ["风险地图", "风险总览", "在线抽查", "综合分析", "督办", "退出登录"]
    assert links["风险地图"] == "nav-link current"
    assert links["风险总览"] == "nav-link"
    assert any("baoshan" in str(getattr(i, "children", "")) for i in items)


def test_an_enterprise_user_gets_its_own_enterprise_pages_in_english() -> None:
    items = nav_bar(
        Scope.enterprise("qiye", "91310113XXXXXXXXXX"), "en", "/alarms/91310113XXXXXXXXXX"
    )
    hrefs = {
        str(getattr(i, "children", "")): getattr(i, "href", "")
        for i in items
        if isinstance(i, dcc.Link)
    }
    assert hrefs == {
        "Live twin": "/enterprise/91310113XXXXXXXXXX",
        "Alarms": "/alarms/91310113XXXXXXXXXX",
        "Cleaning": "/cleaning/91310113XXXXXXXXXX",
        "Settings": "/config/91310113XXXXXXXXXX",
    }
    assert _links(items)["Alarms"] == "nav-link current"


def test_nobody_logged_in_sees_no_links() -> None:
    assert nav_bar(None, "zh", "/region") == []
