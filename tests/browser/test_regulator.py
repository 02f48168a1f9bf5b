"""A regulator in a real browser: logs in, sees the district's map with enterprises coloured by
risk, clicks one, and watches its live values change as the simulated gateway reports."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.platform import Platform

# the pixel position, on the page, of the first thing drawn on the map that leads to a page whose
# path starts with the given prefix (an enterprise's point, a sub-region's label), and its path
FIRST_LINK_JS = """
(prefix) => {
  const gd = document.querySelector('#region-map .js-plotly-plot');
  const layout = gd._fullLayout;
  for (const trace of gd._fullData) {
    const links = trace.customdata || [];
    const i = links.findIndex(c => String(c).startsWith(prefix));
    if (i < 0) continue;
    const box = gd.getBoundingClientRect();
    return {
      x: box.left + layout.xaxis._offset + layout.xaxis.l2p(trace.x[i]),
      y: box.top + layout.yaxis._offset + layout.yaxis.l2p(trace.y[i]),
      href: String(links[i]),
    };
  }
  return null;
}
"""
RISK_PASS_WAIT_S = 90.0
LIVE_VALUE_WAIT_S = 40.0  # the page refreshes every 5 s; the simulator reports every 2 s


def _legend(page: Page) -> str:
    page.wait_for_selector("#region-map .js-plotly-plot .legend")
    return page.locator("#region-map .legend").text_content() or ""  # SVG: no inner_text


def _values(page: Page) -> str:
    return page.locator("#ent-plant").inner_text()


def test_regulator_sees_the_coloured_map_drills_down_and_sees_live_values(
    login: Callable[..., Page], screenshots: Path, platform: Platform
) -> None:
    page = login("baoshan", "/region/310113")
    expect(page.locator("#region-content h2")).to_contain_text("宝山区")
    # the worker's first risk pass runs as the platform starts: wait until it coloured them all
    deadline = time.monotonic() + RISK_PASS_WAIT_S
    while "未研判" in _legend(page):
        assert time.monotonic() < deadline, "the risk pass has not coloured every enterprise"
        page.wait_for_timeout(2_000)
        page.reload()
    assert re.search(r"(红色|橙色|黄色|蓝色).*\(\d+\)", _legend(page)), _legend(page)
    page.screenshot(path=screenshots / "region-baoshan.png", full_page=True)

    first: dict[str, Any] | None = page.evaluate(FIRST_LINK_JS, "/enterprise/")
    assert first is not None, "no enterprise drawn on the map"
    page.mouse.click(first["x"], first["y"])
    page.wait_for_url(re.compile(r"/enterprise/[0-9A-Z]{18}$"))
    expect(page.locator("#ent-name")).not_to_be_empty()
    expect(page.locator("#ent-plant table").first).to_be_visible()

    before = _values(page)
    deadline = time.monotonic() + LIVE_VALUE_WAIT_S
    while _values(page) == before:
        assert time.monotonic() < deadline, "the live values did not change by themselves"
        page.wait_for_timeout(1_000)
    # its cameras, each with a signed live link of the platform's video route
    live = page.locator("#ent-cameras a[id^=ent-live-]").first
    expect(live).to_have_attribute("href", re.compile(r"/api/v1/video/"))
    page.screenshot(path=screenshots / "enterprise-live-twin.png", full_page=True)


def test_the_overview_counts_the_districts_enterprises(
    login: Callable[..., Page], screenshots: Path
) -> None:
    page = login("shanghai", "/overview")
    expect(page.locator("#overview-content h2")).to_contain_text("上海市")
    page.wait_for_selector("#overview-levels .js-plotly-plot")
    expect(page.locator("#overview-content")).to_contain_text("63 家企业")
    page.screenshot(path=screenshots / "overview-shanghai.png", full_page=True)


def test_a_district_regulator_cannot_open_another_district(login: Callable[..., Page]) -> None:
    page = login("baoshan", "/region/310113")
    page.goto(page.url.replace("/region/310113", "/region/310114"))
    expect(page.locator("#region-not-found")).to_contain_text("未找到该区域")
    expect(page.locator("#region-map")).to_have_count(0)


def test_a_city_regulator_drills_down_from_the_city_to_a_district(
    login: Callable[..., Page],
) -> None:
    page = login("shanghai", "/region/310000")
    page.wait_for_selector("#region-map .js-plotly-plot .legend")
    district: dict[str, Any] | None = page.evaluate(FIRST_LINK_JS, "/region/3101")
    assert district is not None, "no district drawn on Shanghai's map"
    page.mouse.click(district["x"], district["y"])
    page.wait_for_url(f"**{district['href']}")
    expect(page.locator("#region-content h2")).to_contain_text("风险地图")
    expect(page.locator("#region-content")).to_contain_text("返回上级")
