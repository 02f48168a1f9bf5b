"""UI strings: 集成商诊断与点位登记."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "int.heading": {"zh": "集成商工作台", "en": "Integrator workspace"},
    "int.not_found": {"zh": "未找到该页面", "en": "Page not found"},
    "int.not_found_detail": {
        "zh": "该页面不存在，或不在您的管理范围内。",
        "en": "There is no such page, or it is outside what you manage.",
    },
    "int.no_enterprises": {
        "zh": "尚无企业委托您接入。",
        "en": "No enterprise has engaged you yet.",
    },
    "int.enterprise": {"zh": "企业", "en": "Enterprise"},
    "int.gateway": {"zh": "数采网关", "en": "Gateway"},
    "int.search_enterprise": {"zh": "输入企业名称检索", "en": "Type part of the name"},
    # gateway diagnostics (网关诊断)
    "int.diagnostics": {"zh": "网关诊断", "en": "Gateway diagnostics"},
    "int.refresh_note": {"zh": "每10秒自动刷新", "en": "Refreshes every 10 s"},
    "int.no_gateways": {"zh": "该企业尚未登记数采网关", "en": "No gateway registered"},
    "int.gateway_not_found": {
        "zh": "未找到该网关（不存在或不在您的管理范围内）。",
        "en": "Gateway not found (it does not exist or is not yours to manage).",
    },
    "int.state": {"zh": "状态", "en": "State"},
    "int.online": {"zh": "在线", "en": "online"},
    "int.offline": {"zh": "离线", "en": "offline"},
    "int.unknown_state": {"zh": "未知", "en": "unknown"},
    "int.last_message": {"zh": "最近报文", "en": "Last message"},
    "int.last_kind.data": {"zh": "数据（实时数据/事件）", "en": "data (rts/event)"},
    "int.last_kind.heartbeat": {"zh": "心跳", "en": "heartbeat"},
    "int.last_kind.state": {"zh": "状态", "en": "state"},
    "int.last_kind.refused": {"zh": "被拒收", "en": "refused"},
    "int.never": {"zh": "从未收到", "en": "never"},
    "int.last_data": {"zh": "最近有效数据", "en": "Last accepted data"},
    "int.last_heartbeat": {"zh": "最近心跳", "en": "Last heartbeat"},
    "int.gateway_state": {"zh": "网关上报状态", "en": "State reported"},
    "int.transport": {"zh": "接入方式", "en": "Transport"},
    "int.period": {"zh": "上传周期", "en": "Upload period"},
    "int.period_s": {"zh": "秒", "en": "s"},
    "int.counts": {"zh": "接收统计", "en": "Traffic"},
    "int.window": {"zh": "时段", "en": "Window"},
    "int.1h": {"zh": "近1小时", "en": "last hour"},
    "int.24h": {"zh": "近24小时", "en": "last 24 h"},
    "int.messages": {"zh": "报文数", "en": "Messages"},
    "int.accepted": {"zh": "接收点数", "en": "Entries accepted"},
    "int.rejected": {"zh": "拒收", "en": "Refused"},
    "int.unknown_codes": {"zh": "未登记的点位编码", "en": "Unregistered point codes"},
    "int.unknown_hint": {
        "zh": "网关上报了平台未登记（或未登记到该网关）的点位，请在下方登记或修正网关配置。",
        "en": (
            "The gateway sends points the platform has not registered (to it): register them "
            "below or fix the gateway's configuration."
        ),
    },
    "int.no_unknown": {"zh": "近期无未登记点位", "en": "None recently"},
    "int.clock": {"zh": "时钟偏差（估计）", "en": "Clock offset (estimate)"},
    "int.clock_detail": {
        "zh": (
            "近10分钟接收时间减采集时间的中位数，共{n}条。正常约为一个上传周期；"
            "远大于此：网关时钟偏慢或数据补传；为负：网关时钟偏快（超前5分钟以上的数据被拒收）。"
        ),
        "en": (
            "Median of received minus reading time over {n} readings in the last 10 minutes. "
            "About one upload period is normal; far more: the gateway's clock is behind or it "
            "is sending buffered data; negative: its clock is ahead (over 5 minutes ahead is "
            "refused)."
        ),
    },
    "int.clock_none": {
        "zh": "近10分钟无数据，无法估计",
        "en": "No readings in the last 10 minutes to estimate it",
    },
    "int.reasons": {"zh": "拒收原因汇总", "en": "Reasons for refusals"},
    "int.rejections": {"zh": "最近拒收记录", "en": "Recent refusals"},
    "int.no_rejections": {"zh": "近期无拒收", "en": "No refusals recently"},
    "int.received_at": {"zh": "接收时间", "en": "Received"},
    "int.kind": {"zh": "类型", "en": "Kind"},
    "int.msg_id": {"zh": "报文编号", "en": "msg_id"},
    "int.whole": {"zh": "整条拒收", "en": "whole message"},
    "int.entries": {
        "zh": "拒收条目（序号 编码：原因）",
        "en": "Refused entries (index code: reason)",
    },
    "int.raw": {"zh": "原始报文", "en": "Raw message"},
    "int.show": {"zh": "展开", "en": "show"},
    "int.truncated": {"zh": "（已截断）", "en": "(truncated)"},
    "int.time_note": {"zh": "时间为北京时间", "en": "Times in China Standard Time (UTC+8)"},
    # point registration (点位登记)
    "int.registration": {"zh": "点位登记", "en": "Point registration"},
    "int.system": {"zh": "除尘系统", "en": "Dust-removal system"},
    "int.no_systems": {"zh": "该企业尚未登记除尘系统", "en": "No dust-removal system registered"},
    "int.indicator": {"zh": "监测指标（设备目录）", "en": "Indicator (device catalog)"},
    "int.point_code": {"zh": "点位编码", "en": "Point code"},
    "int.point_name": {"zh": "点位名称", "en": "Point name"},
    "int.unit": {"zh": "单位", "en": "Unit"},
    "int.range_low": {"zh": "量程下限", "en": "Range low"},
    "int.range_high": {"zh": "量程上限", "en": "Range high"},
    "int.limit.hha": {"zh": "上上限 HHA", "en": "High-high HHA"},
    "int.limit.ha": {"zh": "上限 HA", "en": "High HA"},
    "int.limit.la": {"zh": "下限 LA", "en": "Low LA"},
    "int.limit.lla": {"zh": "下下限 LLA", "en": "Low-low LLA"},
    "int.point_gateway": {"zh": "上报网关", "en": "Reporting gateway"},
    "int.any_gateway": {"zh": "（本企业任一网关）", "en": "(any gateway of the enterprise)"},
    "int.register": {"zh": "登记点位", "en": "Register point"},
    "int.defaults_note": {
        "zh": (
            "量程与报警限值已按设备目录（{version}）默认值预填，可修改；"
            "未修改的限值随目录默认值，清空表示关闭该限值。"
        ),
        "en": (
            "Range and limits are the device catalog's defaults ({version}), editable; limits "
            "left unchanged follow the catalog, an emptied one is switched off."
        ),
    },
    "int.indicator_note": {"zh": "指标说明", "en": "About this indicator"},
    "int.cannot_prefill": {"zh": "无法按目录预填", "en": "No catalog defaults"},
    "int.registered": {"zh": "已登记点位", "en": "Registered point"},
    "int.in_force": {"zh": "生效限值", "en": "limits in force"},
    "int.refused": {"zh": "登记被拒绝，未创建任何点位", "en": "Refused; nothing was created"},
    "int.exists": {"zh": "该点位编码已登记", "en": "This point code is registered already"},
    "int.target_not_found": {
        "zh": "未找到该企业或除尘系统（不存在或不在您的管理范围内）",
        "en": "Enterprise or system not found (it does not exist or is not yours to manage)",
    },
    "int.not_a_number": {"zh": "不是数字", "en": "is not a number"},
    "int.missing": {"zh": "请填写", "en": "Please fill in"},
    "int.points": {"zh": "该系统已登记点位", "en": "Points of this system"},
    "int.no_points": {"zh": "该系统尚无点位", "en": "No points on this system"},
    "int.range": {"zh": "量程", "en": "Range"},
}
