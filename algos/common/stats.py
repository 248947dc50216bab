"""The one statistics convention of jaxedge: mean with a two-sided Student-t 95 % confidence interval.

    mean_ci([1.2, 1.4, 1.3])  # {"mean": 1.3, "ci95": 0.248..., "std": 0.1, "n": 3}
    mean_ci([1.2])            # {"mean": 1.2, "ci95": None, "std": None, "n": 1}: one run has no CI

Used by ``summary.json``, the training curves and every reproduction report. Non-finite values are
dropped before counting (a diverged run is reported by the caller, not averaged in). The quantile is
exact (the t CDF through the regularised incomplete beta function, inverted by bisection), so no
SciPy and no table.
"""

from __future__ import annotations

import math

import numpy as np


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                    -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student-t cumulative distribution function."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Student-t quantile (``p`` in (0.5, 1)), bisection on `t_cdf` to 1e-12."""
    if not 0.5 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0.5 < p < 1 and df > 0, got p={p}, df={df}")
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


def mean_ci(values, level: float = 0.95) -> dict:
    """``{"mean", "ci95", "std", "n"}`` of a sample: the half-width ``t_{n-1} std / sqrt(n)``.

    ``n == 1``: ``ci95`` and ``std`` are ``None`` (undefined, not zero); ``n == 0``: mean ``nan``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return {"mean": float("nan"), "ci95": None, "std": None, "n": 0}
    if n == 1:
        return {"mean": float(v[0]), "ci95": None, "std": None, "n": 1}
    std = float(v.std(ddof=1))
    half = t_quantile(0.5 + level / 2.0, n - 1) * std / math.sqrt(n)
    return {"mean": float(v.mean()), "ci95": float(half), "std": std, "n": n}


def summarise(samples: dict) -> dict:
    """`mean_ci` of every entry of ``{name: values}`` (leading axis = the sample; trailing axes are
    averaged first, e.g. per-env means over steps)."""
    out = {}
    for name, values in samples.items():
        arr = np.asarray(values, dtype=np.float64)
        arr = arr.reshape(arr.shape[0], -1).mean(-1) if arr.ndim > 1 else arr.reshape(-1)
        out[name] = mean_ci(arr)
    return out


def band(values) -> tuple[float, float, float]:
    """``(mean, low, high)`` for a plot: low == high == mean when there is no CI (one run)."""
    s = mean_ci(values)
    half = s["ci95"] or 0.0
    return s["mean"], s["mean"] - half, s["mean"] + half


def fmt(stat: dict, digits: int = 4, with_n: bool = True) -> str:
    """``"1.234 ± 0.05 (n=5)"``, or ``"1.234 (n=1, no CI)"``; ``with_n=False`` drops the count."""
    if stat.get("ci95") is None:
        return f"{stat['mean']:.{digits}g}" + (f" (n={stat.get('n', 1)}, no CI)" if with_n else " (no CI)")
    return f"{stat['mean']:.{digits}g} ± {stat['ci95']:.2g}" + (f" (n={stat['n']})" if with_n else "")
