"""The demo region: Shanghai's Baoshan district and two neighbours, with made-up enterprises.

Deterministic (a fixed seed) and idempotent: seeding again creates only what is missing. Every
record goes through the registry's rules, and every gateway gets real broker credentials; their
passwords are kept in ``{data_dir}/demo/gateways.json`` (0600) for the simulator — a demo
convenience, never done for real gateways.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel

from twins import users
from twins.errors import ThingExistsError, ThingNotFoundError
from twins.gateways import GatewayCredentials, register_gateway, revoke_gateway
from twins.identifiers import CREDIT_CODE_ALPHABET, credit_code_check_char
from twins.records import create_record, get_record
from twins.regions import region
from twins.registry import ENTERPRISE, KINDS
from twins.schemas import (
    CameraCreate,
    EnterpriseCreate,
    GatewayCreate,
    PointCreate,
    SystemCreate,
)
from twins.scope import Scope
from twins.store import TwinStore

SEED = 310113
DEMO_PASSWORD = "dusttwin-demo"  # noqa: S105 — listed in the README; demo accounts only


@dataclass(frozen=True)
class DemoCounty:
    """A county of the demo with how many enterprises it gets and where they lie."""

    adcode: str
    enterprises: int
    lon: tuple[float, float]
    lat: tuple[float, float]


COUNTIES = (
    DemoCounty("310113", 30, (121.36, 121.50), (31.30, 31.44)),  # 宝山区
    DemoCounty("310114", 18, (121.18, 121.34), (31.30, 31.42)),  # 嘉定区
    DemoCounty("310120", 15, (121.38, 121.62), (30.86, 30.97)),  # 奉贤区
)
STEMS = (
    "华晟",
    "宏达",
    "永固",
    "金泰",
    "鑫源",
    "恒通",
    "联丰",
    "瑞丰",
    "申宝",
    "润华",
    "汇川",
    "东方",
    "宝冶",
    "嘉诚",
    "奉泰",
    "新铝",
    "森工",
    "御木",
    "精工",
    "长江",
    "国茂",
)
PRODUCTS: dict[str, tuple[str, str]] = {
    "aluminium": ("铝制品", "打磨抛光"),
    "magnesium": ("镁合金", "打磨抛光"),
    "iron": ("五金机械", "打磨抛光"),
    "zinc": ("锌业", "粉碎研磨"),
    "wood": ("木业", "砂光"),
}
DRY_OPTIONAL: tuple[str, ...] = ("DUCT_VEL", "SPARK_DET")
WET_OPTIONAL: tuple[str, ...] = ("DUST_CONC",)


def demo_credit_code(rng: random.Random, adcode: str) -> str:
    """A made-up but valid credit code registered in ``adcode`` (企业法人 91...)."""
    body = "91" + adcode + "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(9))
    return body + credit_code_check_char(body)


@dataclass
class DemoEnterprise:
    """One demo enterprise with everything registered under it."""

    record: EnterpriseCreate
    systems: list[SystemCreate] = field(default_factory=list)
    points: list[PointCreate] = field(default_factory=list)
    cameras: list[CameraCreate] = field(default_factory=list)


def demo_plant() -> list[DemoEnterprise]:
    """The demo's 63 enterprises (metal and wood dust, dry and wet systems), deterministically."""
    rng = random.Random(SEED)
    plant: list[DemoEnterprise] = []
    camera_seq = 0
    for county in COUNTIES:
        for i in range(county.enterprises):
            dust = rng.choice(
                ["aluminium", "aluminium", "magnesium", "iron", "zinc", "wood", "wood"]
            )
            product, process = PRODUCTS[dust]
            credit_code = demo_credit_code(rng, county.adcode)
            workers = rng.choice([6, 12, 18, 25, 32, 45, 60, 85, 120])
            ent = DemoEnterprise(
                EnterpriseCreate.model_validate(
                    dict(
                        credit_code=credit_code,
                        name=f"上海{STEMS[(i + len(plant)) % len(STEMS)]}{product}有限公司"
                        + ("" if i < len(STEMS) else f"{i // len(STEMS) + 1}厂"),
                        adcode=county.adcode,
                        address=f"上海市{region(county.adcode).name}工业园区{rng.randint(1, 999)}号",  # noqa: E501
                        location={
                            "lon": round(rng.uniform(*county.lon), 5),
                            "lat": round(rng.uniform(*county.lat), 5),
                        },
                        industry="C33 金属制品业" if dust != "wood" else "C20 木材加工",
                        regulated_industry="机械" if dust != "wood" else "轻工",
                        dust_workers=workers,
                        staff_total=workers * rng.randint(2, 4),
                        safety_staff=rng.randint(1, 4),
                        dust_types=[dust],
                        processes=[process],
                        principal={"name": f"负责人{i + 1}", "phone": f"1380000{len(plant):04d}"},
                        safety_officer={
                            "name": f"安全员{i + 1}",
                            "phone": f"1390000{len(plant):04d}",
                        },
                        moisture_reactive=dust in ("aluminium", "magnesium"),
                    )
                )
            )
            for s in range(1, rng.randint(1, 4) + 1):
                wet = rng.random() < (0.6 if dust in ("aluminium", "magnesium") else 0.2)
                code = f"DC{s:02d}"
                ent.systems.append(
                    SystemCreate(
                        system_code=code,
                        name=f"{s}#{'湿式除尘器' if wet else '布袋除尘器'}",
                        collector="wet" if wet else "dry",
                        collector_type="wet_scrubber" if wet else "bag",
                        indoor=rng.random() < 0.3,
                        air_volume_m3h=float(rng.choice([8000, 12000, 20000, 30000])),
                        design_water_flow_m3h=40.0 if wet else None,
                        explosion_protection=[]
                        if wet
                        else ["venting", "airlock", "spark_detection"],
                    )
                )
                if wet:
                    mandatory = ["TANK_LEVEL", "WATER_FLOW", "FAN_RUN"]
                    if dust in ("aluminium", "magnesium"):
                        mandatory.append("H2_CONC")
                    optional = WET_OPTIONAL
                else:
                    mandatory = ["HOPPER_TEMP", "DP_IN_OUT", "AIRLOCK_FAULT", "FAN_RUN"]
                    optional = DRY_OPTIONAL
                indicators = mandatory + list(
                    optional[: max(0, rng.randint(4, 6) - len(mandatory))]
                )
                ent.points.extend(
                    PointCreate(
                        point_code=f"{code}-{ind}-1",
                        system_code=code,
                        indicator=ind,
                        unit=_UNITS[ind],
                        gateway_id="GW01",
                    )
                    for ind in indicators
                )
                for _c in range(rng.randint(1, 2)):
                    camera_seq += 1
                    gb = f"{county.adcode}00" + "00" + "132" + "0" + f"{camera_seq:06d}"
                    ent.cameras.append(
                        CameraCreate.model_validate(
                            dict(
                                gb28181_id=gb,
                                name=f"{s}#除尘器摄像机{_c + 1}",
                                system_code=code,
                                live={"hls": f"http://127.0.0.1:8888/live/{gb}/index.m3u8"},
                                playback_template=(
                                    f"http://127.0.0.1:8888/playback/{gb}.m3u8?start={{start}}&end={{end}}"
                                ),
                            )
                        )
                    )
            plant.append(ent)
    return plant


