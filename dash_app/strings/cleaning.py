"""UI strings: 粉尘清扫与配置页面（企业端）: ``cln.*`` cleaning, ``cfg.*`` configuration."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {}
