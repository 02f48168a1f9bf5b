"""The top bar's navigation: the pages the caller's role works with, who is logged in, log out."""

from __future__ import annotations

from dash import dcc, html
from dash.development.base_component import Component

from dash_app.i18n import t
from twins.scope import Scope

REGULATOR_PAGES = (
    ("nav.region", "/region"),
    ("nav.overview", "/overview"),
    ("nav.spotcheck", "/spotcheck"),
    ("nav.analysis", "/analysis"),
    ("nav.supervision", "/supervision"),
)
ENTERPRISE_PAGES = (
    ("nav.twin", "/enterprise/{code}"),
    ("nav.alarms", "/alarms/{code}"),
    ("nav.cleaning", "/cleaning/{code}"),
    ("nav.config", "/config/{code}"),
)
INTEGRATOR_PAGES = (("nav.integrator", "/integrator"),)


def pages_for(scope: Scope) -> list[tuple[str, str]]:
    """(string key, path) of each page in the top bar for this caller."""
    if scope.role in ("admin", "regulator"):
        return list(REGULATOR_PAGES) + (list(INTEGRATOR_PAGES) if scope.role == "admin" else [])
    if scope.role == "enterprise":
        code = next(iter(sorted(scope.credit_codes)), "")
        return [(key, path.format(code=code)) for key, path in ENTERPRISE_PAGES]
    return list(INTEGRATOR_PAGES)


def nav_bar(scope: Scope | None, lang: str, pathname: str | None) -> list[Component]:
    """Links to the caller's pages (the current one marked), the username and "log out";
    nothing for a caller who is not logged in."""
    if scope is None:
        return []
    links: list[Component] = [
        dcc.Link(
            t(key, lang),
            href=path,
            className="nav-link current" if _within(pathname, path) else "nav-link",
        )
        for key, path in pages_for(scope)
    ]
    links.append(
        html.Span(f"{t('nav.user', lang)}: {scope.username}", className="nav-user", title="")
    )
    # a plain link: /logout is a server route, not a Dash page
    links.append(html.A(t("auth.logout", lang), href="/logout", className="nav-link logout"))
    return links


def _within(pathname: str | None, path: str) -> bool:
    """Whether the page shown is ``path`` or one below it (/region/310113 is under /region)."""
    return pathname is not None and (pathname == path or pathname.startswith(path + "/"))
