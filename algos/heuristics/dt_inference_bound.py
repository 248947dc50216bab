"""A certified lower bound on the mean per-task eq.-8 cost of ANY policy on `dt_inference` (NumPy, float64).

The env's ``cost`` metric of a step is the mean eq.-8 cost of its U x N tasks (battery failures and
deadline misses change the reward, never ``cost``), so the step problem is P (eq. 9) under C1-C4
only. The env's feasible set (shares >= ``min_share``, proportional projection) lies inside C2-C4,
so relaxing it is safe. In A8's normalised units every task of user i has the same compute cost
``a_i / f + e_i f^2`` (a_i = mu_T F_i, e_i = mu_E kappa / (kappa_user F_i^2); eqs. U1, 8), and an
offloaded task adds its uplink ``c_ij / r_ik(b)`` (eqs. 1, U2, 2-3). Keeping C2 exactly and pricing
C3 / C4 with nu_k, mu_k >= 0 (Lagrangian weak duality) gives, for ANY prices,

    OPT >= sum_i min_n [ L_i(n) + sum of the N - n smallest g_ij ] - sum_k (nu_k F_k + mu_k B_k),

    L_i(n) = n h_i(min(f*_i, F_i / n))            (n identical local tasks share F_i evenly: exact)
    g_ij   = min_k [ min_{f <= F_k} (a_i / f + e^s_i f^2 + nu_k f) + min_{b <= B_k} (c_ij / r_ik(b) + mu_k b) ]

The single-task caps f <= F_k, b <= B_k are implied by C3 / C4, so they stay. The bandwidth term is
closed-form with total noise (r = b log2(1 + snr)); with a PSD (the ``paper`` preset) it is
`v2x_bound.uplink_term`'s certified bracket. The CPU term's cubic is solved by Newton from above and
bounded by the tangent at a verified bracket (``h(f*) >= h(hi) - |h'(hi)| |f* - hi|``), so rounding
never loosens the certificate (a final 1e-9 relative margin covers the rounding of the sums).
Prices are improved per step by multiplicative supergradient ascent
(as `v2x_bound.slot_bound`); every iterate is a valid bound and the best is kept. `step_bound` is
checked against the exhaustive oracle on tiny instances (tests/test_dt_inference_bound.py).
"""

from __future__ import annotations

import jax
import numpy as np

from algos.common import stats
from algos.common.evaluation import rollout
from algos.heuristics import dt_inference as dth
from algos.heuristics.v2x_bound import uplink_term
from jaxedge.envs import dt_inference as dti
from jaxedge.physics import tasks

LN2 = np.log(2.0)


def step_terms(state, p) -> dict:
    """Float64 coefficients of the steps in ``state`` (leaves with any leading batch shape ``[S]``)."""
    f64 = lambda x: np.asarray(x, np.float64)  # noqa: E731
    cycles, bits = (f64(x) for x in tasks.medmnist_cycles_and_bits(np.asarray(state.task_type),
                                                                    float(p.cycles_per_flop), float(p.image_side)))
    f_user, p_tx = f64(state.f_user), f64(state.p_tx)
    mu_t, mu_e, k_u = float(p.mu_time), float(p.mu_energy), float(p.kappa_user)
    ratio = float(p.kappa_server) / k_u if bool(p.charge_server_energy) else 0.0
    # SNR numerator k = g P (d / d_ref)^-lambda / N0 (eq. 1, A2): snr = k, or k / b with a PSD
    k = f64(state.gain) * p_tx[..., None] * (f64(state.dist) / float(p.d_ref)) ** (-float(p.pathloss_exponent))
    k = k / float(p.noise)
    # uplink: mu_T T_tr / (X / F_i) + mu_E P T_tr / (kappa F_i^2 X) = c / r(b), T_tr = D / r (eqs. U2, 8)
    c = bits * (mu_t * f_user[..., None] / cycles + mu_e * p_tx[..., None] / (k_u * f_user[..., None] ** 2 * cycles))
    return {"a": mu_t * f_user, "e_loc": mu_e / f_user**2, "e_srv": ratio * mu_e / f_user**2, "f_user": f_user,
            "f_server": f64(state.f_server), "b_server": f64(state.b_server), "k": k, "c": c,
            "psd": bool(p.noise_is_psd)}


