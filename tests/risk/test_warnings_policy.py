"""Warnings (预警): what is raised, to which regulator, when it escalates and when it may clear."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from risk.model import (
    EnterpriseInputs,
    Evaluation,
    HazardFact,
    RiskInputError,
    default_model,
    evaluate,
)
from risk.warnings_policy import (
    EscalationRecord,
    OpenWarning,
    WarningDecision,
    decide_warnings,
    escalation_plan,
    escalations_due,
    may_clear,
    offline_in_production,
    regulator_adcode,
)

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=CST)  # a Tuesday, 10:00 in China
MODEL = default_model()
BAOSHAN = "310113"  # 上海市宝山区: districts directly under the municipality
WUZHONG = "320506"  # 江苏省苏州市吴中区: county, city, province


def scored(level: str) -> Evaluation:
    """An evaluation at ``level``: a real evaluation whose level is set by an override or score."""
    inputs = EnterpriseInputs(credit_code="91310113MA1GL0001X", dust_class="wood", workers=8)
    if level in ("orange", "red"):
        inputs = EnterpriseInputs(
            credit_code=inputs.credit_code,
            dust_class="wood",
            open_major_hazards=(HazardFact(hazard_id="H-1"),),
        )
    result = evaluate(MODEL, inputs, NOW)
    return Evaluation(
        credit_code=result.credit_code,
        score=result.score,
        level=level,
        level_by_score=result.level_by_score,
        components=result.components,
        overrides=result.overrides,
        model_version=result.model_version,
        model_fingerprint=result.model_fingerprint,
        evaluated_at=NOW,
    )


def decide(
    previous: str | None,
    level: str,
    *,
    adcode: str = BAOSHAN,
    open_warnings: tuple[OpenWarning, ...] = (),
    overdue: tuple[str, ...] = (),
    offline_since: datetime | None = None,
    now: datetime = NOW,
) -> WarningDecision:
    return decide_warnings(
        MODEL,
        adcode=adcode,
        previous_level=previous,
        evaluation=scored(level),
        open_warnings=open_warnings,
        overdue_alarm_ids=overdue,
        offline_since=offline_since,
        now=now,
    )


def opened(trigger: str, level: str, **kw: object) -> OpenWarning:
    fields: dict[str, object] = {"raised_at": NOW - timedelta(hours=1)} | kw
    return OpenWarning(warning_id="w1", trigger=trigger, level=level, **fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------- regulator tiers


@pytest.mark.parametrize(
    ("adcode", "county", "city", "province"),
    [
        (WUZHONG, "320506", "320500", "320000"),
        (BAOSHAN, "310113", "310000", "310000"),  # the municipal bureau is scoped 310000
        ("500101", "500101", "500000", "500000"),  # 重庆万州: districts under the municipality
        ("419001", "419001", "410000", "410000"),  # 济源: a county-level city under its province
        ("320500", "320500", "320500", "320000"),  # an enterprise registered at city level
    ],
)
def test_regulator_adcodes_per_tier(adcode: str, county: str, city: str, province: str) -> None:
    tiers = ("county", "county_lead", "city", "province", "ministry")
    assert [regulator_adcode(adcode, t) for t in tiers] == [
        county,
        county,
        city,
        province,
        "000000",
    ]


def test_an_unknown_adcode_is_refused() -> None:
    with pytest.raises(RiskInputError, match="999999"):
        regulator_adcode("999999", "county")


# ---------------------------------------------------------------- raising


def test_a_rise_raises_a_warning_with_the_levels_deadlines_to_the_county() -> None:
    decision = decide("blue", "yellow")
    assert decision.upgrades == ()
    (warning,) = decision.new
    assert (warning.trigger, warning.level, warning.tier, warning.tier_adcode) == (
        "level_rise",
        "yellow",
        "county",
        "310113",
    )
    assert warning.ack_deadline == NOW + timedelta(hours=1)
    assert warning.feedback_deadline == NOW + timedelta(hours=24)
    assert warning.follow_up_deadline == NOW + timedelta(hours=24)
    assert warning.reason_en.startswith("risk level rose from blue (low) to yellow (moderate)")
    assert warning.as_dict()["raised_at"] == NOW.isoformat()


def test_no_warning_when_the_level_stays_or_falls() -> None:
    assert decide("yellow", "yellow") == WarningDecision(new=(), upgrades=())
    assert decide("orange", "yellow") == WarningDecision(new=(), upgrades=())
    assert decide(None, "blue") == WarningDecision(new=(), upgrades=())


def test_a_first_evaluation_above_blue_counts_as_a_rise() -> None:
    assert [w.level for w in decide(None, "orange").new] == ["orange"]


def test_blue_warnings_are_statistics_only() -> None:
    limits = MODEL.warnings.time_limits["blue"]
    assert (limits.follow_up, limits.escalation) == (None, ())


def test_red_raises_one_warning_and_not_again_while_it_is_open() -> None:
    (first,) = decide("orange", "red").new
    assert (first.trigger, first.level) == ("red", "red")
    assert first.ack_deadline == NOW + timedelta(minutes=15)
    assert first.feedback_deadline == NOW + timedelta(hours=2)
    assert decide("red", "red").new[0].trigger == "red"  # red at any evaluation
    still_open = (opened("red", "red"),)
    assert decide("red", "red", open_warnings=still_open).new == ()
    assert decide("orange", "red", open_warnings=still_open).new == ()


def test_a_further_rise_upgrades_the_open_rise_warning() -> None:
    decision = decide("yellow", "orange", open_warnings=(opened("level_rise", "yellow"),))
    assert decision.new == ()
    (upgrade,) = decision.upgrades
    assert (upgrade.warning_id, upgrade.from_level, upgrade.level) == ("w1", "yellow", "orange")
    assert upgrade.ack_deadline == NOW + timedelta(minutes=30)
    assert upgrade.feedback_deadline == NOW + timedelta(hours=4)
    assert decide("yellow", "orange", open_warnings=(opened("level_rise", "orange"),)) == (
        WarningDecision(new=(), upgrades=())
    )


def test_an_overdue_alarm_warns_yellow_once() -> None:
    (warning,) = decide("blue", "blue", overdue=("17", "18")).new
    assert (warning.trigger, warning.level, warning.refs) == (
        "alarm_overdue",
        "yellow",
        ("17", "18"),
    )
    assert warning.reason_zh == "超过处置时限的报警：17、18"
    still_open = (opened("alarm_overdue", "yellow", refs=("17",)),)
    assert decide("blue", "blue", overdue=("17", "18"), open_warnings=still_open).new == ()
    assert [(w.trigger, w.level) for w in decide("orange", "red", overdue=("17",)).new] == [
        ("red", "red"),
        ("alarm_overdue", "yellow"),
    ]


def test_offline_warns_after_an_hour_inside_production_hours() -> None:
    # Tuesday: offline since 07:30, production from 08:00: 1 h 10 min counted at 09:10.
    (warning,) = decide(
        "blue",
        "blue",
        offline_since=NOW.replace(hour=7, minute=30),
        now=NOW.replace(hour=9, minute=10),
    ).new
    assert (warning.trigger, warning.level) == ("offline", "yellow")
    assert warning.reason_en == "offline 1 h 10 min in production hours"
    # Offline 19:30–21:00 is 30 min in production hours; Sunday is no production day; 19:30
    # to 09:30 the next morning is 30 min + 1 h 30 min.
    evening = NOW.replace(hour=19, minute=30)
    assert (
        decide(
            "blue", "blue", offline_since=evening, now=evening + timedelta(hours=1, minutes=30)
        ).new
        == ()
    )
    sunday = datetime(2026, 3, 8, 9, 0, tzinfo=CST)
    assert decide("blue", "blue", offline_since=sunday, now=sunday + timedelta(hours=5)).new == ()
    assert offline_in_production(MODEL, evening, evening + timedelta(hours=14)) == timedelta(
        hours=2
    )


# ---------------------------------------------------------------- escalation


def test_red_escalates_to_the_city_at_2_h_and_the_province_at_4_h() -> None:
    raised = NOW
    red = OpenWarning(warning_id="w9", trigger="red", level="red", raised_at=raised)

    def due(at: datetime, warning: OpenWarning = red) -> list[tuple[str, str, datetime]]:
        steps = escalations_due(MODEL, warning, adcode=WUZHONG, now=at)
        return [(s.tier, s.regulator_adcode, s.due_at) for s in steps]

    two, four = raised + timedelta(hours=2), raised + timedelta(hours=4)
    assert due(raised + timedelta(hours=1, minutes=59)) == []
    assert due(two) == [("city", "320500", two)]
    to_city = EscalationRecord(tier="city", regulator_adcode="320500", at=two)
    recorded = OpenWarning(
        warning_id="w9", trigger="red", level="red", raised_at=raised, escalations=(to_city,)
    )
    assert due(raised + timedelta(hours=3), recorded) == []
    assert due(four, recorded) == [("province", "320000", four)]
    assert due(four) == [("city", "320500", two), ("province", "320000", four)]
    fed_back = OpenWarning(
        warning_id="w9",
        trigger="red",
        level="red",
        raised_at=raised,
        fed_back_at=raised + timedelta(hours=3),
        escalations=(to_city,),
    )
    assert due(four, fed_back) == []


def test_a_shanghai_red_warning_reaches_the_municipal_bureau_once() -> None:
    plan = escalation_plan(MODEL, level="red", since=NOW, adcode=BAOSHAN)
    assert [(s.requested_tier, s.tier, s.regulator_adcode, s.due_at) for s in plan] == [
        ("city", "city", "310000", NOW + timedelta(hours=2)),
    ]


def test_a_step_to_an_involved_regulator_moves_up() -> None:
    plan = escalation_plan(MODEL, level="red", since=NOW, adcode="320500")
    assert [(s.requested_tier, s.tier, s.regulator_adcode) for s in plan] == [
        ("city", "province", "320000"),
    ]


def test_orange_yellow_and_blue_escalation_schedules() -> None:
    def plan(level: str) -> list[tuple[str, str, timedelta]]:
        steps = escalation_plan(MODEL, level=level, since=NOW, adcode=WUZHONG)
        return [(s.tier, s.regulator_adcode, s.due_at - NOW) for s in steps]

    assert plan("orange") == [("city", "320500", timedelta(hours=8))]
    assert plan("yellow") == [("county_lead", "320506", timedelta(hours=24))]
    assert plan("blue") == []


def test_an_upgraded_warning_escalates_on_the_new_levels_clock() -> None:
    upgraded = OpenWarning(
        warning_id="w1",
        trigger="level_rise",
        level="orange",
        raised_at=NOW - timedelta(hours=20),
        level_since=NOW - timedelta(hours=1),
        fed_back_at=NOW - timedelta(hours=10),  # feedback under the old level does not count
    )
    assert escalations_due(MODEL, upgraded, adcode=WUZHONG, now=NOW) == ()
    steps = escalations_due(MODEL, upgraded, adcode=WUZHONG, now=NOW + timedelta(hours=7))
    assert [(s.tier, s.due_at) for s in steps] == [("city", NOW + timedelta(hours=7))]


# ---------------------------------------------------------------- clearing


def test_clearing_is_refused_without_feedback_even_when_the_level_dropped() -> None:
    verdict = may_clear(opened("red", "red"), current_level="blue")
    assert not verdict.allowed
    assert verdict.reason_en == "no feedback from the enterprise yet: cannot clear"


def test_clearing_needs_the_level_back_below_the_warnings_level() -> None:
    fed = opened("level_rise", "orange", fed_back_at=NOW)
    assert not may_clear(fed, current_level="orange").allowed
    assert (
        may_clear(fed, current_level="orange").reason_zh
        == "当前风险等级橙色（较大风险）未降至橙色（较大风险）以下"
    )
    assert may_clear(fed, current_level="yellow").allowed


def test_an_overdue_or_offline_warning_clears_when_its_cause_has_gone() -> None:
    overdue = opened("alarm_overdue", "yellow", refs=("17",), fed_back_at=NOW)
    assert not may_clear(overdue, current_level="yellow", overdue_alarm_ids=["17"]).allowed
    assert may_clear(overdue, current_level="yellow", overdue_alarm_ids=["18"]).allowed
    offline = opened("offline", "yellow", fed_back_at=NOW)
    assert not may_clear(offline, current_level="blue", offline=True).allowed
    assert may_clear(offline, current_level="blue").allowed
