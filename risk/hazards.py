"""Major hidden dangers (重大事故隐患, domain.md §6): recorded per enterprise and system from the
list of the 2023 criteria, rectified by the enterprise with a deadline, verified by a regulator.

A danger counts as open — it scores in R_management and forces at least orange (the risk model's
``major_hazard`` override) — until a regulator verifies its rectification (销号). An enterprise
reporting "rectified" is not enough on its own: these are the dangers that kill people, and the
criteria make the regulator's check the end of the loop. The enterprise's report is recorded and
shown (RECTIFIED), and a regulator may send it back (RECTIFYING again).

Status: OPEN → RECTIFYING (the enterprise started) → RECTIFIED (the enterprise reports it done) →
VERIFIED (a regulator confirms). Overdue: not yet reported rectified by its deadline.

Exceptions (base ``risk.errors.RiskError``): ``InvalidHazardError``, ``HazardExistsError`` (the same
danger is open on the same system), ``HazardNotFoundError``, ``HazardStateError``,
``HazardNotPermittedError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal

from psycopg import AsyncConnection, errors
from psycopg.rows import dict_row

from risk.alarms import mark_pending
from risk.errors import RiskError
from risk.model import HazardFact
from risk.queryfilters import scoped_where
from twins.errors import ThingNotFoundError
from twins.registry import thing_id
from twins.scope import Role, Scope

__all__ = [
    "HAZARD_ITEMS",
    "HAZARD_STATUSES",
    "OPEN_STATUSES",
    "HazardAction",
    "HazardExistsError",
    "HazardFilter",
    "HazardItem",
    "HazardNotFoundError",
    "HazardNotPermittedError",
    "HazardStateError",
    "InvalidHazardError",
    "act_on_hazard",
    "get_hazard",
    "is_overdue",
    "list_hazards",
    "open_hazards",
    "record_hazard",
    "take",
]

HAZARD_STATUSES: Final = ("OPEN", "RECTIFYING", "RECTIFIED", "VERIFIED")
OPEN_STATUSES: Final = ("OPEN", "RECTIFYING", "RECTIFIED")
HazardAction = Literal["start", "rectify", "verify", "reopen", "extend"]


class InvalidHazardError(RiskError):
    """A hidden danger that cannot be recorded as given (unknown item or system, bad dates)."""


class HazardExistsError(RiskError):
    """The same danger is already open on the same system (or plant) of the enterprise."""


class HazardNotFoundError(RiskError):
    """No such hidden danger, or the caller may not see it."""


class HazardStateError(RiskError):
    """An action the danger's present status does not allow."""


class HazardNotPermittedError(RiskError):
    """The caller's role may not take this action on a hidden danger."""


@dataclass(frozen=True)
class HazardItem:
    """One item of the list of major hidden dangers of dust-explosion enterprises."""

    code: str
    name_zh: str
    name_en: str
    description: str
    basis: str = "FOUND"


