"""Early warning (提早预警): a point's recent trend and when it will cross its next limit.

Pure functions over plain data. ``risk.limits.evaluate`` feeds every GOOD in-range value of an
analog point into a ``Trend`` (per-minute means over a short window, so the state stays small),
refits a robust line (Theil–Sen) each time a minute closes, and asks ``outlook`` whether the
predicted crossing is due within the horizon. The PREDICTED alarm's lifecycle (persistence,
clearing, being superseded by the real limit alarm) is run by ``risk.limits`` like every other
alarm type.

What keeps normal data quiet: a whole window of data (``min_span``, one cleaning cycle) with at
least ``min_buckets`` minute means, a fit quality (R²) of at least ``min_r2`` (a sawtooth or a step
fits a line badly), and the crossing time taken from the slow end of the slope's confidence band
(``slope − z·SE`` upwards), so a noisy slope is not trusted. A slow daily cycle fits well but is
far too slow to reach a limit within the horizon.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any, Final, Literal

__all__ = [
    "Fit",
    "Outlook",
    "Prediction",
    "PredictionSettings",
    "Trend",
    "fit_trend",
    "outlook",
    "predict_crossing",
    "theil_sen",
]

Direction = Literal["up", "down"]
Outlook = Literal["due", "hold", "clear"]
_SECONDS_PER_MINUTE: Final = 60.0
# A crossing further ahead than this is "never" (an almost flat slope would overflow a datetime).
_NEVER_MINUTES: Final = 365 * 24 * 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictionSettings:
    """How the trend is kept and when a predicted crossing warns (all [DEFAULT])."""

    # [DEFAULT] warn when the limit is expected within 30 minutes: long enough to act (check the
    # collector, start a cleaning cycle), short enough that a linear extrapolation still holds.
    horizon: timedelta = timedelta(minutes=30)
    # [DEFAULT] the fit looks at the last 20 minutes: one pulse-cleaning cycle of a pulse-jet
    # collector, so a healthy sawtooth always shows its drop and fits a line badly.
    window: timedelta = timedelta(minutes=20)
    # [DEFAULT] values are averaged per minute; the state holds one mean per minute of the window.
    bucket: timedelta = timedelta(minutes=1)
    # [DEFAULT] the fit needs the whole window covered: a trend that restarted (system started, a
    # gap) waits one cleaning cycle, else the first clean ramp after a start looks like a runaway.
    min_span: timedelta = timedelta(minutes=20)
    # [DEFAULT] and at least 8 minute means in it: fewer cannot tell a trend from noise and drift
    # (a point uploading less often than every 2 minutes gets no early warning at this window).
    min_buckets: int = 8
    # [DEFAULT] the line must explain 80 % of the variance of the per-minute means.
    min_r2: float = 0.8
    # [DEFAULT] the crossing is due only if even the slope's slow end (slope − 2·SE, about the
    # one-sided 97.5 % bound) reaches the limit within the horizon.
    confidence_z: float = 2.0
    # [DEFAULT] hysteresis: an open warning holds while the crossing is within 1.5 × horizon.
    clear_factor: float = 1.5
    # [DEFAULT] the prediction must stay due for 2 minutes (two refits) before it warns.
    persistence: timedelta = timedelta(minutes=2)
    # [DEFAULT] an open warning is updated when its expected crossing moves by 5 minutes or more.
    update_shift: timedelta = timedelta(minutes=5)


@dataclass(slots=True)
class Trend:
    """Per-minute means of a point's recent usable values: the fit's input, bounded in size."""

    # closed buckets: (bucket start in epoch seconds, mean), oldest first
    buckets: list[tuple[float, float]] = field(default_factory=list)
    open_start: float | None = None
    open_sum: float = 0.0
    open_n: int = 0

    def add(self, time: datetime, value: float, settings: PredictionSettings) -> bool:
        """Add one value; True when this closed a bucket (the time to refit)."""
        width = settings.bucket.total_seconds()
        start = math.floor(time.timestamp() / width) * width
        if self.open_start is not None and start < self.open_start:
            return False  # older than the open bucket: the caller evaluates in time order
        closed = False
        if self.open_start is not None and start > self.open_start:
            self.buckets.append((self.open_start, self.open_sum / self.open_n))
            oldest = start - settings.window.total_seconds()
            self.buckets = [b for b in self.buckets if b[0] >= oldest]
            self.open_start = None
            closed = True
        if self.open_start is None:
            self.open_start, self.open_sum, self.open_n = start, 0.0, 0
        self.open_sum += value
        self.open_n += 1
        return closed

    def reset(self) -> None:
        """Forget everything (a gap, or the system stopped: the old trend no longer applies)."""
        self.buckets = []
        self.open_start, self.open_sum, self.open_n = None, 0.0, 0

    def copy(self) -> Trend:
        """An independent copy."""
        return Trend(list(self.buckets), self.open_start, self.open_sum, self.open_n)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (see ``from_json``)."""
        open_ = None if self.open_start is None else [self.open_start, self.open_sum, self.open_n]
        return {"buckets": [list(b) for b in self.buckets], "open": open_}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trend:
        """The trend ``to_json`` wrote."""
        trend = cls([(float(s), float(m)) for s, m in data.get("buckets", [])])
        if data.get("open") is not None:
            start, total, n = data["open"]
            trend.open_start, trend.open_sum, trend.open_n = float(start), float(total), int(n)
        return trend


