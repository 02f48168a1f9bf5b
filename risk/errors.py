"""The risk room's exception tree, documented in one place.

- ``RiskError``: base of everything below.
- ``AlarmNotFoundError`` / ``WarningNotFoundError``: no such alarm or warning, or not visible to
  the caller (same answer: existence is never leaked outside a jurisdiction).
- ``LifecycleError``: an action out of order (feedback before acknowledgement, closing while the
  condition is still present, acting on a closed alarm).
- ``ActionNotPermittedError``: the caller's role may not take this action.
- ``RiskModelError`` (in ``risk.model``): a risk-model file refused at load, with the reason.
"""


class RiskError(Exception):
    """Base of every error the risk room raises on purpose."""


class AlarmNotFoundError(RiskError):
    """The alarm does not exist, or the caller may not see it."""


class WarningNotFoundError(RiskError):
    """The warning does not exist, or the caller may not see it."""


class LifecycleError(RiskError):
    """A lifecycle action that the alarm's or warning's present state does not allow."""


class ActionNotPermittedError(RiskError):
    """The caller's role may not take this action."""
