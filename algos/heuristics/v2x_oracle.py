"""The full-information slot optimum of `v2x`, from above: a feasible allocation (NumPy, float64).

Counterpart of the certified lower bound (`v2x_bound`): with every vehicle's task, position and
fading known and no turn order, the slot problem (spec §3, eq. 19) splits into a discrete part --
every vehicle's target x_i in {local, ES 1..N} -- and, for a fixed assignment, a convex split of each
ES's CPU among the tasks it computes and of each access ES's bandwidth among the tasks it uplinks:

    CPU of ES j:        min sum_i w zeta D_i / f_i + (1 - w) phi_es zeta D_i f_i^2,  sum_i f_i <= f_hat_j
    bandwidth of ES a:  min sum_i (w + (1 - w) p_i) D_i / r_i(b_i, p_i),           sum_i b_i <= b_hat_a

(eqs. 4-17 and 23, S1-S3, A6). Each split is solved by its KKT condition: one price per resource found
by bisection, every user's share from its own stationarity condition (`cpu_split`, `bw_split`); the
power p_i is optimised per user for its share (a few alternations; p = p_max is where they start).
`assignment_cost` prices an assignment, `local_search` improves assignments one vehicle at a time
from several starts, `exhaustive` tries them all (tiny instances). Every value returned is the cost of
an allocation the env accepts -- any fractions (f_i / what remains, in turn order) realise it -- so
``slot_bound <= OPT <= oracle`` slot by slot; tests/test_dt_maddpg.py checks that against brute
force and the env's own pricing.
"""

from __future__ import annotations

import itertools

import numpy as np

from algos.heuristics import v2x_bound

LN2 = np.log(2.0)
P_FLOOR = 1e-3  # smallest power fraction the per-user power search considers


def _bisect_log(fn, lo, hi, iters):
    """Root of a decreasing ``fn`` in [lo, hi] by bisection in log space (elementwise)."""
    lo, hi = np.broadcast_arrays(np.asarray(lo, np.float64), np.asarray(hi, np.float64))
    lo, hi = lo.copy(), hi.copy()
    for _ in range(iters):
        mid = np.sqrt(lo * hi)
        above = fn(mid) > 0
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.sqrt(lo * hi)


def cpu_split(a, b, cap, mask, iters=40, newton=10):
    """min sum_i a_i / f_i + b_i f_i^2 over masked users, sum f_i <= cap (a, b > 0): ``(f, cost)``.

    ``a, b, mask [..., M]``, ``cap [...]``. KKT: a_i / f_i^2 = 2 b_i f_i + lam; lam = 0 when every user
    at its own optimum f* = (a / 2b)^(1/3) fits (S3), else bisection on lam with sum f_i(lam) = cap.
    The returned f sums to at most ``cap`` (the bracket's feasible end)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    cap = np.asarray(cap, np.float64)[..., None]

    def shares(lam):  # the root of the convex, increasing 2 b f^3 + lam f^2 - a: Newton from the right
        f = np.minimum((a / (2.0 * b)) ** (1.0 / 3.0), np.sqrt(a / np.maximum(lam, 1e-300)))
        for _ in range(newton):
            f = f - (2.0 * b * f**3 + lam * f * f - a) / (6.0 * b * f * f + 2.0 * lam * f)
        return f

    def used(lam):
        return np.sum(np.where(mask, shares(lam), 0.0), -1, keepdims=True)

    free = used(np.zeros_like(cap)) <= cap
    lo, hi = np.full(cap.shape, 1e-30), np.full(cap.shape, 1e10)
    for _ in range(iters):  # bisection on log lam: used(lam) decreases
        mid = np.sqrt(lo * hi)
        over = used(mid) > cap
        lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
    lam = np.where(free, 0.0, hi)
    f = np.where(mask, shares(lam), 0.0)
    f = f * np.minimum(1.0, cap / np.maximum(f.sum(-1, keepdims=True), cap))  # rounding: stay feasible
    cost = np.where(mask, a / np.where(mask, f, 1.0) + b * f * f, 0.0)
    return f, cost.sum(-1)


def rate(bw, snr_num, noise_is_psd):
    """r = b log2(1 + k / b) (noise N0 b) or b log2(1 + k) (total noise), k = p h d^-alpha / N0 (eq. 5)."""
    return bw * (np.log1p(snr_num / bw) if noise_is_psd else np.log1p(snr_num)) / LN2


def bw_split(c, k, cap, mask, noise_is_psd, iters=40):
    """min sum_i c_i / r_i(b_i) over masked users, sum b_i <= cap: ``(b, cost)``; r as in `rate`.

    Total noise: b_i proportional to sqrt(c_i / log2(1 + k_i)) (closed form). Noise N0 b: every term
    is convex and decreasing in b, so the budget binds; KKT c_i r_i' / r_i^2 = mu with mu by bisection."""
    c, k = np.broadcast_arrays(np.asarray(c, np.float64), np.asarray(k, np.float64))
    cap = np.asarray(cap, np.float64)[..., None]
    if not noise_is_psd:
        s = np.where(mask, np.sqrt(c / np.log2(1.0 + k)), 0.0)
        b = cap * s / np.maximum(s.sum(-1, keepdims=True), 1e-300)
    else:
        def marginal(bw):  # -(d/db) c / r(b) = c r'(b) / r(b)^2, decreasing in b
            x = k / bw
            return c * (np.log1p(x) - x / (1.0 + x)) / LN2 / rate(bw, k, True) ** 2

        def shares(mu):
            return _bisect_log(lambda bw: marginal(bw) - mu, np.full(c.shape, 1e-2), np.full(c.shape, 1e12), iters)

        lo, hi = np.full(cap.shape, 1e-40), np.full(cap.shape, 1e10)
        for _ in range(iters):
            mid = np.sqrt(lo * hi)
            over = np.sum(np.where(mask, shares(mid), 0.0), -1, keepdims=True) > cap
            lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
        b = np.where(mask, shares(hi), 0.0)
        b = b * np.minimum(1.0, cap / np.maximum(b.sum(-1, keepdims=True), cap))
    cost = np.where(mask, c / rate(np.where(mask, b, 1.0), k, noise_is_psd), 0.0)
    return b, cost.sum(-1)


