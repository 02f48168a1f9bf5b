"""The alarm's closed loop as a state machine: who may do what, in which order."""

from __future__ import annotations

import pytest

from risk.errors import ActionNotPermittedError, LifecycleError
from risk.lifecycle import take


def test_the_loop_runs_acknowledge_feedback_close() -> None:
    assert (
        take("acknowledge", "ACTIVE", "enterprise", level="HHA", condition_active=True).to_state
        == "HANDLING"
    )
    fed = take("feedback", "HANDLING", "enterprise", level="HHA", condition_active=False)
    assert (fed.to_state, fed.auto_closed) == ("FED_BACK", False)
    assert (
        take("close", "FED_BACK", "regulator", level="HHA", condition_active=False).to_state
        == "CLOSED"
    )


def test_feedback_before_acknowledgement_is_refused() -> None:
    with pytest.raises(LifecycleError, match="cannot feedback an alarm that is ACTIVE"):
        take("feedback", "ACTIVE", "enterprise", level="HA", condition_active=True)


def test_closing_while_the_condition_is_still_present_is_refused() -> None:
    with pytest.raises(LifecycleError, match="still present"):
        take("close", "FED_BACK", "regulator", level="HHA", condition_active=True)


def test_an_enterprise_cannot_close_its_own_alarm() -> None:
    with pytest.raises(ActionNotPermittedError):
        take("close", "FED_BACK", "enterprise", level="HHA", condition_active=False)


def test_a_regulator_cannot_acknowledge_for_the_enterprise() -> None:
    with pytest.raises(ActionNotPermittedError):
        take("acknowledge", "ACTIVE", "regulator", level="HA", condition_active=True)


def test_an_integrator_takes_no_action() -> None:
    with pytest.raises(ActionNotPermittedError):
        take("acknowledge", "ACTIVE", "integrator", level="HA", condition_active=True)


def test_a_low_level_alarm_closes_itself_once_fed_back_and_cleared() -> None:
    step = take("feedback", "HANDLING", "enterprise", level="HA", condition_active=False)
    assert (step.to_state, step.auto_closed) == ("CLOSED", True)


def test_a_low_level_alarm_still_present_waits_for_its_condition_to_clear() -> None:
    step = take("feedback", "HANDLING", "enterprise", level="HA", condition_active=True)
    assert (step.to_state, step.auto_closed) == ("FED_BACK", False)


def test_a_rejected_alarm_is_fed_back_again() -> None:
    assert (
        take("reject", "FED_BACK", "regulator", level="HHA", condition_active=False).to_state
        == "REJECTED"
    )
    assert (
        take("feedback", "REJECTED", "enterprise", level="HHA", condition_active=False).to_state
        == "FED_BACK"
    )


def test_a_closed_alarm_takes_no_more_actions() -> None:
    with pytest.raises(LifecycleError):
        take("reject", "CLOSED", "regulator", level="HHA", condition_active=False)
