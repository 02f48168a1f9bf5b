"""Limit evaluation (报警判定): one point's samples in, alarm condition changes out.

Pure functions over plain data: the caller turns a point's catalog entry and overrides into a
``PointRule``, keeps one ``PointState`` per point (stored as JSON between batches, so timers
survive a restart) and feeds samples in time order to ``evaluate``; device events go to
``evaluate_event`` and connectivity transitions to ``offline_changes``. Each returns the new state
and the changes of the alarm *conditions* (raise, update, clear); the alarm loop (acknowledge,
handle, close) is the caller's. At most one condition is open per (point, alarm type); its level
only rises while open.

Semantics, in the words a safety officer would use:

- **Persistence**: a condition raises only after it has held on every usable sample for the point's
  ``persistence_s``; a spike shorter than that raises nothing. Each level has its own timer, so HHA
  needs HHA values for ``persistence_s`` too.
- **Escalation**: HA then HHA is one HIGH alarm whose level rose (an "update" with the new level);
  LA then LLA likewise for LOW. The level does not fall while the alarm is open.
- **Updates**: an open condition seeing a worse value (a new peak) gives one "update" carrying it,
  so the caller derives peak, count and last seen from the changes.
- **Deadband clearing**: HIGH clears only after the value has stayed below (lowest high limit −
  deadband) for ``clear_after`` (LOW mirrored); a value back between the limit and the deadband
  restarts that clock. Clearing a condition does not close the alarm's loop.
- **Usable samples**: only GOOD values inside the measuring range are evaluated against limits.
  FAULT raises the FAULT (device fault) alarm; a value outside the range or flagged OVER_RANGE
  raises the OVER_RANGE data-quality alarm after ``over_range_after``; MAINT raises nothing. None
  of these is evaluated against limits, fed to rate or trend, or counted as continuity: they
  restart every pending and clearing clock (nothing may raise or clear on data not observed);
  open alarms stay open. So does a gap longer than ``max_gap`` between samples.
- **Gate** (e.g. DP_IN_OUT only while FAN_RUN = 1): a gated rule is evaluated only while
  ``Context.running`` is True. When the system stops (False), pending timers reset and an open
  gated alarm clears after ``clear_after`` of standstill (a stopped fan makes the pressure
  difference meaningless, but a fan trip of a few seconds does not clear and re-raise). While the
  running state is unknown (None) nothing of the gated rule raises or clears.
- **Zero while running** (WATER_FLOW 0 while the fan runs → HHA): "zero" is at most
  ``zero_fraction`` of the measuring span; it needs the running signal True, and persistence.
- **Switches**: a switch at 1 (a count above 0) raises the catalog's level after persistence
  (AIRLOCK_FAULT 1 for 10 s → HA). Explosion devices (VENT_BURST, ISO_VALVE, SUPPRESSOR) at 1 raise
  EXPLOSION at once, whatever the persistence.
- **Rate of rise** (HOPPER_TEMP > 5 °C/min → HA): the least-squares slope of the usable values of
  the last ``rate_window``, thinned to one per ``rate_resolution``, once they span
  ``rate_min_span``; never from two noisy samples a second apart.
- **Early warning** (PREDICTED): see ``risk.predict``; an analog point with limits warns when its
  trend is due to cross HA upwards or LA downwards within the horizon, after
  ``prediction.persistence``. The real HIGH/LOW alarm supersedes it (cleared at once); the trend and
  the warning follow the gate.
- **Order**: samples are evaluated in time order. A sample not newer than the last one evaluated is
  ignored (no timer moves) and counted in ``PointState.out_of_order``; the caller sorts each batch
  by time. Only an explosion-device ACTIVE event is honoured whatever its time.
- **Backfill**: a sample's ``backfilled`` flag is carried onto every change it causes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from device_catalog.catalog import Indicator, Limits, RateOfRise, effective_limits
from risk.predict import (
    Prediction,
    PredictionSettings,
    Trend,
    fit_trend,
    outlook,
    predict_crossing,
)

__all__ = [
    "ALARM_TYPES",
    "LEVELS",
    "AlarmChange",
    "Condition",
    "Context",
    "EvaluationSettings",
    "PointRule",
    "PointState",
    "Sample",
    "evaluate",
    "evaluate_event",
    "offline_changes",
]

Action = Literal["raise", "update", "clear"]
EVENT_TYPES: Final = ("ACTIVE", "CLEAR")

ALARM_TYPES: Final = (
    "HIGH",
    "LOW",
    "RATE",
    "SWITCH",
    "ZERO_RUNNING",
    "OVER_RANGE",
    "FAULT",
    "EXPLOSION",
    "OFFLINE",
    "PREDICTED",
)
LEVELS: Final = (
    "EXPLOSION",
    "HHA",
    "HA",
    "LA",
    "LLA",
    "FAULT",
    "OVER_RANGE",
    "OFFLINE",
    "PREDICTED",
)
# Quality codes as stored with readings (connectors.protocol.QUALITY_CODES; risk may not import
# connectors, and the codes are part of the stored data, so they cannot drift apart silently).
GOOD: Final = 0
FAULT: Final = 1
MAINT: Final = 2
OVER_RANGE: Final = 3

_HIGH_LEVELS: Final = ("HA", "HHA")  # ascending severity
_LOW_LEVELS: Final = ("LA", "LLA")
# Alarm types evaluated from usable process values (reset by anything that is not one).
_PROCESS: Final = ("HIGH", "LOW", "RATE", "SWITCH", "ZERO_RUNNING", "EXPLOSION", "PREDICTED")
# What a gate switches off; never EXPLOSION (an explosion device is never gated).
_GATED: Final = ("HIGH", "LOW", "RATE", "PREDICTED", "SWITCH")
_STATE_VERSION: Final = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationSettings:
    """The evaluation's timing and thresholds (every number a [DEFAULT], configurable)."""

    # [DEFAULT] domain §3: a condition clears when back inside limits (deadband) for 5 minutes.
    clear_after: timedelta = timedelta(minutes=5)
    # [DEFAULT] domain §2: out of range for 60 s raises the data-quality alarm.
    over_range_after: timedelta = timedelta(seconds=60)
    # [DEFAULT] a fault reported by the gateway is already its own verdict: raise at once.
    fault_after: timedelta = timedelta(0)
    # [DEFAULT] domain §2: the offline window (max(3 × upload period, 15 min)); across a longer gap
    # a condition was not observed to hold, so its clocks restart.
    max_gap: timedelta = timedelta(minutes=15)
    # [DEFAULT] rate of rise over the last 2 minutes of values, once they span at least 1 minute,
    # kept at most one per 10 s (12 values: small state, and noise averages out).
    rate_window: timedelta = timedelta(minutes=2)
    rate_min_span: timedelta = timedelta(minutes=1)
    rate_resolution: timedelta = timedelta(seconds=10)
    # [DEFAULT] "zero" flow is at most 1 % of the measuring span (sensor offset while stopped).
    zero_fraction: float = 0.01
    prediction: PredictionSettings = field(default_factory=PredictionSettings)


