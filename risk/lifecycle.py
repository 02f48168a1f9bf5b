"""The alarm's closed loop (报警闭环, domain.md §3) as a pure state machine.

``ACTIVE`` (未确认) → acknowledge with a verification result → ``HANDLING`` (处置中) → feedback
(cause, measures, photos) → ``FED_BACK`` (已反馈) → ``CLOSED`` (已闭环) by a regulator for high
levels, automatically for the others once the condition has cleared; or → ``REJECTED`` (驳回) by a
regulator, after which the enterprise feeds back again. The condition clearing never closes the
loop by itself; a closed alarm stays closed and a new condition opens a new alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from risk.errors import ActionNotPermittedError, LifecycleError
from twins.graph import ALARM_SEVERITY

AlarmState = Literal["ACTIVE", "HANDLING", "FED_BACK", "CLOSED", "REJECTED"]
Action = Literal["acknowledge", "feedback", "close", "reject"]
Role = Literal["admin", "regulator", "enterprise", "integrator"]

STATE_NAMES: Final[dict[str, tuple[str, str]]] = {
    "ACTIVE": ("未确认", "not acknowledged"),
    "HANDLING": ("处置中", "being handled"),
    "FED_BACK": ("已反馈", "fed back"),
    "CLOSED": ("已闭环", "closed"),
    "REJECTED": ("驳回", "sent back"),
}
VERIFICATIONS: Final[dict[str, tuple[str, str]]] = {
    "REAL": ("真实报警", "real alarm"),
    "FALSE_ALARM": ("误报", "false alarm"),
    "DEVICE_FAULT": ("设备故障", "device fault"),
    "MAINTENANCE": ("检修", "maintenance"),
}
# Severity order, highest first: the twin's alarm feature shows the highest open level.
LEVEL_RANK: Final[dict[str, int]] = ALARM_SEVERITY
# [DEFAULT] Levels whose loop only a regulator closes (domain.md §3 "by a regulator for high
# levels"); every other level closes by itself once fed back and the condition has cleared.
REGULATOR_CLOSES: Final = frozenset({"EXPLOSION", "HHA", "LLA"})

# action -> (states it may start from, state it leads to, roles that may take it)
_RULES: Final[dict[Action, tuple[frozenset[str], str, frozenset[str]]]] = {
    "acknowledge": (frozenset({"ACTIVE"}), "HANDLING", frozenset({"enterprise", "admin"})),
    "feedback": (
        frozenset({"HANDLING", "REJECTED"}),
        "FED_BACK",
        frozenset({"enterprise", "admin"}),
    ),
    "close": (frozenset({"FED_BACK"}), "CLOSED", frozenset({"regulator", "admin"})),
    "reject": (frozenset({"FED_BACK"}), "REJECTED", frozenset({"regulator", "admin"})),
}


@dataclass(frozen=True)
class Step:
    """The outcome of an action: the new state, and whether the loop also closed by itself."""

    to_state: str
    auto_closed: bool = False


def rank(level: str | None) -> int:
    """A level's severity (0 for none or unknown)."""
    return LEVEL_RANK.get(level or "", 0)


def take(action: Action, state: str, role: Role, *, level: str, condition_active: bool) -> Step:
    """Check an action against the alarm's state and the caller's role; return where it leads."""
    starts, to_state, roles = _RULES[action]
    if role not in roles:
        raise ActionNotPermittedError(
            f"a user with role {role} may not {action} an alarm / 当前角色无权执行此操作"
        )
    if state not in starts:
        raise LifecycleError(
            f"cannot {action} an alarm that is {state} ({STATE_NAMES[state][1]}); allowed from "
            f"{', '.join(sorted(starts))} / 报警当前状态为{STATE_NAMES[state][0]}, 不能执行此操作"
        )
    if action == "close" and condition_active:
        raise LifecycleError(
            "the abnormal condition is still present: it cannot be closed until the value has "
            "returned to normal / 异常仍在持续,不能闭环"
        )
    if action == "feedback" and closes_by_itself(level, condition_active):
        return Step("CLOSED", auto_closed=True)
    return Step(to_state)


def closes_by_itself(level: str, condition_active: bool) -> bool:
    """Whether a fed-back alarm of this level closes without a regulator (condition cleared)."""
    return level not in REGULATOR_CLOSES and not condition_active
