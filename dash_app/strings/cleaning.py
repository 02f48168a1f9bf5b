"""UI strings: 粉尘清扫与配置页面（企业端）: ``cln.*`` cleaning, ``cfg.*`` configuration."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    # ------------------------------------------------ 粉尘清扫打卡 /cleaning/<credit_code>
    "cln.today": {"zh": "今日清扫任务", "en": "Today's cleaning tasks"},
    "cln.no_tasks_today": {
        "zh": "今日没有清扫任务（在“配置”中制定清扫计划）。",
        "en": "No cleaning task today (cleaning plans are made under Settings).",
    },
    "cln.checkin": {"zh": "清扫打卡", "en": "Check in a cleaning"},
    "cln.task": {"zh": "选择任务", "en": "Task"},
    "cln.operator": {"zh": "清扫人", "en": "Cleaned by"},
    "cln.operator_hint": {
        "zh": "不填则为当前登录用户",
        "en": "Leave empty for the logged-in user",
    },
    "cln.before": {"zh": "清扫前照片", "en": "Photos before cleaning"},
    "cln.after": {"zh": "清扫后照片", "en": "Photos after cleaning"},
    "cln.take_photo": {"zh": "拍照或选择照片", "en": "Take or choose photos"},
    "cln.clear_photos": {"zh": "清除", "en": "Clear"},
    "cln.remarks": {"zh": "备注", "en": "Remarks"},
    "cln.submit": {"zh": "提交打卡", "en": "Check in"},
    "cln.note": {
        "zh": (
            "打卡时间以服务器时间为准；清扫时段开始前不能打卡，时段结束后打卡记为迟到。"
            "照片须为 JPEG 或 PNG，单张不超过 {mb} MB，清扫前、后各至多 {n} 张。"
        ),
        "en": (
            "The server's time counts. A check-in before the window opens is refused; after it "
            "ends it is marked late. Photos: JPEG or PNG, at most {mb} MB each, at most {n} "
            "before and {n} after."
        ),
    },
    "cln.readonly": {
        "zh": "只读：清扫打卡由企业本身完成，监管部门可查看。",
        "en": "Read only: the enterprise checks in its cleaning; regulators see it.",
    },
    "cln.choose_task": {"zh": "请先选择要打卡的任务。", "en": "Choose the task to check in."},
    "cln.too_long": {
        "zh": "清扫人最多 {operator} 字，备注最多 {remarks} 字。",
        "en": "Cleaned by: at most {operator} characters; remarks: at most {remarks}.",
    },
    "cln.refused": {"zh": "打卡未成功：", "en": "Check-in refused: "},
    "cln.done": {
        "zh": "打卡成功：{area}，{time} 按时完成。",
        "en": "Checked in: {area}, on time at {time}.",
    },
    "cln.done_late": {
        "zh": "已打卡：{area}，{time} 打卡，已超出清扫时段，记为迟到。",
        "en": "Checked in: {area} at {time}, after its window: marked late.",
    },
    "cln.state.upcoming": {"zh": "未开始", "en": "Not yet open"},
    "cln.state.open": {"zh": "待打卡", "en": "Open"},
    "cln.state.done": {"zh": "已完成", "en": "Done"},
    "cln.state.late": {"zh": "迟到完成", "en": "Done late"},
    "cln.state.overdue": {"zh": "已逾期", "en": "Overdue"},
    "cln.zone": {"zh": "{zone} 区", "en": "zone {zone}"},
    "cln.method.explosion_proof_vacuum": {
        "zh": "防爆吸尘器吸尘",
        "en": "Explosion-proof vacuum",
    },
    "cln.method.wet": {"zh": "湿式清扫", "en": "Wet cleaning"},
    "cln.responsible": {"zh": "责任人", "en": "responsible:"},
    "cln.kpis": {"zh": "清扫考核", "en": "Cleaning KPIs"},
    "cln.period.today": {"zh": "今日", "en": "Today"},
    "cln.period.period": {"zh": "近 30 天", "en": "Last 30 days"},
    "cln.kpi.completion": {"zh": "完成率", "en": "Completion"},
    "cln.kpi.on_time": {"zh": "按时率", "en": "On time"},
    "cln.kpi.done": {"zh": "已完成", "en": "Done"},
    "cln.kpi.late": {"zh": "迟到", "en": "Late"},
    "cln.kpi.overdue": {"zh": "逾期", "en": "Overdue"},
    "cln.kpi.due": {"zh": "应完成", "en": "Due"},
    "cln.history": {"zh": "清扫记录", "en": "History"},
    "cln.history_count": {
        "zh": "近 {days} 天共 {total} 项，显示最近 {shown} 项。",
        "en": "{total} tasks in the last {days} days; the newest {shown} shown.",
    },
    "cln.no_history": {"zh": "近 30 天没有清扫记录。", "en": "No cleaning in the last 30 days."},
    "cln.side.before": {"zh": "清扫前", "en": "Before"},
    "cln.side.after": {"zh": "清扫后", "en": "After"},
    "cln.photo_taken": {"zh": "拍摄于", "en": "Taken"},
    "cln.photo_no_exif": {"zh": "照片无拍摄时间", "en": "No shooting time in the photo"},
    "cln.photo_uploaded": {"zh": "上传于", "en": "uploaded"},
    "cln.photo_missing": {"zh": "照片无法显示。", "en": "The photo cannot be shown."},
    # ------------------------------------------------ 配置 /config/<credit_code>
    "cfg.readonly": {
        "zh": "只读：清扫计划与检修报备由企业本身维护，监管部门可查看。",
        "en": "Read only: the enterprise keeps its plans and filings; regulators see them.",
    },
    "cfg.plans": {"zh": "清扫计划", "en": "Cleaning plans"},
    "cfg.plans_intro": {
        "zh": "每个计划按频次生成清扫任务；任务时段结束仍未打卡即为逾期，计入现场管理风险。",
        "en": (
            "Each plan makes cleaning tasks at its frequency; a task not checked in by the end "
            "of its window is overdue and counts in the on-site management risk."
        ),
    },
    "cfg.no_plans": {"zh": "尚未制定清扫计划。", "en": "No cleaning plan yet."},
    "cfg.new_plan": {"zh": "新建清扫计划", "en": "New cleaning plan"},
    "cfg.editing": {"zh": "修改清扫计划 #{id}", "en": "Editing cleaning plan #{id}"},
    "cfg.area": {"zh": "清扫部位", "en": "Area"},
    "cfg.area_kind": {"zh": "部位类型", "en": "Kind of area"},
    "cfg.kind.workshop": {"zh": "车间", "en": "Workshop"},
    "cfg.kind.station": {"zh": "工位", "en": "Work station"},
    "cfg.kind.equipment": {"zh": "设备", "en": "Equipment"},
    "cfg.kind.collector": {"zh": "除尘器", "en": "Dust collector"},
    "cfg.kind.duct": {"zh": "管道", "en": "Duct"},
    "cfg.kind.beams": {"zh": "梁架", "en": "Beams"},
    "cfg.kind.other": {"zh": "其他", "en": "Other"},
    "cfg.system": {"zh": "所属除尘系统", "en": "Dust-removal system"},
    "cfg.no_system": {"zh": "不指定", "en": "None"},
    "cfg.zone": {"zh": "粉尘爆炸危险区域", "en": "Dust zone"},
    "cfg.choose_zone": {
        "zh": "请选择粉尘爆炸危险区域（20、21 或 22 区）。",
        "en": "Choose the dust zone (20, 21 or 22).",
    },
    "cfg.frequency": {"zh": "清扫频次", "en": "Frequency"},
    "cfg.frequency.per_shift": {"zh": "每班", "en": "Every shift"},
    "cfg.frequency.daily": {"zh": "每天", "en": "Daily"},
    "cfg.frequency.weekly": {"zh": "每周", "en": "Weekly"},
    "cfg.frequency.monthly": {"zh": "每月", "en": "Monthly"},
    "cfg.frequency.maintenance": {"zh": "检修前后", "en": "Before and after maintenance"},
    "cfg.schedule.per_shift": {
        "zh": "每班（00–08、08–16、16–24 时）",
        "en": "every shift (00–08, 08–16, 16–24 h)",
    },
    "cfg.schedule.daily": {
        "zh": "每天 {start} 起 {minutes} 分钟",
        "en": "daily from {start} for {minutes} min",
    },
    "cfg.schedule.weekly": {
        "zh": "每{weekday} {start} 起 {minutes} 分钟",
        "en": "every {weekday} from {start} for {minutes} min",
    },
    "cfg.schedule.monthly": {
        "zh": "每月 {day} 日 {start} 起 {minutes} 分钟",
        "en": "monthly on day {day} from {start} for {minutes} min",
    },
    "cfg.schedule.maintenance": {
        "zh": "检修开始前、结束后各 {minutes} 分钟",
        "en": "{minutes} min before and after each maintenance",
    },
    "cfg.window_start": {
        "zh": "时段开始（北京时间，如 08:00）",
        "en": "Window starts (China time, e.g. 08:00)",
    },
    "cfg.window_minutes": {
        "zh": "时段长度（分钟，不填为默认）",
        "en": "Window length (minutes; empty: default)",
    },
    "cfg.weekday": {"zh": "星期", "en": "Day of the week"},
    "cfg.weekday.1": {"zh": "周一", "en": "Monday"},
    "cfg.weekday.2": {"zh": "周二", "en": "Tuesday"},
    "cfg.weekday.3": {"zh": "周三", "en": "Wednesday"},
    "cfg.weekday.4": {"zh": "周四", "en": "Thursday"},
    "cfg.weekday.5": {"zh": "周五", "en": "Friday"},
    "cfg.weekday.6": {"zh": "周六", "en": "Saturday"},
    "cfg.weekday.7": {"zh": "周日", "en": "Sunday"},
    "cfg.month_day": {"zh": "每月几日（1–28）", "en": "Day of the month (1–28)"},
    "cfg.method": {"zh": "清扫方式", "en": "Method"},
    "cfg.method_note": {
        "zh": "严禁使用压缩空气吹扫：会把积尘扬成粉尘云。",
        "en": "Never blow with compressed air: it lifts the layer into a dust cloud.",
    },
    "cfg.responsible": {"zh": "责任人", "en": "Responsible person"},
    "cfg.phone": {"zh": "责任人电话", "en": "Their phone"},
    "cfg.photos_required": {"zh": "须拍清扫前后照片", "en": "Photos before and after required"},
    "cfg.photos_optional": {"zh": "照片可选", "en": "Photos optional"},
    "cfg.save": {"zh": "保存计划", "en": "Save plan"},
    "cfg.edit": {"zh": "修改", "en": "Edit"},
    "cfg.stop": {"zh": "停用", "en": "Withdraw"},
    "cfg.confirm_stop": {
        "zh": "停用“{area}”的清扫计划？不再生成新任务，尚未打卡的任务将撤销，已有记录保留。",
        "en": (
            "Withdraw the cleaning plan of “{area}”? No new tasks; its open unchecked tasks go; "
            "the history stays."
        ),
    },
    "cfg.plan_created": {"zh": "已新建清扫计划：{area}。", "en": "Cleaning plan created: {area}."},
    "cfg.plan_saved": {
        "zh": "已保存清扫计划：{area}（未开始的任务按新计划重排）。",
        "en": "Cleaning plan saved: {area} (tasks not yet begun follow the new schedule).",
    },
    "cfg.plan_stopped": {"zh": "清扫计划已停用。", "en": "Cleaning plan withdrawn."},
    "cfg.refused": {"zh": "未保存：", "en": "Not saved: "},
    "cfg.not_a_number": {"zh": "“{what}”须为整数。", "en": "“{what}” must be a whole number."},
    "cfg.bad_clock": {
        "zh": "时间“{value}”格式不对，应为 08:00。",
        "en": "“{value}” is not a time like 08:00.",
    },
    "cfg.too_long": {
        "zh": "清扫部位最多 {area} 字，责任人最多 {person} 字，电话最多 {phone} 位。",
        "en": "Area: at most {area} characters; person: {person}; phone: {phone}.",
    },
    "cfg.filings": {"zh": "检修/停产报备", "en": "Maintenance and shutdown filings"},
    "cfg.filings_intro": {
        "zh": (
            "报备后即生效：报备时段内相关点位的报警只记录不推送，离线不计入在线率（爆炸装置动作"
            "除外）。监管部门可随时驳回。报备不能追溯，开始时间不能早于现在。"
        ),
        "en": (
            "A filing is in force once filed: during its window the system's alarms are stored "
            "but not raised and its offline time does not count (explosion devices always "
            "alarm). Regulators may reject it at any time. Filings cannot start in the past."
        ),
    },
    "cfg.no_filings": {"zh": "没有报备记录。", "en": "No filing yet."},
    "cfg.filings_count": {
        "zh": "共 {total} 条，显示最近 {shown} 条。",
        "en": "{total} filings; the latest {shown} shown.",
    },
    "cfg.new_filing": {"zh": "新建报备", "en": "File a window"},
    "cfg.filing_system": {"zh": "报备范围", "en": "For"},
    "cfg.whole_plant": {"zh": "全厂", "en": "Whole plant"},
    "cfg.filing_kind": {"zh": "类型", "en": "Kind"},
    "cfg.filing_kind.maintenance": {"zh": "检修", "en": "Maintenance"},
    "cfg.filing_kind.shutdown": {"zh": "停产", "en": "Shutdown"},
    "cfg.filing_state.FILED": {"zh": "待审核", "en": "Filed"},
    "cfg.filing_state.APPROVED": {"zh": "已生效", "en": "In force"},
    "cfg.filing_state.REJECTED": {"zh": "已驳回", "en": "Rejected"},
    "cfg.filing_state.WITHDRAWN": {"zh": "已撤回", "en": "Withdrawn"},
    "cfg.starts": {
        "zh": "开始时间（北京时间，如 2025-03-03 08:00）",
        "en": "Starts (China time, e.g. 2025-03-03 08:00)",
    },
    "cfg.ends": {"zh": "结束时间（北京时间）", "en": "Ends (China time)"},
    "cfg.bad_datetime": {
        "zh": "时间“{value}”格式不对，应为 2025-03-03 08:00。",
        "en": "“{value}” is not a time like 2025-03-03 08:00.",
    },
    "cfg.reason": {"zh": "事由", "en": "Reason"},
    "cfg.reason_required": {
        "zh": "请填写事由（最多 {n} 字）。",
        "en": "Give the reason (at most {n} characters).",
    },
    "cfg.file": {"zh": "提交报备", "en": "File"},
    "cfg.filed": {"zh": "报备已提交。", "en": "Filed."},
    "cfg.filed_by": {"zh": "报备人", "en": "filed by"},
    "cfg.decision": {"zh": "审核意见", "en": "Decision"},
    "cfg.withdraw": {"zh": "撤回", "en": "Withdraw"},
    "cfg.end_now": {"zh": "提前结束", "en": "End now"},
    "cfg.confirm_withdraw": {
        "zh": "撤回该报备？若已在报备时段内，则报备到此刻结束。",
        "en": "Withdraw this filing? If its window has begun, it ends now.",
    },
    "cfg.withdrawn": {"zh": "报备已撤回。", "en": "Filing withdrawn."},
}