def cpu_term(a, e, nu, cap, newton: int = 8):
    """``min_{0 < f <= cap} a / f + e f^2 + nu f`` (a > 0; e, nu >= 0): (certified lower bound, f)."""
    a, e, nu, cap = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (a, e, nu, cap)))

    def h(f):
        return a / f + e * f * f + nu * f

    def dh(f):
        return -a / (f * f) + 2.0 * e * f + nu

    capped = dh(cap) <= 0.0  # h decreasing on (0, cap]: the minimum is at the cap, exactly
    with np.errstate(divide="ignore", over="ignore"):  # e = 0 or nu = 0: that term gives no cap
        hi = np.minimum.reduce([cap, np.cbrt(a / np.maximum(2.0 * e, 1e-300)), np.sqrt(a / np.maximum(nu, 1e-300))])
    for _ in range(newton):  # 2e f^3 + nu f^2 - a is convex on f > 0: Newton from above stays above
        # (the start is within 2x of the root, so 8 steps reach float64 precision; the bracket check below
        # keeps the bound valid if they did not)
        p_val = 2.0 * e * hi**3 + nu * hi**2 - a
        hi = np.where(p_val > 0, hi - p_val / (6.0 * e * hi**2 + 2.0 * nu * hi), hi)
    lo, up = hi * (1.0 - 1e-9), hi * (1.0 + 1e-9)
    lo = np.where(dh(lo) <= 0.0, lo, 0.0)  # a verified bracket [lo, up] of the minimiser f* (< cap here)
    up = np.where(dh(up) >= 0.0, up, cap)
    # convexity: h(f*) >= h(hi) + h'(hi) (f* - hi) >= h(hi) - |h'(hi)| max(up - hi, hi - lo)
    tangent = h(hi) - np.abs(dh(hi)) * np.maximum(up - hi, hi - lo)
    return np.where(capped, h(cap), tangent), np.where(capped, cap, hi)


def uplink(c, k, mu, cap, psd: bool):
    """``min_{0 < b <= cap} c / r(b) + mu b`` with r = b log2(1 + k) (total noise) or b log2(1 + k / b)
    (PSD): (certified lower bound, b)."""
    c, k, mu, cap = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (c, k, mu, cap)))
    if not psd:
        w = c / np.log2(1.0 + k)
        with np.errstate(divide="ignore"):
            b = np.minimum(np.sqrt(w / mu), cap)
        return w / b + mu * b, b
    rate = lambda b: b * np.log1p(k / b) / LN2  # noqa: E731
    d_rate = (np.log1p(k / cap) - (k / cap) / (1.0 + k / cap)) / LN2
    capped = -c * d_rate / rate(cap) ** 2 + mu <= 0.0  # decreasing up to the cap
    free, b = uplink_term(c, k, mu, True)
    return np.where(capped, c / rate(cap) + mu * cap, free), np.where(capped, cap, np.minimum(b, cap))


