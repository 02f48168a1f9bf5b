"""Warning policy (预警策略, domain.md §4): which warnings to raise, escalate and clear — pure.

The storage layer keeps one open warning per (enterprise, trigger); these functions decide, from
plain facts and the risk model's time limits, what that layer should write. Nothing here reads a
clock or a database.

Regulator tiers and their adcodes (``regulator_adcode``), from the project's region data
(``twins.regions``): county = the enterprise's county-level region; city = its prefecture-level
city; province = its province; ministry = ``000000``. Where the data has no distinct city tier —
a municipality (上海/北京/天津: the data lists a city 310100 "上海市" named like its province, and
the real municipal bureau is scoped 310000), Chongqing (districts directly under 500000), or a
county-level city directly under its province (济源 419001, 东莞 441900) — the city tier is the
province. The province is the division right under the country (the data lists 重庆 500000 as a
city). county_lead is the county bureau's leadership: same adcode as the county.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final

from risk.model import (
    LEVEL_NAMES,
    TIERS,
    Evaluation,
    ProductionHours,
    RiskInputError,
    RiskModel,
    TimeLimit,
    level_rank,
    rises,
)
from twins.errors import InvalidThingError
from twins.regions import MINISTRY_SCOPE, ancestry

__all__ = [
    "TRIGGERS",
    "Clearance",
    "EscalationRecord",
    "EscalationStep",
    "NewWarning",
    "OpenWarning",
    "WarningDecision",
    "WarningUpgrade",
    "decide_warnings",
    "escalation_plan",
    "escalations_due",
    "may_clear",
    "offline_in_production",
    "regulator_adcode",
]

TRIGGERS: Final = ("level_rise", "red", "alarm_overdue", "offline")
# Triggers that clear on the level; the others clear when their condition has gone.
LEVEL_TRIGGERS: Final = frozenset({"level_rise", "red"})
# An escalation to an already-involved regulator moves up to the next tier, but never past this
# one unless the table names the ministry (a municipality's red warning stops at its bureau).
_BUMP_CEILING: Final = "province"


# ================================================================ regulator tiers


@cache
def _tier_adcodes(adcode: str) -> dict[str, str]:
    try:
        chain = ancestry(adcode)
    except InvalidThingError as err:
        raise RiskInputError(f"unknown enterprise adcode {adcode!r}") from err
    # The provincial-level division is the one right under the country, whatever level the data
    # gives it (重庆 500000 is listed as a city).
    if len(chain) < 2:
        raise RiskInputError(f"adcode {adcode!r} lies in no province")
    province = chain[1]
    # A "city" named like its province is a municipality's placeholder, not a regulator tier.
    city = next((r for r in chain[2:] if r.level == "city" and r.name != province.name), None)
    county = next((r for r in chain[2:] if r.level == "county"), None)
    county_code = (county or city or province).adcode
    return {
        "county": county_code,
        "county_lead": county_code,
        "city": (city or province).adcode,
        "province": province.adcode,
        "ministry": MINISTRY_SCOPE,
    }


def regulator_adcode(adcode: str, tier: str) -> str:
    """The adcode of the regulator of ``tier`` over an enterprise at ``adcode`` (see module doc).

    310113 → county 310113, city 310000, province 310000; 320506 → 320506, 320500, 320000.
    """
    if tier not in TIERS:
        raise RiskInputError(f"unknown regulator tier {tier!r}; expected one of {TIERS}")
    return _tier_adcodes(adcode)[tier]


# ================================================================ facts and decisions


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationRecord:
    """An escalation that happened: to which tier and regulator, when."""

    tier: str
    regulator_adcode: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenWarning:
    """A warning not yet cleared, as stored (one per enterprise and trigger).

    ``level_since`` is when it got its current level (raised_at unless upgraded since);
    ``fed_back_at`` the enterprise's feedback under that level, if any.
    """

    warning_id: str
    trigger: str
    level: str
    raised_at: datetime
    level_since: datetime | None = None
    fed_back_at: datetime | None = None
    refs: tuple[str, ...] = ()
    escalations: tuple[EscalationRecord, ...] = ()

    @property
    def since(self) -> datetime:
        """When the current level's clock started."""
        return self.level_since or self.raised_at