def best_power(bits, k_unit, bw, p, grid=64):
    """Per user, the power in [P_FLOOR p_max, p_max] minimising (w + (1 - w) p) D / r(b, p) for its
    bandwidth ``bw`` (a log grid; any power is feasible, so this only has to be good, not exact)."""
    levels = float(p.p_max) * np.geomspace(P_FLOOR, 1.0, grid)
    w = float(p.w)
    val = (w + (1.0 - w) * levels) * bits[..., None] / rate(bw[..., None], k_unit[..., None] * levels,
                                                            bool(p.noise_is_psd))
    return levels[np.argmin(val, -1)]


class Slots:
    """Per slot and vehicle, what every option costs apart from the shared CPU and bandwidth."""

    def __init__(self, pos, bits, gain, cpu, bw, p):
        self.p = p
        self.terms = v2x_bound.slot_terms(pos, bits, gain, p)  # local, wired, k (at p_max), bw_es, bits
        self.cpu, self.bw = np.asarray(cpu, np.float64), np.asarray(bw, np.float64)
        self.n = self.cpu.shape[-1]
        self.m = self.terms["bits"].shape[-1]
        dist = np.linalg.norm(np.asarray(pos, np.float64)[..., :, None, :] - np.asarray(p.es_pos, np.float64), axis=-1)
        self.nearest = 1 + np.argmin(dist, -1)  # [S, M] option of the nearest ES

    def take(self, idx):
        """The slots ``idx`` only."""
        out = object.__new__(Slots)
        out.p, out.n, out.m, out.nearest = self.p, self.n, self.m, self.nearest[idx]
        out.terms = {k: v[idx] for k, v in self.terms.items()}
        out.cpu, out.bw = self.cpu[idx], self.bw[idx]
        return out


def bw_split_fast(c, k, cap, mask, noise_is_psd, rounds=3):
    """A near-optimal split for `local_search` (any split is feasible, so the cost stays achievable):
    b_i proportional to sqrt(c_i / rho_i), the optimum if every rate were rho_i b_i, with the spectral
    efficiency rho_i = log2(1 + k_i / b_i) re-read at the current shares ``rounds`` times."""
    c, k = np.broadcast_arrays(np.asarray(c, np.float64), np.asarray(k, np.float64))
    cap = np.asarray(cap, np.float64)[..., None]
    n_users = np.maximum(mask.sum(-1, keepdims=True), 1)
    b = np.broadcast_to(cap / n_users, np.broadcast_shapes(c.shape, np.shape(mask)))
    for _ in range(rounds if noise_is_psd else 1):
        s = np.where(mask, np.sqrt(c / (rate(b, k, noise_is_psd) / b)), 0.0)
        b = np.maximum(cap * s / np.maximum(s.sum(-1, keepdims=True), 1e-300), 1e-30)
    cost = np.where(mask, c / rate(np.where(mask, b, 1.0), k, noise_is_psd), 0.0)
    return np.where(mask, b, 0.0), cost.sum(-1)


