"""The device catalog: domain.md §2 indicators, their default limits, validation and overrides."""

from __future__ import annotations

import pytest

from device_catalog import (
    Catalog,
    CatalogError,
    LimitOverrideError,
    Limits,
    RateOfRise,
    UnknownCollectorError,
    UnknownIndicatorError,
    effective_limits,
    load_catalog,
    parse_catalog,
    validate_limits,
)

# domain.md §2: code -> (unit, kind).
DOMAIN_INDICATORS = {
    "HOPPER_TEMP": ("°C", "analog"),
    "DP_IN_OUT": ("Pa", "analog"),
    "AIRLOCK_FAULT": ("0/1", "switch"),
    "TANK_LEVEL": ("m", "analog"),
    "WATER_FLOW": ("m³/h", "analog"),
    "H2_CONC": ("%LEL", "analog"),
    "SPARK_DET": ("count", "count"),
    "SPARK_EXT": ("0/1", "switch"),
    "DUST_CONC": ("mg/m³", "analog"),
    "DUCT_VEL": ("m/s", "analog"),
    "FAN_RUN": ("0/1", "switch"),
    "PULSE_AIR_P": ("MPa", "analog"),
    "INLET_TEMP": ("°C", "analog"),
    "OUTLET_TEMP": ("°C", "analog"),
    "SMOKE": ("0/1", "switch"),
    "VENT_BURST": ("0/1", "switch"),
    "ISO_VALVE": ("0/1", "switch"),
    "SUPPRESSOR": ("0/1", "switch"),
    "O2_CONC": ("%vol", "analog"),
    "CO_CONC": ("ppm", "analog"),
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The catalog shipped in the package."""
    return load_catalog()


# ---------------------------------------------------------------- the shipped catalog


def test_every_domain_indicator_is_in_the_catalog_with_its_unit_and_kind(catalog: Catalog) -> None:
    assert catalog.version == "2026.1"
    assert {c: (i.unit, i.kind) for c, i in catalog.indicators.items()} == DOMAIN_INDICATORS


def test_mandatory_indicators_per_collector_type_follow_the_guide(catalog: Catalog) -> None:
    dry = [i.code for i in catalog.mandatory_indicators("dry")]
    wet = [i.code for i in catalog.mandatory_indicators("wet")]
    assert dry == ["HOPPER_TEMP", "DP_IN_OUT", "AIRLOCK_FAULT"]
    assert wet == ["TANK_LEVEL", "WATER_FLOW"]
    assert all("FOUND" in catalog.indicator(c).basis for c in dry + wet)


def test_an_unknown_collector_type_is_refused_rather_than_meaning_no_mandatory_indicators(
    catalog: Catalog,
) -> None:
    with pytest.raises(UnknownCollectorError, match=r"Dry"):
        catalog.mandatory_indicators("Dry")


@pytest.mark.parametrize(
    ("code", "limit", "value"),
    [
        ("HOPPER_TEMP", "ha", 70),
        ("HOPPER_TEMP", "hha", 90),
        ("DP_IN_OUT", "la", 200),
        ("DP_IN_OUT", "ha", 1500),
        ("H2_CONC", "ha", 25),
        ("H2_CONC", "hha", 50),
        ("DUCT_VEL", "la", 20),
        ("PULSE_AIR_P", "la", 0.4),
        ("O2_CONC", "ha", 8),
        ("CO_CONC", "ha", 50),
        ("INLET_TEMP", "ha", 70),
        ("OUTLET_TEMP", "hha", 90),
    ],
)
def test_default_limits_match_the_domain_table(
    catalog: Catalog, code: str, limit: str, value: float
) -> None:
    assert getattr(catalog.indicator(code).default_limits(), limit) == value


def test_limits_not_in_the_domain_table_are_absent(catalog: Catalog) -> None:
    hopper = catalog.indicator("HOPPER_TEMP").default_limits()
    assert (hopper.la, hopper.lla) == (None, None)
    assert catalog.indicator("DP_IN_OUT").default_limits().hha is None


def test_every_limit_and_range_is_marked_as_our_default(catalog: Catalog) -> None:
    assert all("DEFAULT" in i.basis for i in catalog.indicators.values())


def test_duct_velocity_low_alarm_is_higher_for_aluminium_and_magnesium_dust(
    catalog: Catalog,
) -> None:
    assert catalog.indicator("DUCT_VEL").default_limits(al_mg=True).la == 23


def test_temperatures_alarm_on_a_rise_faster_than_5_degrees_a_minute(catalog: Catalog) -> None:
    codes = ("HOPPER_TEMP", "INLET_TEMP", "OUTLET_TEMP")
    rises = {code: catalog.indicator(code).rate_of_rise for code in codes}
    assert rises == dict.fromkeys(codes, RateOfRise(per_min=5, level="HA"))


def test_pressure_difference_is_judged_only_while_the_fan_runs(catalog: Catalog) -> None:
    assert catalog.indicator("DP_IN_OUT").gate == "FAN_RUN"
    assert catalog.running_signal == "FAN_RUN"
    assert catalog.indicator("WATER_FLOW").zero_while_running == "HHA"


def test_airlock_fault_alarms_after_10_seconds(catalog: Catalog) -> None:
    airlock = catalog.indicator("AIRLOCK_FAULT")
    assert (airlock.switch_alarm, airlock.limits.persistence_s) == ("HA", 10)


@pytest.mark.parametrize(
    ("code", "level"),
    [("SMOKE", "HA"), ("SPARK_DET", "HA"), ("SPARK_EXT", "HA"), ("AIRLOCK_FAULT", "HA")],
)
def test_switch_and_count_indicators_raise_their_level(
    catalog: Catalog, code: str, level: str
) -> None:
    assert catalog.indicator(code).switch_alarm == level


@pytest.mark.parametrize("code", ["VENT_BURST", "ISO_VALVE", "SUPPRESSOR"])
def test_explosion_devices_raise_the_highest_level_at_once(catalog: Catalog, code: str) -> None:
    device = catalog.indicator(code)
    assert device.explosion_event
    assert device.switch_alarm == "EXPLOSION"
    assert device.criticality == "explosion"
    assert device.limits.persistence_s == 0


def test_only_the_three_explosion_devices_are_explosion_events(catalog: Catalog) -> None:
    events = {c for c, i in catalog.indicators.items() if i.explosion_event}
    assert events == {"VENT_BURST", "ISO_VALVE", "SUPPRESSOR"}


def test_tank_level_low_alarm_is_20_percent_of_the_points_range(catalog: Catalog) -> None:
    tank = catalog.indicator("TANK_LEVEL")
    assert tank.default_limits(range_=(0, 3)).la == 0.6
    assert tank.default_limits(range_=(1, 6)).la == 2
    assert tank.default_limits().la is None


def test_water_flow_low_alarm_is_80_percent_of_design_flow(catalog: Catalog) -> None:
    flow = catalog.indicator("WATER_FLOW")
    assert flow.default_limits(design=50).la == 40
    assert flow.default_limits().la is None


def test_dust_concentration_high_alarm_is_25_percent_of_the_dusts_mec(catalog: Catalog) -> None:
    dust = catalog.indicator("DUST_CONC")
    assert dust.default_limits(mec=30000).ha == 7500
    assert dust.default_limits().ha is None


def test_unit_spellings_of_the_same_unit_are_accepted(catalog: Catalog) -> None:
    hopper = catalog.indicator("HOPPER_TEMP")
    assert [hopper.accepts_unit(u) for u in ("°C", " ℃ ", "degC", "K", "°F")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert catalog.indicator("WATER_FLOW").accepts_unit("m3/h")
    assert catalog.indicator("DUST_CONC").accepts_unit("mg/m3")


def test_a_unit_that_changes_the_value_is_not_an_alias(catalog: Catalog) -> None:
    assert not catalog.indicator("DP_IN_OUT").accepts_unit("kPa")
    assert not catalog.indicator("DUST_CONC").accepts_unit("g/m³")


def test_an_unknown_indicator_code_is_an_error(catalog: Catalog) -> None:
    with pytest.raises(UnknownIndicatorError, match=r"HOPER_TEMP"):
        catalog.indicator("HOPER_TEMP")


def test_collector_types_carry_their_mandatory_indicators(catalog: Catalog) -> None:
    collectors = {
        c: (d.collector, set(d.indicators))
        for c, d in catalog.device_types.items()
        if d.category == "collector"
    }
    assert {c: k for c, (k, _) in collectors.items()} == {
        "BAG_FILTER": "dry",
        "CARTRIDGE_FILTER": "dry",
        "CYCLONE": "dry",
        "WATER_BATH": "wet",
        "WET_SCRUBBER": "wet",
    }
    assert collectors["BAG_FILTER"][1] >= {"HOPPER_TEMP", "DP_IN_OUT", "AIRLOCK_FAULT"}
    assert collectors["WET_SCRUBBER"][1] >= {"TANK_LEVEL", "WATER_FLOW"}


def test_every_indicator_is_measured_by_some_collection_device(catalog: Catalog) -> None:
    measured = {
        code
        for d in catalog.device_types.values()
        if d.category == "device"
        for code in d.indicators
    }
    assert measured == set(catalog.indicators)
    assert catalog.device_type("LEVEL_GAUGE").indicators == ("TANK_LEVEL",)


# ---------------------------------------------------------------- limits of a point


def test_limits_in_order_and_inside_the_range_have_no_problems() -> None:
    limits = Limits(ha=70, hha=90, deadband=2, persistence_s=0)
    assert validate_limits(limits, (-20, 200)) == []


def test_limits_out_of_order_are_named_with_their_values() -> None:
    limits = Limits(ha=95, hha=90, deadband=2, persistence_s=0)
    assert validate_limits(limits, (-20, 200)) == ["HA 95 must be below HHA 90"]


def test_limits_out_of_range_are_named_with_the_range() -> None:
    problems = validate_limits(Limits(la=-5, ha=70, deadband=0, persistence_s=0), (0, 100))
    assert len(problems) == 1
    assert problems[0].startswith("LA -5 must lie strictly inside the measuring range [0, 100]")


def test_a_limit_on_the_edge_of_the_range_is_refused_because_it_could_never_fire() -> None:
    problems = validate_limits(Limits(hha=100, deadband=0, persistence_s=0), (0, 100))
    assert problems[0].startswith("HHA 100 must lie strictly inside")


def test_negative_deadband_and_persistence_are_refused() -> None:
    problems = validate_limits(Limits(ha=1, deadband=-1, persistence_s=-5), (0, 10))
    assert problems == ["deadband -1 must not be negative", "persistence -5 s must not be negative"]


def test_a_resolved_relative_limit_outside_the_points_range_is_reported(catalog: Catalog) -> None:
    # MEC 250 g/m³: 25 % of it is beyond a 0–50 g/m³ monitor's range.
    limits = catalog.indicator("DUST_CONC").default_limits(mec=250_000)
    assert validate_limits(limits, (0, 50_000))[0].startswith("HA 62500 must lie strictly inside")


def test_point_overrides_beat_defaults_and_none_switches_a_limit_off(catalog: Catalog) -> None:
    hopper = catalog.indicator("HOPPER_TEMP")
    limits = effective_limits(hopper, {"ha": 60, "hha": None, "persistence_s": 30})
    assert limits == Limits(ha=60, hha=None, deadband=2, persistence_s=30)


def test_the_tanks_configured_minimum_beats_the_20_percent_default(catalog: Catalog) -> None:
    tank = catalog.indicator("TANK_LEVEL")
    assert effective_limits(tank, {"la": 0.8}, range_=(0, 3)).la == 0.8
    assert effective_limits(tank, {}, range_=(0, 3)).la == 0.6


def test_a_misspelt_override_is_refused_rather_than_ignored(catalog: Catalog) -> None:
    with pytest.raises(LimitOverrideError, match=r"'HA'"):
        effective_limits(catalog.indicator("HOPPER_TEMP"), {"HA": 60})


def test_deadband_cannot_be_switched_off(catalog: Catalog) -> None:
    with pytest.raises(LimitOverrideError, match=r"deadband"):
        effective_limits(catalog.indicator("HOPPER_TEMP"), {"deadband": None})


# ---------------------------------------------------------------- a catalog change and overrides

FAN_RUN = """
[[indicator]]
code = "FAN_RUN"
name_zh = "风机运行"
name_en = "fan running"
unit = "0/1"
kind = "switch"
collectors = ["dry", "wet"]
mandatory_for = []
range = [0, 1]
deadband = 0
persistence_s = 0
criticality = "normal"
explosion_event = false
basis = ["DEFAULT"]
"""

HOPPER_TEMP = """
[[indicator]]
code = "HOPPER_TEMP"
name_zh = "灰斗温度"
name_en = "hopper temperature"
unit = "°C"
unit_aliases = ["℃"]
kind = "analog"
collectors = ["dry"]
mandatory_for = ["dry"]
range = [-20, 200]
ha = 70
hha = 90
deadband = 2
persistence_s = 0
criticality = "high"
explosion_event = false
basis = ["FOUND", "DEFAULT"]
"""

BAG_FILTER = """
[[device_type]]
code = "BAG_FILTER"
name_zh = "布袋除尘器"
name_en = "bag filter"
category = "collector"
collector = "dry"
indicators = ["HOPPER_TEMP", "FAN_RUN"]
basis = ["FOUND"]
"""


def indicators_toml(version: str = "2026.1", hopper: str = HOPPER_TEMP) -> str:
    """A small indicators.toml: FAN_RUN and the given HOPPER_TEMP entry."""
    return f'version = "{version}"\nrunning_signal = "FAN_RUN"\n{FAN_RUN}{hopper}'


def devices_toml(version: str = "2026.1", device: str = BAG_FILTER) -> str:
    """A small devices.toml with one device type entry."""
    return f'version = "{version}"\n{device}'


def test_a_catalog_change_never_rewrites_a_limit_a_point_overrides() -> None:
    old = parse_catalog(indicators_toml("2026.1"), devices_toml("2026.1"))
    new = parse_catalog(
        indicators_toml("2026.2", HOPPER_TEMP.replace("ha = 70", "ha = 65")),
        devices_toml("2026.2"),
    )
    overridden = {"ha": 75.0}
    following: dict[str, float | None] = {}
    assert effective_limits(old.indicator("HOPPER_TEMP"), overridden).ha == 75
    assert effective_limits(new.indicator("HOPPER_TEMP"), overridden).ha == 75
    assert effective_limits(old.indicator("HOPPER_TEMP"), following).ha == 70
    assert effective_limits(new.indicator("HOPPER_TEMP"), following).ha == 65
    assert effective_limits(new.indicator("HOPPER_TEMP"), overridden).hha == 90


def test_the_small_catalog_is_valid() -> None:
    small = parse_catalog(indicators_toml(), devices_toml())
    assert (small.version, list(small.indicators), list(small.device_types)) == (
        "2026.1",
        ["FAN_RUN", "HOPPER_TEMP"],
        ["BAG_FILTER"],
    )


# ---------------------------------------------------------------- validation at load


@pytest.mark.parametrize(
    ("hopper", "field"),
    [
        (HOPPER_TEMP + 'colour = "red"\n', "colour"),
        (HOPPER_TEMP.replace('unit = "°C"\n', ""), "unit"),
        (HOPPER_TEMP.replace("basis = ", "# basis = "), "basis"),
        (HOPPER_TEMP.replace('kind = "analog"', 'kind = "digital"'), "kind"),
        (HOPPER_TEMP.replace('collectors = ["dry"]', 'collectors = ["dry", "damp"]'), "collectors"),
        (
            HOPPER_TEMP.replace('mandatory_for = ["dry"]', 'mandatory_for = ["wet"]'),
            "mandatory_for",
        ),
        (HOPPER_TEMP.replace('criticality = "high"', 'criticality = "severe"'), "criticality"),
        (HOPPER_TEMP.replace('basis = ["FOUND", "DEFAULT"]', 'basis = ["GUESS"]'), "basis"),
        (HOPPER_TEMP.replace('basis = ["FOUND", "DEFAULT"]', "basis = []"), "basis"),
        (HOPPER_TEMP.replace("ha = 70", "ha = 95"), "ha"),
        (HOPPER_TEMP.replace("hha = 90", "hha = 250"), "hha"),
        (HOPPER_TEMP.replace("ha = 70", "ha = 200"), "ha"),
        (HOPPER_TEMP.replace("range = [-20, 200]", "range = [200, -20]"), "range"),
        (HOPPER_TEMP.replace("range = [-20, 200]", "range = [0, 0]"), "range"),
        (HOPPER_TEMP.replace("deadband = 2", "deadband = -2"), "deadband"),
        (HOPPER_TEMP.replace("ha = 70", 'ha = "70"'), "ha"),
        (HOPPER_TEMP.replace('unit_aliases = ["℃"]', 'unit_aliases = ["°C"]'), "unit_aliases"),
        (HOPPER_TEMP + 'switch_alarm = "HA"\n', "switch_alarm"),
        (HOPPER_TEMP + "ha_fraction_of_range = 0.5\n", "ha_fraction_of_range"),
        (HOPPER_TEMP + "la_fraction_of_range = 1.5\n", "la_fraction_of_range"),
        (HOPPER_TEMP + 'gate = "HOPPER_TEMP"\n', "gate"),
        (HOPPER_TEMP + 'gate = "NO_SUCH_SWITCH"\n', "gate"),
        (
            HOPPER_TEMP.replace("explosion_event = false", "explosion_event = true"),
            "explosion_event",
        ),
    ],
)
def test_a_bad_indicator_entry_is_refused_naming_file_indicator_and_field(
    hopper: str, field: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(indicators_toml(hopper=hopper), devices_toml())
    assert (caught.value.file, caught.value.entry, caught.value.field) == (
        "indicators.toml",
        "HOPPER_TEMP",
        field,
    )
    assert f"indicators.toml: HOPPER_TEMP: {field}: " in str(caught.value)


def test_a_code_that_is_not_upper_snake_is_refused() -> None:
    bad = HOPPER_TEMP.replace('code = "HOPPER_TEMP"', 'code = "hopper_temp"')
    with pytest.raises(CatalogError, match=r"indicators\.toml: hopper_temp: code: .*UPPER_SNAKE"):
        parse_catalog(indicators_toml(hopper=bad), devices_toml())


def test_an_explosion_device_with_a_delay_is_refused() -> None:
    vent = (
        FAN_RUN.replace('"FAN_RUN"', '"VENT_BURST"')
        .replace('criticality = "normal"', 'criticality = "explosion"')
        .replace("explosion_event = false", 'explosion_event = true\nswitch_alarm = "EXPLOSION"')
        .replace("persistence_s = 0", "persistence_s = 10")
    )
    with pytest.raises(CatalogError, match=r"VENT_BURST: persistence_s: .*at once"):
        parse_catalog(indicators_toml(hopper=HOPPER_TEMP + vent), devices_toml())


def test_the_same_code_twice_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"HOPPER_TEMP: code: the same code appears twice"):
        parse_catalog(indicators_toml(hopper=HOPPER_TEMP + HOPPER_TEMP), devices_toml())


def test_a_device_type_naming_an_unknown_indicator_is_refused() -> None:
    device = BAG_FILTER.replace('"FAN_RUN"]', '"FAN_RUN", "HOPER_TEMP"]')
    with pytest.raises(CatalogError, match=r"devices\.toml: BAG_FILTER: indicators: .*HOPER_TEMP"):
        parse_catalog(indicators_toml(), devices_toml(device=device))


def test_a_collector_type_missing_a_mandatory_indicator_is_refused() -> None:
    device = BAG_FILTER.replace('"HOPPER_TEMP", ', "")
    with pytest.raises(CatalogError, match=r"devices\.toml: BAG_FILTER: indicators: misses HOPPER"):
        parse_catalog(indicators_toml(), devices_toml(device=device))


def test_a_device_type_with_an_unknown_key_is_refused() -> None:
    device = BAG_FILTER + "airflow = 12000\n"
    with pytest.raises(CatalogError, match=r"devices\.toml: BAG_FILTER: airflow: unknown key"):
        parse_catalog(indicators_toml(), devices_toml(device=device))


def test_the_two_files_must_carry_the_same_version() -> None:
    with pytest.raises(CatalogError, match=r"devices\.toml: version: '2026.2' differs"):
        parse_catalog(indicators_toml("2026.1"), devices_toml("2026.2"))


def test_a_missing_version_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"indicators\.toml: version: missing required field"):
        parse_catalog(indicators_toml().replace('version = "2026.1"\n', ""), devices_toml())


def test_text_that_is_not_toml_is_refused_naming_the_file() -> None:
    with pytest.raises(CatalogError, match=r"devices\.toml: syntax: not valid TOML"):
        parse_catalog(indicators_toml(), "version = ")
