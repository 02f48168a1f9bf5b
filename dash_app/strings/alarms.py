"""UI strings: 报警预警页面（企业端）."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {}
