"""The pieces of the regulators' filter forms (spot check, supervision): a field, a submit."""

from __future__ import annotations

from typing import Any

from dash import html

__all__ = ["field", "submit"]


def field(label: str, control: Any, for_id: str) -> html.Div:
    """A form control under its label (the label names the control ``for_id``)."""
    return html.Div([html.Label(label, htmlFor=for_id), control], className="reg-field")


def submit(label: str, button_id: str) -> html.Div:
    """The form's main button, in its own cell of the form's grid."""
    return html.Div(
        html.Button(label, id=button_id, n_clicks=0, className="reg-primary"),
        className="reg-field reg-submit",
    )