def dual_value(t: dict, nu, mu):
    """The Lagrangian dual ``[S]`` of each step (a lower bound of its minimum total cost for any prices
    ``nu, mu [S, M] >= 0``) and its supergradient ``(d nu, d mu) [S, M]``."""
    cpu, f = cpu_term(t["a"][..., None], t["e_srv"][..., None], nu[:, None, :], t["f_server"][:, None, :])  # [S,U,M]
    up, b = uplink(t["c"][..., None], t["k"][:, :, None, :], mu[:, None, None, :], t["b_server"][:, None, None, :],
                   t["psd"])  # [S, U, N, M]
    g_all = cpu[:, :, None, :] + up
    best = np.argmin(g_all, -1)
    g = np.take_along_axis(g_all, best[..., None], -1)[..., 0]  # [S, U, N]
    n_tasks = g.shape[-1]
    order = np.argsort(g, -1)  # ascending: the n_tasks - n smallest go to servers
    g_sorted = np.take_along_axis(g, order, -1)
    prefix = np.concatenate([np.zeros(g.shape[:-1] + (1,)), np.cumsum(g_sorted, -1)], -1)  # [S, U, N + 1]
    n = np.arange(n_tasks + 1)
    fu = t["f_user"][..., None]
    f_loc = np.minimum(np.cbrt(t["a"][..., None] / (2.0 * t["e_loc"][..., None])), fu / np.maximum(n, 1))
    local = n * (t["a"][..., None] / f_loc + t["e_loc"][..., None] * f_loc**2)  # L_i(n), [S, U, N + 1]
    total = local + prefix[..., ::-1]  # n local tasks + the n_tasks - n smallest server costs
    n_best = np.argmin(total, -1)
    value = np.take_along_axis(total, n_best[..., None], -1)[..., 0].sum(-1)
    value = value - (nu * t["f_server"]).sum(-1) - (mu * t["b_server"]).sum(-1)
    rank = np.argsort(order, -1)
    off = rank < (n_tasks - n_best)[..., None]  # [S, U, N] offloaded in the relaxed optimum
    m = nu.shape[-1]
    pick = (best[..., None] == np.arange(m)) & off[..., None]  # [S, U, N, M]
    f_used = (pick * f[:, :, None, :]).sum((1, 2))
    b_used = (pick * np.where(np.isfinite(b), b, 0.0)).sum((1, 2))
    return value, f_used - t["f_server"], b_used - t["b_server"]


def step_bound(state, params, iters: int = 100) -> np.ndarray:
    """``[S]``: a certified lower bound of the minimum mean per-task cost of each step in ``state``
    (leaves ``[S, ...]``: pre-step env states)."""
    t = step_terms(state, params)
    s, u, n = t["c"].shape
    share_f = t["f_server"] * t["f_server"].shape[-1] / (u * n)  # an equal share of all servers' CPU
    nu = 0.3 * t["a"].mean(-1, keepdims=True) / share_f**2
    w = t["c"].mean((1, 2))[:, None] / np.log2(1.0 + np.median(t["k"], (1, 2)))[:, None]
    mu = 0.3 * w / (t["b_server"] * t["b_server"].shape[-1] / (u * n)) ** 2
    best = dual_value(t, np.zeros_like(nu), np.zeros_like(mu))[0]  # no prices: the decoupled bound
    for it in range(iters):
        value, d_nu, d_mu = dual_value(t, nu, mu)
        best = np.maximum(best, value)
        step = 0.5 / np.sqrt(it + 1.0)  # multiplicative ascent: prices stay > 0 and find their own scale
        # (0.5: the best of {0.25, 0.5, 1, 2, 4} x {1/sqrt(it), 1/it} on the default sizes)
        nu = nu * np.exp(step * np.clip(d_nu / t["f_server"], -1.0, 1.0))
        mu = mu * np.exp(step * np.clip(d_mu / t["b_server"], -1.0, 1.0))
    return best * (1.0 - 1e-9) / (u * n)  # the margin covers float64 rounding of the sums


def _states(env, params, key, num_envs, num_steps):
    """The pre-step states of `evaluate`'s envs and keys (the bound never reads battery or s', the only
    parts of the state the actions change)."""
    policy = dth.local(env)
    return jax.jit(lambda k: rollout(env, params, policy, k, num_envs, num_steps,
                                     lambda state, action, reward, info: state))(key)


def expected_bound(env, params, key, num_envs: int = 64, num_steps: int = 100, iters: int = 100) -> dict:
    """``{"cost": stat}``: the bound on the per-step mean task cost, averaged over the steps of each of
    `evaluate`'s envs (same key, so paired with every heuristic and learner), Student t over envs."""
    states = jax.device_get(_states(env, params, key, num_envs, num_steps))
    flat = jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((-1,) + x.shape[2:]), states)
    bound = step_bound(flat, params, iters).reshape(num_envs, num_steps)
    return stats.summarise({"cost": bound.mean(1)})


ENV_NAME = dti.DTInference.name