def assignment_cost(sl: Slots, x, exact: bool = True, power_rounds: int = 2, allocation: bool = False):
    """The slot's total cost (sum over vehicles) of assignments ``x int [S, K, M]`` (0 local, j ES j):
    ``float [S, K]``, the cost of an allocation the env accepts. ``exact``: the optimal CPU and
    bandwidth splits (`cpu_split`, `bw_split`) with ``power_rounds`` alternations of per-user power
    (`best_power`); else the fast split at p = p_max (`bw_split_fast`, for the search). ``allocation``:
    also return ``(f, b, power)`` ``[S, K, M]`` (Hz, Hz, W; zero for local tasks) that achieve it."""
    p, t = sl.p, sl.terms
    w, zeta, psd = float(p.w), float(p.zeta), bool(p.noise_is_psd)
    bits = np.broadcast_to(t["bits"][:, None, :], np.shape(x))  # [S, K, M]
    x = np.asarray(x)
    off = x > 0
    j = np.maximum(x - 1, 0)

    def pick(arr):  # option x_i's entry of a per-option array [S, M, N]
        return np.take_along_axis(np.broadcast_to(arr[:, None], x.shape + arr.shape[-1:]), j[..., None], -1)[..., 0]

    total = np.where(off, pick(t["wired"]), t["local"][:, None, :]).sum(-1)  # local, or the wired hop (eqs. 3, 9-12)
    k_unit, acc = pick(t["k"]) / float(p.p_max), pick(t["bw_es"])  # SNR numerator per watt; bandwidth's ES
    a, b = w * zeta * bits, (1.0 - w) * float(p.phi_es) * zeta * bits
    servers = np.arange(sl.n)[:, None]  # every ES at once on an axis before the vehicles: [S, K, N, M]
    on_cpu = off[..., None, :] & (x[..., None, :] - 1 == servers)
    f_all, cost_cpu = cpu_split(a[..., None, :], b[..., None, :], sl.cpu[:, None, :], on_cpu)  # eqs. 4, 13
    total = total + cost_cpu.sum(-1)
    f_all = f_all.sum(-2)
    on_bw = off[..., None, :] & (acc[..., None, :] == servers)
    split = bw_split if exact else bw_split_fast
    power = np.full(x.shape, float(p.p_max))
    best_up, best_alloc = np.full(x.shape[:2], np.inf), (np.zeros(x.shape), power)
    for r in range((power_rounds if exact else 0) + 1):  # bandwidth at the current powers (eqs. 5-7, 14)
        bw_all, up = split(((w + (1.0 - w) * power) * bits)[..., None, :], (k_unit * power)[..., None, :],
                           sl.bw[:, None, :], on_bw, psd)
        up, bw_all = up.sum(-1), bw_all.sum(-2)
        better = up < best_up
        best_up = np.where(better, up, best_up)
        best_alloc = tuple(np.where(better[..., None], new, old) for new, old in zip((bw_all, power), best_alloc))
        if exact and r < power_rounds:  # then the best power for those shares
            power = np.where(off, best_power(bits, k_unit, np.maximum(bw_all, 1e-30), p), power)
    if allocation:
        return total + best_up, (f_all, best_alloc[0], np.where(off, best_alloc[1], 0.0))
    return total + best_up


def neighbours(x, n):
    """Every assignment one vehicle's move away (and x itself): ``[..., 1 + M (N + 1), M]``."""
    m = x.shape[-1]
    moves = np.broadcast_to(x[..., None, None, :], x.shape[:-1] + (m, n + 1, m)).copy()
    idx = np.arange(m)
    moves[..., idx, :, idx] = np.arange(n + 1)  # vehicle i -> option o
    return np.concatenate([x[..., None, :], moves.reshape(x.shape[:-1] + (m * (n + 1), m))], -2)


