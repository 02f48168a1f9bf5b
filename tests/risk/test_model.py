"""The risk model: what an enterprise and a province see of its score, level and composition."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from pathlib import Path

import pytest

from risk.limits import EvaluationSettings
from risk.model import (
    AlarmFact,
    CleaningFact,
    EnterpriseInputs,
    HazardFact,
    MissingMeasure,
    RiskInputError,
    RiskModelError,
    SystemFacts,
    default_model,
    duration_text,
    dust_class_of,
    evaluate,
    level_for,
    load_model,
    load_or_keep,
    overdue_alarm_ids,
    parse_model,
    rises,
    summarise_systems,
    what_to_lower,
    with_changes,
)
from risk.predict import PredictionSettings

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=CST)  # a Tuesday, 10:00 in China
MODEL = default_model()
MODEL_TEXT = files("risk").joinpath("model.toml").read_text(encoding="utf-8")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=CST)


def alarm(alarm_id: str, level: str, raised: datetime, **kw: object) -> AlarmFact:
    """An alarm with the default deadlines (acknowledge 30 min, feedback 24 h)."""
    ack, feedback = MODEL.alarm_deadlines.for_alarm(raised)
    fields: dict[str, object] = {"alarm_type": "HIGH", "state": "ACTIVE"} | kw
    return AlarmFact(
        alarm_id=alarm_id,
        level=level,
        raised_at=raised,
        ack_deadline=ack,
        feedback_deadline=feedback,
        **fields,  # type: ignore[arg-type]
    )


def quiet(**kw: object) -> EnterpriseInputs:
    """A small wood workshop with nothing going on: blue."""
    fields: dict[str, object] = {"dust_class": "wood", "workers": 8, "dry_systems": 1} | kw
    return EnterpriseInputs(credit_code="91310114MA1GL0002Y", **fields)  # type: ignore[arg-type]


# The worked example of docs/risk-model.md: an aluminium polishing shop in Baoshan at 10:00.
WORKED = EnterpriseInputs(
    credit_code="91310113MA1GL0001X",
    dust_class="metal",
    al_mg=True,
    workers=45,
    dry_systems=2,
    missing_explosion_measures=(MissingMeasure(system_code="DC02", measures=("isolation_valve",)),),
    alarms=(
        alarm(
            "101",
            "HA",
            at(10, 7),
            indicator="HOPPER_TEMP",
            system_code="DC01",
            mandatory=True,
            state="HANDLING",
            acknowledged_at=at(10, 7, 10),
            condition_active=False,
            cleared_at=at(10, 7, 20),
        ),
        alarm(
            "102",
            "LA",
            at(10, 9, 10),
            alarm_type="LOW",
            indicator="DP_IN_OUT",
            system_code="DC02",
            mandatory=True,
        ),
        alarm(
            "103",
            "HA",
            at(9, 4),
            alarm_type="SWITCH",
            indicator="AIRLOCK_FAULT",
            system_code="DC01",
            mandatory=True,
            state="HANDLING",
            acknowledged_at=at(9, 4, 20),
            condition_active=False,
            cleared_at=at(9, 4, 30),
        ),
        alarm(
            "104",
            "HHA",
            at(7, 15),
            indicator="HOPPER_TEMP",
            system_code="DC02",
            mandatory=True,
            state="CLOSED",
            verification="REAL",
            acknowledged_at=at(7, 15, 10),
            fed_back_at=at(7, 18),
            closed_at=at(8, 9),
            condition_active=False,
            cleared_at=at(7, 15, 20),
        ),
        alarm(
            "105",
            "OFFLINE",
            at(10, 4),
            alarm_type="OFFLINE",
            state="HANDLING",
            acknowledged_at=at(10, 4, 15),
            condition_active=False,
            cleared_at=at(10, 6),
        ),
    ),
    offline_share_24h=2 / 24,
    cleaning_completion=0.75,
    overdue_cleanings=(CleaningFact(task_id="C-0310-07", zone="21", item="DC01 灰斗周边地面"),),
)


def points(evaluation_inputs: EnterpriseInputs) -> dict[str, list[tuple[str, str, float]]]:
    result = evaluate(MODEL, evaluation_inputs, NOW)
    return {
        name: [(c.kind, c.ref, c.points) for c in comp.contributions]
        for name, comp in result.components.items()
    }


# ---------------------------------------------------------------- the model file


def test_default_model_carries_its_version_and_the_files_fingerprint() -> None:
    assert MODEL.version == "2026.1-default"
    assert MODEL.fingerprint == hashlib.sha256(MODEL_TEXT.encode()).hexdigest()
    shown = json.loads(json.dumps(MODEL.as_dict()))
    assert shown["version"] == "2026.1-default"
    assert shown["fingerprint"] == MODEL.fingerprint
    assert shown["sections"]["weights"]["basis"] == ["SEED", "DEFAULT"]
    assert shown["sections"]["levels"] | {"basis": None, "note": None} == {
        "red": 80,
        "orange": 60,
        "yellow": 40,
        "blue": 0,
        "basis": None,
        "note": None,
    }


def test_every_table_says_where_its_numbers_come_from() -> None:
    def tables(node: Mapping[str, object], path: str) -> list[tuple[str, Mapping[str, object]]]:
        inner = [(f"{path}.{k}".lstrip("."), v) for k, v in node.items() if isinstance(v, Mapping)]
        settles = path and any(not isinstance(v, Mapping) for v in node.values())
        return [(path, node)] * bool(settles) + [t for p, v in inner for t in tables(v, p)]

    settled = tables(MODEL.document, "")
    assert len(settled) == 27
    assert [p for p, t in settled if not t.get("basis") or not t.get("note")] == []


def test_a_model_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "jiangsu.toml"
    path.write_text(MODEL_TEXT.replace('"2026.1-default"', '"2026.2-js"'), encoding="utf-8")
    model = load_model(path)
    assert (model.version, model.source) == ("2026.2-js", str(path))
    assert load_model(str(path)).fingerprint == model.fingerprint


BAD_FILES = [
    ("inherent = 0.40\n", "inherent = 0.50\n", "weights", "sum to 1"),
    ("yellow = 40\n", "", "levels.yellow", "missing level"),
    (
        'cap = 100\nbasis = ["SEED", "DEFAULT"]',
        'cap = 100\nwieght = 1\nbasis = ["SEED", "DEFAULT"]',
        "alarm.wieght",
        "unknown key",
    ),
    (
        "per_missing_measure = 10\n",
        "per_missing_measure = -10\n",
        "inherent.per_missing_measure",
        "negative",
    ),
    ("orange = 60\n", "orange = 85\n", "levels.red", "must be above levels.orange"),
    (
        "mandatory_multiplier = 1.5\n",
        'mandatory_multiplier = "1.5"\n',
        "alarm.mandatory_multiplier",
        "must be a number",
    ),
    ("HHA = 30\n", "", "alarm.level_points.HHA", "missing"),
    (
        'spark_indicator = "SPARK_DET"',
        'spark_indicator = "SPARKS"',
        "overrides.spark_without_extinguisher.spark_indicator",
        "not an indicator",
    ),
    ('after = "30m"', 'after = "half an hour"', "overrides.sustained_critical.after", "duration"),
    (
        'escalation = [{ after = "8h", tier = "city" }]',
        'escalation = [{ after = "8h", tier = "county" }]',
        "warnings.time_limits.orange.escalation[0].tier",
        "must be above county",
    ),
    ('REAL = "raised"', 'REAL = "maybe"', "alarm.closed_as.REAL", "neither"),
    ("version = ", "versio = ", "versio", "unknown key"),
]


@pytest.mark.parametrize(("old", "new", "field", "reason"), BAD_FILES)
def test_a_bad_model_file_is_refused_naming_the_field_and_reason(
    old: str, new: str, field: str, reason: str
) -> None:
    assert old in MODEL_TEXT
    with pytest.raises(RiskModelError) as refused:
        parse_model(MODEL_TEXT.replace(old, new, 1), source="province.toml")
    assert refused.value.field == field
    assert reason in refused.value.problem
    assert str(refused.value).startswith("风险模型无效 invalid risk model (province.toml)")


def test_a_cap_outside_0_to_100_is_refused() -> None:
    text = MODEL_TEXT.replace(
        'cap = 100\nbasis = ["SEED", "FOUND"', 'cap = 120\nbasis = ["SEED", "FOUND"'
    )
    with pytest.raises(RiskModelError, match=r"inherent\.cap: a cap must lie in \(0, 100\]"):
        parse_model(text)


def test_the_alarm_evaluation_numbers_load_from_the_model_file() -> None:
    settings = MODEL.evaluation
    assert settings.clear_after == timedelta(minutes=5)
    assert settings.over_range_after == timedelta(seconds=60)
    assert settings.fault_after == timedelta(0)
    assert settings.rate_resolution == timedelta(seconds=10)
    assert settings.zero_fraction == 0.01
    assert settings.prediction.horizon == timedelta(minutes=30)
    assert settings.prediction.min_buckets == 8
    assert settings.prediction.min_r2 == 0.8
    sections = json.loads(json.dumps(MODEL.as_dict()))["sections"]
    assert sections["evaluation"]["clear_after"] == "5m"
    assert sections["evaluation"]["basis"] == ["DEFAULT"]
    assert sections["early_warning"]["horizon"] == "30m"
    assert sections["early_warning"]["note"]


def test_the_shipped_evaluation_numbers_are_the_code_defaults() -> None:
    # Pure tests build EvaluationSettings() directly; the platform reads the model file. Neither
    # may drift from the other, and every field of the settings must be a key of the file (a field
    # the parser does not read would silently keep its code default).
    doc = tomllib.loads(MODEL_TEXT)
    for section, settings in (
        ("evaluation", EvaluationSettings()),
        ("early_warning", PredictionSettings()),
    ):
        names = {f.name for f in fields(settings)} - {"prediction"}
        assert set(doc[section]) - {"basis", "note"} == names, section
    assert MODEL.evaluation == EvaluationSettings()
    assert MODEL.evaluation.prediction == PredictionSettings()


def test_a_province_changes_the_evaluation_numbers_in_the_file() -> None:
    text = (
        MODEL_TEXT.replace('clear_after = "5m"', 'clear_after = "10m"')
        .replace('fault_after = "0s"', 'fault_after = "30s"')
        .replace('horizon = "30m"', 'horizon = "1.5h"')
        .replace("min_r2 = 0.8", "min_r2 = 0.9")
    )
    settings = parse_model(text).evaluation
    assert settings.clear_after == timedelta(minutes=10)
    assert settings.fault_after == timedelta(seconds=30)
    assert settings.prediction.horizon == timedelta(minutes=90)
    assert settings.prediction.min_r2 == 0.9
    assert settings.max_gap == EvaluationSettings().max_gap


BAD_EVALUATION = [
    ('clear_after = "5m"', 'clear_after = "-5m"', "evaluation.clear_after", "negative"),
    ('over_range_after = "60s"', 'over_range_after = "0s"', "evaluation.over_range_after", "zero"),
    ('fault_after = "0s"', 'fault_after = "-1s"', "evaluation.fault_after", "negative"),
    ('max_gap = "15m"', "max_gap = 15", "evaluation.max_gap", "duration"),
    ('max_gap = "15m"', 'max_gap = "15 minutes"', "evaluation.max_gap", "duration"),
    ('clear_after = "5m"', 'clear_afterwards = "5m"', "evaluation.clear_afterwards", "unknown"),
    ('clear_after = "5m"\n', "", "evaluation.clear_after", "missing"),
    ('rate_min_span = "1m"', 'rate_min_span = "3m"', "evaluation.rate_min_span", "rate_window"),
    ('rate_resolution = "10s"', 'rate_resolution = "90s"', "evaluation.rate_resolution", "half"),
    ("zero_fraction = 0.01", "zero_fraction = 1.0", "evaluation.zero_fraction", "[0, 1)"),
    ("zero_fraction = 0.01", "zero_fraction = -0.01", "evaluation.zero_fraction", "negative"),
    ("min_r2 = 0.8", "min_r2 = 1.5", "early_warning.min_r2", "[0, 1]"),
    ("min_buckets = 8", "min_buckets = 2", "early_warning.min_buckets", "at least 3"),
    ("min_buckets = 8", "min_buckets = 8.5", "early_warning.min_buckets", "whole number"),
    ("min_buckets = 8", "min_buckets = 30", "early_warning.min_buckets", "20 buckets"),
    ('min_span = "20m"', 'min_span = "25m"', "early_warning.min_span", "early_warning.window"),
    ('bucket = "1m"', 'bucket = "30m"', "early_warning.bucket", "early_warning.window"),
    ('horizon = "30m"', 'horizon = "0m"', "early_warning.horizon", "zero"),
    ("confidence_z = 2.0", 'confidence_z = "2"', "early_warning.confidence_z", "number"),
    ("clear_factor = 1.5", "clear_factor = 0.5", "early_warning.clear_factor", "at least 1"),
    ('persistence = "2m"', 'persistance = "2m"', "early_warning.persistance", "unknown"),
    (
        'basis = ["DEFAULT"]\nnote = "warn',
        'basis = ["GUESS"]\nnote = "warn',
        "early_warning.basis",
        "tags",
    ),
    ("[early_warning]", "[early_warnings]", "early_warnings", "unknown"),
]


@pytest.mark.parametrize(("old", "new", "field", "reason"), BAD_EVALUATION)
def test_a_bad_evaluation_number_is_refused_naming_the_field(
    old: str, new: str, field: str, reason: str
) -> None:
    assert MODEL_TEXT.count(old) == 1
    with pytest.raises(RiskModelError) as refused:
        parse_model(MODEL_TEXT.replace(old, new), source="province.toml")
    assert refused.value.field == field
    assert reason in refused.value.problem


def test_durations_are_written_back_the_way_the_file_writes_them() -> None:
    assert [
        duration_text(timedelta(seconds=s)) for s in (0, 10, 60, 90, 300, 3600, 5400, 86400, 1.5)
    ] == ["0s", "10s", "1m", "90s", "5m", "1h", "90m", "1d", "1.5s"]


def test_a_refused_file_leaves_the_model_in_force(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(MODEL_TEXT.replace("management = 0.20", "management = 0.30"), encoding="utf-8")
    model, reason = load_or_keep(MODEL, path)
    assert model is MODEL
    assert reason is not None
    assert "weights" in str(reason)
    missing, why = load_or_keep(MODEL, tmp_path / "absent.toml")
    assert missing is MODEL
    assert why is not None
    assert why.field == "file"


# ---------------------------------------------------------------- the worked example


def test_the_worked_example_matches_the_hand_computation() -> None:
    result = evaluate(MODEL, WORKED, NOW)
    assert points(WORKED) == {
        "inherent": [
            ("dust_class", "dust_class", 40.0),
            ("workers", "workers", 25.0),
            ("dry_systems", "dry_systems", 10.0),
            ("missing_measure", "DC02:isolation_valve", 10.0),
        ],
        "alarm": [
            ("alarm", "101", 22.5),  # HA 15 × 1.5 (mandatory), within 24 h
            ("alarm", "102", 22.5),  # LA 15 × 1.5
            ("alarm_unacknowledged", "102", 10.0),  # ack deadline 09:40 passed
            ("alarm", "103", 5.63),  # HA 15 × 0.25 (30 h ago) × 1.5 = 5.625
            ("alarm_feedback_overdue", "103", 20.0),  # feedback deadline 03-10 04:00 passed
            ("alarm", "104", 11.25),  # HHA 30 × 0.25 (3 days ago) × 1.5, closed as real
            ("alarm", "105", 10.0),  # offline 04:00–06:00: 2 h × 5
        ],
        "management": [
            ("cleaning_completion", "cleaning_completion", 15.0),  # (1 − 0.75) × 60
            ("overdue_cleaning", "C-0310-07", 20.0),
        ],
    }
    comps = result.components
    assert (comps["inherent"].raw, comps["inherent"].value) == (85.0, 85.0)
    assert (comps["alarm"].raw, comps["alarm"].value) == (101.88, 100.0)  # capped
    assert (comps["management"].raw, comps["management"].value) == (35.0, 35.0)
    assert result.score == 81.0  # 0.4 × 85 + 0.4 × 100 + 0.2 × 35 = 34 + 40 + 7
    assert (result.level, result.level_by_score, result.overrides) == ("red", "red", ())
    assert result.model_version == "2026.1-default"


def test_the_enterprise_sees_what_lowers_its_score_most() -> None:
    levers = what_to_lower(evaluate(MODEL, WORKED, NOW))
    assert [(lv.action_en, lv.score_delta) for lv in levers] == [
        ("handle and feed back on alarm 103 (−7.2)", 7.2),  # 101.88 − 20 → 81.9 (under the cap)
        ("do and check in cleaning task C-0310-07 (−4)", 4.0),
        ("fit isolation valve on DC02 (−4)", 4.0),
        ("acknowledge alarm 102 (−3.2)", 3.2),  # 101.88 − 10 → 91.9: the cap ate 1.88
        ("complete and check in today's due cleaning tasks (−3)", 3.0),
    ]
    assert levers[0].action_zh == "处置并反馈报警 103（−7.2 分）"


def test_what_if_closing_an_alarm_lowers_the_score_and_says_by_how_much() -> None:
    before = evaluate(MODEL, WORKED, NOW)
    after = evaluate(MODEL, with_changes(WORKED, at=NOW, close_alarms=[103]), NOW)
    assert after.score == 73.8
    assert before.score - after.score == pytest.approx(7.2)
    assert ("alarm_feedback_overdue", "103", 20.0) not in points(
        with_changes(WORKED, at=NOW, close_alarms=["103"])
    )["alarm"]


def test_what_if_three_things_are_done_today_the_enterprise_is_orange() -> None:
    changed = with_changes(
        WORKED,
        at=NOW,
        feed_back_alarms=["103"],
        acknowledge_alarms=["102"],
        check_in_cleanings=["C-0310-07"],
    )
    result = evaluate(MODEL, changed, NOW)
    assert result.components["alarm"].value == 71.9  # 101.88 − 20 − 10
    assert result.components["management"].value == 15.0
    assert (result.score, result.level) == (65.8, "orange")  # 34 + 28.76 + 3
    assert WORKED.alarms[1].state == "ACTIVE"  # the real inputs are untouched


def test_what_if_names_an_alarm_the_enterprise_does_not_have() -> None:
    with pytest.raises(RiskInputError, match="no alarm 999"):
        with_changes(WORKED, at=NOW, close_alarms=[999])


def test_evaluation_is_deterministic_and_its_fingerprint_ignores_the_time() -> None:
    first = evaluate(MODEL, WORKED, NOW)
    again = evaluate(MODEL, WORKED, NOW)
    assert first == again
    assert first.as_dict() == again.as_dict()
    later = evaluate(MODEL, WORKED, NOW + timedelta(seconds=1))
    assert later.result_fingerprint() == first.result_fingerprint()
    assert json.loads(json.dumps(first.as_dict(), ensure_ascii=False))["score"] == 81.0


# ---------------------------------------------------------------- levels and caps


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0, "blue"),
        (39.9, "blue"),
        (40, "yellow"),
        (59.9, "yellow"),
        (60, "orange"),
        (79.9, "orange"),
        (80, "red"),
        (100, "red"),
    ],
)
def test_level_boundaries(score: float, level: str) -> None:
    assert level_for(score) == level
    assert MODEL.level_for(score) == level


def test_rises_orders_blue_below_yellow_below_orange_below_red() -> None:
    assert rises("blue", "yellow")
    assert rises("orange", "red")
    assert rises(None, "yellow")
    assert not rises(None, "blue")
    assert not rises("red", "orange")
    assert not rises("yellow", "yellow")


HEAVY = dict(
    dust_class="metal",
    al_mg=True,
    workers=120,
    dry_systems=4,
    indoor_central_dry=("DC01",),
    positive_pressure_without_spark_ext=("DC03",),
    missing_explosion_measures=(
        MissingMeasure(system_code="DC02", measures=("venting", "inerting", "suppression")),
        MissingMeasure(system_code="DC04", measures=("airlock",)),
    ),
    alarms=(
        alarm(
            "1",
            "HHA",
            at(10, 9),
            indicator="HOPPER_TEMP",
            mandatory=True,
            condition_active=False,
            cleared_at=at(10, 9, 5),
            state="HANDLING",
        ),
        alarm(
            "2",
            "HHA",
            at(10, 9, 30),
            indicator="HOPPER_TEMP",
            mandatory=True,
            condition_active=False,
            cleared_at=at(10, 9, 35),
            state="HANDLING",
        ),
    ),
)


def test_scores_of_80_and_79_9_fall_either_side_of_red() -> None:
    # inherent 120 capped at 100 → 40; alarm 45 + 45 = 90 → 36
    red = evaluate(
        MODEL,
        quiet(
            **HEAVY,
            cleaning_completion=1.0,
            overdue_cleanings=(CleaningFact(task_id="T1", zone="20"),),
        ),
        NOW,
    )
    orange = evaluate(MODEL, quiet(**HEAVY, cleaning_completion=0.675), NOW)
    assert (red.components["inherent"].raw, red.components["inherent"].value) == (120.0, 100.0)
    assert red.components["alarm"].value == 90.0
    assert (red.score, red.level) == (80.0, "red")  # + 0.2 × 20
    assert (orange.score, orange.level) == (79.9, "orange")  # + 0.2 × 19.5


def test_each_component_is_capped_and_a_capped_lever_says_it_lowers_nothing() -> None:
    many = tuple(
        alarm(str(i), "HHA", at(10, 8, i), indicator="HOPPER_TEMP", mandatory=True)
        for i in range(5)
    )  # 5 × 45 + 5 × unacknowledged 10 = 275
    result = evaluate(MODEL, quiet(alarms=many), NOW)
    assert (result.components["alarm"].raw, result.components["alarm"].value) == (275.0, 100.0)
    assert what_to_lower(result) == []  # acknowledging one alarm leaves 265: still 100


def test_overdue_cleanings_and_hazards_count_up_to_their_maximum() -> None:
    result = evaluate(
        MODEL,
        quiet(
            cleaning_completion=0.5,
            overdue_cleanings=(
                CleaningFact(task_id="T1", zone="20"),
                CleaningFact(task_id="T2", zone="21"),
                CleaningFact(task_id="T3", zone="22"),  # zone 22 is not counted apart
            ),
        ),
        NOW,
    )
    management = result.components["management"]
    assert [(c.ref, c.points) for c in management.contributions] == [
        ("cleaning_completion", 30.0),
        ("T1", 20.0),
        ("T2", 0.0),
    ]
    assert "maximum 20" in management.contributions[2].explanation_en
    lever = next(lv for lv in what_to_lower(result) if lv.kind == "overdue_cleaning")
    assert (lever.refs, lever.score_delta) == (("T1", "T2"), 4.0)


# ---------------------------------------------------------------- overrides


def test_an_explosion_device_activation_makes_the_enterprise_red() -> None:
    vent = alarm(
        "9",
        "EXPLOSION",
        at(10, 9, 55),
        alarm_type="EXPLOSION",
        indicator="VENT_BURST",
        system_code="DC01",
    )
    result = evaluate(MODEL, quiet(alarms=(vent,)), NOW)
    assert (result.level_by_score, result.level) == ("blue", "red")
    assert [(o.rule, o.level, o.refs) for o in result.overrides] == [
        ("explosion_device", "red", ("9",))
    ]
    closed = with_changes(quiet(alarms=(vent,)), at=NOW, close_alarms=["9"])
    assert evaluate(MODEL, closed, NOW).overrides == ()


def test_a_spark_while_the_extinguisher_is_faulty_makes_the_enterprise_red() -> None:
    fault = alarm(
        "20", "HA", at(10, 8), alarm_type="SWITCH", indicator="SPARK_EXT", system_code="DC01"
    )
    spark = alarm(
        "21", "HA", at(10, 9, 50), alarm_type="SWITCH", indicator="SPARK_DET", system_code="DC01"
    )
    elsewhere = replace(spark, system_code="DC02")
    assert evaluate(MODEL, quiet(alarms=(fault, spark)), NOW).level == "red"
    assert evaluate(MODEL, quiet(alarms=(fault, spark)), NOW).overrides[0].refs == ("21", "20")
    assert evaluate(MODEL, quiet(alarms=(fault, elsewhere)), NOW).overrides == ()


def test_a_hopper_temperature_hha_unresolved_30_minutes_makes_at_least_orange() -> None:
    hot = alarm(
        "30", "HHA", NOW - timedelta(minutes=30), indicator="HOPPER_TEMP", system_code="DC01"
    )
    young = replace(hot, raised_at=NOW - timedelta(minutes=29))
    assert evaluate(MODEL, quiet(alarms=(hot,)), NOW).level == "orange"
    assert evaluate(MODEL, quiet(alarms=(young,)), NOW).level == "blue"
    assert (
        evaluate(MODEL, quiet(alarms=(replace(hot, condition_active=False),)), NOW).level == "blue"
    )


def test_water_flow_zero_while_running_30_minutes_makes_at_least_orange() -> None:
    dry_tank = alarm(
        "31", "HHA", NOW - timedelta(minutes=40), alarm_type="ZERO_RUNNING", indicator="WATER_FLOW"
    )
    result = evaluate(MODEL, quiet(alarms=(dry_tank,)), NOW)
    assert result.level == "orange"
    assert result.overrides[0].rule == "sustained_critical"


def test_an_open_major_hidden_danger_makes_at_least_orange_and_rectifying_lifts_it() -> None:
    inputs = quiet(open_major_hazards=(HazardFact(hazard_id="H-7", title="干式除尘器未设泄爆"),))
    result = evaluate(MODEL, inputs, NOW)
    assert (result.level_by_score, result.level) == ("blue", "orange")
    lever = what_to_lower(result)[0]
    assert (lever.refs, lever.lifts) == (("H-7",), ("major_hazard",))
    assert (
        evaluate(MODEL, with_changes(inputs, at=NOW, rectify_hazards=["H-7"]), NOW).level == "blue"
    )


def test_an_override_never_lowers_the_level() -> None:
    inputs = quiet(
        **HEAVY, cleaning_completion=0.0, open_major_hazards=(HazardFact(hazard_id="H-1"),)
    )
    assert evaluate(MODEL, inputs, NOW).level == "red"


# ---------------------------------------------------------------- how alarms count


def test_closed_false_alarms_and_maintenance_alarms_do_not_count() -> None:
    false = alarm(
        "40", "HHA", at(10, 8), state="CLOSED", verification="FALSE_ALARM", condition_active=False
    )
    maintenance = alarm("41", "HHA", at(10, 8), suppressed=True)
    open_false = alarm("42", "HHA", at(10, 9, 50), verification="FALSE_ALARM", state="HANDLING")
    result = evaluate(MODEL, quiet(alarms=(false, maintenance, open_false)), NOW)
    assert [(c.ref, c.kind, c.points) for c in result.components["alarm"].contributions] == [
        ("40", "alarm_not_counted", 0.0),
        ("41", "alarm_not_counted", 0.0),
        ("42", "alarm", 30.0),  # a verification counts only once the loop is closed
    ]


def test_a_forecast_counts_until_the_alarm_it_foresaw_arrives() -> None:
    forecast = alarm(
        "50", "PREDICTED", at(10, 9, 50), alarm_type="PREDICTED", point="p-1", mandatory=True
    )
    assert points(quiet(alarms=(forecast,)))["alarm"] == [("alarm", "50", 7.5)]  # 5 × 1.5
    real = alarm("51", "HA", at(10, 9, 55), point="p-1", mandatory=True)
    assert points(quiet(alarms=(forecast, real)))["alarm"] == [
        ("alarm_not_counted", "50", 0.0),
        ("alarm", "51", 22.5),
    ]


def test_offline_more_than_a_fifth_of_the_day_adds_its_points() -> None:
    assert points(quiet(offline_share_24h=0.25))["alarm"] == [
        ("offline_share", "offline_share_24h", 15.0)
    ]
    assert points(quiet(offline_share_24h=0.2))["alarm"] == []


def test_alarms_older_than_a_week_count_only_their_penalties() -> None:
    old = alarm(
        "60", "HHA", at(1, 8), state="HANDLING", condition_active=False, cleared_at=at(1, 9)
    )
    assert points(quiet(alarms=(old,)))["alarm"] == [("alarm_feedback_overdue", "60", 20.0)]
    assert overdue_alarm_ids((old,), NOW) == ("60",)


def test_inputs_the_model_cannot_score_are_refused() -> None:
    with pytest.raises(RiskInputError, match="level 'SEVERE' has no points"):
        evaluate(MODEL, quiet(alarms=(alarm("70", "SEVERE", at(10, 9)),)), NOW)
    with pytest.raises(RiskInputError, match="time zone"):
        evaluate(MODEL, quiet(), datetime(2026, 3, 10, 10))
    with pytest.raises(RiskInputError, match="metal"):
        quiet(al_mg=True)
    with pytest.raises(RiskInputError, match="state"):
        alarm("71", "HA", at(10, 9), state="OPEN")


# ---------------------------------------------------------------- from the registry's records


def test_systems_and_dust_types_become_inherent_inputs() -> None:
    summary = summarise_systems(
        MODEL,
        [
            SystemFacts(
                system_code="DC01",
                collector="dry",
                indoor=True,
                central=True,
                explosion_protection=("venting", "isolation_valve", "airlock"),
            ),
            SystemFacts(
                system_code="DC02",
                collector="dry",
                pressure="positive",
                explosion_protection=("suppression", "spark_detection"),
            ),
            SystemFacts(system_code="WC01", collector="wet"),
        ],
    )
    assert summary.dry_systems == 2
    assert summary.indoor_central_dry == ("DC01",)
    assert summary.positive_pressure_without_spark_ext == ("DC02",)
    assert [m.ref for m in summary.missing_explosion_measures] == [
        "DC02:isolation_valve",
        "DC02:airlock",
    ]
    assert dust_class_of(["wood", "aluminium"]) == ("metal", True)
    assert dust_class_of(["iron"]) == ("metal", False)
    assert dust_class_of(["wood", "flour"]) == ("wood", False)
    assert dust_class_of(["flour"]) == ("other", False)
