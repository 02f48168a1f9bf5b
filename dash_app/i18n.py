"""UI strings, Chinese first with English; a missing translation falls back to Chinese."""

from __future__ import annotations

from typing import Literal

from dash_app.strings import alarms, analysis, cleaning, integrator, regulator

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
    # login (shared with the API) and the regulator's pages
    "auth.required": {"zh": "请先登录后查看。", "en": "Please log in to see this page."},
    "auth.login_link": {"zh": "登录", "en": "Log in"},
    "auth.logout": {"zh": "退出登录", "en": "Log out"},
    "login.heading": {"zh": "用户登录", "en": "Log in"},
    "login.username": {"zh": "用户名", "en": "Username"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Log in"},
    "login.error": {"zh": "用户名或密码错误。", "en": "Wrong username or password."},
    "login.expired": {
        "zh": "登录页面已过期，请重新输入用户名和密码。",
        "en": "The login page had expired: please enter your username and password again.",
    },
    "level.red": {"zh": "红色（重大风险）", "en": "Red (major)"},
    "level.orange": {"zh": "橙色（较大风险）", "en": "Orange (high)"},
    "level.yellow": {"zh": "黄色（一般风险）", "en": "Yellow (moderate)"},
    "level.blue": {"zh": "蓝色（低风险）", "en": "Blue (low)"},
    "level.unknown": {"zh": "未研判", "en": "Not evaluated"},
    "tier.county": {"zh": "区县级", "en": "County"},
    "tier.county_lead": {"zh": "区县分管领导", "en": "County leadership"},
    "tier.city": {"zh": "市级", "en": "City"},
    "tier.province": {"zh": "省级", "en": "Province"},
    "tier.ministry": {"zh": "部级", "en": "Ministry"},
    "region.not_found": {"zh": "未找到该区域", "en": "Region not found"},
    "region.not_found_detail": {
        "zh": "该行政区划不存在或不在您的辖区内。",
        "en": "This region does not exist or lies outside your jurisdiction.",
    },
    "region.enterprises": {"zh": "家企业", "en": "enterprises"},
    "region.up": {"zh": "返回上级", "en": "Up one level"},
    "region.overview": {"zh": "风险总览", "en": "Risk overview"},
    "region.map": {"zh": "风险地图", "en": "Risk map"},
    "region.aggregated": {
        "zh": "企业较多，按网格汇总显示（圆点大小为企业数，颜色为最高风险等级）。",
        "en": "Many enterprises: shown per grid cell (size: count, colour: worst level).",
    },
    "overview.heading": {"zh": "风险总览", "en": "Risk overview"},
    "overview.levels": {"zh": "各风险等级企业数", "en": "Enterprises per risk level"},
    "overview.regions": {"zh": "区域分布", "en": "Distribution by region"},
    "overview.warnings": {"zh": "预警（按层级）", "en": "Warnings by tier"},
    "overview.open": {"zh": "未销号", "en": "Open"},
    "overview.overdue": {"zh": "已超期", "en": "Overdue"},
    "overview.count": {"zh": "企业数", "en": "Enterprises"},
    # enterprise live twin (企业端实时孪生)
    "ent.not_found": {"zh": "未找到该企业", "en": "Enterprise not found"},
    "ent.not_found_detail": {
        "zh": "该企业不存在，或不在您的管辖范围内。",
        "en": "There is no such enterprise, or it is outside your jurisdiction.",
    },
    "ent.plant": {"zh": "除尘系统与监测点位", "en": "Dust-removal systems and points"},
    "ent.point": {"zh": "点位", "en": "Point"},
    "ent.value": {"zh": "实时值", "en": "Value"},
    "ent.unit": {"zh": "单位", "en": "Unit"},
    "ent.time": {"zh": "时间", "en": "Time"},
    "ent.quality": {"zh": "数据质量", "en": "Quality"},
    "ent.alarm": {"zh": "报警", "en": "Alarm"},
    "ent.no_points": {"zh": "暂无点位", "en": "No points"},
    "ent.no_systems": {"zh": "尚未登记除尘系统", "en": "No dust-removal system registered"},
    "ent.quality.GOOD": {"zh": "正常", "en": "good"},
    "ent.quality.FAULT": {"zh": "故障", "en": "fault"},
    "ent.quality.MAINT": {"zh": "检修", "en": "maintenance"},
    "ent.quality.OVER_RANGE": {"zh": "超量程", "en": "over range"},
    "ent.quality.none": {"zh": "无数据", "en": "no data"},
    "ent.trend": {"zh": "趋势", "en": "Trend"},
    "ent.trend_point": {"zh": "选择点位", "en": "Choose a point"},
    "ent.range.1h": {"zh": "1小时", "en": "1 h"},
    "ent.range.24h": {"zh": "24小时", "en": "24 h"},
    "ent.range.7d": {"zh": "7天", "en": "7 d"},
    "ent.range.30d": {"zh": "30天", "en": "30 d"},
    "ent.range.1y": {"zh": "1年", "en": "1 year"},
    "ent.trend_avg": {"zh": "均值", "en": "average"},
    "ent.trend_band": {"zh": "最小–最大", "en": "min–max"},
    "ent.trend_raw": {"zh": "原始值", "en": "raw values"},
    "ent.trend_empty": {"zh": "该时段无数据", "en": "No data in this range"},
    "ent.risk": {"zh": "风险等级", "en": "Risk level"},
    "ent.score": {"zh": "风险指数", "en": "Risk index"},
    "ent.risk_unavailable": {"zh": "暂无法研判风险", "en": "The risk cannot be evaluated now"},
    "ent.composition": {"zh": "指数构成", "en": "Composition of the index"},
    "ent.component": {"zh": "分项", "en": "Component"},
    "ent.weight": {"zh": "权重", "en": "Weight"},
    "ent.component_value": {"zh": "得分", "en": "Value"},
    "ent.weighted": {"zh": "计入指数", "en": "Adds to index"},
    "ent.contributions": {"zh": "主要扣分项", "en": "Biggest contributions"},
    "ent.contribution_points": {"zh": "分值", "en": "Points"},
    "ent.overrides": {"zh": "直接判定", "en": "Overrides"},
    "ent.levers": {"zh": "如何降低风险", "en": "What lowers it"},
    "ent.no_levers": {"zh": "当前无可降低风险的措施", "en": "Nothing to do now"},
    "ent.alarms": {"zh": "未闭环报警", "en": "Open alarms"},
    "ent.no_alarms": {"zh": "无未闭环报警", "en": "No open alarms"},
    "ent.alarm_level": {"zh": "级别", "en": "Level"},
    "ent.alarm_state": {"zh": "状态", "en": "State"},
    "ent.raised_at": {"zh": "报警时间", "en": "Raised"},
    "ent.system": {"zh": "除尘系统", "en": "System"},
    "ent.gateway": {"zh": "数采网关", "en": "Gateway"},
    "ent.overdue": {"zh": "已超期", "en": "overdue"},
    # the top bar: navigation by role, the user, logging out
    "nav.region": {"zh": "风险地图", "en": "Risk map"},
    "nav.overview": {"zh": "风险总览", "en": "Overview"},
    "nav.spotcheck": {"zh": "在线抽查", "en": "Spot check"},
    "nav.analysis": {"zh": "综合分析", "en": "Analysis"},
    "nav.supervision": {"zh": "督办", "en": "Supervision"},
    "nav.twin": {"zh": "实时孪生", "en": "Live twin"},
    "nav.alarms": {"zh": "报警预警", "en": "Alarms"},
    "nav.cleaning": {"zh": "粉尘清扫", "en": "Cleaning"},
    "nav.config": {"zh": "配置", "en": "Settings"},
    "nav.integrator": {"zh": "网关诊断", "en": "Gateways"},
    "nav.user": {"zh": "当前用户", "en": "Signed in as"},
}


def _merge(*modules: dict[str, dict[str, str]]) -> None:
    for strings in modules:
        for key, entry in strings.items():
            if key in STRINGS:
                raise RuntimeError(f"UI string {key!r} is defined twice")
            if "zh" not in entry:
                raise RuntimeError(f"UI string {key!r} has no Chinese text")
            STRINGS[key] = entry  # type: ignore[assignment]


_merge(alarms.STRINGS, analysis.STRINGS, cleaning.STRINGS, integrator.STRINGS, regulator.STRINGS)


def t(key: str, lang: str) -> str:
    """The string ``key`` in ``lang`` (zh or en); Chinese when the language is unknown."""
    entry = STRINGS[key]
    return entry.get(lang, entry[DEFAULT_LANG])  # type: ignore[call-overload, no-any-return]


def other(lang: str) -> Lang:
    """The language the switch button offers."""
    return "en" if lang == "zh" else "zh"