_UNITS = {
    "HOPPER_TEMP": "°C",
    "DP_IN_OUT": "Pa",
    "AIRLOCK_FAULT": "0/1",
    "FAN_RUN": "0/1",
    "TANK_LEVEL": "m",
    "WATER_FLOW": "m³/h",
    "H2_CONC": "%LEL",
    "DUCT_VEL": "m/s",
    "SPARK_DET": "count",
    "DUST_CONC": "mg/m³",
}

DEMO_USERS: tuple[tuple[str, str, str | None, str], ...] = (
    ("admin", "admin", None, "平台管理员"),
    ("mem", "regulator", "000000", "应急管理部"),
    ("shanghai", "regulator", "310000", "上海市应急管理局"),
    ("baoshan", "regulator", "310113", "宝山区应急管理局"),
    ("jiading", "regulator", "310114", "嘉定区应急管理局"),
    ("fengxian", "regulator", "310120", "奉贤区应急管理局"),
    ("integrator", "integrator", None, "示范系统集成商"),
)


@dataclass
class SeedReport:
    """What a seeding run created."""

    enterprises: int = 0
    systems: int = 0
    points: int = 0
    cameras: int = 0
    gateways: int = 0
    users: int = 0


async def _create(store: TwinStore, spec_kind: str, body: BaseModel, credit_code: str) -> bool:
    try:
        await create_record(store, Scope.admin(), KINDS[spec_kind], body, credit_code=credit_code)
    except ThingExistsError:
        return False
    return True


