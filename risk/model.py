"""The risk model (风险研判模型, domain.md §4): a versioned TOML rule set and its pure evaluation.

``load_model`` reads and checks a model file (``risk/model.toml`` ships the default); ``evaluate``
scores one enterprise's inputs into an ``Evaluation``: a score, a level (红/橙/黄/蓝), three
components and every contribution that made them, so the enterprise sees exactly why it is orange.
Nothing here touches a database or the clock: ``now`` is always passed in.

Exceptions (base ``risk.errors.RiskError``):

- ``RiskModelError``: a model file breaks the model's rules; names the file, the field and why.
- ``RiskInputError``: inputs the model cannot score (an unknown level, a naive datetime, an id a
  what-if names that the inputs do not hold ...).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, get_args

from device_catalog.catalog import load_catalog
from risk.errors import RiskError
from risk.limits import EvaluationSettings
from risk.predict import PredictionSettings
from twins.schemas import METAL_DUSTS, WOOD_DUSTS, ExplosionMeasure

__all__ = [
    "ALARM_STATES",
    "COMPONENTS",
    "LEVELS",
    "TIERS",
    "AlarmFact",
    "CleaningFact",
    "Component",
    "Contribution",
    "EnterpriseInputs",
    "Evaluation",
    "HazardFact",
    "Lever",
    "MissingMeasure",
    "Override",
    "RiskError",
    "RiskInputError",
    "RiskModel",
    "RiskModelError",
    "SystemFacts",
    "SystemsSummary",
    "default_model",
    "dust_class_of",
    "evaluate",
    "higher_level",
    "level_for",
    "level_rank",
    "load_model",
    "load_or_keep",
    "overdue_alarm_ids",
    "parse_model",
    "rises",
    "summarise_systems",
    "what_to_lower",
    "with_changes",
]

MODEL_FILE: Final = "model.toml"

# Levels from the lowest to the highest: the order warnings compare in.
LEVELS: Final = ("blue", "yellow", "orange", "red")
LEVEL_NAMES: Final = MappingProxyType(
    {
        "blue": ("蓝色（低风险）", "blue (low)"),
        "yellow": ("黄色（一般风险）", "yellow (moderate)"),
        "orange": ("橙色（较大风险）", "orange (high)"),
        "red": ("红色（重大风险）", "red (major)"),
    }
)
COMPONENTS: Final = ("inherent", "alarm", "management")
COMPONENT_NAMES: Final = MappingProxyType(
    {
        "inherent": ("固有风险", "inherent risk"),
        "alarm": ("监测报警及处置", "monitoring alarms and their handling"),
        "management": ("现场管理", "on-site management"),
    }
)
BASES: Final = ("SEED", "FOUND", "DEFAULT")
ALARM_STATES: Final = ("ACTIVE", "HANDLING", "FED_BACK", "CLOSED", "REJECTED")
VERIFICATIONS: Final = ("REAL", "FALSE_ALARM", "DEVICE_FAULT", "MAINTENANCE")
# Input dust classes; Al/Mg is a metal flagged apart and scored with the model's "al_mg" points.
DUST_CLASSES: Final = ("metal", "wood", "other")
MODEL_DUST_CLASSES: Final = ("al_mg", *DUST_CLASSES)
# Regulator tiers from the lowest; county_lead is the county bureau's leadership.
TIERS: Final = ("county", "county_lead", "city", "province", "ministry")
# Alarm levels every model must give points for (the levels the alarm rules raise).
REQUIRED_ALARM_LEVELS: Final = ("EXPLOSION", "HHA", "LLA", "HA", "LA", "FAULT", "OVER_RANGE")
# Levels of a limit (or explosion) alarm: one of these on a point replaces a PREDICTED alarm.
LIMIT_ALARM_LEVELS: Final = frozenset({"EXPLOSION", "HHA", "HA", "LA", "LLA"})
OFFLINE: Final = "OFFLINE"
EXPLOSION: Final = "EXPLOSION"
CLOSED: Final = "CLOSED"
# States in which the enterprise still owes feedback (REJECTED: its feedback was sent back).
AWAITING_FEEDBACK: Final = frozenset({"ACTIVE", "HANDLING", "REJECTED"})
# Contributions that add up to a subtotal with a maximum act together in what_to_lower.
GROUPED_KINDS: Final = frozenset({"overdue_cleaning", "major_hazard"})

_MEASURES: Final = frozenset(get_args(ExplosionMeasure))
_CODE_RE: Final = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
_DURATION_RE: Final = re.compile(r"^(-?)\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# ================================================================ errors


class RiskModelError(RiskError):
    """A risk-model file that breaks the model's rules (file, field and reason in the message)."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"风险模型无效 invalid risk model ({source}): {field}: {problem}")


class RiskInputError(RiskError):
    """Inputs the model cannot score, or a what-if naming something the inputs do not hold."""


# ================================================================ levels


def level_rank(level: str) -> int:
    """0 for blue … 3 for red; RiskInputError for a name that is no level."""
    try:
        return LEVELS.index(level)
    except ValueError as err:
        raise RiskInputError(f"unknown risk level {level!r}; expected one of {LEVELS}") from err


def rises(old: str | None, new: str) -> bool:
    """True when ``new`` is above ``old``; no previous level counts as blue."""
    return level_rank(new) > level_rank(old or "blue")


def higher_level(*levels: str) -> str:
    """The highest of the levels given."""
    return max(levels, key=level_rank)


# ================================================================ the model


@dataclass(frozen=True, slots=True, kw_only=True)
class Weights:
    """The weight of each component in the score; they sum to 1."""

    inherent: float
    alarm: float
    management: float

    def of(self, component: str) -> float:
        """The weight of the component named."""
        return float(getattr(self, component))


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    """Points for a count of at least ``min`` (the first band reached counts)."""

    min: int
    points: float


@dataclass(frozen=True, slots=True, kw_only=True)
class InherentRules:
    """Points of R_inherent (固有风险)."""

    dust_class: Mapping[str, float] = field(hash=False)
    workers: tuple[Band, ...]
    dry_systems: tuple[Band, ...]
    indoor_central_dry: float
    positive_pressure_without_spark_ext: float
    per_missing_measure: float
    required_measures: tuple[tuple[str, ...], ...]
    spark_measures: tuple[str, ...]
    cap: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmRules:
    """Points of R_alarm (监测报警及处置)."""

    window: timedelta
    history_window: timedelta
    history_fraction: float
    mandatory_multiplier: float
    unacknowledged_overdue: float
    feedback_overdue: float
    offline_per_hour: float
    offline_share: float
    offline_share_points: float
    cap: float
    level_points: Mapping[str, float] = field(hash=False)
    type_points: Mapping[str, float] = field(hash=False)
    closed_as: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagementRules:
    """Points of R_management (现场管理)."""

    cleaning_points: float
    completion_when_no_tasks: float
    overdue_zones: tuple[str, ...]
    overdue_cleaning_points: float
    overdue_cleaning_max: float
    major_hazard_points: float
    major_hazard_max: float
    cap: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Levels:
    """The lowest score of each level."""

    red: float
    orange: float
    yellow: float
    blue: float

    def level_for(self, score: float) -> str:
        """The level a score falls in."""
        for level in reversed(LEVELS):
            if score >= getattr(self, level):
                return level
        return "blue"


@dataclass(frozen=True, slots=True, kw_only=True)
class OverrideRule:
    """A rule that puts a floor under the level."""

    enabled: bool
    level: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SparkRule(OverrideRule):
    """A spark while the extinguishing device of the same system is faulty."""

    spark_indicator: str
    extinguisher_indicator: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmCondition:
    """Which alarms a sustained-condition rule watches (each field given must match)."""

    indicator: str | None = None
    level: str | None = None
    alarm_type: str | None = None

    def matches(self, alarm: AlarmFact) -> bool:
        """True when the alarm has every field this condition gives."""
        return (
            (self.indicator is None or alarm.indicator == self.indicator)
            and (self.level is None or alarm.level == self.level)
            and (self.alarm_type is None or alarm.alarm_type == self.alarm_type)
        )

    def describe(self) -> str:
        """E.g. ``HOPPER_TEMP HHA``."""
        return " ".join(p for p in (self.indicator, self.alarm_type, self.level) if p)


