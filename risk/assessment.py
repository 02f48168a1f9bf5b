"""Risk judgement in PostgreSQL (风险研判): inputs read, evaluations stored, warnings kept.

``assess`` reads what the model needs for many enterprises with a few set queries (not one per
enterprise), evaluates each with ``risk.model.evaluate``, stores a new ``risk_evaluations`` row
only when the result changed (an unchanged repeat moves ``confirmed_at``), sets each enterprise
twin's ``risk`` feature, raises, upgrades, escalates and clears warnings by
``risk.warnings_policy``, and appends the live events — in the caller's transaction.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from risk.cleaning import CleaningFacts, management_facts
from risk.events import Event, emit
from risk.hazards import open_hazards
from risk.model import (
    AlarmFact,
    EnterpriseInputs,
    Evaluation,
    HazardFact,
    RiskInputError,
    RiskModel,
    SystemFacts,
    dust_class_of,
    evaluate,
    overdue_alarm_ids,
    summarise_systems,
)
from risk.warnings_policy import (
    EscalationRecord,
    OpenWarning,
    decide_warnings,
    escalations_due,
    may_clear,
)

log = logging.getLogger(__name__)
HISTORY: Final = timedelta(days=7)  # closed alarms the model still counts (its 7 d window)


@dataclass
class Facts:
    """One enterprise as the model and the warning policy see it."""

    inputs: EnterpriseInputs
    thing_id: str
    adcode: str
    previous_level: str | None
    offline_since: datetime | None
    open_warnings: list[OpenWarning] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What one pass did, for the job's log."""

    evaluated: int
    stored: int
    level_changes: int
    warnings_raised: int
    escalations: int
    cleared: int


