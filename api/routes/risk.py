"""``/api/v1/risk/...`` and an enterprise's risk: the model in force, evaluations, what-ifs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import ConnDep, ScopeDep
from api.errors import ApiError
from risk.assessment import load_facts
from risk.model import (
    AlarmFact,
    CleaningFact,
    EnterpriseInputs,
    HazardFact,
    RiskInputError,
    evaluate,
    what_to_lower,
    with_changes,
)
from risk.model_holder import ModelHolder
from risk.queries import level_counts, risk_history
from twins.scope import Scope

router = APIRouter(tags=["risk / 风险研判"])


def get_models(request: Request) -> ModelHolder:
    """The process's risk model holder."""
    holder: ModelHolder = request.app.state.risk_models
    return holder


@router.get("/api/v1/risk/model", summary="The risk model in force / 当前风险研判模型")
async def model_in_force(request: Request, _scope: ScopeDep) -> dict[str, Any]:
    """Version, fingerprint and every rule; and why a newer file was refused, if it was."""
    holder = get_models(request)
    model = holder.current()
    body = {k: v for k, v in model.as_dict().items() if k != "source"}
    body["refused"] = None if holder.refused is None else str(holder.refused)
    return body


class WhatIf(BaseModel):
    """Hypothetical changes to an enterprise's present inputs (假设分析)."""

    acknowledge_alarms: list[int] = Field(default_factory=list)
    feed_back_alarms: list[int] = Field(default_factory=list)
    close_alarms: list[int] = Field(default_factory=list)
    clear_alarm_conditions: list[int] = Field(default_factory=list)
    cleaning_completion: float | None = Field(default=None, ge=0, le=1)
    check_in_cleanings: list[str] = Field(default_factory=list)
    rectify_hazards: list[str] = Field(default_factory=list)
    fit_measures: list[tuple[str, str]] = Field(
        default_factory=list, description="(system code, explosion-protection measure) pairs"
    )
    fit_spark_extinguishing: list[str] = Field(default_factory=list)


class AlarmIn(BaseModel):
    """An alarm as the model counts it."""

    alarm_id: str
    level: str
    alarm_type: str = "HIGH"
    state: Literal["ACTIVE", "HANDLING", "FED_BACK", "CLOSED", "REJECTED"] = "ACTIVE"
    raised_at: datetime
    ack_deadline: datetime | None = None
    feedback_deadline: datetime | None = None
    indicator: str | None = None
    mandatory: bool = False
    condition_active: bool = True
    cleared_at: datetime | None = None
    acknowledged_at: datetime | None = None
    fed_back_at: datetime | None = None
    closed_at: datetime | None = None
    verification: str | None = None


class InputsIn(BaseModel):
    """An enterprise's inputs given whole (the model as a service, nothing read or stored)."""

    credit_code: str = "HYPOTHETICAL"
    dust_class: Literal["metal", "wood", "other"]
    al_mg: bool = False
    workers: int = Field(default=0, ge=0)
    dry_systems: int = Field(default=0, ge=0)
    indoor_central_dry: list[str] = Field(default_factory=list)
    positive_pressure_without_spark_ext: list[str] = Field(default_factory=list)
    alarms: list[AlarmIn] = Field(default_factory=list)
    offline_share_24h: float = Field(default=0.0, ge=0, le=1)
    cleaning_completion: float | None = Field(default=None, ge=0, le=1)
    overdue_cleanings_zones: list[str] = Field(
        default_factory=list, description="zones (20/21/22) of cleaning tasks overdue"
    )
    open_major_hazards: list[str] = Field(default_factory=list)


class EvaluateRequest(BaseModel):
    """Either an enterprise (by credit code, with optional changes) or whole inputs."""

    credit_code: str | None = None
    changes: WhatIf | None = None
    inputs: InputsIn | None = None


