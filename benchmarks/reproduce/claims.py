"""Claims and verdicts of a reproduction: pure Python + NumPy, no JAX, tested on hand-made numbers.

A `Claim` is one paper statement beside our measurement: the paper's value, ours (means with their
Student-t 95 % CIs from `algos.common.stats.mean_ci`, the one statistics helper), the effect interval
and a verdict computed by `verdict`:

* *reproduced*: the measured effect has the paper's sign and the 95 % CIs do not overlap (interval
  arithmetic, `effect_interval`, so the interval excludes 0 exactly when the CIs are apart);
* *contradicted*: the CIs show the opposite sign;
* *not reproduced*: otherwise, including a side measured by ONE run, which has no CI (its interval
  is unbounded, never a zero-width CI);
* *not run*: a run the claim needs is missing.

An exact, computed number (an analytical count, not a measurement) is `exact(value)`: an explicit
zero-width interval marked ``"exact": True``.

`Results` reads the results JSON of `benchmarks.reproduce.runner` (``{"meta", "plan", "runs",
"claims"}``) for the claim builders of the seed modules.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Sequence

import numpy as np

from algos.common.stats import mean_ci

VERDICTS = ("reproduced", "not reproduced", "contradicted", "not run")
Interval = tuple  # (value, lo, hi)


@dataclasses.dataclass(frozen=True)
class Claim:
    """One row of the claims table. ``ours`` is the rendered measurement, ``stats`` the numbers behind
    it (name -> `mean_ci` dict or `exact`), ``effect`` the (value, lo, hi) the verdict was read from."""

    id: str
    claim: str
    paper: str
    ours: str
    verdict: str
    reason: str
    effect: Interval | None = None
    stats: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.id}: verdict {self.verdict!r} not in {VERDICTS}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# ---- numbers ------------------------------------------------------------------------------------------
def exact(value: float) -> dict:
    """An exact computed number (not a measurement): a zero-width interval, marked as such."""
    return {"mean": float(value), "exact": True}


def scaled(stat: dict | None, factor: float) -> dict | None:
    """``stat`` in other units (mean, CI and std times ``factor``; a missing CI stays missing)."""
    if stat is None:
        return None
    out = dict(stat)
    for key in ("mean", "ci95", "std"):
        if out.get(key) is not None:
            out[key] = out[key] * factor
    return out


def measured(stat: dict | None) -> bool:
    """A stat with a finite mean (a CI is not required)."""
    return stat is not None and stat.get("mean") is not None and math.isfinite(stat["mean"])


def bounds(stat: dict) -> tuple[float, float]:
    """The 95 % interval of a stat: ``mean ± ci95``; exact numbers are a point; a stat without a CI
    (one run) is unbounded."""
    m = stat["mean"]
    if stat.get("exact"):
        return m, m
    ci = stat.get("ci95")
    if ci is None or not math.isfinite(ci):
        return -math.inf, math.inf
    return m - ci, m + ci


def effect_interval(new: dict | None, ref: dict | None, kind: str = "diff") -> Interval | None:
    """``(value, lo, hi)`` of the effect of ``new`` against ``ref``, the interval being what their two
    95 % CIs allow (so it excludes 0 exactly when the CIs do not overlap). None when either side is
    not measured. Kinds:

    * ``"diff"``:      new - ref;
    * ``"reduction"``: (ref - new) / ref, for positive lower-is-better quantities (delay, energy);
    * ``"gain"``:      (new - ref) / |ref|, for higher-is-better quantities of any sign (return);
                       the divisor is taken at its mean (the sign does not depend on it).
    """
    if not (measured(new) and measured(ref)):
        return None
    n_lo, n_hi = bounds(new)
    r_lo, r_hi = bounds(ref)
    if kind == "diff":
        return new["mean"] - ref["mean"], n_lo - r_hi, n_hi - r_lo
    if kind == "reduction":
        if ref["mean"] <= 0:
            return None
        value = (ref["mean"] - new["mean"]) / ref["mean"]
        if r_lo <= 0 or not math.isfinite(n_hi - n_lo):  # a CI reaching 0 (or none): unbounded ratio
            return value, -math.inf, math.inf
        return value, 1.0 - n_hi / r_lo, 1.0 - n_lo / r_hi
    if kind == "gain":
        scale = abs(ref["mean"])
        if scale == 0:
            return None
        return (new["mean"] - ref["mean"]) / scale, (n_lo - r_hi) / scale, (n_hi - r_lo) / scale
    raise ValueError(f"unknown effect kind {kind!r}")


def verdict(interval: Interval | None, claimed_sign: int) -> str:
    """The rule of every report; ``claimed_sign`` = +1 or -1 (the paper's direction of the effect)."""
    if interval is None:
        return "not run"
    _, lo, hi = interval
    if math.isnan(lo) or math.isnan(hi):
        return "not run"
    s_lo, s_hi = claimed_sign * lo, claimed_sign * hi
    if min(s_lo, s_hi) > 0:
        return "reproduced"
    if max(s_lo, s_hi) < 0:
        return "contradicted"
    return "not reproduced"


def combine(verdicts: Sequence[str]) -> str:
    """A claim that must hold at every sweep point: reproduced if every point is, contradicted if any
    point is (one significant counter-example), not run if no point ran, else not reproduced."""
    verdicts = list(verdicts)
    ran = [v for v in verdicts if v != "not run"]
    if not ran:
        return "not run"
    if "contradicted" in ran:
        return "contradicted"
    if len(ran) == len(verdicts) and all(v == "reproduced" for v in ran):
        return "reproduced"
    return "not reproduced"


def mean_interval(intervals: Sequence[Interval | None]) -> Interval | None:
    """Mean of per-point (value, lo, hi) intervals (interval arithmetic: the bounds average too)."""
    if not intervals or any(i is None for i in intervals):
        return None
    return tuple(float(x) for x in np.asarray(intervals, dtype=np.float64).mean(0))


def best_of(stats: dict, names: Iterable[str], lower_is_better: bool = True) -> str | None:
    """The name of the best measured entry of ``stats`` (name -> stat) among ``names``, by mean."""
    cands = [n for n in names if measured(stats.get(n))]
    if not cands:
        return None
    sign = 1.0 if lower_is_better else -1.0
    return min(cands, key=lambda n: sign * stats[n]["mean"])


# ---- training curves ---------------------------------------------------------------------------------
def moving_average(y, window: int) -> np.ndarray:
    """Trailing moving average (the first values average what exists so far)."""
    y = np.asarray(y, dtype=np.float64)
    if window <= 1:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def settled_at(x, curve, window: int, rel_tol: float, tail: float = 0.2) -> float:
    """First ``x`` after which the trailing moving average of ``curve`` (``window`` points) stays
    within ``rel_tol`` of the final level (the mean of the last ``tail`` of the raw points)."""
    curve = np.asarray(curve, dtype=np.float64)
    y = moving_average(curve, max(1, window))
    final = np.mean(curve[-max(1, math.ceil(tail * len(curve))):])
    bad = np.nonzero(~(np.abs(y - final) <= rel_tol * abs(final)))[0]
    first = 0 if len(bad) == 0 else bad[-1] + 1
    return float(x[min(first, len(x) - 1)])


def steps_to_fraction(steps, curve, fraction: float = 0.95, start: float = 0.0, tail: float = 0.1) -> float:
    """Env steps at which a training curve first covers ``fraction`` of its way from its start to its
    final value: progress (y_s - y_0) / (y_final - y_0) >= fraction, y smoothed by a trailing moving
    average (window 5 % of the points), y_0 its first point after ``start`` (the warm-up), y_final the
    mean of the last ``tail`` of the points. Direction-agnostic (rising returns, falling losses). NaN
    with fewer than 2 points; the first point's step when the curve does not move."""
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(curve, dtype=np.float64)
    keep = x > start
    x, y = x[keep], y[keep]
    if len(y) < 2:
        return float("nan")
    ys = moving_average(y, max(1, round(0.05 * len(y))))
    final = ys[-max(1, math.ceil(tail * len(ys))):].mean()
    span = final - ys[0]
    if span == 0 or not np.isfinite(span):
        return float(x[0])
    hit = np.nonzero((ys - ys[0]) / span >= fraction)[0]
    return float(x[hit[0]]) if len(hit) else float(x[-1])


def last_half_std(steps, curve, start: float = 0.0) -> float:
    """Std of a curve over the last half of its post-warm-up points (the "smoothness" of a loss)."""
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(curve, dtype=np.float64)[x > start]
    if len(y) < 2:
        return float("nan")
    half = y[len(y) // 2:]
    return float(half.std(ddof=1)) if len(half) > 1 else float("nan")


# ---- reading results ---------------------------------------------------------------------------------
class Results:
    """Read access to a results dict (``{"meta", "plan", "runs", "claims"}``) for claims and figures.

    A run counts only when its status is ``"done"``; every accessor returns None otherwise."""

    def __init__(self, data: dict):
        self.data = data
        self.meta = data.get("meta", {})
        self.plan = data.get("plan", {})
        self.runs = data.get("runs", {})

    def run(self, run_id: str | None) -> dict | None:
        """A finished run; ``"<job id>|<name>"`` is the job's extra evaluation ``name`` (`Job.evals`):
        its ``final`` / ``per_seed``, the job's training curve."""
        base, _, name = (run_id or "").partition("|")
        rec = self.runs.get(base) if base else None
        if not rec or rec.get("status") != "done":
            return None
        if name:
            sub = rec.get("evals", {}).get(name)
            return {**rec, **sub} if sub else None
        return rec

    def final(self, run_id: str | None, metric: str) -> dict | None:
        """The evaluated metric of a run: `mean_ci` over seeds (learners) or eval envs (heuristics)."""
        rec = self.run(run_id)
        return rec["final"].get(metric) if rec else None

    def curve(self, run_id: str | None, metric: str):
        """``(env_steps[chunks], values[seeds, chunks], warm-up env steps)`` of a learner, or None."""
        rec = self.run(run_id)
        if not rec or metric not in rec.get("curve", {}).get("metrics", {}):
            return None
        return (np.asarray(rec["curve"]["env_steps"], float), np.asarray(rec["curve"]["metrics"][metric], float),
                float(rec.get("warmup_env_steps", 0)))

    def first_metric(self, run_id: str | None, names: Sequence[str]) -> str | None:
        """The first of ``names`` the run's training curve logs (e.g. its critic loss)."""
        rec = self.run(run_id)
        logged = rec.get("curve", {}).get("metrics", {}) if rec else {}
        return next((k for k in names if k in logged), None)

    def curve_stat(self, run_id: str | None, metric: str, measure) -> dict | None:
        """`mean_ci` over seeds of ``measure(steps, values, warmup)`` of each seed's training curve."""
        c = self.curve(run_id, metric)
        if c is None:
            return None
        x, ys, warm = c
        return mean_ci([measure(x, y, warm) for y in ys])

    def status(self, run_id: str | None) -> str:
        return self.runs.get(run_id.partition("|")[0], {}).get("status", "—") if run_id else "—"


# ---- rendering -----------------------------------------------------------------------------------------
def fmt_stat(stat: dict | None, digits: int = 3) -> str:
    """``"1.23 ± 0.045"``; ``"1.23 (n=1, no CI)"``; ``"1.23 (exact)"``; ``"—"`` when not measured."""
    if not measured(stat):
        return "—"
    if stat.get("exact"):
        return f"{stat['mean']:.{digits}g} (exact)"
    if stat.get("ci95") is None:
        return f"{stat['mean']:.{digits}g} (n={stat.get('n', 1)}, no CI)"
    return f"{stat['mean']:.{digits}g} ± {stat['ci95']:.2g}"


def fmt_effect(interval: Interval | None, digits: int = 3, pct: bool = False) -> str:
    """``"+0.2 [+0.1, +0.3]"`` or, with ``pct``, ``"+20.0 % [+10.0, +30.0]"``; unbounded: no CI."""
    if interval is None:
        return "—"
    v, lo, hi = interval
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{100 * v:+.1f} % (no CI)" if pct else f"{v:+.{digits}g} (no CI)"
    if pct:
        return f"{100 * v:+.1f} % [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    return f"{v:+.{digits}g} [{lo:+.{digits}g}, {hi:+.{digits}g}]"


def counts(claims: Iterable[dict]) -> dict:
    """Verdict -> number of claims."""
    out: dict = {}
    for c in claims:
        out[c["verdict"]] = out.get(c["verdict"], 0) + 1
    return out
