"""Login page (``/login``, 用户登录): a plain form posted to ``POST /login`` (dash_app/auth.py),
which sets the same token the API issues as an HttpOnly cookie.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dash_app import ids
from dash_app.auth import CSRF_FIELD, csrf_token, safe_next
from dash_app.i18n import DEFAULT_LANG, t

dash.register_page(__name__, path="/login", name="login")  # type: ignore[no-untyped-call]


def layout(**query: Any) -> html.Div:
    """The form; ``?next=`` is where to go once logged in, ``?error=`` set after a failed try."""
    error = query.get("error")
    lang = DEFAULT_LANG
    return html.Div(
        [
            html.H2(t("login.heading", lang), id=ids.LOGIN_HEADING),
            dcc.Store(id=ids.LOGIN_ERROR_FLAG, data=error),
            html.P(
                _error_text(error, lang),
                id=ids.LOGIN_ERROR,
                className="down" if error else "",
            ),
            html.Form(
                [
                    html.Label(t("login.username", lang), id=ids.LOGIN_USERNAME_LABEL),
                    dcc.Input(name="username", type="text", autoComplete="username"),
                    html.Label(t("login.password", lang), id=ids.LOGIN_PASSWORD_LABEL),
                    dcc.Input(name="password", type="password", autoComplete="current-password"),
                    dcc.Input(name="next", type="hidden", value=safe_next(query.get("next"))),
                    dcc.Input(name=CSRF_FIELD, type="hidden", value=csrf_token()),
                    html.Button(t("login.submit", lang), id=ids.LOGIN_SUBMIT, type="submit"),
                ],
                id=ids.LOGIN_FORM,
                action="/login",
                method="POST",
                className="login-form",
            ),
        ]
    )


@callback(
    Output(ids.LOGIN_HEADING, "children"),
    Output(ids.LOGIN_USERNAME_LABEL, "children"),
    Output(ids.LOGIN_PASSWORD_LABEL, "children"),
    Output(ids.LOGIN_SUBMIT, "children"),
    Output(ids.LOGIN_ERROR, "children"),
    Input(ids.LANG_STORE, "data"),
    Input(ids.LOGIN_ERROR_FLAG, "data"),
)
def render(lang: str, error: str | None) -> tuple[str, str, str, str, str]:
    """The form's text in the chosen language."""
    return (
        t("login.heading", lang),
        t("login.username", lang),
        t("login.password", lang),
        t("login.submit", lang),
        _error_text(error, lang),
    )


def _error_text(error: str | None, lang: str) -> str:
    """Why the last try failed: the password, or a form that came without its token."""
    if not error:
        return ""
    return t("login.expired" if error == "csrf" else "login.error", lang)
