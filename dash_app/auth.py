"""One login shared with the API: the same JWT, carried by the Dash pages in an HttpOnly cookie.

``POST /login`` checks a username and password against the users table and sets the cookie
``dusttwin_token`` (HttpOnly, SameSite=Strict); ``GET /logout`` removes it. Pages and callbacks
call ``request_scope()`` for the caller's jurisdiction (None: show ``login_prompt``) and
``database_url()`` for their queries.

The login form carries a CSRF token that must equal the ``dusttwin_csrf`` cookie (double submit):
another site cannot read the cookie, and SameSite=Strict keeps it off cross-site posts, so a form
elsewhere cannot log a victim's browser into an account of the attacker's choosing.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from typing import Final
from urllib.parse import quote

from dash import dcc, html
from flask import Flask, g, has_request_context, redirect, request
from psycopg import AsyncConnection
from werkzeug.wrappers import Response

from dash_app.i18n import t
from dash_app.server import app_settings
from twins.scope import Scope
from twins.tokens import DEFAULT_TTL, InvalidTokenError, issue_token, token_subject
from twins.users import User, authenticate, load_user, scope_of

__all__ = [
    "COOKIE",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "csrf_token",
    "database_url",
    "login_prompt",
    "register_login_routes",
    "request_scope",
    "safe_next",
]

COOKIE: Final = "dusttwin_token"
CSRF_COOKIE: Final = "dusttwin_csrf"
CSRF_FIELD: Final = "csrf_token"
DEFAULT_NEXT: Final = "/region"


def database_url() -> str:
    """The DSN of the platform's database, from the settings the Dash app was built with."""
    return app_settings().database_url.get_secret_value()


def request_scope() -> Scope | None:
    """The jurisdiction of the user whose cookie the current request carries; None if none/invalid.

    Verifies the JWT with the settings' secret key and reads the user fresh (a disabled account
    or a changed grant takes effect at once); the answer is kept for the rest of the request.
    """
    if not has_request_context():
        return None
    if "dusttwin_scope" not in g:
        g.dusttwin_scope = _scope_from_cookie(request.cookies.get(COOKIE))
    scope: Scope | None = g.dusttwin_scope
    return scope


def _scope_from_cookie(token: str | None) -> Scope | None:
    if not token:
        return None
    settings = app_settings()
    try:
        username = token_subject(settings.secret_key.get_secret_value(), token)
    except InvalidTokenError:
        return None
    return asyncio.run(_load_scope(database_url(), username))


async def _load_scope(url: str, username: str) -> Scope | None:
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        user = await load_user(conn, username)
        return None if user is None else await scope_of(conn, user)


async def _authenticate(url: str, username: str, password: str) -> User | None:
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        return await authenticate(conn, username, password)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return DEFAULT_NEXT
    return target


def csrf_token() -> str:
    """The login form's CSRF token: the browser's ``dusttwin_csrf`` cookie ("" before it has
    one; every response sets it when missing, so the page showing the form brings it)."""
    return request.cookies.get(CSRF_COOKIE, "") if has_request_context() else ""


def _csrf_ok() -> bool:
    sent, kept = request.form.get(CSRF_FIELD, ""), request.cookies.get(CSRF_COOKIE, "")
    return bool(sent) and hmac.compare_digest(sent.encode(), kept.encode())


def _give_csrf_cookie(response: Response) -> Response:
    if CSRF_COOKIE not in request.cookies:
        response.set_cookie(
            CSRF_COOKIE,
            secrets.token_urlsafe(24),
            httponly=True,
            samesite="Strict",
            secure=request.is_secure,
            path="/",
        )
    return response


def login() -> Response:
    """``POST /login``: check the CSRF token, the username and the password; set the token."""
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"))
    if not _csrf_ok():  # a form from elsewhere, or a page from before the cookie: show it anew
        return redirect(f"/login?error=csrf&next={quote(target)}", code=303)
    user = _authenticate_or_none(username, password)
    if user is None:
        return redirect(f"/login?error=1&next={quote(target)}", code=303)
    token = issue_token(app_settings().secret_key.get_secret_value(), user.username)
    response = redirect(target, code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(DEFAULT_TTL.total_seconds()),
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
        path="/",
    )
    return response


def _authenticate_or_none(username: str, password: str) -> User | None:
    if not username or not password:
        return None
    return asyncio.run(_authenticate(database_url(), username, password))


def logout() -> Response:
    """``GET /logout``: forget the token cookie and show the login page."""
    response = redirect("/login", code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
    return response


def register_login_routes(server: Flask) -> None:
    """Add ``POST /login`` and ``GET /logout`` to the Dash app's Flask server."""
    server.add_url_rule("/login", "dusttwin_login", login, methods=["POST"])
    server.add_url_rule("/logout", "dusttwin_logout", logout, methods=["GET"])
    server.after_request(_give_csrf_cookie)


def login_prompt(lang: str, next_path: str = DEFAULT_NEXT) -> html.Div:
    """What a page shows to a caller who is not logged in: a link to the login page."""
    href = f"/login?next={quote(safe_next(next_path))}"
    return html.Div(
        [html.P(t("auth.required", lang)), dcc.Link(t("auth.login_link", lang), href=href)],
        className="login-required",
    )