@router.post("/api/v1/risk/evaluate", summary="Evaluate without storing / 风险研判服务")
async def evaluate_service(
    body: EvaluateRequest, request: Request, conn: ConnDep, scope: ScopeDep
) -> dict[str, Any]:
    """Score, level, components and levers for inputs or an enterprise with what-if changes."""
    model = get_models(request).current()
    now = datetime.now(UTC)
    if (body.credit_code is None) == (body.inputs is None):
        raise ApiError(422, "give either credit_code (with optional changes) or inputs")
    try:
        if body.inputs is not None:
            inputs = _inputs(
                body.inputs, model.alarm_deadlines.acknowledge, model.alarm_deadlines.feedback
            )
        else:
            assert body.credit_code is not None
            inputs = await _enterprise_inputs(conn, scope, model, body.credit_code, now)
            if body.changes is not None:
                c = body.changes
                inputs = with_changes(
                    inputs,
                    at=now,
                    acknowledge_alarms=c.acknowledge_alarms,
                    feed_back_alarms=c.feed_back_alarms,
                    close_alarms=c.close_alarms,
                    clear_alarm_conditions=c.clear_alarm_conditions,
                    cleaning_completion=c.cleaning_completion,
                    check_in_cleanings=c.check_in_cleanings,
                    rectify_hazards=c.rectify_hazards,
                    fit_measures=c.fit_measures,
                    fit_spark_extinguishing=c.fit_spark_extinguishing,
                )
        evaluation = evaluate(model, inputs, now)
    except RiskInputError as err:
        raise ApiError(422, str(err)) from err
    return {
        **evaluation.as_dict(),
        "levers": [lever.as_dict() for lever in what_to_lower(evaluation)],
        "stored": False,
    }


async def _enterprise_inputs(
    conn: ConnDep, scope: Scope, model: Any, credit_code: str, now: datetime
) -> EnterpriseInputs:
    facts = await load_facts(conn, model, now, [credit_code])
    f = facts.get(credit_code)
    if f is None or not scope.sees("enterprise", f.adcode, credit_code):
        raise ApiError(404, f"no enterprise {credit_code} / 企业不存在")
    return f.inputs


def _inputs(given: InputsIn, ack: timedelta, feedback: timedelta) -> EnterpriseInputs:
    return EnterpriseInputs(
        credit_code=given.credit_code,
        dust_class=given.dust_class,
        al_mg=given.al_mg,
        workers=given.workers,
        dry_systems=given.dry_systems,
        indoor_central_dry=tuple(given.indoor_central_dry),
        positive_pressure_without_spark_ext=tuple(given.positive_pressure_without_spark_ext),
        alarms=tuple(
            AlarmFact(
                alarm_id=a.alarm_id,
                level=a.level,
                alarm_type=a.alarm_type,
                state=a.state,
                raised_at=a.raised_at,
                ack_deadline=a.ack_deadline or a.raised_at + ack,
                feedback_deadline=a.feedback_deadline or a.raised_at + feedback,
                indicator=a.indicator,
                mandatory=a.mandatory,
                condition_active=a.condition_active,
                cleared_at=a.cleared_at,
                acknowledged_at=a.acknowledged_at,
                fed_back_at=a.fed_back_at,
                closed_at=a.closed_at,
                verification=a.verification,
            )
            for a in given.alarms
        ),
        offline_share_24h=given.offline_share_24h,
        cleaning_completion=given.cleaning_completion,
        overdue_cleanings=tuple(
            CleaningFact(task_id=f"task-{i}", zone=zone)
            for i, zone in enumerate(given.overdue_cleanings_zones)
        ),
        open_major_hazards=tuple(
            HazardFact(hazard_id=f"hazard-{i}", title=title)
            for i, title in enumerate(given.open_major_hazards)
        ),
    )


@router.get(
    "/api/v1/enterprises/{credit_code}/risk",
    summary="An enterprise's risk and why / 企业风险等级及构成",
)
async def enterprise_risk(
    credit_code: str, request: Request, conn: ConnDep, scope: ScopeDep
) -> dict[str, Any]:
    """The risk as evaluated now: score, level, components, contributions, and what lowers it."""
    model = get_models(request).current()
    now = datetime.now(UTC)
    inputs = await _enterprise_inputs(conn, scope, model, credit_code, now)
    evaluation = evaluate(model, inputs, now)
    return {
        **evaluation.as_dict(),
        "levers": [lever.as_dict() for lever in what_to_lower(evaluation)],
    }


@router.get(
    "/api/v1/enterprises/{credit_code}/risk/history",
    summary="The history of an enterprise's level / 风险等级历史",
)
async def enterprise_risk_history(
    credit_code: str,
    conn: ConnDep,
    scope: ScopeDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Each stored evaluation: from ``evaluated_at`` it held until ``confirmed_at`` at least."""
    now = datetime.now(UTC)
    rows = await risk_history(
        conn, scope, credit_code, start or now - timedelta(days=30), end or now
    )
    if rows is None:
        raise ApiError(404, f"no enterprise {credit_code} / 企业不存在")
    return {"credit_code": credit_code, "evaluations": rows}


@router.get("/api/v1/risk/overview", summary="Enterprises per level / 风险等级分布")
async def overview(
    conn: ConnDep,
    scope: ScopeDep,
    adcode: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> dict[str, Any]:
    """How many enterprises of the jurisdiction (or a region in it) are at each level."""
    return await level_counts(conn, scope, adcode)
