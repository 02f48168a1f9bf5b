"""UI strings: 综合分析与风险总览补充（监管端）."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {}
