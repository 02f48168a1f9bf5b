"""UI strings, Chinese first with English; a missing translation falls back to Chinese."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"

STRINGS: dict[str, dict[Lang, str]] = {
    "app.title": {
        "zh": "粉尘涉爆企业安全生产风险监测预警系统",
        "en": "Dust Explosion Risk Monitoring and Early Warning",
    },
    "app.switch": {"zh": "English", "en": "中文"},
    "home.heading": {"zh": "平台状态", "en": "Platform status"},
    "home.intro": {
        "zh": "监管端查看辖区风险地图，企业端查看本企业除尘系统数字孪生。",
        "en": (
            "Regulators see their jurisdiction's risk map; enterprises see their own "
            "dust-removal systems as live twins."
        ),
    },
    "home.service": {"zh": "服务", "en": "Service"},
    "home.state": {"zh": "状态", "en": "State"},
    "home.detail": {"zh": "说明", "en": "Detail"},
    "home.fix": {"zh": "处理建议", "en": "How to fix"},
    "state.ok": {"zh": "正常", "en": "OK"},
    "state.down": {"zh": "异常", "en": "Down"},
    "service.database": {"zh": "数据库", "en": "Database"},
    "service.redis": {"zh": "任务队列 (Redis)", "en": "Job queue (Redis)"},
    "service.broker": {"zh": "MQTT 消息服务", "en": "MQTT broker"},
}


def t(key: str, lang: str) -> str:
    """The string ``key`` in ``lang`` (zh or en); Chinese when the language is unknown."""
    entry = STRINGS[key]
    return entry.get(lang, entry[DEFAULT_LANG])  # type: ignore[call-overload, no-any-return]


def other(lang: str) -> Lang:
    """The language the switch button offers."""
    return "en" if lang == "zh" else "zh"