@dataclass(frozen=True, slots=True, kw_only=True)
class PointRule:
    """Everything the evaluation needs about one point, built from catalog and overrides."""

    point_id: int
    indicator: str
    kind: str  # "analog" | "switch" | "count"
    limits: Limits  # already resolved: point overrides beat catalog defaults
    measuring_range: tuple[float, float]
    rate_of_rise: RateOfRise | None = None
    gated: bool = False  # evaluate only while the system runs (catalog gate = running signal)
    zero_while_running: str | None = None
    switch_alarm: str | None = None
    explosion_event: bool = False
    mandatory: bool = False

    @classmethod
    def from_catalog(
        cls,
        indicator: Indicator,
        point_id: int,
        overrides: Mapping[str, float | None],
        range_: tuple[float, float],
        design: float | None = None,
        mec: float | None = None,
        al_mg: bool = False,
        *,
        mandatory: bool | None = None,
        running_signal: str = "FAN_RUN",
    ) -> PointRule:
        """The rule of a point: catalog defaults, relative limits resolved, overrides on top.

        ``mandatory`` None means "mandatory for some collector type"; pass the system's answer
        (``indicator.is_mandatory_for(collector)``) when known. ``running_signal`` is the catalog's
        (``Catalog.running_signal``): the only gate ``Context.running`` can answer.
        """
        if indicator.gate is not None and indicator.gate != running_signal:
            raise ValueError(
                f"{indicator.code}: gate {indicator.gate!r} is not the running signal "
                f"{running_signal!r}; only the running signal can gate a rule"
            )
        limits = effective_limits(
            indicator, overrides, range_=range_, design=design, mec=mec, al_mg=al_mg
        )
        return cls(
            point_id=point_id,
            indicator=indicator.code,
            kind=indicator.kind,
            limits=limits,
            measuring_range=range_,
            rate_of_rise=indicator.rate_of_rise,
            gated=indicator.gate is not None,
            zero_while_running=indicator.zero_while_running,
            switch_alarm=indicator.switch_alarm,
            explosion_event=indicator.explosion_event,
            mandatory=bool(indicator.mandatory_for) if mandatory is None else mandatory,
        )


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of the point: time, value, quality (0 GOOD 1 FAULT 2 MAINT 3 OVER_RANGE)."""

    time: datetime
    value: float | None
    quality: int = GOOD
    backfilled: bool = False


@dataclass(frozen=True, slots=True)
class Context:
    """What else the rules look at: the system's running signal (FAN_RUN), None when unknown."""

    running: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmChange:
    """A condition raised, updated (new level, peak or expected time) or cleared on one point.

    ``value`` is the sample value (RATE: the rise in unit/min); ``limit`` the limit crossed (RATE:
    the rate limit; PREDICTED: the limit expected to be crossed, at ``predicted_at``).
    """

    point_id: int
    action: Action
    alarm_type: str
    level: str
    time: datetime
    value: float | None
    limit: float | None
    backfilled: bool
    predicted_at: datetime | None = None


