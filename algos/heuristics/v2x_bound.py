"""A certified lower bound on the mean per-vehicle cost of ANY policy on `v2x` (NumPy, float64).

The slot problem (spec §3, eq. 19 with the twin's slot-start capacities): every vehicle picks local
or an ES j with CPU f_i, bandwidth b_i (at its access ES a) and power p_i, subject to
sum_i f_i <= f_hat_j and sum_i b_i <= b_hat_a. Relaxing the coupling constraints with prices
lambda_j, mu_a >= 0 (Lagrangian weak duality) gives, for ANY prices,

    OPT >= sum_i min(c_loc_i, min_j g_ij(lambda, mu)) - sum_j lambda_j f_hat_j - sum_a mu_a b_hat_a,

    g_ij = w D d_aj / phi_wired                                          (wired hop, eqs. 9-11)
         + min_f [w zeta D / f + (1 - w) phi_es zeta D f^2 + lambda_j f]   (eqs. 4, 13)
         + min_k min_b [(w + (1 - w) p_k) D / r(b, p_k+1) + mu_a b]          (eqs. 5, 7, 14)

where p_0 = 0 < p_1 < ... < p_K = p_max (`POWER_GRID`): for every p in [p_k, p_k+1] the uplink cost
(w + (1 - w) p) D / r(b, p) is at least (w + (1 - w) p_k) D / r(b, p_k+1), since r grows with p.

The vehicles decide with full knowledge of the slot and no turn order, so the bound holds for every
policy, decentralised or not, and for the env's capped cost (a cost above ``cost_cap`` is never
below the local cost). Each inner minimum is of a convex function of one variable; it is bracketed
by bisection on the derivative and bounded from below by the tangent at the bracket's end
(``h(b*) >= h(hi) - h'(hi) (hi - lo)``), so no rounding of the bisection loosens the certificate.
The prices are improved per slot by projected supergradient ascent; every iterate is a valid bound
and the best one is kept. `slot_bound` is checked against brute force on tiny instances
(tests/test_dt_maddpg.py).
"""

from __future__ import annotations

import numpy as np

LN2 = np.log(2.0)
POWER_GRID = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0)  # power intervals of the uplink term, fractions of p_max


def _argmin_convex(deriv, lo, hi, iters=80):
    """Bracket the root of an increasing ``deriv`` in log space; returns ``(lo, hi)``."""
    lo, hi = np.broadcast_arrays(np.asarray(lo, np.float64), np.asarray(hi, np.float64))
    lo, hi = lo.copy(), hi.copy()
    for _ in range(iters):
        mid = np.sqrt(lo * hi)
        pos = deriv(mid) >= 0
        hi = np.where(pos, mid, hi)
        lo = np.where(pos, lo, mid)
    return lo, hi


def _convex_min_lower(h, dh, lo, hi):
    """A lower bound of min h over [lo0, hi0] from the bracket: the tangent at ``hi`` (where h' >= 0)."""
    slope = np.maximum(dh(hi), 0.0)
    return h(hi) - slope * (hi - lo), hi


def cpu_term(a, b, lam):
    """min_f a / f + b f^2 + lam f (a > 0, b, lam >= 0): ``(lower bound of the minimum, f)``."""
    a, b, lam = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (a, b, lam)))

    def h(f):
        return a / f + b * f * f + lam * f

    def dh(f):
        return -a / (f * f) + 2.0 * b * f + lam

    lo, hi = _argmin_convex(dh, np.full(a.shape, 1.0), np.full(a.shape, 1e15))
    return _convex_min_lower(h, dh, lo, hi)


def uplink_term(c, k, mu, noise_is_psd):
    """min_b c / r(b) + mu b with r = b log2(1 + k / b) (noise N0 b) or b log2(1 + k) (total noise):
    ``(lower bound of the infimum, b)``. ``mu = 0``: the infimum as b -> inf (c ln2 / k, resp. 0)."""
    c, k, mu = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (c, k, mu)))
    if not noise_is_psd:
        rate = np.log2(1.0 + k)
        b = np.sqrt(c / np.maximum(mu * rate, 1e-300))
        return np.where(mu > 0, 2.0 * np.sqrt(c * mu / rate), 0.0), np.where(mu > 0, b, np.inf)

    def rate(b):
        return b * np.log1p(k / b) / LN2

    def h(b):
        return c / rate(b) + mu * b

    def dh(b):
        x = k / b
        dr = (np.log1p(x) - x / (1.0 + x)) / LN2
        return -c * dr / rate(b) ** 2 + mu

    lo, hi = _argmin_convex(dh, np.full(c.shape, 1e-3), np.full(c.shape, 1e15))
    value, b = _convex_min_lower(h, dh, lo, hi)
    limit = c * LN2 / k
    return np.where(mu > 0, value, limit), np.where(mu > 0, b, np.inf)