@dataclass(frozen=True, slots=True)
class Fit:
    """A line through the per-minute means: slope per minute, level at ``at``, fit quality."""

    slope_per_min: float
    level: float  # the fitted value at ``at`` (the middle of the newest closed minute)
    at: datetime
    r2: float
    slope_se: float
    n: int


def theil_sen(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Theil–Sen line (slope, intercept): the median pairwise slope, robust to stray points."""
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i]) for i, j in combinations(range(len(xs)), 2)]
    slope = statistics.median(slopes)
    return slope, statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))


def fit_trend(trend: Trend, settings: PredictionSettings) -> Fit | None:
    """The trend's line, or None before the window is covered or when it is flat."""
    buckets = trend.buckets
    width = settings.bucket.total_seconds()
    if len(buckets) < max(settings.min_buckets, 3):
        return None
    newest = buckets[-1][0]
    if newest + width - buckets[0][0] < settings.min_span.total_seconds():
        return None
    xs = [(start - newest) / _SECONDS_PER_MINUTE for start, _ in buckets]
    ys = [mean for _, mean in buckets]
    slope, intercept = theil_sen(xs, ys)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if ss_tot == 0 or sxx == 0:
        return None
    n = len(buckets)
    return Fit(
        slope_per_min=slope,
        level=intercept,
        at=datetime.fromtimestamp(newest + width / 2, tz=UTC),
        r2=1 - ss_res / ss_tot,
        slope_se=math.sqrt(ss_res / (n - 2) / sxx),
        n=n,
    )


@dataclass(frozen=True, slots=True)
class Prediction:
    """A limit expected to be crossed: which one, when (best estimate) and by when at the latest."""

    direction: Direction
    limit: float
    predicted_at: datetime  # the fit's own estimate (shown to users)
    due_by: datetime  # from the slope's slow end: decides whether the warning is due

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (see ``from_json``)."""
        return {
            "direction": self.direction,
            "limit": self.limit,
            "predicted_at": self.predicted_at.isoformat(),
            "due_by": self.due_by.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        """The prediction ``to_json`` wrote."""
        direction: Direction = "up" if data["direction"] == "up" else "down"
        return cls(
            direction,
            float(data["limit"]),
            datetime.fromisoformat(data["predicted_at"]),
            datetime.fromisoformat(data["due_by"]),
        )


def predict_crossing(
    fit: Fit | None, upper: float | None, lower: float | None, settings: PredictionSettings
) -> Prediction | None:
    """When the fitted line reaches ``upper`` (rising) or ``lower`` (falling); None if not credible.

    None when there is no fit, the fit is poor (R² below ``min_r2``), or the slope's confidence band
    includes no movement towards the limit. A line already at or past the limit gives a
    prediction for ``fit.at`` (the caller holds an open warning but raises no new one).
    """
    if fit is None or fit.r2 < settings.min_r2:
        return None
    slope, margin = fit.slope_per_min, settings.confidence_z * fit.slope_se
    if upper is not None and slope - margin > 0:
        return _crossing("up", upper, fit, slope, slope - margin)
    if lower is not None and slope + margin < 0:
        return _crossing("down", lower, fit, slope, slope + margin)
    return None


def _crossing(
    direction: Direction, limit: float, fit: Fit, slope: float, slow: float
) -> Prediction | None:
    distance = limit - fit.level  # same sign as the slopes while the limit is still ahead
    if distance * slope <= 0:
        return Prediction(direction, limit, fit.at, fit.at)
    if distance / slow > _NEVER_MINUTES:
        return None
    return Prediction(
        direction,
        limit,
        fit.at + timedelta(minutes=distance / slope),
        fit.at + timedelta(minutes=distance / slow),
    )


def outlook(prediction: Prediction | None, now: datetime, settings: PredictionSettings) -> Outlook:
    """ "due" (warn), "hold" (keep an open warning, raise none) or "clear" at ``now``.

    Due when the crossing is still ahead and even the slow estimate reaches it within the horizon;
    hold while it is within ``clear_factor`` × horizon (hysteresis) or the line is already at the
    limit (the real limit alarm will take over); clear otherwise, or without a prediction.
    """
    if prediction is None:
        return "clear"
    if prediction.predicted_at <= now:
        return "hold"
    ahead = prediction.due_by - now
    if ahead <= settings.horizon:
        return "due"
    return "hold" if ahead <= settings.horizon * settings.clear_factor else "clear"
