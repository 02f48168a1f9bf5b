"""Indicator and device types (监测指标, 设备类型) from the packaged TOML, and limit rules."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.resources import files
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Final

from device_catalog.errors import (
    CatalogError,
    LimitOverrideError,
    UnknownCollectorError,
    UnknownDeviceTypeError,
    UnknownIndicatorError,
)

INDICATORS_FILE: Final = "indicators.toml"
DEVICES_FILE: Final = "devices.toml"

KINDS: Final = ("analog", "switch", "count")
COLLECTORS: Final = ("dry", "wet")
CRITICALITIES: Final = ("explosion", "high", "normal")
BASES: Final = ("SEED", "FOUND", "DEFAULT")
CATEGORIES: Final = ("collector", "device")
# Limit names in ascending order of value: LLA < LA < HA < HHA.
LIMIT_NAMES: Final = ("lla", "la", "ha", "hha")
LIMIT_LEVELS: Final = ("LLA", "LA", "HA", "HHA")
EXPLOSION: Final = "EXPLOSION"
SWITCH_LEVELS: Final = (*LIMIT_LEVELS, EXPLOSION)
# Figures a relative limit may be a fraction of: the point's measuring range, its design value
# (e.g. design water flow) and the dust's minimum explosible concentration (MEC), all in the
# indicator's unit.
FIGURES: Final = ("range", "design", "mec")
OVERRIDABLE: Final = (*LIMIT_NAMES, "deadband", "persistence_s")

CODE_RE: Final = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """A point's alarm limits (上上限 HHA, 上限 HA, 下限 LA, 下下限 LLA), deadband, persistence."""

    hha: float | None = None
    ha: float | None = None
    la: float | None = None
    lla: float | None = None
    deadband: float
    persistence_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RelativeLimit:
    """A limit known only per point: a fraction of the range, the design value or the dust's MEC."""

    limit: str
    fraction: float
    figure: str

    def resolve(
        self, range_: tuple[float, float] | None, design: float | None, mec: float | None
    ) -> float | None:
        """The absolute limit for these figures, or None when the needed figure is not given."""
        if self.figure == "range":
            value = None if range_ is None else range_[0] + self.fraction * (range_[1] - range_[0])
        else:
            base = design if self.figure == "design" else mec
            value = None if base is None else self.fraction * base
        # 12 significant digits drop binary noise (0.2 × 3 shows as 0.6, not 0.6000000000000001).
        return None if value is None else float(f"{value:.12g}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RateOfRise:
    """A rise faster than ``per_min`` (indicator unit per minute) raises ``level``."""

    per_min: float
    level: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Indicator:
    """An indicator type (监测指标): unit, kind, where it applies and its default alarm rules."""

    code: str
    name_zh: str
    name_en: str
    unit: str
    unit_aliases: tuple[str, ...]
    kind: str
    collectors: tuple[str, ...]
    mandatory_for: tuple[str, ...]
    measuring_range: tuple[float, float]
    limits: Limits
    relative_limits: tuple[RelativeLimit, ...]
    al_mg_limits: Mapping[str, float] = field(hash=False)
    rate_of_rise: RateOfRise | None
    gate: str | None
    zero_while_running: str | None
    switch_alarm: str | None
    criticality: str
    explosion_event: bool
    basis: tuple[str, ...]
    note_zh: str | None
    note_en: str | None

    def accepts_unit(self, unit: str) -> bool:
        """True when ``unit`` is the canonical unit or one of its aliases (whitespace stripped)."""
        spelled = unit.strip()
        return spelled == self.unit or spelled in self.unit_aliases

    def is_mandatory_for(self, collector: str) -> bool:
        """True when every system with this collector type (dry/wet) must carry the indicator."""
        return collector in self.mandatory_for

    def default_limits(
        self,
        range_: tuple[float, float] | None = None,
        design: float | None = None,
        mec: float | None = None,
        *,
        al_mg: bool = False,
    ) -> Limits:
        """The catalog's limits, relative rules resolved from the figures given (else left None).

        ``range_`` is the point's measuring range, ``design`` its design value (e.g. design flow)
        and ``mec`` the dust's minimum explosible concentration, all in the indicator's unit;
        ``al_mg`` applies the limits for aluminium/magnesium dust where the catalog has them.
        """
        values: dict[str, float | None] = {name: getattr(self.limits, name) for name in LIMIT_NAMES}
        if al_mg:
            values.update(self.al_mg_limits)
        for rule in self.relative_limits:
            values[rule.limit] = rule.resolve(range_, design, mec)
        return _with_limits(self.limits, values)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceType:
    """A collector type (除尘器类型) or collection device (采集设备) and its indicators."""

    code: str
    name_zh: str
    name_en: str
    category: str
    collector: str | None
    indicators: tuple[str, ...]
    basis: tuple[str, ...]
    note_zh: str | None
    note_en: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """One version of the device catalog: indicators and device types by code."""

    version: str
    running_signal: str
    indicators: Mapping[str, Indicator] = field(hash=False)
    device_types: Mapping[str, DeviceType] = field(hash=False)

    def indicator(self, code: str) -> Indicator:
        """The indicator with this code; UnknownIndicatorError when the catalog has none."""
        try:
            return self.indicators[code]
        except KeyError as err:
            raise UnknownIndicatorError(
                f"no indicator {code!r} in device catalog {self.version}"
            ) from err

    def device_type(self, code: str) -> DeviceType:
        """The device type with this code; UnknownDeviceTypeError when the catalog has none."""
        try:
            return self.device_types[code]
        except KeyError as err:
            raise UnknownDeviceTypeError(
                f"no device type {code!r} in device catalog {self.version}"
            ) from err

    def mandatory_indicators(self, collector: str) -> list[Indicator]:
        """The indicators every system with this collector type (dry/wet) must carry."""
        if collector not in COLLECTORS:
            raise UnknownCollectorError(
                f"unknown collector type {collector!r}; expected one of {', '.join(COLLECTORS)}"
            )
        return [i for i in self.indicators.values() if i.is_mandatory_for(collector)]


def effective_limits(
    indicator: Indicator,
    overrides: Mapping[str, float | None],
    *,
    range_: tuple[float, float] | None = None,
    design: float | None = None,
    mec: float | None = None,
    al_mg: bool = False,
) -> Limits:
    """A point's limits: each key in ``overrides`` beats the catalog, absent keys follow it.

    An explicit None switches that limit off for the point. Keys are ``hha``, ``ha``, ``la``,
    ``lla``, ``deadband`` and ``persistence_s``; deadband and persistence cannot be None.
    """
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise LimitOverrideError(
            f"{indicator.code}: unknown limit override {', '.join(map(repr, unknown))}; "
            f"expected among {', '.join(OVERRIDABLE)}"
        )
    base = indicator.default_limits(range_, design, mec, al_mg=al_mg)
    deadband = overrides.get("deadband", base.deadband)
    persistence_s = overrides.get("persistence_s", base.persistence_s)
    if deadband is None or persistence_s is None:
        raise LimitOverrideError(
            f"{indicator.code}: deadband and persistence_s need a value; only limits can be None"
        )
    return _with_limits(replace(base, deadband=deadband, persistence_s=persistence_s), overrides)


def _with_limits(limits: Limits, values: Mapping[str, float | None]) -> Limits:
    """``limits`` with the limits named in ``values`` replaced (deadband, persistence kept)."""
    merged = {
        name: values[name] if name in values else getattr(limits, name) for name in LIMIT_NAMES
    }
    return Limits(
        hha=merged["hha"],
        ha=merged["ha"],
        la=merged["la"],
        lla=merged["lla"],
        deadband=limits.deadband,
        persistence_s=limits.persistence_s,
    )


def validate_limits(limits: Limits, range_: tuple[float, float]) -> list[str]:
    """Human-readable problems with a point's limits for its measuring range (empty when fine)."""
    return [problem for _, problem in _limit_problems(limits, range_)]


def _limit_problems(limits: Limits, range_: tuple[float, float]) -> list[tuple[str, str]]:
    """(field, problem) pairs: order LLA < LA < HA < HHA, each strictly inside the range, etc."""
    low, high = range_
    problems: list[tuple[str, str]] = []
    if not low < high:
        problems.append(
            ("range", f"measuring range [{low:g}, {high:g}] is empty: low must be below high")
        )
    present = [(n, v) for n in LIMIT_NAMES if (v := getattr(limits, n)) is not None]
    problems += [
        (n, f"{n.upper()} {v} is not a finite number") for n, v in present if not math.isfinite(v)
    ]
    finite = [(n, v) for n, v in present if math.isfinite(v)]
    problems += [
        (lower, f"{lower.upper()} {lv:g} must be below {upper.upper()} {uv:g}")
        for (lower, lv), (upper, uv) in pairwise(finite)
        if not lv < uv
    ]
    # A limit on or beyond the range's edge could never fire: readings beyond it are OVER_RANGE.
    problems += [
        (
            n,
            f"{n.upper()} {v:g} must lie strictly inside the measuring range "
            f"[{low:g}, {high:g}] (a reading beyond the range is OVER_RANGE, not a limit alarm)",
        )
        for n, v in finite
        if not low < v < high
    ]
    if not limits.deadband >= 0:
        problems.append(("deadband", f"deadband {limits.deadband:g} must not be negative"))
    elif low < high and not limits.deadband < high - low:
        problems.append(
            (
                "deadband",
                f"deadband {limits.deadband:g} must be smaller than the measuring range's "
                f"span {high - low:g}",
            )
        )
    if not limits.persistence_s >= 0:
        problems.append(
            ("persistence_s", f"persistence {limits.persistence_s:g} s must not be negative")
        )
    return problems


# ---------------------------------------------------------------- loading


@cache
def load_catalog() -> Catalog:
    """The catalog shipped in the package (indicators.toml and devices.toml), read once."""
    root = files("device_catalog")
    return parse_catalog(
        root.joinpath(INDICATORS_FILE).read_text(encoding="utf-8"),
        root.joinpath(DEVICES_FILE).read_text(encoding="utf-8"),
    )


def parse_catalog(indicators_text: str, devices_text: str) -> Catalog:
    """A catalog from the texts of indicators.toml and devices.toml; CatalogError when invalid."""
    ind_doc = _toml(INDICATORS_FILE, indicators_text)
    dev_doc = _toml(DEVICES_FILE, devices_text)
    top = _entry_fields(INDICATORS_FILE, None, ind_doc, _INDICATORS_TOP)
    version: str = top["version"]
    indicators = _indicators(top["indicator"])
    running_signal: str = top["running_signal"]
    if not _is_switch(running_signal, indicators):
        raise CatalogError(
            INDICATORS_FILE, None, "running_signal", f"{running_signal!r} is not a switch indicator"
        )
    dev_top = _entry_fields(DEVICES_FILE, None, dev_doc, _DEVICES_TOP)
    if dev_top["version"] != version:
        raise CatalogError(
            DEVICES_FILE,
            None,
            "version",
            f"{dev_top['version']!r} differs from {INDICATORS_FILE}'s {version!r}; "
            "both files must carry the same catalog version",
        )
    device_types = _device_types(dev_top.get("device_type", []), indicators)
    return Catalog(
        version=version,
        running_signal=running_signal,
        indicators=MappingProxyType(indicators),
        device_types=MappingProxyType(device_types),
    )


class _InvalidFieldError(Exception):
    """A value that breaks the catalog's rules; the loader adds file, entry and field."""

    def __init__(self, problem: str, field: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.field = field


def _toml(file: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CatalogError(file, None, "syntax", f"not valid TOML: {err}") from err


_Converter = Callable[[Any], Any]
_Schema = Mapping[str, tuple[bool, _Converter]]  # key -> (required, converter)


def _entry_fields(file: str, entry: str | None, table: object, schema: _Schema) -> dict[str, Any]:
    """The fields of one table converted by ``schema``: no unknown keys, no missing ones."""
    if not isinstance(table, dict):
        raise CatalogError(file, entry, "entry", f"must be a table, not {table!r}")
    for key in table:
        if key not in schema:
            raise CatalogError(file, entry, key, "unknown key")
    fields: dict[str, Any] = {}
    for key, (required, convert) in schema.items():
        if key not in table:
            if required:
                raise CatalogError(file, entry, key, "missing required field")
            continue
        try:
            fields[key] = convert(table[key])
        except _InvalidFieldError as err:
            raise CatalogError(file, entry, key, err.problem) from err
    return fields


def _entry_name(table: object, index: int) -> str:
    code = table.get("code") if isinstance(table, dict) else None
    return code if isinstance(code, str) else f"entry #{index + 1}"


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _InvalidFieldError(f"must be a non-empty string, not {value!r}")
    return value


def _code(value: object) -> str:
    text = _text(value)
    if not CODE_RE.match(text):
        raise _InvalidFieldError(f"{text!r} is not an UPPER_SNAKE code")
    return text


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _InvalidFieldError(f"must be a number, not {value!r}")
    if not math.isfinite(value):
        raise _InvalidFieldError(f"must be a finite number, not {value!r}")
    return float(value)


def _fraction(value: object) -> float:
    number = _number(value)
    if not 0 < number <= 1:
        raise _InvalidFieldError(f"must be a fraction in (0, 1], not {number:g}")
    return number


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _InvalidFieldError(f"must be true or false, not {value!r}")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise _InvalidFieldError(f"must be a list, not {value!r}")
    return value


def _distinct(items: list[str]) -> tuple[str, ...]:
    repeated = sorted({i for i in items if items.count(i) > 1})
    if repeated:
        raise _InvalidFieldError(f"lists {', '.join(repeated)} more than once")
    return tuple(items)


def _texts(value: object) -> tuple[str, ...]:
    return _distinct([_text(v) for v in _list(value)])


def _codes(value: object) -> tuple[str, ...]:
    codes = _distinct([_code(v) for v in _list(value)])
    if not codes:
        raise _InvalidFieldError("must not be empty")
    return codes


def _choice(options: tuple[str, ...]) -> _Converter:
    def convert(value: object) -> str:
        if value not in options:
            raise _InvalidFieldError(f"{value!r} is not one of {', '.join(options)}")
        return str(value)

    return convert


def _choices(options: tuple[str, ...], *, non_empty: bool) -> _Converter:
    one = _choice(options)

    def convert(value: object) -> tuple[str, ...]:
        chosen = _distinct([one(v) for v in _list(value)])
        if non_empty and not chosen:
            raise _InvalidFieldError("must not be empty")
        return chosen

    return convert


def _range(value: object) -> tuple[float, float]:
    items = _list(value)
    if len(items) != 2:
        raise _InvalidFieldError(f"must be [low, high], not {value!r}")
    low, high = _number(items[0]), _number(items[1])
    if not low < high:
        raise _InvalidFieldError(f"low {low:g} must be below high {high:g}")
    return low, high


def _limit_table(value: object) -> Mapping[str, float]:
    if not isinstance(value, dict):
        raise _InvalidFieldError(f"must be a table of limits, not {value!r}")
    unknown = sorted(set(value) - set(LIMIT_NAMES))
    if unknown or not value:
        raise _InvalidFieldError(f"must name limits among {', '.join(LIMIT_NAMES)}, not {value!r}")
    return MappingProxyType({name: _number(v) for name, v in value.items()})


def _rate_of_rise(value: object) -> RateOfRise:
    if not isinstance(value, dict) or set(value) != {"per_min", "level"}:
        raise _InvalidFieldError(
            f"must be {{ per_min = <rise per minute>, level = <level> }}, not {value!r}"
        )
    per_min = _number(value["per_min"])
    if not per_min > 0:
        raise _InvalidFieldError(f"per_min {per_min:g} must be above 0")
    return RateOfRise(per_min=per_min, level=_choice(LIMIT_LEVELS)(value["level"]))


def _relative_key(limit: str, figure: str) -> str:
    return f"{limit}_fraction_of_{figure}"


_INDICATORS_TOP: Final[_Schema] = {
    "version": (True, _text),
    "running_signal": (True, _code),
    "indicator": (True, _list),
}
_DEVICES_TOP: Final[_Schema] = {
    "version": (True, _text),
    "device_type": (False, _list),
}
_INDICATOR_SCHEMA: Final[_Schema] = {
    "code": (True, _code),
    "name_zh": (True, _text),
    "name_en": (True, _text),
    "unit": (True, _text),
    "unit_aliases": (False, _texts),
    "kind": (True, _choice(KINDS)),
    "collectors": (True, _choices(COLLECTORS, non_empty=True)),
    "mandatory_for": (True, _choices(COLLECTORS, non_empty=False)),
    "range": (True, _range),
    **{name: (False, _number) for name in LIMIT_NAMES},
    **{_relative_key(n, f): (False, _fraction) for n in LIMIT_NAMES for f in FIGURES},
    "al_mg_limits": (False, _limit_table),
    "deadband": (True, _number),
    "persistence_s": (True, _number),
    "rate_of_rise": (False, _rate_of_rise),
    "gate": (False, _code),
    "zero_while_running": (False, _choice(SWITCH_LEVELS)),
    "switch_alarm": (False, _choice(SWITCH_LEVELS)),
    "criticality": (True, _choice(CRITICALITIES)),
    "explosion_event": (True, _flag),
    "basis": (True, _choices(BASES, non_empty=True)),
    "note_zh": (False, _text),
    "note_en": (False, _text),
}
_DEVICE_SCHEMA: Final[_Schema] = {
    "code": (True, _code),
    "name_zh": (True, _text),
    "name_en": (True, _text),
    "category": (True, _choice(CATEGORIES)),
    "collector": (False, _choice(COLLECTORS)),
    "indicators": (True, _codes),
    "basis": (True, _choices(BASES, non_empty=True)),
    "note_zh": (False, _text),
    "note_en": (False, _text),
}
# Fields only an analog indicator may have (switches and counts alarm through switch_alarm).
_ANALOG_ONLY: Final = (
    *LIMIT_NAMES,
    *(_relative_key(n, f) for n in LIMIT_NAMES for f in FIGURES),
    "al_mg_limits",
    "rate_of_rise",
    "zero_while_running",
)


def _indicators(entries: list[object]) -> dict[str, Indicator]:
    indicators: dict[str, Indicator] = {}
    for index, table in enumerate(entries):
        name = _entry_name(table, index)
        fields = _entry_fields(INDICATORS_FILE, name, table, _INDICATOR_SCHEMA)
        if fields["code"] in indicators:
            raise CatalogError(INDICATORS_FILE, name, "code", "the same code appears twice")
        try:
            indicators[fields["code"]] = _indicator(fields)
        except _InvalidFieldError as err:
            raise CatalogError(INDICATORS_FILE, name, err.field or "entry", err.problem) from err
    if not indicators:
        raise CatalogError(INDICATORS_FILE, None, "indicator", "the catalog has no indicators")
    for indicator in indicators.values():
        try:
            _check_across(indicator, indicators)
        except _InvalidFieldError as err:
            raise CatalogError(
                INDICATORS_FILE, indicator.code, err.field or "entry", err.problem
            ) from err
    return indicators


def _indicator(f: dict[str, Any]) -> Indicator:
    """An Indicator from converted fields, checking the rules between its fields."""
    limits = Limits(
        **{name: f.get(name) for name in LIMIT_NAMES},
        deadband=f["deadband"],
        persistence_s=f["persistence_s"],
    )
    relative = tuple(
        RelativeLimit(limit=n, figure=g, fraction=f[_relative_key(n, g)])
        for n in LIMIT_NAMES
        for g in FIGURES
        if _relative_key(n, g) in f
    )
    indicator = Indicator(
        code=f["code"],
        name_zh=f["name_zh"],
        name_en=f["name_en"],
        unit=f["unit"],
        unit_aliases=f.get("unit_aliases", ()),
        kind=f["kind"],
        collectors=f["collectors"],
        mandatory_for=f["mandatory_for"],
        measuring_range=f["range"],
        limits=limits,
        relative_limits=relative,
        al_mg_limits=f.get("al_mg_limits", MappingProxyType({})),
        rate_of_rise=f.get("rate_of_rise"),
        gate=f.get("gate"),
        zero_while_running=f.get("zero_while_running"),
        switch_alarm=f.get("switch_alarm"),
        criticality=f["criticality"],
        explosion_event=f["explosion_event"],
        basis=f["basis"],
        note_zh=f.get("note_zh"),
        note_en=f.get("note_en"),
    )
    _check_within(indicator, f)
    return indicator


def _check_within(ind: Indicator, f: Mapping[str, Any]) -> None:
    """The rules between one indicator's own fields."""
    if not set(ind.mandatory_for) <= set(ind.collectors):
        raise _InvalidFieldError("names a collector type missing from collectors", "mandatory_for")
    if ind.unit in ind.unit_aliases:
        raise _InvalidFieldError(f"repeats the canonical unit {ind.unit!r}", "unit_aliases")
    if ind.kind == "switch" and ind.measuring_range != (0, 1):
        raise _InvalidFieldError("a switch's range is [0, 1]", "range")
    analog_only = [key for key in _ANALOG_ONLY if key in f]
    if ind.kind != "analog" and analog_only:
        raise _InvalidFieldError(
            f"only an analog indicator has this, not a {ind.kind}", analog_only[0]
        )
    if ind.kind == "analog" and ind.switch_alarm is not None:
        raise _InvalidFieldError("an analog indicator alarms through its limits", "switch_alarm")
    explosion_alarm = ind.switch_alarm == EXPLOSION
    if ind.explosion_event != explosion_alarm or ind.zero_while_running == EXPLOSION:
        raise _InvalidFieldError(
            'an explosion event, and only one, has switch_alarm = "EXPLOSION"', "explosion_event"
        )
    if ind.explosion_event != (ind.criticality == "explosion"):
        raise _InvalidFieldError(
            'an explosion event, and only one, has criticality = "explosion"', "criticality"
        )
    if ind.explosion_event and ind.limits.persistence_s != 0:
        raise _InvalidFieldError(
            "an explosion event raises at once: persistence_s must be 0", "persistence_s"
        )
    for rule in ind.relative_limits:
        if f.get(rule.limit) is not None or rule.limit in ind.al_mg_limits:
            raise _InvalidFieldError(
                f"{rule.limit} is already set absolutely", _relative_key(rule.limit, rule.figure)
            )
    problems = _limit_problems(ind.limits, ind.measuring_range)
    if problems:
        raise _InvalidFieldError(problems[0][1], problems[0][0])
    al_mg = _limit_problems(_with_limits(ind.limits, ind.al_mg_limits), ind.measuring_range)
    if al_mg:
        raise _InvalidFieldError(al_mg[0][1], "al_mg_limits")


def _check_across(ind: Indicator, indicators: Mapping[str, Indicator]) -> None:
    """The rules between an indicator and the rest of the catalog."""
    if ind.gate is not None and (ind.gate == ind.code or not _is_switch(ind.gate, indicators)):
        raise _InvalidFieldError(
            f"{ind.gate!r} is not another switch indicator of the catalog", "gate"
        )
    for alias in ind.unit_aliases:
        clash = [o.code for o in indicators.values() if o.unit == alias and o.unit != ind.unit]
        clash += [
            o.code for o in indicators.values() if alias in o.unit_aliases and o.unit != ind.unit
        ]
        if clash:
            raise _InvalidFieldError(
                f"{alias!r} also spells another unit (in {', '.join(sorted(set(clash)))}); "
                "an alias may only spell the same unit",
                "unit_aliases",
            )


def _is_switch(code: str, indicators: Mapping[str, Indicator]) -> bool:
    other = indicators.get(code)
    return other is not None and other.kind == "switch"


def _device_types(
    entries: list[object], indicators: Mapping[str, Indicator]
) -> dict[str, DeviceType]:
    device_types: dict[str, DeviceType] = {}
    for index, table in enumerate(entries):
        name = _entry_name(table, index)
        f = _entry_fields(DEVICES_FILE, name, table, _DEVICE_SCHEMA)
        if f["code"] in device_types:
            raise CatalogError(DEVICES_FILE, name, "code", "the same code appears twice")
        device = DeviceType(
            code=f["code"],
            name_zh=f["name_zh"],
            name_en=f["name_en"],
            category=f["category"],
            collector=f.get("collector"),
            indicators=f["indicators"],
            basis=f["basis"],
            note_zh=f.get("note_zh"),
            note_en=f.get("note_en"),
        )
        try:
            _check_device(device, indicators)
        except _InvalidFieldError as err:
            raise CatalogError(DEVICES_FILE, name, err.field or "entry", err.problem) from err
        device_types[device.code] = device
    return device_types


def _check_device(device: DeviceType, indicators: Mapping[str, Indicator]) -> None:
    unknown = [code for code in device.indicators if code not in indicators]
    if unknown:
        raise _InvalidFieldError(f"unknown indicator {', '.join(unknown)}", "indicators")
    if (device.category == "collector") != (device.collector is not None):
        raise _InvalidFieldError(
            "a collector type has a collector (dry/wet), a device has none", "collector"
        )
    if device.collector is None:
        return
    missing = [
        i.code
        for i in indicators.values()
        if i.is_mandatory_for(device.collector) and i.code not in device.indicators
    ]
    if missing:
        raise _InvalidFieldError(
            f"misses {', '.join(missing)}, mandatory for {device.collector} collectors",
            "indicators",
        )
    foreign = [c for c in device.indicators if device.collector not in indicators[c].collectors]
    if foreign:
        raise _InvalidFieldError(
            f"{', '.join(foreign)} do not apply to {device.collector} collectors", "indicators"
        )
