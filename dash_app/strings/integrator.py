"""UI strings: 集成商诊断与点位登记."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {}
