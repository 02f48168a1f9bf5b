"""The demo region: Shanghai's Baoshan district and two neighbours, with made-up enterprises.

Deterministic (a fixed seed), so the simulator and the seeding describe the same plant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from twins.identifiers import CREDIT_CODE_ALPHABET, credit_code_check_char, region_thing_id
from twins.storage import Conn, upsert_thing


@dataclass(frozen=True)
class DemoRegion:
    """A region of the demo (GB/T 2260 adcode)."""

    adcode: str
    name_zh: str
    name_en: str
    level: str
    parent: str | None


DEMO_REGIONS: tuple[DemoRegion, ...] = (
    DemoRegion("000000", "应急管理部", "Ministry of Emergency Management", "ministry", None),
    DemoRegion("310000", "上海市", "Shanghai", "province", "000000"),
    DemoRegion("310113", "宝山区", "Baoshan District", "county", "310000"),
    DemoRegion("310114", "嘉定区", "Jiading District", "county", "310000"),
    DemoRegion("310120", "奉贤区", "Fengxian District", "county", "310000"),
)


@dataclass(frozen=True)
class DemoPoint:
    """A monitoring point of a demo gateway."""

    code: str
    indicator: str


@dataclass(frozen=True)
class DemoGateway:
    """A demo gateway with the points it reports."""

    credit_code: str
    gateway_id: str
    points: tuple[DemoPoint, ...]


DRY_POINTS = ("HOPPER_TEMP", "DP_IN_OUT", "AIRLOCK_FAULT", "FAN_RUN", "DUCT_VEL")
WET_POINTS = ("TANK_LEVEL", "WATER_FLOW", "H2_CONC", "FAN_RUN")


def demo_credit_code(rng: random.Random, adcode: str) -> str:
    """A made-up but valid credit code registered in ``adcode`` (企业法人 91...)."""
    body = "91" + adcode + "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(9))
    return body + credit_code_check_char(body)


def demo_gateways(enterprises: int = 60, seed: int = 310113) -> list[DemoGateway]:
    """One gateway per demo enterprise, with 1–4 dust-removal systems of 4–5 points each."""
    rng = random.Random(seed)
    counties = [r.adcode for r in DEMO_REGIONS if r.level == "county"]
    gateways: list[DemoGateway] = []
    for i in range(enterprises):
        credit_code = demo_credit_code(rng, counties[i % len(counties)])
        points: list[DemoPoint] = []
        for s in range(1, rng.randint(1, 4) + 1):
            indicators = DRY_POINTS if rng.random() < 0.7 else WET_POINTS
            points.extend(DemoPoint(f"DC{s:02d}-{ind}-1", ind) for ind in indicators)
        gateways.append(DemoGateway(credit_code, "GW01", tuple(points)))
    return gateways


REGION_DEFINITION = "dusttwin:Region:1.0.0"


def seed_regions(conn: Conn) -> int:
    """Create or refresh the demo's region twins; returns how many there are."""
    for r in DEMO_REGIONS:
        thing_id = region_thing_id(r.adcode)
        upsert_thing(
            conn,
            thing_id,
            policy_id=thing_id,
            definition=REGION_DEFINITION,
            attributes={
                "adcode": r.adcode,
                "name": r.name_zh,
                "name_en": r.name_en,
                "level": r.level,
                "parent": region_thing_id(r.parent) if r.parent else None,
            },
        )
    return len(DEMO_REGIONS)