async def load_facts(
    conn: AsyncConnection[Any],
    model: RiskModel,
    now: datetime,
    credit_codes: Sequence[str] | None = None,
) -> dict[str, Facts]:
    """Everything the model needs, for these enterprises (None: every enterprise)."""
    only = "" if credit_codes is None else " AND credit_code = ANY(%(codes)s)"
    params: dict[str, Any] = {"codes": list(credit_codes or []), "now": now}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            # only the keys the model reads: parsing every attribute costs seconds at 10,000
            "SELECT thing_id, credit_code, adcode,"
            " jsonb_build_object('dust_types', attributes -> 'dust_types',"
            "   'dust_workers', attributes -> 'dust_workers') AS attributes,"
            " features #>> '{risk,properties,level}' AS level,"
            " (features #>> '{connectivity,properties,online}')::boolean AS online,"
            " (features #>> '{connectivity,properties,changed_at}')::timestamptz AS changed_at"
            f" FROM things WHERE kind = 'enterprise' AND deleted_at IS NULL{only}",
            params,
        )
        enterprises = await cur.fetchall()
        await cur.execute(
            "SELECT credit_code, attributes ->> 'system_code' AS system_code,"
            " coalesce(attributes ->> 'collector', 'dry') AS collector,"
            " coalesce((attributes ->> 'indoor')::boolean, false) AS indoor,"
            " coalesce(jsonb_array_length(attributes -> 'processes'), 0) > 1 AS central,"
            " coalesce(attributes ->> 'pressure', 'negative') AS pressure,"
            " ARRAY(SELECT jsonb_array_elements_text(coalesce("
            "   attributes -> 'explosion_protection', '[]'))) AS explosion_protection"
            f" FROM things WHERE kind = 'system' AND deleted_at IS NULL{only} ORDER BY id",
            params,
        )
        systems: dict[str, list[SystemFacts]] = defaultdict(list)
        for row in await cur.fetchall():
            systems[row["credit_code"]].append(
                SystemFacts(
                    system_code=row["system_code"],
                    collector=row["collector"],
                    indoor=row["indoor"],
                    central=row["central"],
                    pressure=row["pressure"],
                    explosion_protection=tuple(row["explosion_protection"]),
                )
            )
        await cur.execute(
            "SELECT id, credit_code, level, alarm_type, state, raised_at, ack_deadline,"
            " feedback_deadline, indicator, thing_id, system_code, mandatory, condition_active,"
            " cleared_at, last_seen_at, acknowledged_at, fed_back_at, closed_at, verification,"
            " suppressed FROM alarms WHERE (state <> 'CLOSED'"
            " OR coalesce(cleared_at, last_seen_at) > %(now)s - interval '7 days')"
            f"{only} ORDER BY id",  # a stable order: an unchanged result is recognised as such
            params,
        )
        alarms: dict[str, list[AlarmFact]] = defaultdict(list)
        for a in await cur.fetchall():
            alarms[a["credit_code"]].append(_alarm_fact(a))
        offline = await _offline_share(cur, now, only, params)
    hazards = await open_hazards(conn, credit_codes)
    cleaning = await management_facts(conn, credit_codes, now)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT w.*, coalesce((SELECT jsonb_agg(h.detail ORDER BY h.at) FROM warning_history h"
            "  WHERE h.warning_id = w.id AND h.action = 'escalated'), '[]') AS escalations"
            f" FROM warnings w WHERE state <> 'CLEARED'{only} ORDER BY id",
            params,
        )
        warnings = await cur.fetchall()
    facts: dict[str, Facts] = {}
    for e in enterprises:
        try:
            facts[e["credit_code"]] = _facts(
                model, e, systems, alarms, offline, hazards, cleaning.get(e["credit_code"])
            )
        except RiskInputError as err:
            # one enterprise's bad record must not stop the others being judged
            log.error("risk: enterprise %s cannot be evaluated: %s", e["credit_code"], err)
    for w in warnings:
        f = facts.get(w["credit_code"])
        if f is None:
            continue
        f.open_warnings.append(_open_warning(w))
    return facts


def _facts(
    model: RiskModel,
    e: dict[str, Any],
    systems: dict[str, list[SystemFacts]],
    alarms: dict[str, list[AlarmFact]],
    offline: dict[str, float],
    hazards: dict[str, list[HazardFact]],
    cleaning: CleaningFacts | None,
) -> Facts:
    """One enterprise's facts from its rows (RiskInputError when they cannot be scored)."""
    cc = e["credit_code"]
    a = e["attributes"]
    dust_class, al_mg = dust_class_of(a.get("dust_types") or [])
    summary = summarise_systems(model, systems.get(cc, []))
    inputs = EnterpriseInputs(
        credit_code=cc,
        dust_class=dust_class,
        al_mg=al_mg,
        workers=int(a.get("dust_workers") or 0),
        dry_systems=summary.dry_systems,
        indoor_central_dry=summary.indoor_central_dry,
        positive_pressure_without_spark_ext=summary.positive_pressure_without_spark_ext,
        missing_explosion_measures=summary.missing_explosion_measures,
        alarms=tuple(alarms.get(cc, ())),
        offline_share_24h=offline.get(cc, 0.0),
        cleaning_completion=None if cleaning is None else cleaning.completion,
        overdue_cleanings=() if cleaning is None else cleaning.overdue,
        open_major_hazards=tuple(hazards.get(cc, ())),
    )
    was_offline = e["online"] is False and e["changed_at"] is not None
    return Facts(
        inputs, e["thing_id"], e["adcode"], e["level"], e["changed_at"] if was_offline else None
    )


def _alarm_fact(a: dict[str, Any]) -> AlarmFact:
    return AlarmFact(
        alarm_id=str(a["id"]),
        level=a["level"],
        alarm_type=a["alarm_type"],
        state=a["state"],
        raised_at=a["raised_at"],
        ack_deadline=a["ack_deadline"],
        feedback_deadline=a["feedback_deadline"],
        indicator=a["indicator"],
        point=a["thing_id"],
        system_code=a["system_code"],
        mandatory=a["mandatory"],
        condition_active=a["condition_active"],
        cleared_at=a["cleared_at"],
        last_seen_at=a["last_seen_at"],
        acknowledged_at=a["acknowledged_at"],
        fed_back_at=a["fed_back_at"],
        closed_at=a["closed_at"],
        verification=a["verification"],
        suppressed=a["suppressed"],
    )


def _open_warning(w: dict[str, Any]) -> OpenWarning:
    detail = w["detail"] or {}
    return OpenWarning(
        warning_id=str(w["id"]),
        trigger=w["trigger"],
        level=w["level"],
        raised_at=w["raised_at"],
        level_since=datetime.fromisoformat(detail["level_since"])
        if detail.get("level_since")
        else None,
        fed_back_at=w["fed_back_at"],
        refs=tuple(detail.get("refs") or ()),
        escalations=tuple(
            EscalationRecord(
                tier=e["tier"],
                regulator_adcode=e["regulator_adcode"],
                at=datetime.fromisoformat(e["at"]),
            )
            for e in w["escalations"]
        ),
    )


async def _offline_share(
    cur: Any, now: datetime, only: str, params: dict[str, Any]
) -> dict[str, float]:
    """Share of the last 24 h each enterprise twin was offline, from its recorded transitions."""
    await cur.execute(
        f"""
        WITH ent AS (
            SELECT thing_id, credit_code FROM things
            WHERE kind = 'enterprise' AND deleted_at IS NULL{only}
        ), ev AS (
            SELECT c.thing_id, c.at, c.online,
                   lead(c.at) OVER (PARTITION BY c.thing_id ORDER BY c.at) AS next_at
            FROM connectivity_events c JOIN ent USING (thing_id)
            WHERE c.at <= %(now)s
        )
        SELECT ent.credit_code,
               -- time inside an approved plant-wide maintenance filing does not count
               coalesce(sum(dt_range_seconds(
                   tstzmultirange(tstzrange(greatest(ev.at, %(now)s - interval '24 hours'),
                                            least(coalesce(ev.next_at, %(now)s), %(now)s)))
                   - dt_filed_ranges(ent.credit_code, NULL, %(now)s - interval '24 hours',
                                     %(now)s)))
                        FILTER (WHERE NOT ev.online
                                AND coalesce(ev.next_at, %(now)s) > %(now)s - interval '24 hours'),
                        0) / 86400.0 AS share
        FROM ent LEFT JOIN ev USING (thing_id)
        GROUP BY ent.credit_code
        """,
        params,
    )
    return {
        row["credit_code"]: min(1.0, max(0.0, float(row["share"]))) for row in await cur.fetchall()
    }


async def assess(
    conn: AsyncConnection[Any],
    model: RiskModel,
    now: datetime,
    credit_codes: Sequence[str] | None = None,
) -> Outcome:
    """Evaluate, store, update twins and warnings for these enterprises (None: all)."""
    facts = await load_facts(conn, model, now, credit_codes)
    if not facts:
        return Outcome(0, 0, 0, 0, 0, 0)
    evaluations: dict[str, Evaluation] = {}
    for cc, f in list(facts.items()):
        try:
            evaluations[cc] = evaluate(model, f.inputs, now)
        except RiskInputError as err:
            # one enterprise's odd alarm must not stop the others being judged
            log.error("risk: enterprise %s cannot be evaluated: %s", cc, err)
            del facts[cc]
    if not facts:
        return Outcome(0, 0, 0, 0, 0, 0)
    stored, ids = await _store_evaluations(conn, facts, evaluations, now)
    events: list[Event] = []
    level_changes = await _update_twins(conn, facts, evaluations, events)
    raised = escalated = cleared = 0
    for cc, f in facts.items():
        r, e, c = await _warnings(conn, model, f, evaluations[cc], ids.get(cc), now, events)
        raised, escalated, cleared = raised + r, escalated + e, cleared + c
    await emit(conn, events)
    return Outcome(len(facts), stored, level_changes, raised, escalated, cleared)


async def _store_evaluations(
    conn: AsyncConnection[Any],
    facts: dict[str, Facts],
    evaluations: dict[str, Evaluation],
    now: datetime,
) -> tuple[int, dict[str, int]]:
    """Insert changed results, confirm unchanged ones; returns (inserted, id per enterprise)."""
    codes = sorted(evaluations)
    cur = await conn.execute(
        "SELECT DISTINCT ON (credit_code) credit_code, id, fingerprint FROM risk_evaluations"
        " WHERE credit_code = ANY(%s) ORDER BY credit_code, evaluated_at DESC, id DESC",
        (codes,),
    )
    last = {cc: (int(i), fp) for cc, i, fp in await cur.fetchall()}
    new_rows: list[dict[str, Any]] = []
    confirm: list[int] = []
    ids: dict[str, int] = {}
    for cc in codes:
        ev = evaluations[cc]
        fp = ev.result_fingerprint()
        previous = last.get(cc)
        if previous is not None and previous[1] == fp:
            confirm.append(previous[0])
            ids[cc] = previous[0]
            continue
        new_rows.append(
            {
                "credit_code": cc,
                "adcode": facts[cc].adcode,
                "score": ev.score,
                "level": ev.level,
                "model_version": ev.model_version,
                "result": ev.as_dict(),
                "fingerprint": fp,
            }
        )
    if confirm:
        await conn.execute(
            "UPDATE risk_evaluations SET confirmed_at = %s WHERE id = ANY(%s)", (now, confirm)
        )
    if new_rows:
        cur = await conn.execute(
            # one JSON document for all rows: far cheaper to send than arrays of jsonb
            "INSERT INTO risk_evaluations (credit_code, adcode, evaluated_at, confirmed_at,"
            " score, level, model_version, result, fingerprint)"
            " SELECT r.credit_code, r.adcode, %s, %s, r.score, r.level, r.model_version,"
            " r.result, r.fingerprint FROM jsonb_to_recordset(%s::jsonb) AS r(credit_code text,"
            " adcode text, score float8, level text, model_version text, result jsonb,"
            " fingerprint text) RETURNING credit_code, id",
            (now, now, json.dumps(new_rows, ensure_ascii=False)),
        )
        ids.update({cc: int(i) for cc, i in await cur.fetchall()})
    return len(new_rows), ids


async def _update_twins(
    conn: AsyncConnection[Any],
    facts: dict[str, Facts],
    evaluations: dict[str, Evaluation],
    events: list[Event],
) -> int:
    """Set each enterprise twin's ``risk`` feature; a level change is an event."""
    rows: list[dict[str, Any]] = []
    changes = 0
    for cc, ev in evaluations.items():
        f = facts[cc]
        props = {
            "score": ev.score,
            "level": ev.level,
            "level_by_score": ev.level_by_score,
            "components": {n: c.value for n, c in ev.components.items()},
            "overrides": [{"rule": o.rule, "level": o.level} for o in ev.overrides],
            "model_version": ev.model_version,
            "evaluated_at": ev.evaluated_at.isoformat(),
        }
        rows.append({"thing_id": f.thing_id, "props": props})
        if f.previous_level != ev.level:
            changes += 1
            events.append(
                Event(
                    "risk.level_changed",
                    f.thing_id,
                    cc,
                    f.adcode,
                    {"from": f.previous_level, "to": ev.level, "score": ev.score},
                )
            )
    # only the risk sub-tree changes; twins whose risk is unchanged but for its time are left be
    await conn.execute(
        """
        UPDATE things t
        SET features = jsonb_set(t.features, '{risk}', jsonb_build_object('properties', v.props)),
            revision = t.revision + 1, modified_at = now()
        FROM jsonb_to_recordset(%s::jsonb) AS v(thing_id text, props jsonb)
        WHERE t.thing_id = v.thing_id
          AND (t.features #> '{risk,properties}') - 'evaluated_at'
              IS DISTINCT FROM v.props - 'evaluated_at'
        """,
        (json.dumps(rows, ensure_ascii=False),),
    )
    return changes


async def _warnings(
    conn: AsyncConnection[Any],
    model: RiskModel,
    f: Facts,
    ev: Evaluation,
    evaluation_id: int | None,
    now: datetime,
    events: list[Event],
) -> tuple[int, int, int]:
    """Raise, upgrade, escalate and clear this enterprise's warnings; returns the counts."""
    overdue = overdue_alarm_ids(f.inputs.alarms, now)
    cc = f.inputs.credit_code
    decision = decide_warnings(
        model,
        adcode=f.adcode,
        previous_level=f.previous_level,
        evaluation=ev,
        open_warnings=f.open_warnings,
        overdue_alarm_ids=overdue,
        offline_since=f.offline_since,
        now=now,
    )
    raised = 0
    for new in decision.new:
        cur = await conn.execute(
            "INSERT INTO warnings (credit_code, adcode, trigger, level, raised_at, tier,"
            " tier_adcode, ack_deadline, feedback_deadline, followup_deadline, evaluation_id,"
            " detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (credit_code, trigger) WHERE state <> 'CLEARED' DO NOTHING RETURNING id",
            (
                cc,
                f.adcode,
                new.trigger,
                new.level,
                new.raised_at,
                new.tier,
                new.tier_adcode,
                new.ack_deadline,
                new.feedback_deadline,
                new.follow_up_deadline,
                evaluation_id,
                json.dumps(
                    {
                        "refs": list(new.refs),
                        "reason_zh": new.reason_zh,
                        "reason_en": new.reason_en,
                        "level_since": new.raised_at.isoformat(),
                    },
                    ensure_ascii=False,
                ),
            ),
        )
        row = await cur.fetchone()
        if row is None:
            continue  # another pass raised it a moment ago
        raised += 1
        await _history(conn, int(row[0]), "raised", {"level": new.level, "tier": new.tier})
        events.append(
            _event(
                "warning.raised",
                f,
                {
                    "warning_id": int(row[0]),
                    "trigger": new.trigger,
                    "level": new.level,
                    "tier": new.tier,
                    "tier_adcode": new.tier_adcode,
                    "reason_zh": new.reason_zh,
                    "reason_en": new.reason_en,
                },
            )
        )
    for u in decision.upgrades:
        await conn.execute(
            "UPDATE warnings SET level = %s, state = 'OPEN', ack_deadline = %s,"
            " feedback_deadline = %s, followup_deadline = %s,"
            " detail = detail || jsonb_build_object('level_since', %s::text) WHERE id = %s",
            (
                u.level,
                u.ack_deadline,
                u.feedback_deadline,
                u.follow_up_deadline,
                u.at.isoformat(),
                int(u.warning_id),
            ),
        )
        await _history(conn, int(u.warning_id), "upgraded", {"from": u.from_level, "to": u.level})
        events.append(
            _event(
                "warning.raised",
                f,
                {
                    "warning_id": int(u.warning_id),
                    "trigger": u.trigger,
                    "level": u.level,
                    "from_level": u.from_level,
                    "upgrade": True,
                },
            )
        )
    escalated = cleared = 0
    upgraded = {u.warning_id for u in decision.upgrades}
    for w in f.open_warnings:
        if w.warning_id in upgraded:
            continue
        for step in escalations_due(model, w, adcode=f.adcode, now=now):
            escalated += 1
            await conn.execute(
                "UPDATE warnings SET tier = %s, tier_adcode = %s WHERE id = %s",
                (step.tier, step.regulator_adcode, int(w.warning_id)),
            )
            await _history(
                conn, int(w.warning_id), "escalated", {**step.as_dict(), "at": now.isoformat()}
            )
            events.append(
                _event(
                    "warning.escalated",
                    f,
                    {
                        "warning_id": int(w.warning_id),
                        "trigger": w.trigger,
                        "level": w.level,
                        **step.as_dict(),
                    },
                )
            )
        clearance = may_clear(
            w,
            current_level=ev.level,
            overdue_alarm_ids=overdue,
            offline=f.offline_since is not None,
        )
        if clearance.allowed:
            cleared += 1
            await conn.execute(
                "UPDATE warnings SET state = 'CLEARED', cleared_at = %s, cleared_by = 'system'"
                " WHERE id = %s",
                (now, int(w.warning_id)),
            )
            await _history(
                conn,
                int(w.warning_id),
                "cleared",
                {"reason_zh": clearance.reason_zh, "reason_en": clearance.reason_en},
            )
            events.append(
                _event(
                    "warning.cleared",
                    f,
                    {"warning_id": int(w.warning_id), "trigger": w.trigger, "level": w.level},
                )
            )
    return raised, escalated, cleared


async def _history(
    conn: AsyncConnection[Any],
    warning_id: int,
    action: str,
    detail: dict[str, Any],
    actor: str = "system",
) -> None:
    await conn.execute(
        "INSERT INTO warning_history (warning_id, action, actor, detail) VALUES (%s, %s, %s, %s)",
        (warning_id, action, actor, json.dumps(detail, ensure_ascii=False, default=str)),
    )


def _event(kind: str, f: Facts, data: dict[str, Any]) -> Event:
    return Event(kind, f.thing_id, f.inputs.credit_code, f.adcode, data)


async def take_pending(conn: AsyncConnection[Any], limit: int = 10000) -> list[str]:
    """The enterprises waiting for a re-evaluation, taken off the list (commit to keep it so)."""
    cur = await conn.execute(
        "DELETE FROM risk_pending WHERE credit_code IN (SELECT credit_code FROM risk_pending"
        " ORDER BY since LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING credit_code",
        (limit,),
    )
    return [str(c) for (c,) in await cur.fetchall()]
