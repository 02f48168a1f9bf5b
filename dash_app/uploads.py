"""What ``dcc.Upload`` sends: a ``data:<type>;base64,<body>`` URL per file."""

from __future__ import annotations

__all__ = ["split_data_url"]


def split_data_url(contents: str) -> tuple[str | None, str] | None:
    """(declared type, base64 body) of an upload's data URL; None when it is not one."""
    head, sep, body = contents.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        return None
    return head.removeprefix("data:").removesuffix(";base64") or None, body