@dataclass(slots=True)
class Condition:
    """One alarm type's evaluation on one point: pending timers per level, open level, clearing."""

    pending: dict[str, datetime] = field(default_factory=dict)  # level -> held since
    active: bool = False
    level: str | None = None
    clear_since: datetime | None = None
    peak: float | None = None
    limit: float | None = None
    predicted_at: datetime | None = None

    def idle(self) -> bool:
        """Nothing pending and nothing open: not worth storing."""
        return not self.active and not self.pending

    def copy(self) -> Condition:
        """An independent copy."""
        return Condition(
            dict(self.pending),
            self.active,
            self.level,
            self.clear_since,
            self.peak,
            self.limit,
            self.predicted_at,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form, None fields left out."""
        data: dict[str, Any] = {}
        if self.pending:
            data["pending"] = {lvl: t.isoformat() for lvl, t in self.pending.items()}
        if self.active:
            data["active"] = True
        for name in ("level", "peak", "limit"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        for name in ("clear_since", "predicted_at"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name).isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Condition:
        """The condition ``to_json`` wrote."""

        def when(name: str) -> datetime | None:
            return None if data.get(name) is None else datetime.fromisoformat(data[name])

        return cls(
            {lvl: datetime.fromisoformat(t) for lvl, t in data.get("pending", {}).items()},
            bool(data.get("active", False)),
            data.get("level"),
            when("clear_since"),
            data.get("peak"),
            data.get("limit"),
            when("predicted_at"),
        )


@dataclass(slots=True)
class PointState:
    """One point's evaluation state: condition timers, recent values for rate and trend."""

    last_time: datetime | None = None  # newest sample evaluated
    conditions: dict[str, Condition] = field(default_factory=dict)  # by alarm type
    rate: list[tuple[float, float]] = field(default_factory=list)  # (epoch s, value)
    trend: Trend = field(default_factory=Trend)
    prediction: Prediction | None = None
    out_of_order: int = 0  # samples ignored because they were not newer than last_time

    def open_alarms(self) -> dict[str, str]:
        """Alarm type -> level of every open condition."""
        return {t: c.level for t, c in self.conditions.items() if c.active and c.level}

    def copy(self) -> PointState:
        """An independent copy (``evaluate`` never changes the state it is given)."""
        return PointState(
            self.last_time,
            {t: c.copy() for t, c in self.conditions.items()},
            list(self.rate),
            self.trend.copy(),
            self.prediction,
            self.out_of_order,
        )

    def to_json(self) -> dict[str, Any]:
        """A small JSON-serialisable dict (bounded: a few dozen numbers) for the caller to store."""
        return {
            "v": _STATE_VERSION,
            "last_time": None if self.last_time is None else self.last_time.isoformat(),
            "conditions": {t: c.to_json() for t, c in self.conditions.items()},
            "rate": [list(r) for r in self.rate],
            "trend": self.trend.to_json(),
            "prediction": None if self.prediction is None else self.prediction.to_json(),
            "out_of_order": self.out_of_order,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PointState:
        """The state ``to_json`` wrote; an unknown version starts afresh (timers restart)."""
        if data.get("v") != _STATE_VERSION:
            return cls()
        return cls(
            None if data.get("last_time") is None else datetime.fromisoformat(data["last_time"]),
            {t: Condition.from_json(c) for t, c in data.get("conditions", {}).items()},
            [(float(s), float(v)) for s, v in data.get("rate", [])],
            Trend.from_json(data.get("trend", {})),
            None if data.get("prediction") is None else Prediction.from_json(data["prediction"]),
            int(data.get("out_of_order", 0)),
        )


# ---------------------------------------------------------------- the condition machine


@dataclass(frozen=True, slots=True)
class _Step:
    """One sample's verdict for one alarm type."""

    alarm_type: str
    levels: tuple[str, ...]  # ascending severity
    held: tuple[str, ...]  # levels whose condition holds on this sample
    clear_ok: bool  # the value is back inside (limits minus deadband) or the reason is gone
    persistence: timedelta
    limit_of: Callable[[str], float | None]
    badness: Callable[[float], float] | None = None  # larger = worse, for the peak
    predicted_at: datetime | None = None  # PREDICTED only: the expected crossing


class _Run:
    """Applies verdicts to a state at one time and collects the changes."""

    def __init__(
        self, rule: PointRule, state: PointState, time: datetime, settings: EvaluationSettings
    ) -> None:
        self.rule, self.state, self.time, self.settings = rule, state, time, settings
        self.changes: list[AlarmChange] = []
        self.backfilled = False

    def change(
        self,
        action: Action,
        alarm_type: str,
        cond: Condition,
        value: float | None,
    ) -> None:
        self.changes.append(
            AlarmChange(
                point_id=self.rule.point_id,
                action=action,
                alarm_type=alarm_type,
                level=cond.level or alarm_type,
                time=self.time,
                value=value,
                limit=cond.limit,
                backfilled=self.backfilled,
                predicted_at=cond.predicted_at,
            )
        )

    def step(self, s: _Step, value: float | None) -> bool:
        """Advance one alarm type; True when it raised on this sample."""
        t = self.time
        if not s.held and s.alarm_type not in self.state.conditions:
            return False  # the common case: nothing pending, nothing open, nothing to do
        cond = self.state.conditions.get(s.alarm_type) or Condition()
        for level in s.levels:
            if level in s.held:
                cond.pending.setdefault(level, t)
            else:
                cond.pending.pop(level, None)
        ripe = [
            lvl
            for lvl in s.levels
            if lvl in cond.pending and t - cond.pending[lvl] >= s.persistence
        ]
        top = ripe[-1] if ripe else None
        raised = False
        if not cond.active:
            if top is not None:
                cond.active, cond.level, cond.peak = True, top, value
                cond.limit, cond.clear_since = s.limit_of(top), None
                cond.predicted_at = s.predicted_at
                self.change("raise", s.alarm_type, cond, value)
                raised = True
        elif (
            top is not None
            and cond.level in s.levels
            and s.levels.index(top) > s.levels.index(cond.level)
        ):
            cond.level, cond.limit = top, s.limit_of(top)
            cond.peak = value if _worse(s.badness, value, cond.peak) else cond.peak
            self.change("update", s.alarm_type, cond, value)
        elif s.held and _worse(s.badness, value, cond.peak):
            cond.peak = value
            self.change("update", s.alarm_type, cond, value)
        if cond.active and not raised:
            if s.clear_ok:
                cond.clear_since = cond.clear_since or t
                if t - cond.clear_since >= self.settings.clear_after:
                    self.change("clear", s.alarm_type, cond, value)
                    cond = Condition(pending=cond.pending)
            else:
                cond.clear_since = None
        self._store(s.alarm_type, cond)
        return raised

    def freeze(self, alarm_types: Sequence[str]) -> None:
        """Restart the pending and clearing clocks: nothing was observed about these types."""
        for alarm_type in alarm_types:
            cond = self.state.conditions.get(alarm_type)
            if cond is not None:
                cond.pending.clear()
                cond.clear_since = None
                self._store(alarm_type, cond)

    def stand_down(self, alarm_types: Sequence[str]) -> None:
        """The reason to evaluate is gone (system stopped): nothing pending, open ones clear."""
        for alarm_type in alarm_types:
            cond = self.state.conditions.get(alarm_type)
            if cond is None:
                continue
            cond.pending.clear()
            if cond.active:
                cond.clear_since = cond.clear_since or self.time
                if self.time - cond.clear_since >= self.settings.clear_after:
                    self.change("clear", alarm_type, cond, None)
                    cond = Condition()
            self._store(alarm_type, cond)

    def clear_now(self, alarm_type: str, value: float | None) -> None:
        """Clear an open condition at once (the PREDICTED warning superseded by the real alarm)."""
        cond = self.state.conditions.get(alarm_type)
        if cond is not None and cond.active:
            self.change("clear", alarm_type, cond, value)
            del self.state.conditions[alarm_type]

    def _store(self, alarm_type: str, cond: Condition) -> None:
        if cond.idle():
            self.state.conditions.pop(alarm_type, None)
        else:
            self.state.conditions[alarm_type] = cond


def _worse(
    badness: Callable[[float], float] | None, value: float | None, peak: float | None
) -> bool:
    if badness is None or value is None:
        return False
    return peak is None or badness(value) > badness(peak)


# ---------------------------------------------------------------- evaluation


def evaluate(
    rule: PointRule,
    state: PointState,
    sample: Sample,
    context: Context,
    settings: EvaluationSettings | None = None,
) -> tuple[PointState, list[AlarmChange]]:
    """Evaluate one sample of the point: the new state and the condition changes it causes.

    ``state`` is not changed. Samples must come in time order; see the module docstring for the
    semantics of persistence, deadband, gates, quality, rate, trend and order.
    """
    settings = settings or EvaluationSettings()
    state = state.copy()
    t = sample.time
    if state.last_time is not None and t <= state.last_time:
        state.out_of_order += 1
        return state, []
    run = _Run(rule, state, t, settings)
    run.backfilled = sample.backfilled
    if state.last_time is not None and t - state.last_time > settings.max_gap:
        run.freeze(ALARM_TYPES)
        _forget_recent(state)
    state.last_time = t
    value, quality = sample.value, sample.quality
    low, high = rule.measuring_range
    never = _never
    if quality == FAULT:
        run.step(_Step("FAULT", ("FAULT",), ("FAULT",), False, settings.fault_after, never), value)
        run.freeze((*_PROCESS, "OVER_RANGE"))
        return state, run.changes
    if quality == MAINT or value is None:  # maintenance (检修): suppressed, nothing observed
        run.freeze(ALARM_TYPES)
        return state, run.changes
    # A value (GOOD or OVER_RANGE): the device delivers, so a reported fault is over.
    run.step(_Step("FAULT", ("FAULT",), (), True, settings.fault_after, never), value)
    if quality == OVER_RANGE or not low <= value <= high:

        def distance(v: float) -> float:
            return max(low - v, v - high)

        over = ("OVER_RANGE",)
        run.step(
            _Step("OVER_RANGE", over, over, False, settings.over_range_after, never, distance),
            value,
        )
        run.freeze(_PROCESS)
        return state, run.changes
    run.step(
        _Step("OVER_RANGE", ("OVER_RANGE",), (), True, settings.over_range_after, never), value
    )
    if rule.kind == "analog":
        _evaluate_analog(run, value, context)
    else:
        _evaluate_switch(run, value, context)
    # a limit switched off (or a rule changed) while its alarm was open: let that alarm clear
    defined = _defined(rule)
    run.stand_down([t for t in _PROCESS if t not in defined and t in state.conditions])
    return state, run.changes


def _defined(rule: PointRule) -> set[str]:
    """The process alarm types this rule can raise."""
    limits = rule.limits
    high = limits.ha is not None or limits.hha is not None
    low = limits.la is not None or limits.lla is not None
    if rule.kind != "analog":
        return {"EXPLOSION"} if rule.explosion_event else {"SWITCH"} if rule.switch_alarm else set()
    return {
        name
        for name, present in (
            ("HIGH", high),
            ("LOW", low),
            ("RATE", rule.rate_of_rise is not None),
            ("ZERO_RUNNING", rule.zero_while_running is not None),
            ("PREDICTED", high or low),
        )
        if present
    }


def _never(_level: str) -> float | None:
    return None


def _forget_recent(state: PointState) -> None:
    state.rate = []
    state.trend.reset()
    state.prediction = None


def _gate(run: _Run, context: Context) -> bool:
    """Whether the gated rules evaluate now; handles the stopped and the unknown cases."""
    if not run.rule.gated or context.running is True:
        return True
    state = run.state
    _forget_recent(state)
    if context.running is None:
        run.freeze(_GATED)
        return False
    run.stand_down(_GATED)
    return False


def _evaluate_analog(run: _Run, value: float, context: Context) -> None:
    rule, limits = run.rule, run.rule.limits
    persistence = timedelta(seconds=limits.persistence_s)
    _zero_while_running(run, value, context, persistence)
    if not _gate(run, context):
        return
    highs = {"HA": limits.ha, "HHA": limits.hha}
    lows = {"LA": limits.la, "LLA": limits.lla}
    present_high = [v for v in highs.values() if v is not None]
    present_low = [v for v in lows.values() if v is not None]
    if present_high:
        held = tuple(lvl for lvl in _HIGH_LEVELS if (lim := highs[lvl]) is not None and value > lim)
        clear_ok = value < min(present_high) - limits.deadband
        run.step(
            _Step("HIGH", _HIGH_LEVELS, held, clear_ok, persistence, highs.get, _identity), value
        )
    if present_low:
        held = tuple(lvl for lvl in _LOW_LEVELS if (lim := lows[lvl]) is not None and value < lim)
        clear_ok = value > max(present_low) + limits.deadband
        run.step(_Step("LOW", _LOW_LEVELS, held, clear_ok, persistence, lows.get, _negated), value)
    if rule.rate_of_rise is not None:
        _rate_of_rise(run, rule.rate_of_rise, value, persistence)
    if present_high or present_low:
        _early_warning(run, value)


def _identity(v: float) -> float:
    return v


def _negated(v: float) -> float:
    return -v


def _zero_while_running(run: _Run, value: float, context: Context, persistence: timedelta) -> None:
    level = run.rule.zero_while_running
    if level is None:
        return
    low, high = run.rule.measuring_range
    zero = low + run.settings.zero_fraction * (high - low)
    if context.running is None:
        run.freeze(("ZERO_RUNNING",))
        return
    held = (level,) if context.running and value <= zero else ()
    clear_ok = not context.running or value > zero + run.rule.limits.deadband
    run.step(
        _Step("ZERO_RUNNING", (level,), held, clear_ok, persistence, lambda _: zero, _negated),
        value,
    )


def _rate_of_rise(run: _Run, rule: RateOfRise, value: float, persistence: timedelta) -> None:
    state, settings = run.state, run.settings
    now = run.time.timestamp()
    if not state.rate or now - state.rate[-1][0] >= settings.rate_resolution.total_seconds():
        state.rate.append((now, value))
    oldest = now - settings.rate_window.total_seconds()
    state.rate = [r for r in state.rate if r[0] >= oldest]
    span = state.rate[-1][0] - state.rate[0][0]
    if len(state.rate) < 3 or span < settings.rate_min_span.total_seconds():
        run.freeze(("RATE",))  # too little history to say either way
        return
    rise = _slope_per_min(state.rate)
    run.step(
        _Step(
            "RATE",
            (rule.level,),
            (rule.level,) if rise > rule.per_min else (),
            rise <= rule.per_min,
            persistence,
            lambda _: rule.per_min,
            _identity,
        ),
        round(rise, 3),
    )


def _slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (epoch s, value) points, in value per minute."""
    n = len(points)
    mean_t = math.fsum(p[0] for p in points) / n
    mean_v = math.fsum(p[1] for p in points) / n
    sxx = math.fsum((p[0] - mean_t) ** 2 for p in points)
    sxy = math.fsum((p[0] - mean_t) * (p[1] - mean_v) for p in points)
    return 60.0 * sxy / sxx


def _early_warning(run: _Run, value: float) -> None:
    """The PREDICTED warning: feed the trend, refit on a closed minute, warn when due."""
    state, limits, ps = run.state, run.rule.limits, run.settings.prediction
    open_ = state.open_alarms()
    upper = None if "HIGH" in open_ else (limits.ha if limits.ha is not None else limits.hha)
    lower = None if "LOW" in open_ else (limits.la if limits.la is not None else limits.lla)
    warning = state.conditions.get("PREDICTED")
    if warning is not None and warning.active:
        superseded = ("HIGH" in open_ and warning.limit in (limits.ha, limits.hha)) or (
            "LOW" in open_ and warning.limit in (limits.la, limits.lla)
        )
        if superseded:
            run.clear_now("PREDICTED", value)
    if state.trend.add(run.time, value, ps):
        state.prediction = predict_crossing(fit_trend(state.trend, ps), upper, lower, ps)
    prediction = state.prediction
    if prediction is not None and (
        (prediction.direction == "up" and upper is None)
        or (prediction.direction == "down" and lower is None)
    ):
        prediction = None  # that side's real alarm is open: nothing left to predict there
    verdict = outlook(prediction, run.time, ps)
    warning = state.conditions.get("PREDICTED")
    if warning is not None and warning.active and prediction is not None:
        if prediction.limit != warning.limit:
            verdict = "clear"  # the trend turned towards the other limit
        elif abs(prediction.predicted_at - (warning.predicted_at or prediction.predicted_at)) >= (
            ps.update_shift
        ):
            warning.predicted_at = prediction.predicted_at
            run.change("update", "PREDICTED", warning, value)
    level = ("PREDICTED",)
    limit = None if prediction is None else prediction.limit
    run.step(
        _Step(
            "PREDICTED",
            level,
            level if verdict == "due" else (),
            verdict == "clear",
            ps.persistence,
            lambda _: limit,
            predicted_at=None if prediction is None else prediction.predicted_at,
        ),
        value,
    )


def _evaluate_switch(run: _Run, value: float, context: Context) -> None:
    rule = run.rule
    if not _gate(run, context):
        return
    on = value > 0
    if rule.explosion_event:
        level = ("EXPLOSION",)
        run.step(
            _Step("EXPLOSION", level, level if on else (), not on, timedelta(0), _never, _identity),
            value,
        )
    elif rule.switch_alarm is not None:
        level = (rule.switch_alarm,)
        persistence = timedelta(seconds=rule.limits.persistence_s)
        run.step(
            _Step("SWITCH", level, level if on else (), not on, persistence, _never, _identity),
            value,
        )


def evaluate_event(
    rule: PointRule,
    state: PointState,
    time: datetime,
    event_type: str,  # "ACTIVE" or "CLEAR" (protocol v1 §5), checked here
    value: float | None,
    backfilled: bool,
    settings: EvaluationSettings | None = None,
    context: Context | None = None,
) -> tuple[PointState, list[AlarmChange]]:
    """Evaluate a device event (protocol v1 §5) on the point.

    An explosion device's ACTIVE raises EXPLOSION at once, even when older than the newest sample
    (a repeat is an "update"). Otherwise an event is a reading at its time: on a switch or count
    point ACTIVE is its value (1 when none) and CLEAR is 0, so the switch alarm's persistence and
    clearing apply; on an analog point a value is evaluated against the limits, ACTIVE without a
    value is the device reporting its own fault (FAULT), and CLEAR without a value changes nothing
    (the next good reading clears the fault).
    """
    settings = settings or EvaluationSettings()
    context = context or Context()
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; expected ACTIVE or CLEAR")
    if rule.explosion_event and event_type == "ACTIVE":
        state = state.copy()
        run = _Run(rule, state, time, settings)
        run.backfilled = backfilled
        cond = state.conditions.get("EXPLOSION") or Condition()
        cond.level, cond.clear_since = "EXPLOSION", None
        cond.peak = value if value is not None else 1.0
        run.change("update" if cond.active else "raise", "EXPLOSION", cond, cond.peak)
        cond.active = True
        state.conditions["EXPLOSION"] = cond
        if state.last_time is None or time > state.last_time:
            state.last_time = time
        return state, run.changes
    if rule.kind in ("switch", "count"):
        reading = (value if value is not None else 1.0) if event_type == "ACTIVE" else 0.0
        sample = Sample(time, reading, GOOD, backfilled)
    elif value is not None:
        sample = Sample(time, value, GOOD, backfilled)
    elif event_type == "ACTIVE":
        sample = Sample(time, None, FAULT, backfilled)
    else:
        return state.copy(), []
    return evaluate(rule, state, sample, context, settings)


def offline_changes(
    state: PointState, point_id: int, time: datetime, online: bool, *, backfilled: bool = False
) -> tuple[PointState, list[AlarmChange]]:
    """OFFLINE raised when a point (or gateway: keep a state for it) goes offline, cleared back.

    The connectivity check has already waited its window, so both happen at once. Going offline
    also restarts every pending and clearing clock: nothing is observed while offline.
    """
    state = state.copy()
    cond = state.conditions.get("OFFLINE") or Condition()
    changes: list[AlarmChange] = []

    def change(action: Action) -> AlarmChange:
        return AlarmChange(
            point_id=point_id,
            action=action,
            alarm_type="OFFLINE",
            level="OFFLINE",
            time=time,
            value=None,
            limit=None,
            backfilled=backfilled,
        )

    if not online and not cond.active:
        for other in state.conditions.values():
            other.pending.clear()
            other.clear_since = None
        state.conditions["OFFLINE"] = Condition(active=True, level="OFFLINE")
        changes.append(change("raise"))
    elif online and cond.active:
        del state.conditions["OFFLINE"]
        changes.append(change("clear"))
    state.conditions = {t: c for t, c in state.conditions.items() if not c.idle()}
    return state, changes
