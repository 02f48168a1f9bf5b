"""UI strings: 综合分析与风险总览补充（监管端）."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    # the risk overview's history part (/overview)
    "ovw.changes": {"zh": "企业风险等级今日变化", "en": "Risk level changes today"},
    "ovw.changes_up": {"zh": "升级企业", "en": "Went up:"},
    "ovw.changes_down": {"zh": "降级企业", "en": "Went down:"},
    "ovw.no_changes": {
        "zh": "今日（北京时间）暂无企业风险等级变化。",
        "en": "No enterprise changed its risk level today (China time).",
    },
    "ovw.enterprise": {"zh": "企业", "en": "Enterprise"},
    "ovw.change": {"zh": "原等级 → 现等级", "en": "Old → new level"},
    "ovw.changed_at": {"zh": "变化时间", "en": "Changed at"},
    "ovw.trend": {"zh": "近 {days} 天风险等级趋势", "en": "Risk levels over {days} days"},
    "ovw.trend_note": {
        "zh": (
            "每日企业数按当日结束时（今日为当前）最后一次风险研判的等级统计；尚未研判的企业不计入。"
        ),
        "en": (
            "Enterprises per level as of each day's end (today: now), from their last stored "
            "evaluation; enterprises not yet evaluated are not counted."
        ),
    },
    # the comprehensive analysis (/analysis)
    "ana.heading": {"zh": "综合分析", "en": "Comprehensive analysis"},
    "ana.generated": {"zh": "统计时间", "en": "As of"},
    "ana.export": {"zh": "导出 Excel", "en": "Export to Excel"},
    "ana.exported": {
        "zh": "已生成 Excel 文件（统计时间 {at}）。",
        "en": "Excel file generated (as of {at}).",
    },
    "ana.file": {"zh": "综合分析", "en": "analysis"},
    "ana.overview": {"zh": "风险总览", "en": "Risk overview"},
    "ana.up": {"zh": "返回上级", "en": "Up one level"},
    "ana.total": {"zh": "合计", "en": "Total"},
    "ana.unassigned": {"zh": "直属（未归入下级区划）", "en": "Directly under (no sub-region)"},
    "ana.none": {"zh": "无", "en": "None"},
    "ana.never": {"zh": "从未上报", "en": "never"},
    "ana.listed": {
        "zh": "显示前 {shown} 条，共 {total} 条（导出文件与此相同）。",
        "en": "First {shown} of {total} shown (the export holds the same rows).",
    },
    "ana.count": {"zh": "共 {total} 条。", "en": "{total} in all."},
    "ana.show_data": {"zh": "查看数据", "en": "Show the data"},
    "ana.about": {"zh": "说明", "en": "About"},
    "ana.region": {"zh": "统计区域", "en": "Region"},
    # sections
    "ana.coverage": {"zh": "企业与除尘系统接入情况", "en": "Connected enterprises and systems"},
    "ana.coverage_note": {
        "zh": (
            "应接入：已登记且未关闭的企业及其除尘系统"
            "（重点企业：涉粉作业人数≥30 且为金属或木质粉尘）。"
            "已接入：企业有网关上报过数据；除尘系统有点位上报过数据。"
            "在线：当前在线（最近 max(3×上传周期, 15 分钟) 内有数据）；"
            "除尘系统任一点位在线即为在线。"
        ),
        "en": (
            "Should be connected: registered enterprises that are not closed, and their systems "
            "(key enterprises: ≥ 30 dust-exposed workers, metal or wood dust). Connected: a "
            "gateway of the enterprise has sent data; a point of the system has sent data. "
            "Online: data within max(3 × upload period, 15 min) now; a system is online while "
            "one of its points is."
        ),
    },
    "ana.online_trend": {"zh": "近 30 天在线率趋势", "en": "Online rate over 30 days"},
    "ana.online_trend_note": {
        "zh": (
            "来源：每日统计（daily_stats，由定时任务按北京时间逐日计算）：企业当日在线时长占比"
            "（扣除已批准的停产检修报备时段）按区域取平均；当日为截至目前。"
        ),
        "en": (
            "From the daily statistics (daily_stats, computed per China day by the scheduled "
            "job): each enterprise's share of the day online (approved maintenance filings "
            "excluded), averaged per region; today is so far."
        ),
    },
    "ana.no_stats": {
        "zh": "暂无每日统计数据（定时任务尚未运行）。",
        "en": "No daily statistics yet (the scheduled job has not run).",
    },
    "ana.completeness": {"zh": "基础数据完整性", "en": "Completeness of basic data"},
    "ana.completeness_note": {
        "zh": (
            "应填基础信息共 {n} 项（见下表）；涉粉作业人数为 0 视为未填，除尘系统指至少登记一个。"
        ),
        "en": (
            "{n} items of basic data should be filled in (see below); 0 dust-exposed workers "
            "counts as not filled, systems means at least one registered."
        ),
    },
    "ana.quality": {"zh": "传感数据质量", "en": "Sensor data quality"},
    "ana.quality_note": {
        "zh": (
            "近 {days} 天；频繁报警：单个点位报警（含重复）≥ {n} 次〔默认值〕；"
            "超量程/故障：当前数据质量为超量程或故障，或近 {days} 天有超量程/故障报警；"
            "离线：当前无有效数据（含从未上报）。停产检修期间的报警不计。"
        ),
        "en": (
            "Last {days} days. Frequent alarms: {n} or more alarms (repeats included) on one "
            "point [default]. Out of range / fault: quality now, or such alarms in the last "
            "{days} days. Offline: no valid value now (never reported included). Alarms during "
            "approved maintenance are not counted."
        ),
    },
    # tables (headings, sheet names ≤ 31 characters)
    "ana.table.coverage": {"zh": "接入情况", "en": "Connection"},
    "ana.table.stats": {"zh": "在线率趋势", "en": "Online rate trend"},
    "ana.table.completeness": {"zh": "完整性按区域", "en": "Completeness by region"},
    "ana.table.missing": {"zh": "缺失项统计", "en": "Missing items"},
    "ana.table.worst": {"zh": "基础信息缺失企业", "en": "Incomplete enterprises"},
    "ana.table.quality": {"zh": "数据质量按区域", "en": "Data quality by region"},
    "ana.table.frequent": {"zh": "频繁报警点位", "en": "Frequent alarms"},
    "ana.table.bad": {"zh": "超量程或故障点位", "en": "Out of range or fault"},
    "ana.table.stale": {"zh": "离线点位", "en": "Offline points"},
    # columns
    "ana.col.area": {"zh": "区域", "en": "Region"},
    "ana.col.enterprises": {"zh": "应接入企业", "en": "Enterprises to connect"},
    "ana.col.key_enterprises": {"zh": "其中重点企业", "en": "Of which key"},
    "ana.col.connected": {"zh": "已接入企业", "en": "Connected"},
    "ana.col.online": {"zh": "在线企业", "en": "Online"},
    "ana.col.connected_rate": {"zh": "企业接入率", "en": "Connected share"},
    "ana.col.online_rate": {"zh": "企业在线率", "en": "Online rate"},
    "ana.col.systems": {"zh": "应接入除尘系统", "en": "Systems to connect"},
    "ana.col.systems_connected": {"zh": "已接入除尘系统", "en": "Systems connected"},
    "ana.col.systems_online": {"zh": "在线除尘系统", "en": "Systems online"},
    "ana.col.systems_online_rate": {"zh": "除尘系统在线率", "en": "System online rate"},
    "ana.col.day": {"zh": "日期", "en": "Day"},
    "ana.col.day_online_rate": {"zh": "在线率", "en": "Online rate"},
    "ana.col.data_rate": {"zh": "数据到报率", "en": "Data received"},
    "ana.col.enterprise_count": {"zh": "企业数", "en": "Enterprises"},
    "ana.col.complete": {"zh": "信息完整企业", "en": "Complete"},
    "ana.col.fill_rate": {"zh": "填报完整率", "en": "Filled in"},
    "ana.col.field": {"zh": "基础信息项", "en": "Item"},
    "ana.col.missing_count": {"zh": "缺失企业数", "en": "Enterprises lacking it"},
    "ana.col.missing_share": {"zh": "缺失占比", "en": "Share lacking it"},
    "ana.col.enterprise": {"zh": "企业名称", "en": "Enterprise"},
    "ana.col.credit_code": {"zh": "统一社会信用代码", "en": "Credit code"},
    "ana.col.missing": {"zh": "缺失项", "en": "Missing"},
    "ana.col.points": {"zh": "点位数", "en": "Points"},
    "ana.col.points_online": {"zh": "在线点位", "en": "Online"},
    "ana.col.stale": {"zh": "离线点位", "en": "Offline"},
    "ana.col.bad": {"zh": "超量程/故障点位", "en": "Out of range / fault"},
    "ana.col.frequent": {"zh": "频繁报警点位", "en": "Frequent alarms"},
    "ana.col.system": {"zh": "除尘系统", "en": "System"},
    "ana.col.point": {"zh": "点位编码", "en": "Point"},
    "ana.col.indicator": {"zh": "监测指标", "en": "Indicator"},
    "ana.col.alarms": {"zh": "报警次数", "en": "Alarms"},
    "ana.col.bad_alarms": {"zh": "超量程/故障报警次数", "en": "Out-of-range / fault alarms"},
    "ana.col.last_alarm": {"zh": "最近报警", "en": "Last alarm"},
    "ana.col.quality": {"zh": "当前数据质量", "en": "Quality now"},
    "ana.col.last_seen": {"zh": "最后有效数据", "en": "Last valid value"},
    # the basic data an enterprise should have (names as in the 粉尘涉爆企业基础情况表 import)
    "ana.field.address": {"zh": "地址", "en": "Address"},
    "ana.field.location": {"zh": "经纬度", "en": "Coordinates"},
    "ana.field.industry": {"zh": "行业", "en": "Industry"},
    "ana.field.regulated_industry": {"zh": "监管行业", "en": "Regulated industry"},
    "ana.field.legal_representative": {"zh": "法定代表人", "en": "Legal representative"},
    "ana.field.principal": {"zh": "主要负责人", "en": "Principal"},
    "ana.field.principal_phone": {"zh": "主要负责人电话", "en": "Principal's phone"},
    "ana.field.safety_officer": {"zh": "安全负责人", "en": "Safety officer"},
    "ana.field.safety_officer_phone": {"zh": "安全负责人电话", "en": "Safety officer's phone"},
    "ana.field.staff_total": {"zh": "职工总数", "en": "Total staff"},
    "ana.field.safety_staff": {"zh": "安全管理人员数", "en": "Safety staff"},
    "ana.field.dust_workers": {"zh": "涉粉作业人数", "en": "Dust-exposed workers"},
    "ana.field.max_per_shift": {"zh": "单班最大作业人数", "en": "Most workers per shift"},
    "ana.field.dust_types": {"zh": "粉尘种类", "en": "Dust types"},
    "ana.field.processes": {"zh": "涉粉工艺", "en": "Dust processes"},
    "ana.field.scale": {"zh": "企业规模", "en": "Size"},
    "ana.field.systems": {"zh": "除尘系统", "en": "Dust-removal systems"},
    # chart series
    "ana.series.enterprises": {"zh": "应接入", "en": "To connect"},
    "ana.series.connected": {"zh": "已接入", "en": "Connected"},
    "ana.series.online": {"zh": "在线", "en": "Online"},
    "ana.series.stale": {"zh": "离线点位", "en": "Offline points"},
    "ana.series.bad": {"zh": "超量程/故障点位", "en": "Out of range / fault"},
    "ana.series.frequent": {"zh": "频繁报警点位", "en": "Frequent alarms"},
    "ana.axis.count": {"zh": "数量", "en": "Count"},
    "ana.axis.rate": {"zh": "在线率", "en": "Online rate"},
}