@dataclass(frozen=True, slots=True, kw_only=True)
class SustainedRule(OverrideRule):
    """A critical condition still active ``after`` this long."""

    after: timedelta
    conditions: tuple[AlarmCondition, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Overrides:
    """The four override rules of domain.md §4."""

    explosion_device: OverrideRule
    spark_without_extinguisher: SparkRule
    sustained_critical: SustainedRule
    major_hazard: OverrideRule


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmDeadlines:
    """How long an enterprise has to acknowledge and feed back on an alarm."""

    acknowledge: timedelta
    feedback: timedelta

    def for_alarm(self, raised_at: datetime) -> tuple[datetime, datetime]:
        """(acknowledge deadline, feedback deadline) of an alarm raised at ``raised_at``."""
        return raised_at + self.acknowledge, raised_at + self.feedback


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerRule:
    """One warning trigger: on or off, its warning level (None: the risk level), how long."""

    enabled: bool
    level: str | None = None
    after: timedelta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductionHours:
    """The hours an enterprise is expected to produce (and so to send data), local time."""

    utc_offset: timedelta
    start_min: int
    end_min: int
    weekdays: frozenset[int]

    def overlap(self, since: datetime, until: datetime) -> timedelta:
        """How much of [since, until] falls inside production hours."""
        if until <= since:
            return timedelta(0)
        zone = timezone(self.utc_offset)
        first = since.astimezone(zone).date() - timedelta(
            days=1
        )  # a window may start the day before
        last = until.astimezone(zone).date()
        total = timedelta(0)
        day = first
        while day <= last:
            if day.isoweekday() in self.weekdays:
                midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
                start = midnight + timedelta(minutes=self.start_min)
                end = midnight + timedelta(minutes=self.end_min)
                if end <= start:  # a night shift: ends the next day
                    end += timedelta(days=1)
                total += max(timedelta(0), min(end, until) - max(start, since))
            day += timedelta(days=1)
        return total


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationRule:
    """Escalate (督办) to ``tier`` when no feedback has come ``after`` the warning's raising."""

    after: timedelta
    tier: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeLimit:
    """A warning level's limits: acknowledge, feedback, responsible tier, follow-up, escalation."""

    acknowledge: timedelta
    feedback: timedelta
    tier: str
    follow_up: timedelta | None
    escalation: tuple[EscalationRule, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WarningRules:
    """Warning triggers, production hours and the per-level time limits."""

    level_rise: TriggerRule
    red: TriggerRule
    alarm_overdue: TriggerRule
    offline: TriggerRule
    production_hours: ProductionHours
    time_limits: Mapping[str, TimeLimit] = field(hash=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskModel:
    """One version of the risk model, as loaded and checked from its TOML file."""

    version: str
    name: str
    note: str | None
    fingerprint: str
    source: str
    weights: Weights
    inherent: InherentRules
    alarm: AlarmRules
    management: ManagementRules
    levels: Levels
    overrides: Overrides
    alarm_deadlines: AlarmDeadlines
    warnings: WarningRules
    # The limit evaluation's timing and thresholds ([evaluation]), with the early warning's
    # ([early_warning]) as ``evaluation.prediction``: what risk.limits.evaluate runs with.
    evaluation: EvaluationSettings
    document: Mapping[str, Any] = field(hash=False, repr=False)

    def level_for(self, score: float) -> str:
        """The level a score falls in under this model."""
        return self.levels.level_for(score)

    def as_dict(self) -> dict[str, Any]:
        """The model for the API: version, fingerprint and every section as the file has it."""
        sections = {k: v for k, v in self.document.items() if k not in ("version", "name", "note")}
        return {
            "version": self.version,
            "name": self.name,
            "note": self.note,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "levels": list(LEVELS),
            "sections": json.loads(json.dumps(sections)),
        }


# ---------------------------------------------------------------- loading


@cache
def default_model() -> RiskModel:
    """The model shipped in the package (risk/model.toml), read once."""
    text = files("risk").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    return parse_model(text, source=f"risk/{MODEL_FILE}")


def load_model(source: str | Path) -> RiskModel:
    """A model from a file (a ``Path``, or a ``str`` without a newline) or from TOML text."""
    if isinstance(source, str) and "\n" in source:
        return parse_model(source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RiskModelError(str(path), "file", f"cannot be read: {err}") from err
    return parse_model(text, source=str(path))


def load_or_keep(current: RiskModel, source: str | Path) -> tuple[RiskModel, RiskModelError | None]:
    """The model from ``source``, or ``current`` and the reason when the new one is refused."""
    try:
        return load_model(source), None
    except RiskModelError as err:
        return current, err


def parse_model(text: str, source: str = "<text>") -> RiskModel:
    """A model from the text of a model file; RiskModelError naming the field when invalid."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RiskModelError(source, "syntax", f"not valid TOML: {err}") from err
    return _Parser(source).model(doc, hashlib.sha256(text.encode("utf-8")).hexdigest())


class _BadValueError(Exception):
    """A value that breaks a rule; the parser adds the field."""


_Conv = Callable[[Any], Any]
_SECTION_META = ("basis", "note")


class _Parser:
    """Reads a model document table by table, refusing at the first problem."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> RiskModelError:
        return RiskModelError(self.source, where, problem)

    def table(
        self, where: str, value: object, keys: Iterable[str], *, meta: bool = True
    ) -> dict[str, Any]:
        """The table at ``where``: a dict with no key outside ``keys`` (and basis/note)."""
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table, not {value!r}")
        allowed = set(keys) | (set(_SECTION_META) if meta else set())
        for key in value:
            if key not in allowed:
                raise self.fail(f"{where}.{key}" if where else key, "unknown key")
        if meta:
            self.get(where, value, "basis", _basis)
            self.get(where, value, "note", _text)
        return value

    def get(
        self, where: str, table: Mapping[str, Any], key: str, conv: _Conv, default: Any = ...
    ) -> Any:
        """``table[key]`` converted; missing is an error unless a default is given."""
        name = f"{where}.{key}" if where else key
        if key not in table:
            if default is ...:
                raise self.fail(name, "missing required field")
            return default
        try:
            return conv(table[key])
        except _BadValueError as err:
            raise self.fail(name, str(err)) from err

    def model(self, doc: dict[str, Any], fingerprint: str) -> RiskModel:
        sections = (
            "weights",
            "inherent",
            "alarm",
            "management",
            "levels",
            "overrides",
            "alarm_deadlines",
            "warnings",
            "evaluation",
            "early_warning",
        )
        self.table("", doc, ("version", "name", "note", *sections), meta=False)
        version = self.get("", doc, "version", _text)
        name = self.get("", doc, "name", _text)
        note = self.get("", doc, "note", _text, None)
        for section in sections:
            self.get("", doc, section, lambda v: v)
        levels = self.levels(doc["levels"])
        return RiskModel(
            version=version,
            name=name,
            note=note,
            fingerprint=fingerprint,
            source=self.source,
            weights=self.weights(doc["weights"]),
            inherent=self.inherent(doc["inherent"]),
            alarm=self.alarm(doc["alarm"]),
            management=self.management(doc["management"]),
            levels=levels,
            overrides=self.overrides(doc["overrides"]),
            alarm_deadlines=self.alarm_deadlines(doc["alarm_deadlines"]),
            warnings=self.warnings(doc["warnings"]),
            evaluation=self.evaluation(doc["evaluation"], doc["early_warning"]),
            document=MappingProxyType(doc),
        )

    def weights(self, value: object) -> Weights:
        t = self.table("weights", value, COMPONENTS)
        parts = {c: self.get("weights", t, c, _fraction) for c in COMPONENTS}
        total = math.fsum(parts.values())
        if abs(total - 1) > 1e-9:
            raise self.fail(
                "weights",
                f"the weights must sum to 1 (权重之和须为 1), they sum to {total:.12g}: "
                + ", ".join(f"{c} {w:g}" for c, w in parts.items()),
            )
        return Weights(**parts)

    def inherent(self, value: object) -> InherentRules:
        w = "inherent"
        t = self.table(
            w,
            value,
            (
                "dust_class",
                "workers",
                "dry_systems",
                "indoor_central_dry",
                "positive_pressure_without_spark_ext",
                "per_missing_measure",
                "required_measures",
                "spark_measures",
                "cap",
            ),
        )
        classes = self.table(
            f"{w}.dust_class", self.get(w, t, "dust_class", _any), MODEL_DUST_CLASSES
        )
        dust = {c: self.get(f"{w}.dust_class", classes, c, _points) for c in MODEL_DUST_CLASSES}
        return InherentRules(
            dust_class=MappingProxyType(dust),
            workers=self.bands(f"{w}.workers", self.get(w, t, "workers", _any)),
            dry_systems=self.bands(f"{w}.dry_systems", self.get(w, t, "dry_systems", _any)),
            indoor_central_dry=self.get(w, t, "indoor_central_dry", _points),
            positive_pressure_without_spark_ext=self.get(
                w, t, "positive_pressure_without_spark_ext", _points
            ),
            per_missing_measure=self.get(w, t, "per_missing_measure", _points),
            required_measures=self.get(w, t, "required_measures", _measure_groups),
            spark_measures=self.get(w, t, "spark_measures", _measures),
            cap=self.get(w, t, "cap", _cap),
        )

    def bands(self, where: str, value: object) -> tuple[Band, ...]:
        t = self.table(where, value, ("bands",))
        raw = self.get(where, t, "bands", _list)
        bands: list[Band] = []
        for i, entry in enumerate(raw):
            bt = self.table(f"{where}.bands[{i}]", entry, ("min", "points"), meta=False)
            bands.append(
                Band(
                    min=self.get(f"{where}.bands[{i}]", bt, "min", _count),
                    points=self.get(f"{where}.bands[{i}]", bt, "points", _points),
                )
            )
        if not bands:
            raise self.fail(f"{where}.bands", "needs at least one band")
        for upper, lower in pairwise(bands):
            if not upper.min > lower.min:
                raise self.fail(
                    f"{where}.bands",
                    f"bands must go from the highest min down: {upper.min} then {lower.min}",
                )
        if bands[-1].min != 0:
            raise self.fail(f"{where}.bands", "the last band must have min = 0 (every count fits)")
        return tuple(bands)

    def alarm(self, value: object) -> AlarmRules:
        w = "alarm"
        t = self.table(
            w,
            value,
            (
                "window",
                "history_window",
                "history_fraction",
                "mandatory_multiplier",
                "unacknowledged_overdue",
                "feedback_overdue",
                "offline_per_hour",
                "offline_share",
                "offline_share_points",
                "cap",
                "level_points",
                "type_points",
                "closed_as",
            ),
        )
        level_points = self.code_points(f"{w}.level_points", self.get(w, t, "level_points", _any))
        missing = [lv for lv in REQUIRED_ALARM_LEVELS if lv not in level_points]
        if missing:
            raise self.fail(
                f"{w}.level_points.{missing[0]}", "missing: every alarm level needs its points"
            )
        type_points = self.code_points(f"{w}.type_points", self.get(w, t, "type_points", _any))
        if OFFLINE in type_points:
            raise self.fail(
                f"{w}.type_points.{OFFLINE}", "OFFLINE counts per hour: set alarm.offline_per_hour"
            )
        closed = self.table(f"{w}.closed_as", self.get(w, t, "closed_as", _any), VERIFICATIONS)
        closed_as: dict[str, str] = {}
        for verification in VERIFICATIONS:
            mode = self.get(f"{w}.closed_as", closed, verification, _text)
            if mode not in ("raised", "none") and mode not in level_points:
                raise self.fail(
                    f"{w}.closed_as.{verification}",
                    f'{mode!r} is neither "raised", "none" nor a level of alarm.level_points',
                )
            closed_as[verification] = mode
        window = self.get(w, t, "window", _duration)
        history = self.get(w, t, "history_window", _duration)
        if history < window:
            raise self.fail(f"{w}.history_window", "must not be shorter than alarm.window")
        return AlarmRules(
            window=window,
            history_window=history,
            history_fraction=self.get(w, t, "history_fraction", _share),
            mandatory_multiplier=self.get(w, t, "mandatory_multiplier", _number),
            unacknowledged_overdue=self.get(w, t, "unacknowledged_overdue", _points),
            feedback_overdue=self.get(w, t, "feedback_overdue", _points),
            offline_per_hour=self.get(w, t, "offline_per_hour", _points),
            offline_share=self.get(w, t, "offline_share", _share),
            offline_share_points=self.get(w, t, "offline_share_points", _points),
            cap=self.get(w, t, "cap", _cap),
            level_points=MappingProxyType(level_points),
            type_points=MappingProxyType(type_points),
            closed_as=MappingProxyType(closed_as),
        )

    def code_points(self, where: str, value: object) -> dict[str, float]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table, not {value!r}")
        codes = [k for k in value if k not in _SECTION_META]
        t = self.table(where, value, codes)
        points: dict[str, float] = {}
        for code in codes:
            if not _CODE_RE.match(code):
                raise self.fail(f"{where}.{code}", "unknown key (alarm levels are UPPER_SNAKE)")
            points[code] = self.get(where, t, code, _points)
        return points

    def management(self, value: object) -> ManagementRules:
        w = "management"
        t = self.table(
            w,
            value,
            (
                "cleaning_points",
                "completion_when_no_tasks",
                "overdue_zones",
                "overdue_cleaning_points",
                "overdue_cleaning_max",
                "major_hazard_points",
                "major_hazard_max",
                "cap",
            ),
        )
        return ManagementRules(
            cleaning_points=self.get(w, t, "cleaning_points", _points),
            completion_when_no_tasks=self.get(w, t, "completion_when_no_tasks", _share),
            overdue_zones=self.get(w, t, "overdue_zones", _zones),
            overdue_cleaning_points=self.get(w, t, "overdue_cleaning_points", _points),
            overdue_cleaning_max=self.get(w, t, "overdue_cleaning_max", _points),
            major_hazard_points=self.get(w, t, "major_hazard_points", _points),
            major_hazard_max=self.get(w, t, "major_hazard_max", _points),
            cap=self.get(w, t, "cap", _cap),
        )

    def levels(self, value: object) -> Levels:
        t = self.table("levels", value, LEVELS)
        for level in reversed(LEVELS):
            if level not in t:
                raise self.fail(
                    f"levels.{level}", "missing level: every level needs its lowest score"
                )
        bounds = {lv: self.get("levels", t, lv, _score) for lv in LEVELS}
        if bounds["blue"] != 0:
            raise self.fail("levels.blue", "must be 0: every score needs a level")
        for lower, upper in pairwise(LEVELS):
            if not bounds[upper] > bounds[lower]:
                raise self.fail(
                    f"levels.{upper}",
                    f"must be above levels.{lower} ({bounds[upper]:g} ≤ {bounds[lower]:g}): "
                    "red > orange > yellow > blue",
                )
        return Levels(**bounds)

    def overrides(self, value: object) -> Overrides:
        w = "overrides"
        names = (
            "explosion_device",
            "spark_without_extinguisher",
            "sustained_critical",
            "major_hazard",
        )
        t = self.table(w, value, names, meta=False)
        for name in names:
            self.get(w, t, name, _any)
        indicators = load_catalog().indicators

        def rule(name: str, extra: Iterable[str]) -> tuple[str, dict[str, Any], bool, str]:
            where = f"{w}.{name}"
            rt = self.table(where, t[name], ("enabled", "level", *extra))
            return (
                where,
                rt,
                self.get(where, rt, "enabled", _bool, True),
                self.get(where, rt, "level", _level),
            )

        def indicator(where: str, table: Mapping[str, Any], key: str) -> str:
            code: str = self.get(where, table, key, _text)
            if code not in indicators:
                raise self.fail(
                    f"{where}.{key}", f"{code!r} is not an indicator of the device catalog"
                )
            return code

        _, _, on, level = rule("explosion_device", ())
        explosion = OverrideRule(enabled=on, level=level)
        where, st, on, level = rule(
            "spark_without_extinguisher", ("spark_indicator", "extinguisher_indicator")
        )
        spark = SparkRule(
            enabled=on,
            level=level,
            spark_indicator=indicator(where, st, "spark_indicator"),
            extinguisher_indicator=indicator(where, st, "extinguisher_indicator"),
        )
        where, ct, on, level = rule("sustained_critical", ("after", "conditions"))
        conditions: list[AlarmCondition] = []
        for i, entry in enumerate(self.get(where, ct, "conditions", _list)):
            cw = f"{where}.conditions[{i}]"
            c = self.table(cw, entry, ("indicator", "level", "alarm_type"), meta=False)
            if not c:
                raise self.fail(cw, "needs at least one of indicator, level, alarm_type")
            conditions.append(
                AlarmCondition(
                    indicator=indicator(cw, c, "indicator") if "indicator" in c else None,
                    level=self.get(cw, c, "level", _code, None),
                    alarm_type=self.get(cw, c, "alarm_type", _code, None),
                )
            )
        sustained = SustainedRule(
            enabled=on,
            level=level,
            after=self.get(where, ct, "after", _duration),
            conditions=tuple(conditions),
        )
        _, _, on, level = rule("major_hazard", ())
        return Overrides(
            explosion_device=explosion,
            spark_without_extinguisher=spark,
            sustained_critical=sustained,
            major_hazard=OverrideRule(enabled=on, level=level),
        )

    def alarm_deadlines(self, value: object) -> AlarmDeadlines:
        w = "alarm_deadlines"
        t = self.table(w, value, ("acknowledge", "feedback"))
        ack = self.get(w, t, "acknowledge", _duration)
        feedback = self.get(w, t, "feedback", _duration)
        if feedback < ack:
            raise self.fail(f"{w}.feedback", "must not be shorter than the acknowledge deadline")
        return AlarmDeadlines(acknowledge=ack, feedback=feedback)

    def warnings(self, value: object) -> WarningRules:
        w = "warnings"
        triggers = ("level_rise", "red", "alarm_overdue", "offline")
        t = self.table(w, value, (*triggers, "production_hours", "time_limits"), meta=False)
        rules: dict[str, TriggerRule] = {}
        for trigger in triggers:
            where = f"{w}.{trigger}"
            extra = {"alarm_overdue": ("level",), "offline": ("level", "after")}
            tt = self.table(
                where, self.get(w, t, trigger, _any), ("enabled", *extra.get(trigger, ()))
            )
            rules[trigger] = TriggerRule(
                enabled=self.get(where, tt, "enabled", _bool),
                level=self.get(where, tt, "level", _level, None),
                after=self.get(where, tt, "after", _duration, None),
            )
        for trigger, key in (
            ("alarm_overdue", "level"),
            ("offline", "level"),
            ("offline", "after"),
        ):
            if getattr(rules[trigger], key) is None:
                raise self.fail(f"{w}.{trigger}.{key}", "missing required field")
        return WarningRules(
            level_rise=rules["level_rise"],
            red=rules["red"],
            alarm_overdue=rules["alarm_overdue"],
            offline=rules["offline"],
            production_hours=self.production_hours(self.get(w, t, "production_hours", _any)),
            time_limits=MappingProxyType(self.time_limits(self.get(w, t, "time_limits", _any))),
        )

    def production_hours(self, value: object) -> ProductionHours:
        w = "warnings.production_hours"
        t = self.table(w, value, ("utc_offset", "start", "end", "weekdays"))
        start = self.get(w, t, "start", _clock)
        end = self.get(w, t, "end", _clock)
        if start == end:
            raise self.fail(f"{w}.end", "equals start: the window would be empty or the whole day")
        return ProductionHours(
            utc_offset=self.get(w, t, "utc_offset", _utc_offset),
            start_min=start,
            end_min=end,
            weekdays=self.get(w, t, "weekdays", _weekdays),
        )

    def time_limits(self, value: object) -> dict[str, TimeLimit]:
        w = "warnings.time_limits"
        t = self.table(w, value, LEVELS, meta=False)
        limits: dict[str, TimeLimit] = {}
        for level in reversed(LEVELS):
            where = f"{w}.{level}"
            lt = self.table(
                where,
                self.get(w, t, level, _any),
                ("acknowledge", "feedback", "tier", "follow_up", "escalation"),
            )
            tier = self.get(where, lt, "tier", _tier)
            steps: list[EscalationRule] = []
            for i, entry in enumerate(self.get(where, lt, "escalation", _list)):
                sw = f"{where}.escalation[{i}]"
                st = self.table(sw, entry, ("after", "tier"), meta=False)
                step = EscalationRule(
                    after=self.get(sw, st, "after", _duration), tier=self.get(sw, st, "tier", _tier)
                )
                before = steps[-1] if steps else None
                floor = before.tier if before else tier
                if TIERS.index(step.tier) <= TIERS.index(floor):
                    raise self.fail(f"{sw}.tier", f"must be above {floor}: escalation goes up")
                if before is not None and step.after <= before.after:
                    raise self.fail(f"{sw}.after", "must be later than the step before")
                steps.append(step)
            ack = self.get(where, lt, "acknowledge", _duration)
            feedback = self.get(where, lt, "feedback", _duration)
            if feedback < ack:
                raise self.fail(f"{where}.feedback", "must not be shorter than acknowledge")
            limits[level] = TimeLimit(
                acknowledge=ack,
                feedback=feedback,
                tier=tier,
                follow_up=self.get(where, lt, "follow_up", _duration, None),
                escalation=tuple(steps),
            )
        return limits

    def evaluation(self, value: object, early_warning: object) -> EvaluationSettings:
        """[evaluation]: the limit evaluation's timing; [early_warning] becomes its prediction."""
        w = "evaluation"
        t = self.table(
            w,
            value,
            (
                "clear_after",
                "over_range_after",
                "fault_after",
                "max_gap",
                "rate_window",
                "rate_min_span",
                "rate_resolution",
                "zero_fraction",
            ),
        )
        rate_window = self.get(w, t, "rate_window", _duration)
        rate_min_span = self.get(w, t, "rate_min_span", _duration)
        rate_resolution = self.get(w, t, "rate_resolution", _duration)
        if rate_min_span > rate_window:
            raise self.fail(
                f"{w}.rate_min_span",
                "must not be longer than evaluation.rate_window (the rate rule could never judge)",
            )
        if rate_resolution * 2 > rate_window:
            raise self.fail(
                f"{w}.rate_resolution",
                "must be at most half of evaluation.rate_window (the slope needs three values)",
            )
        return EvaluationSettings(
            clear_after=self.get(w, t, "clear_after", _duration),
            over_range_after=self.get(w, t, "over_range_after", _duration),
            fault_after=self.get(w, t, "fault_after", _wait),
            max_gap=self.get(w, t, "max_gap", _duration),
            rate_window=rate_window,
            rate_min_span=rate_min_span,
            rate_resolution=rate_resolution,
            zero_fraction=self.get(w, t, "zero_fraction", _below_one),
            prediction=self.early_warning(early_warning),
        )

    def early_warning(self, value: object) -> PredictionSettings:
        """[early_warning]: when a trend's predicted limit crossing raises a PREDICTED alarm."""
        w = "early_warning"
        t = self.table(
            w,
            value,
            (
                "horizon",
                "window",
                "bucket",
                "min_span",
                "min_buckets",
                "min_r2",
                "confidence_z",
                "clear_factor",
                "persistence",
                "update_shift",
            ),
        )
        window = self.get(w, t, "window", _duration)
        bucket = self.get(w, t, "bucket", _duration)
        min_span = self.get(w, t, "min_span", _duration)
        min_buckets = self.get(w, t, "min_buckets", _count)
        if bucket > window:
            raise self.fail(f"{w}.bucket", "must not be longer than early_warning.window")
        if min_span > window:
            raise self.fail(
                f"{w}.min_span",
                "must not be longer than early_warning.window (no trend could ever be fitted)",
            )
        held = int(window / bucket)  # the closed buckets a window holds
        if min_buckets < 3:
            raise self.fail(
                f"{w}.min_buckets", f"must be at least 3 (a line and its error), not {min_buckets}"
            )
        if min_buckets > held:
            raise self.fail(
                f"{w}.min_buckets",
                f"must not exceed the {held} buckets early_warning.window holds, not {min_buckets}",
            )
        clear_factor = self.get(w, t, "clear_factor", _number)
        if clear_factor < 1:
            raise self.fail(
                f"{w}.clear_factor",
                f"must be at least 1 (a warning holds beyond the horizon), not {clear_factor:g}",
            )
        return PredictionSettings(
            horizon=self.get(w, t, "horizon", _duration),
            window=window,
            bucket=bucket,
            min_span=min_span,
            min_buckets=min_buckets,
            min_r2=self.get(w, t, "min_r2", _fraction),
            confidence_z=self.get(w, t, "confidence_z", _number),
            clear_factor=clear_factor,
            persistence=self.get(w, t, "persistence", _duration),
            update_shift=self.get(w, t, "update_shift", _duration),
        )


# ---------------------------------------------------------------- value converters


def _any(value: object) -> object:
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _BadValueError(f"must be a non-empty string, not {value!r}")
    return value


def _code(value: object) -> str:
    text = _text(value)
    if not _CODE_RE.match(text):
        raise _BadValueError(f"{text!r} is not an UPPER_SNAKE code")
    return text


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _BadValueError(f"must be true or false, not {value!r}")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise _BadValueError(f"must be an array, not {value!r}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadValueError(f"must be a number, not {value!r}")
    if not math.isfinite(value):
        raise _BadValueError(f"must be a finite number, not {value!r}")
    if value < 0:
        raise _BadValueError(f"must not be negative (不得为负), not {value:g}")
    return float(value)


def _points(value: object) -> float:
    number = _number(value)
    if number > 100:
        raise _BadValueError(f"points are on a 0–100 scale, not {number:g}")
    return number


def _score(value: object) -> float:
    return _points(value)


def _cap(value: object) -> float:
    number = _number(value)
    if not 0 < number <= 100:
        raise _BadValueError(f"a cap must lie in (0, 100], not {number:g}")
    return number


def _fraction(value: object) -> float:
    number = _number(value)
    if number > 1:
        raise _BadValueError(f"must lie in [0, 1], not {number:g}")
    return number


def _share(value: object) -> float:
    return _fraction(value)


def _below_one(value: object) -> float:
    number = _fraction(value)
    if number >= 1:
        raise _BadValueError(f"must lie in [0, 1), not {number:g}")
    return number


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _BadValueError(f"must be a whole number ≥ 0, not {value!r}")
    return value


def _basis(value: object) -> tuple[str, ...]:
    tags = _list(value)
    if not tags or any(t not in BASES for t in tags):
        raise _BadValueError(f"must list tags among {', '.join(BASES)}, not {value!r}")
    return tuple(tags)


def _level(value: object) -> str:
    if value not in LEVELS:
        raise _BadValueError(f"must be one of {', '.join(LEVELS)}, not {value!r}")
    return str(value)


def _tier(value: object) -> str:
    if value not in TIERS:
        raise _BadValueError(f"must be one of {', '.join(TIERS)}, not {value!r}")
    return str(value)


def _measures(value: object) -> tuple[str, ...]:
    names = _list(value)
    unknown = [n for n in names if n not in _MEASURES]
    if not names or unknown:
        raise _BadValueError(
            f"must list explosion-protection measures among {', '.join(sorted(_MEASURES))}"
            + (f"; unknown {unknown}" if unknown else "")
        )
    return tuple(names)


def _measure_groups(value: object) -> tuple[tuple[str, ...], ...]:
    return tuple(_measures(group) for group in _list(value))


def _zones(value: object) -> tuple[str, ...]:
    zones = _list(value)
    if any(z not in ("20", "21", "22") for z in zones):
        raise _BadValueError(f'zones are "20", "21" or "22", not {value!r}')
    return tuple(zones)


def _wait(value: object) -> timedelta:
    """A duration that may be zero ("0s": at once)."""
    match = _DURATION_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise _BadValueError(
            f'must be a duration such as "60s", "30m", "24h" or "7d", not {value!r}'
        )
    if match.group(1):
        raise _BadValueError(f"must not be negative (不得为负), not {value!r}")
    return timedelta(seconds=float(match.group(2)) * _UNITS[match.group(3)])


def _duration(value: object) -> timedelta:
    """A duration longer than zero."""
    wait = _wait(value)
    if wait <= timedelta(0):
        raise _BadValueError(f"must be longer than zero, not {value!r}")
    return wait


def _clock(value: object) -> int:
    match = re.match(r"^([01]\d|2[0-3]):([0-5]\d)$", value) if isinstance(value, str) else None
    if match is None:
        raise _BadValueError(f'must be a time of day "HH:MM", not {value!r}')
    return int(match.group(1)) * 60 + int(match.group(2))


def _utc_offset(value: object) -> timedelta:
    match = re.match(r"^([+-])(\d\d):(\d\d)$", value) if isinstance(value, str) else None
    if match is None or int(match.group(2)) > 14 or int(match.group(3)) > 59:
        raise _BadValueError(f'must be a UTC offset "+08:00", not {value!r}')
    offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return -offset if match.group(1) == "-" else offset


def _weekdays(value: object) -> frozenset[int]:
    days = _list(value)
    if not days or any(isinstance(d, bool) or d not in range(1, 8) for d in days):
        raise _BadValueError(f"must list ISO weekdays 1 (Monday) … 7 (Sunday), not {value!r}")
    return frozenset(days)


def duration_text(value: timedelta) -> str:
    """A duration the way the model file writes it: "60s", "30m", "24h", "7d"."""
    total = value.total_seconds()
    if total == int(total) and total > 0:
        seconds = int(total)
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds % size == 0:
                return f"{seconds // size}{unit}"
    return f"{total:g}s"


# ================================================================ inputs


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise RiskInputError(f"{name} must carry a time zone, not {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmFact:
    """One alarm (报警) as the risk model sees it: a row of the alarms table (domain.md §3).

    ``state`` is ACTIVE/HANDLING/FED_BACK/CLOSED/REJECTED. ``condition_active`` says the abnormal
    condition still holds; ``condition_since`` when its current spell began (raised_at if None).
    The deadlines are the alarm's own (set when it was raised). Pass every alarm that is not
    CLOSED, and closed ones last active within the model's history window (7 d).
    """

    alarm_id: str
    level: str
    alarm_type: str
    state: str
    raised_at: datetime
    ack_deadline: datetime
    feedback_deadline: datetime
    indicator: str | None = None
    point: str | None = None
    system_code: str | None = None
    mandatory: bool = False
    condition_active: bool = True
    condition_since: datetime | None = None
    cleared_at: datetime | None = None
    last_seen_at: datetime | None = None
    acknowledged_at: datetime | None = None
    fed_back_at: datetime | None = None
    closed_at: datetime | None = None
    verification: str | None = None
    suppressed: bool = False

    def __post_init__(self) -> None:
        if self.state not in ALARM_STATES:
            raise RiskInputError(
                f"alarm {self.alarm_id}: state {self.state!r} is not one of {ALARM_STATES}"
            )
        if self.verification is not None and self.verification not in VERIFICATIONS:
            raise RiskInputError(
                f"alarm {self.alarm_id}: verification {self.verification!r} is not one of "
                f"{VERIFICATIONS}"
            )
        for name in ("raised_at", "ack_deadline", "feedback_deadline", "condition_since"):
            _aware(f"alarm {self.alarm_id}: {name}", getattr(self, name))
        for name in ("cleared_at", "last_seen_at", "acknowledged_at", "fed_back_at", "closed_at"):
            _aware(f"alarm {self.alarm_id}: {name}", getattr(self, name))

    def last_active(self, now: datetime) -> datetime:
        """When the condition was last seen: now while it holds."""
        if self.condition_active:
            return now
        return self.cleared_at or self.last_seen_at or self.raised_at


@dataclass(frozen=True, slots=True, kw_only=True)
class CleaningFact:
    """A cleaning task (清扫任务) not checked in by the end of its window."""

    task_id: str
    zone: str | None
    item: str = ""
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HazardFact:
    """An open major hidden danger (重大事故隐患)."""

    hazard_id: str
    title: str = ""
    system_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MissingMeasure:
    """A dry system lacking every measure of one required group (e.g. venting/inerting)."""

    system_code: str
    measures: tuple[str, ...]

    @property
    def ref(self) -> str:
        """E.g. ``DC02:isolation_valve``."""
        return f"{self.system_code}:{'|'.join(self.measures)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EnterpriseInputs:
    """Everything the model scores about one enterprise at one moment.

    ``dust_class`` is the most hazardous of its dusts (metal, wood, other; ``dust_class_of``);
    ``al_mg`` flags aluminium/magnesium (a metal). The system fields come from
    ``summarise_systems``. ``offline_share_24h`` is the share of the last 24 h without data;
    ``cleaning_completion`` today's completion rate (None: no task was due); overdue cleanings
    are the tasks whose window ended in the last 24 h unchecked, with their zone.
    """

    credit_code: str
    dust_class: str
    al_mg: bool = False
    workers: int = 0
    dry_systems: int = 0
    indoor_central_dry: tuple[str, ...] = ()
    positive_pressure_without_spark_ext: tuple[str, ...] = ()
    missing_explosion_measures: tuple[MissingMeasure, ...] = ()
    alarms: tuple[AlarmFact, ...] = ()
    offline_share_24h: float = 0.0
    cleaning_completion: float | None = None
    overdue_cleanings: tuple[CleaningFact, ...] = ()
    open_major_hazards: tuple[HazardFact, ...] = ()

    def __post_init__(self) -> None:
        who = f"enterprise {self.credit_code}"
        if self.dust_class not in DUST_CLASSES:
            raise RiskInputError(f"{who}: dust_class {self.dust_class!r} not in {DUST_CLASSES}")
        if self.al_mg and self.dust_class != "metal":
            raise RiskInputError(f"{who}: aluminium/magnesium dust is a metal dust")
        for name in ("workers", "dry_systems"):
            count = getattr(self, name)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise RiskInputError(f"{who}: {name} must be a whole number ≥ 0, not {count!r}")
        for name in ("offline_share_24h", "cleaning_completion"):
            share = getattr(self, name)
            if share is not None and not 0 <= share <= 1:
                raise RiskInputError(f"{who}: {name} must lie in [0, 1], not {share!r}")
        ids = [a.alarm_id for a in self.alarms]
        if len(set(ids)) != len(ids):
            raise RiskInputError(f"{who}: an alarm id appears twice")


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemFacts:
    """A dust-removal system's attributes the inherent risk reads (from the system's twin)."""

    system_code: str
    collector: str
    indoor: bool = False
    central: bool = False
    pressure: str = "negative"
    explosion_protection: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemsSummary:
    """The system fields of ``EnterpriseInputs``, derived from the enterprise's systems."""

    dry_systems: int
    indoor_central_dry: tuple[str, ...]
    positive_pressure_without_spark_ext: tuple[str, ...]
    missing_explosion_measures: tuple[MissingMeasure, ...]


def summarise_systems(model: RiskModel, systems: Iterable[SystemFacts]) -> SystemsSummary:
    """Dry systems, indoor central dry collectors, unprotected positive pressure, missing measures.

    ``central`` is the caller's judgement that a collector serves several workstations
    (集中式); a system with more than one served process is the usual reading.
    """
    rules = model.inherent
    every = list(systems)
    dry = [s for s in every if s.collector == "dry"]
    missing = tuple(
        MissingMeasure(system_code=s.system_code, measures=group)
        for s in dry
        for group in rules.required_measures
        if not set(group) & set(s.explosion_protection)
    )
    return SystemsSummary(
        dry_systems=len(dry),
        indoor_central_dry=tuple(s.system_code for s in dry if s.indoor and s.central),
        positive_pressure_without_spark_ext=tuple(
            s.system_code
            for s in every
            if s.pressure == "positive"
            and not set(rules.spark_measures) <= set(s.explosion_protection)
        ),
        missing_explosion_measures=missing,
    )


def dust_class_of(dust_types: Iterable[str]) -> tuple[str, bool]:
    """(dust class, Al/Mg) of an enterprise's dust types, as the registry names them."""
    kinds = set(dust_types)
    al_mg = bool(kinds & {"aluminium", "magnesium"})
    if kinds & METAL_DUSTS:
        return "metal", al_mg
    if kinds & WOOD_DUSTS:
        return "wood", False
    return "other", False


def overdue_alarm_ids(alarms: Iterable[AlarmFact], now: datetime) -> tuple[str, ...]:
    """Alarms past their acknowledge deadline unacknowledged, or past feedback without feedback."""
    return tuple(
        a.alarm_id
        for a in alarms
        if not a.suppressed
        and (
            (a.state == "ACTIVE" and now > a.ack_deadline)
            or (a.state in AWAITING_FEEDBACK and now > a.feedback_deadline)
        )
    )


# ================================================================ evaluation results


@dataclass(frozen=True, slots=True, kw_only=True)
class Contribution:
    """One reason for points in a component: which alarm, cleaning task, hazard or attribute.

    ``action_zh``/``action_en`` say what the enterprise can do to remove it (None: nothing now).
    """

    component: str
    kind: str
    ref: str
    points: float
    explanation_zh: str
    explanation_en: str
    action_zh: str | None = None
    action_en: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "component": self.component,
            "kind": self.kind,
            "ref": self.ref,
            "points": self.points,
            "explanation_zh": self.explanation_zh,
            "explanation_en": self.explanation_en,
            "action_zh": self.action_zh,
            "action_en": self.action_en,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Component:
    """One component: its points before the cap (raw), its value (capped, 0–100), its weight."""

    name: str
    weight: float
    raw: float
    cap: float
    value: float
    contributions: tuple[Contribution, ...]

    @property
    def weighted(self) -> float:
        """weight × value: what the component adds to the score."""
        return _round(self.weight * self.value, 2)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        zh, en = COMPONENT_NAMES[self.name]
        return {
            "name": self.name,
            "name_zh": zh,
            "name_en": en,
            "weight": self.weight,
            "raw": self.raw,
            "cap": self.cap,
            "value": self.value,
            "weighted": self.weighted,
            "contributions": [c.as_dict() for c in self.contributions],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    """An override rule that applied: the level it forces at least, and the facts behind it."""

    rule: str
    level: str
    refs: tuple[str, ...]
    explanation_zh: str
    explanation_en: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "rule": self.rule,
            "level": self.level,
            "refs": list(self.refs),
            "explanation_zh": self.explanation_zh,
            "explanation_en": self.explanation_en,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """One enterprise's risk at one moment: score, level, components and overrides.

    ``score`` is always the weighted sum of the components; ``level`` is the level of the score
    (``level_by_score``) raised to the highest override that applied.
    """

    credit_code: str
    score: float
    level: str
    level_by_score: str
    components: Mapping[str, Component] = field(hash=False)
    overrides: tuple[Override, ...]
    model_version: str
    model_fingerprint: str
    evaluated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for storage and the API."""
        zh, en = LEVEL_NAMES[self.level]
        return {
            "credit_code": self.credit_code,
            "score": self.score,
            "level": self.level,
            "level_zh": zh,
            "level_en": en,
            "level_by_score": self.level_by_score,
            "components": {n: c.as_dict() for n, c in self.components.items()},
            "overrides": [o.as_dict() for o in self.overrides],
            "model_version": self.model_version,
            "model_fingerprint": self.model_fingerprint,
            "evaluated_at": self.evaluated_at.isoformat(),
        }

    def result_fingerprint(self) -> str:
        """sha256 of the result without its time: equal when a repeat changed nothing."""
        data = self.as_dict()
        del data["evaluated_at"]
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ================================================================ evaluation


_QUANTA: Final = {1: Decimal("0.1"), 2: Decimal("0.01")}


def _round(value: float, places: int = 1) -> float:
    """Half-up rounding of the decimal the float prints as (5.625 → 5.63, never 5.62)."""
    number = float(value)
    if number.is_integer():  # most points are whole: skip the (slow) decimal detour
        return number
    return float(Decimal(repr(number)).quantize(_QUANTA[places], rounding=ROUND_HALF_UP))


def _num(value: float) -> str:
    return f"{_round(value, 2):g}"


@cache
def _span(value: timedelta) -> tuple[str, str]:
    """A duration in words (zh, en)."""
    seconds = value.total_seconds()
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds / 86400:g} 天", f"{seconds / 86400:g} d"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} 小时", f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} 分钟", f"{seconds / 60:g} min"


def level_for(score: float, model: RiskModel | None = None) -> str:
    """The level of a score under ``model`` (the default model when None)."""
    return (model or default_model()).level_for(score)


def evaluate(model: RiskModel, inputs: EnterpriseInputs, now: datetime) -> Evaluation:
    """Score one enterprise under ``model`` at ``now``: pure and deterministic."""
    _aware("now", now)
    parts = {
        "inherent": _inherent(model.inherent, inputs),
        "alarm": _alarm(model, inputs, now),
        "management": _management(model.management, inputs),
    }
    components = {
        name: _component(name, model.weights.of(name), cap, contributions)
        for name, (cap, contributions) in parts.items()
    }
    score = _score_of(components.values())
    by_score = model.levels.level_for(score)
    overrides = _overrides(model, inputs, now)
    level = higher_level(by_score, *(o.level for o in overrides))
    return Evaluation(
        credit_code=inputs.credit_code,
        score=score,
        level=level,
        level_by_score=by_score,
        components=MappingProxyType(components),
        overrides=overrides,
        model_version=model.version,
        model_fingerprint=model.fingerprint,
        evaluated_at=now,
    )


def _component(
    name: str, weight: float, cap: float, contributions: Sequence[Contribution]
) -> Component:
    raw = _round(math.fsum(c.points for c in contributions), 2)
    return Component(
        name=name,
        weight=weight,
        raw=raw,
        cap=cap,
        value=_round(min(raw, cap), 1),
        contributions=tuple(contributions),
    )


def _score_of(components: Iterable[Component]) -> float:
    return _round(math.fsum(c.weight * c.value for c in components), 1)


def _band(bands: Sequence[Band], count: int) -> Band:
    return next(b for b in bands if count >= b.min)


_DUST_NAMES: Final = {
    "al_mg": ("铝镁粉尘", "aluminium/magnesium dust"),
    "metal": ("金属粉尘", "metal dust"),
    "wood": ("木质粉尘", "wood dust"),
    "other": ("其他可燃性粉尘", "other combustible dust"),
}
_MEASURE_NAMES: Final = {
    "spark_detection": ("火花探测", "spark detection"),
    "spark_extinguishing": ("火花熄灭", "spark extinguishing"),
    "venting": ("泄爆", "venting"),
    "isolation_valve": ("隔爆阀", "isolation valve"),
    "inerting": ("惰化", "inerting"),
    "suppression": ("抑爆", "suppression"),
    "airlock": ("锁气卸灰", "airlock"),
}


def _inherent(rules: InherentRules, x: EnterpriseInputs) -> tuple[float, list[Contribution]]:
    out: list[Contribution] = []

    def add(
        kind: str, ref: str, points: float, zh: str, en: str, act: tuple[str, str] | None = None
    ) -> None:
        out.append(
            Contribution(
                component="inherent",
                kind=kind,
                ref=ref,
                points=_round(points, 2),
                explanation_zh=f"{zh}：{_num(points)} 分",
                explanation_en=f"{en}: {_num(points)} points",
                action_zh=act[0] if act else None,
                action_en=act[1] if act else None,
            )
        )

    dust = "al_mg" if x.al_mg else x.dust_class
    zh, en = _DUST_NAMES[dust]
    add("dust_class", "dust_class", rules.dust_class[dust], f"粉尘类别 {zh}", f"dust class {en}")
    band = _band(rules.workers, x.workers)
    add(
        "workers",
        "workers",
        band.points,
        f"涉粉作业人数 {x.workers}（≥ {band.min} 档）",
        f"{x.workers} dust-exposed workers (band ≥ {band.min})",
    )
    band = _band(rules.dry_systems, x.dry_systems)
    if band.points:
        add(
            "dry_systems",
            "dry_systems",
            band.points,
            f"干式除尘系统 {x.dry_systems} 套（≥ {band.min} 档）",
            f"{x.dry_systems} dry dust-removal systems (band ≥ {band.min})",
        )
    if x.indoor_central_dry and rules.indoor_central_dry:
        codes = ", ".join(x.indoor_central_dry)
        add(
            "indoor_central_dry",
            codes,
            rules.indoor_central_dry,
            f"室内集中式干式除尘器（{codes}）",
            f"indoor central dry collector ({codes})",
        )
    if x.positive_pressure_without_spark_ext and rules.positive_pressure_without_spark_ext:
        codes = ", ".join(x.positive_pressure_without_spark_ext)
        add(
            "positive_pressure_without_spark_ext",
            codes,
            rules.positive_pressure_without_spark_ext,
            f"正压输送未设火花探测熄灭（{codes}）",
            f"positive-pressure conveying without spark detection and extinguishing ({codes})",
            (
                f"为 {codes} 加装火花探测熄灭装置",
                f"fit spark detection and extinguishing on {codes}",
            ),
        )
    for m in x.missing_explosion_measures:
        names_zh = "/".join(_MEASURE_NAMES.get(n, (n, n))[0] for n in m.measures)
        names_en = " or ".join(_MEASURE_NAMES.get(n, (n, n))[1] for n in m.measures)
        add(
            "missing_measure",
            m.ref,
            rules.per_missing_measure,
            f"干式除尘系统 {m.system_code} 缺少防爆措施：{names_zh}",
            f"dry system {m.system_code} lacks explosion protection: {names_en}",
            (f"为 {m.system_code} 加装{names_zh}", f"fit {names_en} on {m.system_code}"),
        )
    return rules.cap, out


def _alarm(
    model: RiskModel, x: EnterpriseInputs, now: datetime
) -> tuple[float, list[Contribution]]:
    rules = model.alarm
    out: list[Contribution] = []
    # A forecast counts until a limit alarm on its point arrives, which counts in its place.
    latest_limit: dict[str, datetime] = {}
    for a in x.alarms:
        if a.point is not None and a.level in LIMIT_ALARM_LEVELS and a.alarm_type != "PREDICTED":
            seen = latest_limit.get(a.point)
            if seen is None or a.raised_at > seen:
                latest_limit[a.point] = a.raised_at

    def add(
        kind: str, a: AlarmFact, points: float, zh: str, en: str, act: tuple[str, str] | None = None
    ) -> None:
        out.append(
            Contribution(
                component="alarm",
                kind=kind,
                ref=a.alarm_id,
                points=_round(points, 2),
                explanation_zh=f"报警 {a.alarm_id}（{_what(a)}）{zh}：{_num(points)} 分",
                explanation_en=f"alarm {a.alarm_id} ({_what(a)}) {en}: {_num(points)} points",
                action_zh=act[0] if act else None,
                action_en=act[1] if act else None,
            )
        )

    for a in x.alarms:
        if a.suppressed:
            add(
                "alarm_not_counted",
                a,
                0,
                "检修报备期间产生，不计分",
                "raised during approved maintenance, not counted",
            )
            continue
        base, why_zh, why_en = _base_points(rules, a, now, latest_limit)
        if base is None:
            add("alarm_not_counted", a, 0, why_zh, why_en)
        elif base > 0:
            if a.mandatory and rules.mandatory_multiplier != 1:
                base *= rules.mandatory_multiplier
                why_zh += f"，必测指标 × {rules.mandatory_multiplier:g}"
                why_en += f", mandatory indicator × {rules.mandatory_multiplier:g}"
            add("alarm", a, base, why_zh, why_en)
        if a.state == "ACTIVE" and now > a.ack_deadline and rules.unacknowledged_overdue:
            add(
                "alarm_unacknowledged",
                a,
                rules.unacknowledged_overdue,
                f"超过确认时限 {a.ack_deadline.isoformat(timespec='minutes')} 仍未确认",
                f"unacknowledged past its deadline {a.ack_deadline.isoformat(timespec='minutes')}",
                (f"确认报警 {a.alarm_id}", f"acknowledge alarm {a.alarm_id}"),
            )
        if a.state in AWAITING_FEEDBACK and now > a.feedback_deadline and rules.feedback_overdue:
            add(
                "alarm_feedback_overdue",
                a,
                rules.feedback_overdue,
                f"超过反馈时限 {a.feedback_deadline.isoformat(timespec='minutes')} 仍未闭环反馈",
                "not fed back (loop not closed) past its deadline "
                + a.feedback_deadline.isoformat(timespec="minutes"),
                (f"处置并反馈报警 {a.alarm_id}", f"handle and feed back on alarm {a.alarm_id}"),
            )
    if x.offline_share_24h > rules.offline_share and rules.offline_share_points:
        out.append(
            Contribution(
                component="alarm",
                kind="offline_share",
                ref="offline_share_24h",
                points=rules.offline_share_points,
                explanation_zh=(
                    f"近 24 小时离线 {x.offline_share_24h:.0%}，超过 {rules.offline_share:.0%}："
                    f"{_num(rules.offline_share_points)} 分"
                ),
                explanation_en=(
                    f"offline {x.offline_share_24h:.0%} of the last 24 h, more than "
                    f"{rules.offline_share:.0%}: {_num(rules.offline_share_points)} points"
                ),
            )
        )
    return rules.cap, out


def _what(a: AlarmFact) -> str:
    """E.g. ``DC01 HOPPER_TEMP`` (the level follows with the points)."""
    return " ".join(p for p in (a.system_code, a.indicator or a.alarm_type) if p)


def _base_points(
    rules: AlarmRules, a: AlarmFact, now: datetime, latest_limit: Mapping[str, datetime]
) -> tuple[float | None, str, str]:
    """An alarm's points before the mandatory multiplier, and why (None: not counted at all)."""
    level = a.level
    if a.state == CLOSED:
        mode = rules.closed_as[a.verification or "REAL"]
        if mode == "none":
            return (
                None,
                f"已闭环，核实为 {a.verification}，不计分",
                f"closed as {a.verification}, not counted",
            )
        if mode != "raised":
            level = mode
    if a.alarm_type == "PREDICTED" and a.point is not None:
        replaced = latest_limit.get(a.point)
        if replaced is not None and replaced >= a.raised_at:
            return (
                None,
                "预测已被实际报警取代，不计分",
                "forecast replaced by an actual alarm, not counted",
            )
    if a.alarm_type == OFFLINE:
        end = a.last_active(now)
        recent = _overlap_hours(a.raised_at, end, now - rules.window, now)
        older = _overlap_hours(a.raised_at, end, now - rules.history_window, now - rules.window)
        points = rules.offline_per_hour * (recent + rules.history_fraction * older)
        zh = f"离线 {_num(recent)} 小时（{_span(rules.window)[0]}内）"
        en = f"offline {_num(recent)} h (last {_span(rules.window)[1]})"
        if older:
            zh += f" + {_num(older)} 小时（更早，× {rules.history_fraction:g}）"
            en += f" + {_num(older)} h (earlier, × {rules.history_fraction:g})"
        zh += f" × {_num(rules.offline_per_hour)} 分/小时"
        en += f" × {_num(rules.offline_per_hour)} points/h"
        return points, zh, en
    if a.alarm_type in rules.type_points:
        points = rules.type_points[a.alarm_type]
        zh, en = f"{a.alarm_type} {_num(points)} 分", f"{a.alarm_type} {_num(points)}"
    elif level in rules.level_points:
        points = rules.level_points[level]
        shown = level if level == a.level else f"{a.level}，按 {level} 计"
        shown_en = level if level == a.level else f"{a.level} counted as {level}"
        zh, en = f"{shown} {_num(points)} 分", f"{shown_en} {_num(points)}"
    else:
        raise RiskInputError(
            f"alarm {a.alarm_id}: level {a.level!r} has no points in the risk model "
            f"(alarm.level_points)"
        )
    age = max(timedelta(0), now - a.last_active(now))
    window, history, fraction = (
        _span(rules.window),
        _span(rules.history_window),
        rules.history_fraction,
    )
    if age <= rules.window:
        return (
            points,
            f"{zh}（{window[0]}内）",
            f"{en} (within {window[1]})",
        )
    if age <= rules.history_window:
        return (
            points * fraction,
            f"{zh} × {fraction:g}（{window[0]}至 {history[0]}前）",
            f"{en} × {fraction:g} ({window[1]}–{history[1]} ago)",
        )
    return 0.0, "", ""


def _overlap_hours(start: datetime, end: datetime, lo: datetime, hi: datetime) -> float:
    seconds = (min(end, hi) - max(start, lo)).total_seconds()
    return max(0.0, seconds) / 3600


def _management(rules: ManagementRules, x: EnterpriseInputs) -> tuple[float, list[Contribution]]:
    out: list[Contribution] = []

    def add(
        kind: str, ref: str, points: float, zh: str, en: str, act: tuple[str, str] | None
    ) -> None:
        out.append(
            Contribution(
                component="management",
                kind=kind,
                ref=ref,
                points=_round(points, 2),
                explanation_zh=f"{zh}：{_num(points)} 分",
                explanation_en=f"{en}: {_num(points)} points",
                action_zh=act[0] if act else None,
                action_en=act[1] if act else None,
            )
        )

    completion = x.cleaning_completion
    if completion is None:
        completion = rules.completion_when_no_tasks
        done_zh, done_en = "今日无到期清扫任务", "no cleaning task due today"
    else:
        done_zh = f"今日清扫完成率 {completion:.0%}"
        done_en = f"today's cleaning completion {completion:.0%}"
    formula = f"(1 − {completion:g}) × {_num(rules.cleaning_points)}"
    points = (1 - completion) * rules.cleaning_points
    act = ("完成今日到期的清扫任务并打卡", "complete and check in today's due cleaning tasks")
    add(
        "cleaning_completion",
        "cleaning_completion",
        points,
        f"{done_zh}，{formula}",
        f"{done_en}, {formula}",
        act if points else None,
    )
    left = rules.overdue_cleaning_max
    for task in x.overdue_cleanings:
        if task.zone not in rules.overdue_zones:
            continue
        points = min(rules.overdue_cleaning_points, left)
        left -= points
        zh = f"{task.zone} 区清扫任务 {task.task_id} {task.item} 逾期未打卡".replace("  ", " ")
        en = f"zone {task.zone} cleaning task {task.task_id} {task.item} overdue".replace("  ", " ")
        if not points:
            zh += f"（逾期清扫已达上限 {_num(rules.overdue_cleaning_max)} 分）"
            en += f" (overdue cleanings are at their maximum {_num(rules.overdue_cleaning_max)})"
        act = (
            f"完成清扫任务 {task.task_id} 并打卡",
            f"do and check in cleaning task {task.task_id}",
        )
        add("overdue_cleaning", task.task_id, points, zh, en, act)
    left = rules.major_hazard_max
    for hazard in x.open_major_hazards:
        points = min(rules.major_hazard_points, left)
        left -= points
        zh = f"重大事故隐患 {hazard.hazard_id} {hazard.title} 未整改".replace("  ", " ")
        en = f"major hidden danger {hazard.hazard_id} {hazard.title} open".replace("  ", " ")
        if not points:
            zh += f"（重大隐患已达上限 {_num(rules.major_hazard_max)} 分）"
            en += f" (major hidden dangers are at their maximum {_num(rules.major_hazard_max)})"
        act = (
            f"整改重大事故隐患 {hazard.hazard_id}",
            f"rectify major hidden danger {hazard.hazard_id}",
        )
        add("major_hazard", hazard.hazard_id, points, zh, en, act)
    return rules.cap, out


def _override(rule: str, level: str, refs: tuple[str, ...], zh: str, en: str) -> Override:
    return Override(
        rule=rule,
        level=level,
        refs=refs,
        explanation_zh=f"{zh}（{'、'.join(refs)}）→ 至少{LEVEL_NAMES[level][0]}",
        explanation_en=f"{en} ({', '.join(refs)}) → at least {level}",
    )


def _overrides(model: RiskModel, x: EnterpriseInputs, now: datetime) -> tuple[Override, ...]:
    rules = model.overrides
    out: list[Override] = []
    live = [a for a in x.alarms if not a.suppressed]
    explosion = rules.explosion_device
    if explosion.enabled:
        # Red until the regulator has closed the loop, and while the device still signals.
        refs = tuple(
            a.alarm_id
            for a in live
            if EXPLOSION in (a.level, a.alarm_type) and (a.state != CLOSED or a.condition_active)
        )
        if refs:
            zh, en = "防爆装置动作，报警", "explosion device activated, alarm"
            out.append(_override("explosion_device", explosion.level, refs, zh, en))
    spark = rules.spark_without_extinguisher
    if spark.enabled:
        refs = _spark_without_extinguisher(spark, live, now)
        if refs:
            zh, en = (
                "探测到火花时熄灭装置故障，报警",
                "spark while the extinguisher was faulty, alarms",
            )
            out.append(_override("spark_without_extinguisher", spark.level, refs, zh, en))
    sustained = rules.sustained_critical
    if sustained.enabled:
        refs = tuple(
            a.alarm_id
            for a in live
            if a.condition_active
            and now - (a.condition_since or a.raised_at) >= sustained.after
            and any(c.matches(a) for c in sustained.conditions)
        )
        if refs:
            after_zh, after_en = _span(sustained.after)
            watched = " / ".join(c.describe() for c in sustained.conditions)
            zh = f"{watched} 持续 {after_zh}以上未消除，报警"
            en = f"{watched} unresolved for {after_en} or more, alarm"
            out.append(_override("sustained_critical", sustained.level, refs, zh, en))
    hazard = rules.major_hazard
    if hazard.enabled and x.open_major_hazards:
        refs = tuple(h.hazard_id for h in x.open_major_hazards)
        zh, en = "存在未整改的重大事故隐患", "open major hidden danger"
        out.append(_override("major_hazard", hazard.level, refs, zh, en))
    return tuple(out)


def _spark_without_extinguisher(
    rule: SparkRule, alarms: Sequence[AlarmFact], now: datetime
) -> tuple[str, ...]:
    """Open spark alarms whose spell overlaps a fault of the same system's extinguisher."""
    refs: list[str] = []
    faults = [a for a in alarms if a.indicator == rule.extinguisher_indicator]
    for spark in alarms:
        if spark.indicator != rule.spark_indicator or spark.state == CLOSED:
            continue
        spark_end = spark.last_active(now)
        for fault in faults:
            if (
                fault.system_code == spark.system_code
                and fault.raised_at <= spark_end
                and spark.raised_at <= fault.last_active(now)
            ):
                refs += [spark.alarm_id, fault.alarm_id]
    return tuple(dict.fromkeys(refs))


# ================================================================ what to lower, what if


@dataclass(frozen=True, slots=True, kw_only=True)
class Lever:
    """Something the enterprise can do, and how much it would lower the score."""

    kind: str
    refs: tuple[str, ...]
    action_zh: str
    action_en: str
    points: float
    score_delta: float
    lifts: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "kind": self.kind,
            "refs": list(self.refs),
            "action_zh": self.action_zh,
            "action_en": self.action_en,
            "points": self.points,
            "score_delta": self.score_delta,
            "lifts": list(self.lifts),
        }


def what_to_lower(evaluation: Evaluation, limit: int = 5) -> list[Lever]:
    """The actions that lower the score most (or lift an override), biggest first.

    Each lever is one action on its own: its ``score_delta`` takes the component's cap into
    account (removing points above the cap lowers nothing). For exact combined effects, apply
    ``with_changes`` and evaluate again.
    """
    levers: list[Lever] = []
    for component in evaluation.components.values():
        actionable = [c for c in component.contributions if c.action_zh and c.action_en]
        grouped: dict[str, list[Contribution]] = {}
        for c in actionable:
            if c.kind in GROUPED_KINDS:
                grouped.setdefault(c.kind, []).append(c)
            else:
                levers.append(_lever(evaluation, component, c.kind, [c]))
        levers += [_lever(evaluation, component, kind, cs) for kind, cs in grouped.items()]
    useful = [lv for lv in levers if lv.score_delta > 0 or lv.lifts]
    useful.sort(key=lambda lv: (not lv.lifts, -lv.score_delta, -lv.points, lv.kind, lv.refs))
    return useful[:limit]


def _lever(
    evaluation: Evaluation, component: Component, kind: str, contributions: Sequence[Contribution]
) -> Lever:
    points = _round(math.fsum(c.points for c in contributions), 2)
    lowered = replace(
        component,
        raw=_round(component.raw - points, 2),
        value=_round(min(component.raw - points, component.cap), 1),
    )
    others = [c for n, c in evaluation.components.items() if n != component.name]
    delta = _round(evaluation.score - _score_of([*others, lowered]), 1)
    refs = tuple(c.ref for c in contributions)
    lifts = tuple(o.rule for o in evaluation.overrides if set(o.refs) <= set(refs))
    first = contributions[0]
    if len(contributions) == 1:
        zh, en = first.action_zh or "", first.action_en or ""
    elif kind == "overdue_cleaning":
        zh = f"完成逾期清扫任务 {'、'.join(refs)} 并打卡"
        en = f"do and check in the overdue cleaning tasks {', '.join(refs)}"
    else:
        zh = f"整改重大事故隐患 {'、'.join(refs)}"
        en = f"rectify the major hidden dangers {', '.join(refs)}"
    return Lever(
        kind=kind,
        refs=refs,
        action_zh=f"{zh}（−{_num(delta)} 分）",
        action_en=f"{en} (−{_num(delta)})",
        points=points,
        score_delta=delta,
        lifts=lifts,
    )


def with_changes(
    inputs: EnterpriseInputs,
    *,
    at: datetime,
    acknowledge_alarms: Iterable[str | int] = (),
    feed_back_alarms: Iterable[str | int] = (),
    close_alarms: Iterable[str | int] = (),
    clear_alarm_conditions: Iterable[str | int] = (),
    cleaning_completion: float | None = None,
    check_in_cleanings: Iterable[str | int] = (),
    rectify_hazards: Iterable[str | int] = (),
    fit_measures: Iterable[tuple[str, str]] = (),
    fit_spark_extinguishing: Iterable[str] = (),
    add_alarms: Iterable[AlarmFact] = (),
) -> EnterpriseInputs:
    """The inputs as they would be after these changes at ``at`` (the "what if" service).

    Closing an alarm also acknowledges it, feeds back and ends its condition; feeding back also
    acknowledges. ``fit_measures`` takes (system code, measure) pairs. An id the inputs do not
    hold is refused with RiskInputError.
    """
    _aware("at", at)
    alarms = {a.alarm_id: a for a in inputs.alarms}

    def ids(values: Iterable[str | int], known: Iterable[str], what: str) -> set[str]:
        wanted = {str(v) for v in values}
        unknown = sorted(wanted - set(known))
        if unknown:
            raise RiskInputError(
                f"no {what} {', '.join(unknown)} in the inputs of {inputs.credit_code}"
            )
        return wanted

    ack = ids(acknowledge_alarms, alarms, "alarm")
    fed = ids(feed_back_alarms, alarms, "alarm")
    close = ids(close_alarms, alarms, "alarm")
    clear = ids(clear_alarm_conditions, alarms, "alarm")
    changed = [_alarm_after(a, at, a.alarm_id, close, fed, ack, clear) for a in inputs.alarms]
    changed += add_alarms
    checked = ids(
        check_in_cleanings, (t.task_id for t in inputs.overdue_cleanings), "cleaning task"
    )
    fixed = ids(rectify_hazards, (h.hazard_id for h in inputs.open_major_hazards), "hazard")
    fits = {(str(s), str(m)) for s, m in fit_measures}
    systems = {m.system_code for m in inputs.missing_explosion_measures}
    unknown_systems = sorted({s for s, _ in fits} - systems)
    if unknown_systems:
        raise RiskInputError(f"no missing measure on system {', '.join(unknown_systems)}")
    sparks = ids(fit_spark_extinguishing, inputs.positive_pressure_without_spark_ext, "system")
    return replace(
        inputs,
        alarms=tuple(changed),
        cleaning_completion=(
            inputs.cleaning_completion if cleaning_completion is None else cleaning_completion
        ),
        overdue_cleanings=tuple(t for t in inputs.overdue_cleanings if t.task_id not in checked),
        open_major_hazards=tuple(h for h in inputs.open_major_hazards if h.hazard_id not in fixed),
        missing_explosion_measures=tuple(
            m
            for m in inputs.missing_explosion_measures
            if not any((m.system_code, measure) in fits for measure in m.measures)
        ),
        positive_pressure_without_spark_ext=tuple(
            s for s in inputs.positive_pressure_without_spark_ext if s not in sparks
        ),
    )


def _alarm_after(
    a: AlarmFact,
    at: datetime,
    aid: str,
    close: set[str],
    fed: set[str],
    ack: set[str],
    clear: set[str],
) -> AlarmFact:
    """An alarm after the what-if's steps on it (closing implies every step before it)."""
    if aid in close:
        return replace(
            a,
            state=CLOSED,
            acknowledged_at=a.acknowledged_at or at,
            fed_back_at=a.fed_back_at or at,
            closed_at=at,
            condition_active=False,
            cleared_at=a.cleared_at or at,
        )
    if aid in fed and a.state != CLOSED:
        a = replace(a, state="FED_BACK", acknowledged_at=a.acknowledged_at or at, fed_back_at=at)
    elif aid in ack and a.state == "ACTIVE":
        a = replace(a, state="HANDLING", acknowledged_at=at)
    if aid in clear and a.condition_active:
        a = replace(a, condition_active=False, cleared_at=at)
    return a