def local_search(sl: Slots, starts, max_rounds: int = 20):
    """Best-improvement single-vehicle moves from every start ``int [S, K, M]`` until none helps:
    ``(best assignment [S, M], its total cost [S])``."""
    x = np.asarray(starts)
    cost = assignment_cost(sl, x, exact=False)
    for _ in range(max_rounds):
        cand = neighbours(x, sl.n)  # [S, K, C, M]
        s, k, c, m = cand.shape
        val = assignment_cost(sl, cand.reshape(s, k * c, m), exact=False).reshape(s, k, c)
        best = np.argmin(val, -1)
        new_cost = np.take_along_axis(val, best[..., None], -1)[..., 0]
        improved = new_cost < cost * (1 - 1e-12)
        if not improved.any():
            break
        x = np.where(improved[..., None], np.take_along_axis(cand, best[..., None, None], -2)[..., 0, :], x)
        cost = np.where(improved, new_cost, cost)
    i = np.argmin(cost, -1)
    return np.take_along_axis(x, i[:, None, None], 1)[:, 0], np.take_along_axis(cost, i[:, None], 1)[:, 0]


def exhaustive(sl: Slots, chunk: int = 4096):
    """Every assignment (N + 1)^M (tiny instances): ``(best assignment [S, M], total cost [S])``."""
    allx = np.array(list(itertools.product(range(sl.n + 1), repeat=sl.m)))
    vals = np.concatenate([assignment_cost(sl, np.broadcast_to(allx[i:i + chunk], (sl.cpu.shape[0],) + allx[i:i + chunk].shape))
                           for i in range(0, len(allx), chunk)], -1)
    i = np.argmin(vals, -1)
    return allx[i], vals[np.arange(len(i)), i]


def default_starts(sl: Slots, extra=()):
    """Starting assignments ``[S, K, M]``: everyone to the nearest ES (access of option 1 is the nearest
    when out of range), everyone local, and any ``extra`` ``[S, M]`` (e.g. a heuristic's targets)."""
    starts = [sl.nearest, np.zeros_like(sl.nearest)] + [np.asarray(e) for e in extra]
    return np.stack(starts, 1)


def slot_oracle(pos, bits, gain, cpu, bw, p, extra=()):
    """``[S]``: the mean per-vehicle cost of the best assignment `local_search` finds (an achievable
    cost, so the optimum is at most this) and the assignments ``[S, M]``."""
    sl = Slots(pos, bits, gain, cpu, bw, p)
    x, total = local_search(sl, default_starts(sl, extra))
    return np.minimum(total, assignment_cost(sl, x[:, None])[:, 0]) / sl.m, x


def turn_fractions(x, f, b, power, cpu, bw, access, p):
    """The env action (fractions of what the twin says remains, in ID order, eqs. 25-26) that realises
    the allocation ``x, f, b, power [..., M]`` with slot-start ``cpu, bw [..., N]`` and each vehicle's
    bandwidth ES ``access [..., M]``: ``(target int [..., M], fractions [..., M, 3])``."""
    n = cpu.shape[-1]
    off = x > 0
    on_cpu = (x[..., None] - 1 == np.arange(n)) & off[..., None]
    on_bw = (access[..., None] == np.arange(n)) & off[..., None]
    left_cpu = cpu[..., None, :] - np.cumsum(on_cpu * f[..., None], -2) + on_cpu * f[..., None]  # before vehicle i
    left_bw = bw[..., None, :] - np.cumsum(on_bw * b[..., None], -2) + on_bw * b[..., None]
    frac_f = np.where(off, f / np.maximum((on_cpu * left_cpu).sum(-1), 1e-300), 1.0)
    frac_b = np.where(off, b / np.maximum((on_bw * left_bw).sum(-1), 1e-300), 1.0)
    frac_p = np.where(off, power / float(p.p_max), 1.0)
    return x, np.clip(np.stack([frac_p, frac_f, frac_b], -1), 0.0, 1.0)


def realise(sl: Slots, x):
    """The exact allocation of assignments ``x [S, M]`` as env actions: ``(total cost [S], target, fractions)``."""
    total, (f, b, power) = assignment_cost(sl, x[:, None], allocation=True)
    j = np.maximum(x - 1, 0)
    access = np.take_along_axis(sl.terms["bw_es"], j[..., None], -1)[..., 0]
    return (total[:, 0],) + turn_fractions(x, f[:, 0], b[:, 0], power[:, 0], sl.cpu, sl.bw, access, sl.p)
