"""The user guide shows screenshots that exist, and names pages that the Dash app serves."""

from __future__ import annotations

import re
from pathlib import Path

import dash

from dash_app.app import create_app
from dusttwin.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "user-guide.md").read_text(encoding="utf-8")


def test_every_screenshot_the_guide_shows_is_in_the_repository() -> None:
    images = re.findall(r"images/([\w-]+\.png)", GUIDE)
    assert len(images) >= 10
    missing = [name for name in images if not (ROOT / "docs" / "images" / name).exists()]
    assert missing == [], "run the browser tests, then python -m tests.browser.copy_screenshots"


def test_every_page_the_guide_names_is_a_page_of_the_app(settings: Settings) -> None:
    create_app(settings)
    pages = dash.page_registry.values()
    served = {p["path"] for p in pages} | {p["path_template"] for p in pages if p["path_template"]}
    named = {_shape(n) for n in re.findall(r"`(/[a-z]+(?:/<[^>]+>)?)`", GUIDE)}
    assert len(named) >= 10
    assert named <= {_shape(p) for p in served}, named - {_shape(p) for p in served}


def _shape(path: str) -> str:
    """A page path with its variable part blanked: /alarms/<统一社会信用代码> -> /alarms/<>."""
    return re.sub(r"<[^>]+>", "<>", path)