_CRITERIA: Final = "工贸企业重大事故隐患判定标准（2023，应急管理部令第10号）第十二条"
# The list as data [FOUND, the criteria's article 12 on dust explosion], in its own order.
HAZARD_ITEMS: Final = MappingProxyType(
    {
        item.code: item
        for item in (
            HazardItem(
                "DUST_BUILDING",
                "涉爆场所建筑或人员聚集",
                "dust area in a non-frame multi-storey building or with rooms where people gather",
                f"{_CRITERIA}（一）：粉尘爆炸危险场所在非框架结构多层建（构）筑物内，"
                "或场所内设有宿舍、会议室、办公室、休息室等人员聚集场所",
            ),
            HazardItem(
                "SHARED_SYSTEM",
                "除尘系统混用或互联互通",
                "different dusts (or dust and flammable gas) on one system, or one system "
                "across buildings or fire compartments, or systems interconnected",
                f"{_CRITERIA}（二）：不同类别可燃性粉尘、粉尘与可燃气体共用一套除尘系统，"
                "或不同建（构）筑物、防火分区共用除尘系统、除尘系统互联互通",
            ),
            HazardItem(
                "NO_EXPLOSION_CONTROL",
                "干式除尘无爆炸防控措施",
                "a dry dust-removal system without venting, inerting or suppression",
                f"{_CRITERIA}（三）：干式除尘系统未采取泄爆、惰化、抑爆等任一种爆炸防控措施",
            ),
            HazardItem(
                "POSITIVE_PRESSURE",
                "正压除尘或吹送无点燃源防范",
                "Al/Mg dust collected under positive pressure, or other dust blown under "
                "positive pressure without spark detection and extinguishing",
                f"{_CRITERIA}（四）：铝镁等金属粉尘采用正压除尘，或其他可燃性粉尘正压吹送"
                "时未采取火花探测消除等防范点燃源措施",
            ),
            HazardItem(
                "SETTLING_CHAMBER",
                "重力沉降室或干式巷道风道",
                "a gravity settling chamber, or a dry tunnel-type structure used as a duct",
                f"{_CRITERIA}（五）：采用重力沉降室除尘，或采用干式巷道式构筑物作为除尘风道",
            ),
            HazardItem(
                "NO_AIRLOCK",
                "未设锁气卸灰装置",
                "a dry system for metal or wood dust without an airlock discharge",
                f"{_CRITERIA}（六）：铝镁等金属粉尘、木质粉尘的干式除尘系统未设置锁气卸灰装置",
            ),
            HazardItem(
                "ZONE20_ELECTRICAL",
                "20区电气设备不防爆",
                "electrical equipment in a zone 20 area (collector, dust bin) not explosion-proof",
                f"{_CRITERIA}（七）：除尘器、收尘仓等 20 区场所电气设备不符合防爆要求",
            ),
            HazardItem(
                "IGNITION_SOURCES",
                "未除杂或砂光风管无火花探测",
                "no tramp-metal/stone removal before grinding or milling, or no spark detection "
                "and extinguishing on the ducts of sanders in wood processing",
                f"{_CRITERIA}（八）：粉碎、研磨、造粒等设备前未设除铁石等杂物装置，或木制品"
                "加工砂光机风管未设火花探测消除装置",
            ),
            HazardItem(
                "WET_REACTIVE_METAL",
                "遇湿自燃金属粉尘防护缺失",
                "moisture-reactive metal dust without ventilation against hydrogen, or dry "
                "storage without protection from water and damp",
                f"{_CRITERIA}（九）：遇湿自燃金属粉尘收集、堆放、储存场所未采取通风等防止氢气"
                "积聚措施，或干式场所未防水防潮",
            ),
            HazardItem(
                "DUST_ACCUMULATION",
                "未落实清理制度积尘严重",
                "no dust-cleaning routine in force, with heavy dust deposits on site",
                f"{_CRITERIA}（十）：未落实粉尘清理制度，作业现场积尘严重",
            ),
        )
    }
)

# action -> (statuses it starts from, the status it leads to, the roles that may take it)
_STEPS: Final[dict[str, tuple[tuple[str, ...], str | None, frozenset[Role]]]] = {
    "start": (("OPEN",), "RECTIFYING", frozenset({"enterprise", "admin"})),
    "rectify": (("OPEN", "RECTIFYING"), "RECTIFIED", frozenset({"enterprise", "admin"})),
    "verify": (("RECTIFIED",), "VERIFIED", frozenset({"regulator", "admin"})),
    "reopen": (("RECTIFIED",), "RECTIFYING", frozenset({"regulator", "admin"})),
    # a new deadline keeps the status
    "extend": (OPEN_STATUSES, None, frozenset({"regulator", "admin"})),
}
RECORDERS: Final[frozenset[Role]] = frozenset({"regulator", "enterprise", "admin"})


def take(action: str, status: str, role: Role) -> str:
    """The status after ``action`` (pure); raises when the role or the status does not allow it."""
    step = _STEPS.get(action)
    if step is None:
        raise HazardStateError(f"unknown action {action!r}; one of {sorted(_STEPS)}")
    sources, target, roles = step
    if role not in roles:
        raise HazardNotPermittedError(
            f"a {role} may not {action} a major hidden danger / 无权执行该操作"
        )
    if status not in sources:
        raise HazardStateError(
            f"cannot {action} a hidden danger that is {status} / 当前状态（{status}）不允许该操作"
        )
    return target or status


def is_overdue(status: str, deadline: datetime, now: datetime) -> bool:
    """Not yet reported rectified by its deadline."""
    return status in ("OPEN", "RECTIFYING") and now > deadline


