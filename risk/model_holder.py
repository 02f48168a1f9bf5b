"""The risk model in force in a process, reloaded when its file changes.

A province edits a copy of ``risk/model.toml`` and points ``DUSTTWIN_RISK_MODEL_FILE`` at it.
Each process checks the file's modification time before it uses the model; a changed file that
fails its checks is refused with the reason (logged once, shown by ``GET /api/v1/risk/model``)
and the model in force stays — at start-up, that is the shipped default.
"""

from __future__ import annotations

import logging
from pathlib import Path

from risk.model import RiskModel, RiskModelError, default_model, load_or_keep

log = logging.getLogger(__name__)


class ModelHolder:
    """Holds the model in force and the last refusal, if any."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.model: RiskModel = default_model()
        self.refused: RiskModelError | None = None
        self._mtime: float | None = None
        self.current()

    def current(self) -> RiskModel:
        """The model in force, after loading the file again if it changed."""
        if self.path is None:
            return self.model
        try:
            mtime = self.path.stat().st_mtime
        except OSError as err:
            if self._mtime != -1.0:
                log.error(
                    "risk model file %s unreadable (%s); keeping %s",
                    self.path,
                    err,
                    self.model.version,
                )
                self.refused = RiskModelError(str(self.path), "file", str(err))
                self._mtime = -1.0
            return self.model
        if mtime != self._mtime:
            self._mtime = mtime
            self.model, self.refused = load_or_keep(self.model, self.path)
            if self.refused is not None:
                log.error("risk model refused, keeping %s: %s", self.model.version, self.refused)
            else:
                log.info("risk model in force: %s (%s)", self.model.version, self.path)
        return self.model
