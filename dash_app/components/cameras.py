"""Cameras of an enterprise with a live view: the one-screen view (regulators) and the live twin
(the enterprise itself) show the same cards.

Links are the platform's signed, short-lived video URLs (``dash_app.regulator_queries.LiveLinks``):
a camera's own links may carry the video service's credentials and never reach the browser.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from dash import html

from dash_app.enterprise_queries import run
from dash_app.i18n import t
from dash_app.regulator_queries import CameraView, LiveLinks, enterprise_cameras
from dash_app.timefmt import local_time
from dusttwin.settings import Settings
from twins.scope import Scope

__all__ = ["camera_card", "cameras_content", "cameras_for", "live_links", "online_text"]


def live_links(settings: Settings) -> LiveLinks:
    """How camera links are signed for this platform (its secret, API address, URL lifetime)."""
    return LiveLinks(
        settings.secret_key.get_secret_value(),
        settings.api_url,
        timedelta(seconds=settings.video_url_ttl_s),
    )


def cameras_for(
    scope: Scope, credit_code: str, dsn: str, links: LiveLinks
) -> tuple[CameraView, ...]:
    """The enterprise's cameras with fresh links (none outside the caller's jurisdiction)."""
    now = datetime.now(UTC)
    return run(
        dsn, partial(enterprise_cameras, scope=scope, credit_code=credit_code, links=links, now=now)
    )


def online_text(online: bool | None, lang: str) -> html.Span:
    """Online / offline / unknown, coloured."""
    key = {True: "one.online", False: "one.offline", None: "one.unknown"}[online]
    cls = {True: "reg-ok", False: "reg-bad", None: "reg-muted"}[online]
    return html.Span(t(key, lang), className=cls)


def _checked(at: str | None) -> str:
    if not at:
        return "—"
    try:
        return local_time(datetime.fromisoformat(at))
    except ValueError:
        return at


def camera_card(c: CameraView, lang: str, prefix: str = "one") -> html.Div:
    """A camera: connectivity, the live stream in the page and a link to open it on its own;
    its elements' ids are ``{prefix}-camera-/-video-/-live-{gb28181_id}``."""
    state = [
        online_text(c.online, lang),
        html.Small(f" {t('one.checked', lang)} {_checked(c.last_check)}"),
    ]
    if c.error:
        state.append(html.Small(f" {c.error}", className="reg-bad"))
    if c.live_url is None:
        player: list[Any] = [html.P(t("one.no_live", lang), className="reg-muted")]
    else:
        until = local_time(c.expires_at, "%H:%M")
        player = [
            html.Video(
                src=c.live_url,
                controls=True,
                muted=True,
                preload="none",
                id=f"{prefix}-video-{c.gb28181_id}",
                className="one-video",
            ),
            html.A(
                t("one.open_live", lang),
                href=c.live_url,
                target="_blank",
                rel="noopener noreferrer",
                id=f"{prefix}-live-{c.gb28181_id}",
            ),
            html.Small(f" {t('one.valid_until', lang)} {until} ({c.live_kind})"),
        ]
    return html.Div(
        [html.H4(f"{c.name} · {c.system_code or '—'}"), html.P(state), *player],
        id=f"{prefix}-camera-{c.gb28181_id}",
        className="one-camera",
    )


def cameras_content(cameras: tuple[CameraView, ...], lang: str, prefix: str = "one") -> html.Div:
    """Every camera of the enterprise, with a note on what browsers play."""
    if not cameras:
        return html.Div(html.P(t("one.no_cameras", lang), className="reg-empty"))
    return html.Div(
        [
            html.P(t("one.hls_note", lang), className="reg-muted"),
            html.Div([camera_card(c, lang, prefix) for c in cameras], className="one-camera-grid"),
        ]
    )