@dataclass(frozen=True)
class HazardFilter:
    """What a list of hidden dangers is narrowed to."""

    credit_code: str | None = None
    system_code: str | None = None
    adcode: str | None = None
    statuses: tuple[str, ...] = ()
    item: str | None = None
    open_only: bool = False
    overdue_only: bool = False


_COLUMNS: Final = (
    "id, credit_code, adcode, system_code, item, description, found_at, found_by, deadline,"
    " status, recorded_at, rectified_at, verified_at, verified_by"
)


def _public(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    item = HAZARD_ITEMS.get(row["item"])
    return {
        **row,
        "item_name_zh": item.name_zh if item else row["item"],
        "item_name_en": item.name_en if item else row["item"],
        "open": row["status"] in OPEN_STATUSES,
        "overdue": is_overdue(row["status"], row["deadline"], now),
    }


async def _history(
    conn: AsyncConnection[Any],
    hazard_id: int,
    action: str,
    actor: str,
    from_status: str | None,
    to_status: str,
    detail: dict[str, Any],
    at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO hazard_history (hazard_id, at, actor, action, from_status, to_status, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (hazard_id, at, actor, action, from_status, to_status, json.dumps(detail)),
    )


async def record_hazard(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    *,
    item: str,
    system_code: str | None,
    description: str,
    found_at: datetime,
    deadline: datetime,
    now: datetime,
) -> dict[str, Any]:
    """Record a major hidden danger (a regulator of the enterprise, the enterprise, an admin)."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT adcode FROM things WHERE thing_id = %s AND deleted_at IS NULL",
            (thing_id("enterprise", credit_code),),
        )
        row = await cur.fetchone()
        if row is None or not scope.sees("enterprise", row[0], credit_code):
            raise ThingNotFoundError(f"no enterprise {credit_code} / 企业不存在")
        adcode = str(row[0])
        if scope.role not in RECORDERS:
            raise HazardNotPermittedError(f"a {scope.role} does not record hidden dangers")
        if item not in HAZARD_ITEMS:
            raise InvalidHazardError(
                f"unknown item {item!r}; one of {', '.join(HAZARD_ITEMS)} / 不在重大事故隐患清单内"
            )
        if found_at > now:
            raise InvalidHazardError("found_at lies in the future / 发现时间不能晚于当前时间")
        if deadline <= found_at:
            raise InvalidHazardError("the deadline must follow found_at / 整改期限须晚于发现时间")
        if system_code is not None:
            cur = await conn.execute(
                "SELECT 1 FROM things WHERE thing_id = %s AND deleted_at IS NULL",
                (thing_id("system", credit_code, system_code),),
            )
            if await cur.fetchone() is None:
                raise InvalidHazardError(f"system {system_code} is not registered / 除尘系统不存在")
        try:
            async with conn.transaction():
                cur = await conn.execute(
                    "INSERT INTO major_hazards (credit_code, adcode, system_code, item,"
                    " description, found_at, found_by, deadline, recorded_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (
                        credit_code,
                        adcode,
                        system_code,
                        item,
                        description,
                        found_at,
                        scope.username,
                        deadline,
                        now,
                    ),
                )
        except errors.UniqueViolation as err:
            raise HazardExistsError(
                f"{item} is already open for {credit_code} {system_code or '(plant)'}"
                " / 该隐患已登记且未销号"
            ) from err
        new = await cur.fetchone()
        assert new is not None
        hazard_id = int(new[0])
        detail = {"deadline": deadline.isoformat()}
        await _history(conn, hazard_id, "recorded", scope.username, None, "OPEN", detail, now)
        await mark_pending(conn, [credit_code], now)  # the risk is re-evaluated at once
    return await get_hazard(conn, scope, hazard_id, now)


async def act_on_hazard(
    conn: AsyncConnection[Any],
    scope: Scope,
    hazard_id: int,
    action: HazardAction,
    now: datetime,
    *,
    remark: str | None = None,
    deadline: datetime | None = None,
) -> dict[str, Any]:
    """Take one step of the rectification loop (``take`` says who may do what when)."""
    async with conn.transaction():
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                f"SELECT {_COLUMNS} FROM major_hazards WHERE id = %s FOR UPDATE", (hazard_id,)
            )
            row = await cur.fetchone()
        if row is None or not scope.sees("enterprise", row["adcode"], row["credit_code"]):
            raise HazardNotFoundError(f"no hidden danger {hazard_id} / 隐患不存在")
        to_status = take(action, row["status"], scope.role)
        detail: dict[str, Any] = {"remark": remark} if remark else {}
        sets = "status = %s"
        params: list[Any] = [to_status]
        if action == "extend":
            if deadline is None or deadline <= now:
                raise InvalidHazardError("a new deadline in the future is needed / 须给出新期限")
            sets += ", deadline = %s"
            params.append(deadline)
            detail |= {"from": row["deadline"].isoformat(), "to": deadline.isoformat()}
        elif action == "rectify":
            sets += ", rectified_at = %s"
            params.append(now)
        elif action == "verify":
            sets += ", verified_at = %s, verified_by = %s"
            params += [now, scope.username]
        elif action == "reopen":
            sets += ", rectified_at = NULL"
        await conn.execute(f"UPDATE major_hazards SET {sets} WHERE id = %s", [*params, hazard_id])
        past = {
            "start": "started",
            "rectify": "rectified",
            "verify": "verified",
            "reopen": "reopened",
            "extend": "extended",
        }[action]
        await _history(conn, hazard_id, past, scope.username, row["status"], to_status, detail, now)
        if (row["status"] in OPEN_STATUSES) != (to_status in OPEN_STATUSES):
            await mark_pending(conn, [row["credit_code"]], now)
    return await get_hazard(conn, scope, hazard_id, now)


async def get_hazard(
    conn: AsyncConnection[Any], scope: Scope, hazard_id: int, now: datetime
) -> dict[str, Any]:
    """One hidden danger the caller sees, with its history."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM major_hazards WHERE id = %s", (hazard_id,))
        row = await cur.fetchone()
        if row is None or not scope.sees("enterprise", row["adcode"], row["credit_code"]):
            raise HazardNotFoundError(f"no hidden danger {hazard_id} / 隐患不存在")
        await cur.execute(
            "SELECT at, actor, action, from_status, to_status, detail FROM hazard_history"
            " WHERE hazard_id = %s ORDER BY at, id",
            (hazard_id,),
        )
        history = await cur.fetchall()
    return {**_public(row, now), "history": history}


def _where(scope: Scope, f: HazardFilter, now: datetime) -> tuple[str, list[Any]]:
    clauses, params = scoped_where(
        scope,
        equals=(("credit_code", f.credit_code), ("system_code", f.system_code), ("item", f.item)),
        adcode=f.adcode,
        any_of=(("status", f.statuses),),
    )
    if f.open_only:
        clauses.append("status <> 'VERIFIED'")
    if f.overdue_only:
        clauses.append("status IN ('OPEN', 'RECTIFYING') AND deadline < %s")
        params.append(now)
    return " AND ".join(clauses) or "true", params


async def list_hazards(
    conn: AsyncConnection[Any],
    scope: Scope,
    f: HazardFilter,
    now: datetime,
    *,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """The hidden dangers the caller sees that match, newest first, and how many there are."""
    where, params = _where(scope, f, now)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM major_hazards WHERE {where}", params)
        total = await cur.fetchone()
        await cur.execute(
            f"SELECT {_COLUMNS} FROM major_hazards WHERE {where}"
            " ORDER BY found_at DESC, id DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        rows = await cur.fetchall()
    return (int(total["n"]) if total else 0), [_public(r, now) for r in rows]


async def open_hazards(
    conn: AsyncConnection[Any], credit_codes: Iterable[str] | None = None
) -> dict[str, list[HazardFact]]:
    """Open (not yet verified) major hidden dangers per enterprise, as the risk model takes them.

    ``credit_codes`` None: every enterprise. Ordered by id, so an unchanged set of dangers gives
    an unchanged evaluation.
    """
    only = "" if credit_codes is None else " AND credit_code = ANY(%s)"
    params: tuple[Any, ...] = () if credit_codes is None else (sorted(set(credit_codes)),)
    cur = await conn.execute(
        "SELECT id, credit_code, item, system_code FROM major_hazards"
        f" WHERE status <> 'VERIFIED'{only} ORDER BY id",
        params,
    )
    out: dict[str, list[HazardFact]] = {}
    for hazard_id, credit_code, item, system_code in await cur.fetchall():
        known = HAZARD_ITEMS.get(item)
        title = known.name_zh if known else item
        out.setdefault(credit_code, []).append(
            HazardFact(hazard_id=str(hazard_id), title=title, system_code=system_code)
        )
    return out