@dataclass(frozen=True, slots=True, kw_only=True)
class NewWarning:
    """A warning to raise: its level, deadlines and the regulator it goes to."""

    trigger: str
    level: str
    refs: tuple[str, ...]
    raised_at: datetime
    ack_deadline: datetime
    feedback_deadline: datetime
    follow_up_deadline: datetime | None
    tier: str
    tier_adcode: str
    reason_zh: str
    reason_en: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return _jsonable(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class WarningUpgrade:
    """An open warning whose level rises: it reopens under the new level's limits from ``at``.

    Acknowledgement and feedback are due again (the situation got worse); escalations already
    made stand, and the escalation clock restarts at ``at`` for the new level.
    """

    warning_id: str
    trigger: str
    from_level: str
    level: str
    at: datetime
    ack_deadline: datetime
    feedback_deadline: datetime
    follow_up_deadline: datetime | None
    tier: str
    tier_adcode: str
    reason_zh: str
    reason_en: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return _jsonable(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class WarningDecision:
    """What one evaluation asks of the warnings: new ones and upgrades of open ones."""

    new: tuple[NewWarning, ...]
    upgrades: tuple[WarningUpgrade, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationStep:
    """One escalation (督办) of a warning: the tier it reaches, its regulator, when it is due.

    ``requested_tier`` is the tier the table names; ``tier`` differs when that regulator was
    already involved and the step moved up (see ``escalation_plan``).
    """

    tier: str
    requested_tier: str
    regulator_adcode: str
    due_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return _jsonable(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Clearance:
    """Whether a warning may be cleared (消警) now, and why (not)."""

    allowed: bool
    reason_zh: str
    reason_en: str


def _jsonable(obj: object) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        out[f.name] = (
            value.isoformat()
            if isinstance(value, datetime)
            else list(value)
            if isinstance(value, tuple)
            else value
        )
    return out


# ================================================================ raising


def decide_warnings(
    model: RiskModel,
    *,
    adcode: str,
    previous_level: str | None,
    evaluation: Evaluation,
    open_warnings: Iterable[OpenWarning],
    overdue_alarm_ids: Iterable[str],
    offline_since: datetime | None,
    now: datetime,
    production_hours: ProductionHours | None = None,
) -> WarningDecision:
    """The warnings one evaluation raises or upgrades (at most one open per trigger).

    - red: the level is red and no red warning is open (it covers the rise to red);
    - level_rise: the level rose (no previous level counts as blue) below red, or to red when
      the red trigger is off; an open rise warning of a lower level is upgraded instead;
    - alarm_overdue: some alarm is overdue (``overdue_alarm_ids``) and none such is open;
    - offline: offline since ``offline_since`` for longer than the trigger's ``after`` counted
      inside production hours (the model's, or the enterprise's own ``production_hours``).

    The last two warn at their own level from the model (yellow by default), whatever the risk
    level: a red or orange enterprise already has its level warning.
    """
    rules = model.warnings
    level = evaluation.level
    opened = {w.trigger: w for w in open_warnings}
    new: list[NewWarning] = []
    upgrades: list[WarningUpgrade] = []
    zh, en = LEVEL_NAMES[level]
    score = f"{evaluation.score:g}"

    def raise_(trigger: str, wlevel: str, refs: tuple[str, ...], rzh: str, ren: str) -> None:
        limit = rules.time_limits[wlevel]
        tier = limit.tier
        new.append(
            NewWarning(
                trigger=trigger,
                level=wlevel,
                refs=refs,
                raised_at=now,
                ack_deadline=now + limit.acknowledge,
                feedback_deadline=now + limit.feedback,
                follow_up_deadline=_follow_up(limit, now),
                tier=tier,
                tier_adcode=regulator_adcode(adcode, tier),
                reason_zh=rzh,
                reason_en=ren,
            )
        )

    red_covers = rules.red.enabled and level == "red"
    if red_covers and "red" not in opened:
        raise_("red", "red", (), f"风险等级为{zh}，{score} 分", f"risk level is {en}: {score}")
    if rules.level_rise.enabled and rises(previous_level, level) and not red_covers:
        prev_zh, prev_en = LEVEL_NAMES[previous_level or "blue"]
        rzh = f"风险等级由{prev_zh}升至{zh}，{score} 分"
        ren = f"risk level rose from {prev_en} to {en}: {score}"
        existing = opened.get("level_rise")
        if existing is None:
            raise_("level_rise", level, (), rzh, ren)
        elif level_rank(level) > level_rank(existing.level):
            limit = rules.time_limits[level]
            upgrades.append(
                WarningUpgrade(
                    warning_id=existing.warning_id,
                    trigger="level_rise",
                    from_level=existing.level,
                    level=level,
                    at=now,
                    ack_deadline=now + limit.acknowledge,
                    feedback_deadline=now + limit.feedback,
                    follow_up_deadline=_follow_up(limit, now),
                    tier=limit.tier,
                    tier_adcode=regulator_adcode(adcode, limit.tier),
                    reason_zh=rzh,
                    reason_en=ren,
                )
            )
    overdue = tuple(dict.fromkeys(str(i) for i in overdue_alarm_ids))
    if rules.alarm_overdue.enabled and overdue and "alarm_overdue" not in opened:
        raise_(
            "alarm_overdue",
            rules.alarm_overdue.level or level,
            overdue,
            f"超过处置时限的报警：{'、'.join(overdue)}",
            f"alarms past their handling deadline: {', '.join(overdue)}",
        )
    offline = rules.offline
    if offline.enabled and offline_since is not None and "offline" not in opened:
        hours = production_hours or rules.production_hours
        counted = hours.overlap(offline_since, now)
        if offline.after is not None and counted > offline.after:
            minutes = int(counted.total_seconds() // 60)
            raise_(
                "offline",
                offline.level or level,
                (),
                f"生产时段内离线 {minutes // 60} 小时 {minutes % 60} 分",
                f"offline {minutes // 60} h {minutes % 60} min in production hours",
            )
    return WarningDecision(new=tuple(new), upgrades=tuple(upgrades))


def _follow_up(limit: TimeLimit, now: datetime) -> datetime | None:
    return None if limit.follow_up is None else now + limit.follow_up


def offline_in_production(
    model: RiskModel,
    offline_since: datetime,
    now: datetime,
    production_hours: ProductionHours | None = None,
) -> timedelta:
    """How long of an offline spell fell inside production hours."""
    return (production_hours or model.warnings.production_hours).overlap(offline_since, now)


# ================================================================ escalation


def escalation_plan(
    model: RiskModel, *, level: str, since: datetime, adcode: str
) -> tuple[EscalationStep, ...]:
    """The escalation steps of a warning of ``level`` whose clock started at ``since``.

    A step whose regulator is already involved (the warning's own tier, or an earlier step)
    moves up to the next tier with another regulator, up to the province; a step with nowhere
    left to go is dropped. So in Shanghai a red warning goes to the county (310113), at 2 h to
    the municipal bureau (310000, city and province at once) and stops there.
    """
    limit = model.warnings.time_limits[level]
    tiers = _tier_adcodes(adcode)
    involved = {tiers[limit.tier]}
    steps: list[EscalationStep] = []
    for rule in limit.escalation:
        target = rule.tier
        if target != "county_lead":
            # A leadership step is a step within one bureau; every other step needs a new one.
            top = TIERS.index(target if target == "ministry" else _BUMP_CEILING)
            candidates = [t for t in TIERS[TIERS.index(target) : top + 1] if t != "county_lead"]
            fresh = next((t for t in candidates if tiers[t] not in involved), None)
            if fresh is None:
                continue
            target = fresh
        involved.add(tiers[target])
        steps.append(
            EscalationStep(
                tier=target,
                requested_tier=rule.tier,
                regulator_adcode=tiers[target],
                due_at=since + rule.after,
            )
        )
    return tuple(steps)


def escalations_due(
    model: RiskModel, warning: OpenWarning, *, adcode: str, now: datetime
) -> tuple[EscalationStep, ...]:
    """The steps of the warning's plan due by ``now`` and not yet recorded.

    Escalation is for an overdue warning: none is due once the enterprise has fed back under the
    current level.
    """
    if warning.fed_back_at is not None and warning.fed_back_at >= warning.since:
        return ()
    done = {r.tier for r in warning.escalations}
    plan = escalation_plan(model, level=warning.level, since=warning.since, adcode=adcode)
    return tuple(s for s in plan if s.due_at <= now and s.tier not in done)


# ================================================================ clearing


def may_clear(
    warning: OpenWarning,
    *,
    current_level: str,
    overdue_alarm_ids: Iterable[str] = (),
    offline: bool = False,
) -> Clearance:
    """Whether the warning may be cleared (消警): feedback exists and its cause has gone.

    The cause of a level warning (level_rise, red) has gone when the level is back below the
    warning's level; of alarm_overdue when none of its alarms is still overdue; of offline when
    the enterprise is online again.
    """
    if warning.fed_back_at is None or warning.fed_back_at < warning.since:
        return Clearance(
            allowed=False,
            reason_zh="企业尚未反馈，不能消警",
            reason_en="no feedback from the enterprise yet: cannot clear",
        )
    zh, en = LEVEL_NAMES[warning.level]
    if warning.trigger in LEVEL_TRIGGERS and level_rank(current_level) >= level_rank(warning.level):
        now_zh, now_en = LEVEL_NAMES[current_level]
        return Clearance(
            allowed=False,
            reason_zh=f"当前风险等级{now_zh}未降至{zh}以下",
            reason_en=f"the level is {now_en}, not yet below {en}",
        )
    if warning.trigger == "alarm_overdue":
        still = [r for r in warning.refs if r in {str(i) for i in overdue_alarm_ids}]
        if still:
            return Clearance(
                allowed=False,
                reason_zh=f"报警 {'、'.join(still)} 仍超期未处置",
                reason_en=f"alarm {', '.join(still)} still overdue",
            )
    if warning.trigger == "offline" and offline:
        return Clearance(
            allowed=False, reason_zh="企业仍离线", reason_en="the enterprise is still offline"
        )
    return Clearance(
        allowed=True,
        reason_zh="已反馈且风险已回落，可以消警",
        reason_en="fed back and the cause has gone: may be cleared",
    )
