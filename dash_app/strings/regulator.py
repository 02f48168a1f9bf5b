"""UI strings: 在线抽查、一屏汇聚、督办（监管端）."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {}
