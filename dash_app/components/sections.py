"""The frame of an enterprise's own pages (cleaning, configuration): sections, a read-only note."""

from __future__ import annotations

from typing import Any

from dash import html

__all__ = ["readonly_note", "section"]


def section(heading: str, heading_id: str, *body: Any) -> html.Section:
    """A titled part of the page."""
    return html.Section([html.H3(heading, id=heading_id), *body], className="cln-section")


def readonly_note(text: str, note_id: str, *, writable: bool) -> html.P:
    """Says the caller may look but not change; hidden from one who may change."""
    return html.P(text, id=note_id, className="cln-note cln-hidden" if writable else "cln-note")