async def _registered(store: TwinStore, credit_code: str, gateway_id: str) -> bool:
    try:
        await get_record(store, Scope.admin(), KINDS["gateway"], credit_code, gateway_id)
    except ThingNotFoundError:
        return False
    return True


async def seed(
    store: TwinStore,
    conn: AsyncConnection[Any],
    broker: GatewayCredentials,
    passwords: dict[str, str],
) -> SeedReport:
    """Create what is missing of the demo region; returns the counts of what was created.

    ``passwords`` maps gateway usernames to the passwords issued to them; gateways missing from
    it are (re-)registered and their new passwords added.
    """
    report = SeedReport()
    admin = Scope.admin()
    plant = demo_plant()
    for ent in plant:
        cc = ent.record.credit_code
        try:
            await create_record(store, admin, ENTERPRISE, ent.record)
            report.enterprises += 1
        except ThingExistsError:
            pass
        for system in ent.systems:
            report.systems += await _create(store, "system", system, cc)
        username = f"{cc}.GW01"
        known = passwords.get(username)
        # a password is reused only while both the twin and the broker account still hold it
        # (a database made anew beside an old data directory has neither gateway nor secret)
        if (
            known is None
            or not await _registered(store, cc, "GW01")
            or not await broker.accepts(username, known)
        ):
            with contextlib.suppress(ThingNotFoundError):  # a gateway whose password was lost
                await revoke_gateway(store, admin, cc, "GW01", broker)
            _thing, passwords[username] = await register_gateway(
                store,
                admin,
                cc,
                GatewayCreate(gateway_id="GW01", name="数采网关", upload_period_s=10),
                broker,
            )
            report.gateways += 1
        for point in ent.points:
            report.points += await _create(store, "point", point, cc)
        for camera in ent.cameras:
            report.cameras += await _create(store, "camera", camera, cc)
    report.users = await _seed_users(conn, plant)
    return report


async def _seed_users(conn: AsyncConnection[Any], plant: list[DemoEnterprise]) -> int:
    created = 0
    first_of_county: dict[str, str] = {}
    for ent in plant:
        first_of_county.setdefault(ent.record.adcode, ent.record.credit_code)
    accounts = list(DEMO_USERS) + [
        (f"qiye-{adcode}", "enterprise", cc, f"示范企业（{adcode}）")
        for adcode, cc in first_of_county.items()
    ]
    for username, role, scope, display in accounts:
        try:
            await users.add_user(conn, username, role, scope, DEMO_PASSWORD, display_name=display)
            created += 1
        except users.UserError:
            pass  # exists from an earlier run
    baoshan = [e.record.credit_code for e in plant if e.record.adcode == "310113"][:10]
    for cc in baoshan:
        await users.grant_integrator(conn, "integrator", cc, "seed-demo")
    return created


def read_passwords(path: Path) -> dict[str, str]:
    """The demo gateways' passwords kept by an earlier seeding (empty when none)."""
    return dict(json.loads(path.read_text())) if path.exists() else {}


def write_passwords(path: Path, passwords: dict[str, str]) -> None:
    """Keep the demo gateways' passwords for the simulator, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(passwords, f, indent=1, sort_keys=True)