def slot_terms(pos, bits, gain, p):
    """Per slot and vehicle: local cost, the fixed wired delay cost and the link of every ES option.

    ``pos [S, M, 2]``, ``bits [S, M]``, ``gain [S, M, N]``; ``p`` the env's Params. Returns a dict of
    float64 arrays: ``local [S, M]``, ``wired [S, M, N]``, ``k [S, M, N]`` (p_max h d^-alpha / noise of
    the access link), ``access int [S, M, N]`` (the ES whose bandwidth option j uses).
    """
    f64 = np.float64
    es = np.asarray(p.es_pos, f64)
    pos, bits, gain = (np.asarray(x, f64) for x in (pos, bits, gain))
    w, zeta = float(p.w), float(p.zeta)
    dist = np.maximum(np.linalg.norm(pos[..., :, None, :] - es, axis=-1), float(p.d_min))  # eq. 6
    n = es.shape[0]
    in_range = dist <= float(p.radius)
    nearest = np.argmin(dist, -1)[..., None]
    access = np.where(in_range, np.arange(n), nearest)  # acc(i) (§2.6, A13)
    d_acc = np.take_along_axis(dist, access, -1)
    h_acc = np.take_along_axis(gain, access, -1)
    es_d = np.linalg.norm(es[:, None] - es[None], axis=-1)
    wired = w * bits[..., None] * es_d[access, np.arange(n)] / float(p.phi_wired)  # w D d_aj / phi (eqs. 9-10)
    k = float(p.p_max) * h_acc * d_acc ** (-float(p.alpha)) / float(p.noise)  # SNR numerator (eq. 5)
    f_loc = float(p.f_loc)
    if bool(p.local_dvfs):
        f_loc = min(f_loc, (w / (2.0 * (1.0 - w) * float(p.phi_cv))) ** (1.0 / 3.0))  # (S3)
    local = zeta * bits * (w / f_loc + (1.0 - w) * float(p.phi_cv) * f_loc**2)  # eqs. 3, 12
    bw_es = np.broadcast_to(np.arange(n), access.shape) if bool(p.bw_from_target) else access  # A6
    return {"local": np.minimum(local, float(p.cost_cap)), "wired": wired, "k": k, "bw_es": bw_es,
            "bits": bits}


def dual_value(terms, cpu, bw, lam, mu, p):
    """The Lagrangian dual per slot ``[S]`` (a lower bound of the slot's optimal total cost for any
    prices ``lam, mu [S, N] >= 0``) and its supergradient ``(d lam, d mu)``."""
    w, zeta = float(p.w), float(p.zeta)
    bits = terms["bits"][..., None]
    a, b_coef = w * zeta * bits, (1.0 - w) * float(p.phi_es) * zeta * bits
    c_cpu, f = cpu_term(a, b_coef, lam[:, None, :])
    mu_opt = np.take_along_axis(np.broadcast_to(mu[:, None, :], terms["bw_es"].shape), terms["bw_es"], -1)
    lo, hi = (np.asarray(POWER_GRID[s], np.float64).reshape((-1,) + (1,) * bits.ndim) for s in (slice(None, -1), slice(1, None)))
    c_k, b_k = uplink_term((w + (1.0 - w) * lo * float(p.p_max)) * bits, terms["k"] * hi, mu_opt, bool(p.noise_is_psd))
    level = np.argmin(c_k, 0)[None]  # p in [lo, hi] p_max: (w + (1 - w) lo p_max) D / r(b, hi p_max)
    c_up, b = (np.take_along_axis(v, level, 0)[0] for v in (c_k, b_k))
    g = terms["wired"] + c_cpu + c_up  # [S, M, N]
    best = np.argmin(g, -1)
    g_min = np.take_along_axis(g, best[..., None], -1)[..., 0]
    off = g_min < terms["local"]
    total = np.where(off, g_min, terms["local"]).sum(-1) - (lam * cpu).sum(-1) - (mu * bw).sum(-1)
    n = cpu.shape[-1]
    pick = (best[..., None] == np.arange(n)) & off[..., None]  # [S, M, N]
    f_used = (pick * np.where(np.isfinite(f), f, 0.0)).sum(1)
    b_sel = np.take_along_axis(np.where(np.isfinite(b), b, 1e30), best[..., None], -1)[..., 0]
    bw_sel = np.take_along_axis(terms["bw_es"], best[..., None], -1)[..., 0]
    b_used = (((bw_sel[..., None] == np.arange(n)) & off[..., None]) * b_sel[..., None]).sum(1)
    return total, f_used - cpu, b_used - bw


def slot_bound(pos, bits, gain, cpu, bw, p, iters: int = 200):
    """``[S]``: a certified lower bound of the minimum mean per-vehicle cost of each slot.

    ``pos [S, M, 2]``, ``bits [S, M]``, ``gain [S, M, N]``, slot-start twin ``cpu, bw [S, N]``.
    """
    cpu, bw = np.asarray(cpu, np.float64), np.asarray(bw, np.float64)
    terms = slot_terms(pos, bits, gain, p)
    m, n = terms["bits"].shape[-1], cpu.shape[-1]
    w, zeta = float(p.w), float(p.zeta)
    mean_bits = terms["bits"].mean(-1, keepdims=True)
    lam = w * zeta * mean_bits / (cpu * n / m) ** 2  # marginal cost of CPU at an equal share
    mu = w * mean_bits / (bw * n / m) ** 2 / 1e2  # ~ the same for bandwidth (rates ~ 10..100 b)
    best = np.full(cpu.shape[0], -np.inf)
    for it in range(iters):
        value, d_lam, d_mu = dual_value(terms, cpu, bw, lam, mu, p)
        best = np.maximum(best, value)
        step = 1.0 / np.sqrt(it + 1.0)  # multiplicative ascent: prices stay > 0 and find their own scale
        lam = lam * np.exp(step * np.clip(d_lam / cpu, -1.0, 1.0))
        mu = mu * np.exp(step * np.clip(d_mu / bw, -1.0, 1.0))
    return best / m
