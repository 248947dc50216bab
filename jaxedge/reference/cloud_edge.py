"""Plain NumPy references for seed 004's `cloud_edge` env.

`step_loop` is written the way the paper's gym code would be: one env at a time, explicit Python
loops over cells and UEs, float64 scalars, the queue matrices (10)-(11) built as N x N lists and
multiplied out as in (12), and each edge cache a Python object: an ``OrderedDict`` for LRU (move to
end on a hit, pop the oldest to evict) and a dict + ``Counter`` for LFU (evict the least count, ties
by least recent use). `step_batched` is the same transition vectorised over a batch of envs with
NumPy (its caches are slot arrays, as in JAX). Both take the round's random draws as inputs (see
`CloudEdge.sample_step`) and return ``obs, state, reward, truncated, metrics, vector_reward``.

Never imported by `jaxedge.envs`.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict

import numpy as np

from jaxedge.reference.common import reset_finished

LN2 = math.log(2.0)


def p(params, name):
    return float(np.asarray(getattr(params, name)))


def _kbit(bits):
    return int(round(float(bits) / 1000.0))


def _capacity_kbit(params):
    return int(math.floor(p(params, "cache_capacity") / 1000.0 + 1e-6))


def path_gain(d, params):
    d = max(d, p(params, "d_min"))
    return 10.0 ** (-(p(params, "pl_const_db") + p(params, "pl_slope_db") * math.log10(d / 1000.0)) / 10.0)


def _rate(bw, snr, params):
    # log1p: log2(1 + snr) loses all precision for the 1e-12 SINRs of literal interference (A15)
    return max(bw * math.log1p(snr) / LN2, p(params, "rate_floor"))


# ------------------------------------------------------------------------------------------------
# Caches as a Python author would write them
# ------------------------------------------------------------------------------------------------
class LRUCache:
    """OrderedDict task type -> result size (kbit), least recently used first."""

    def __init__(self, capacity_kbit, slots, insert_if_fits=False):
        self.capacity, self.slots, self.insert_if_fits = capacity_kbit, slots, insert_if_fits
        self.store = OrderedDict()

    def __contains__(self, m):
        return m in self.store

    def used(self):
        return sum(self.store.values())

    def access(self, m, size, clock):
        if m in self.store:
            self.store.move_to_end(m)
            return True
        if size > self.capacity:
            return False
        if self.insert_if_fits:
            if self.used() + size <= self.capacity and len(self.store) < self.slots:
                self.store[m] = size
            return False
        while self.used() + size > self.capacity or len(self.store) >= self.slots:
            self.store.popitem(last=False)
        self.store[m] = size
        return False

    def contents(self):
        return {m: 0 for m in self.store}


class LFUCache:
    """dict task type -> size, a Counter of accesses since insertion and the last-use clock."""

    def __init__(self, capacity_kbit, slots, insert_if_fits=False):
        self.capacity, self.slots, self.insert_if_fits = capacity_kbit, slots, insert_if_fits
        self.store, self.freq, self.last = {}, Counter(), {}

    def __contains__(self, m):
        return m in self.store

    def used(self):
        return sum(self.store.values())

    def access(self, m, size, clock):
        if m in self.store:
            self.freq[m] += 1
            self.last[m] = clock
            return True
        if size > self.capacity:
            return False
        if self.insert_if_fits:
            if self.used() + size <= self.capacity and len(self.store) < self.slots:
                self.store[m], self.freq[m], self.last[m] = size, 1, clock
            return False
        while self.used() + size > self.capacity or len(self.store) >= self.slots:
            victim = min(self.store, key=lambda k: (self.freq[k], self.last[k]))
            del self.store[victim], self.freq[victim], self.last[victim]
        self.store[m], self.freq[m], self.last[m] = size, 1, clock
        return False

    def contents(self):
        return dict(self.freq)


def make_cache(params, slots):
    cls = LFUCache if int(np.asarray(params.cache_policy)) == 1 else LRUCache
    return cls(_capacity_kbit(params), slots, bool(np.asarray(params.insert_if_fits)))


# ------------------------------------------------------------------------------------------------
# Randomness (NumPy generator) with the same distributions as the JAX env, for the benchmark.
# ------------------------------------------------------------------------------------------------
def sample_episode(rng, env, params, batch=()):
    k, n = env.n_cells, env.num_agents
    lo, hi = int(params.ue_min), int(params.ue_max)
    n_types = np.shape(params.popularity)[0]
    return {
        "n_ues": rng.integers(lo, hi + 1, size=batch + (k,)),
        "dist": p(params, "r_edge") * np.sqrt(rng.random(batch + (n,))),
        "ue_type": rng.integers(0, n_types, size=batch + (n,)),
    }


def sample_step(rng, env, params, ue_type):
    batch = np.shape(ue_type)[:-1]
    k, n = env.n_cells, env.num_agents
    cdf = np.cumsum(np.asarray(params.popularity, np.float64), axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(np.shape(ue_type))
    rows = cdf[ue_type]  # [..., N, M]
    task = np.minimum((rows < u[..., None]).sum(-1), cdf.shape[1] - 1)
    if bool(np.asarray(params.rayleigh)):
        fade = np.maximum(rng.exponential(size=batch + (n + k,)), p(params, "fading_floor"))
    else:
        fade = np.ones(batch + (n + k,))
    return {"task": task, "fade_ue": fade[..., :n], "fade_ec": fade[..., n:]}


# ------------------------------------------------------------------------------------------------
# Per-env loop reference
# ------------------------------------------------------------------------------------------------
def initial_state_loop(env, ep, draws, params):
    K, J = env.n_cells, env.ues_per_cell
    mask, g_mean = [], []
    for k in range(K):
        for j in range(J):
            mask.append(k < int(params.n_edges) and j < int(ep["n_ues"][k]))
            g_mean.append(path_gain(float(ep["dist"][k * J + j]), params))
    g_ec = path_gain(p(params, "r_cloud"), params)
    return {
        "mask": mask,
        "ue_type": [int(v) for v in ep["ue_type"]],
        "g_ue_mean": g_mean,
        "g_ue": [g_mean[n] * float(draws["fade_ue"][n]) for n in range(K * J)],
        "g_ec": [g_ec * float(draws["fade_ec"][k]) for k in range(K)],
        "task": [int(v) for v in draws["task"]],
        "caches": [make_cache(params, env.cache_slots) for _ in range(K)],
        "t": 0,
    }


def _task(params, m):
    si = float(np.asarray(params.task_si)[m])
    so = float(np.asarray(params.task_so)[m])
    c = float(np.asarray(params.task_c)[m])
    return si, so, si * c


def observations_loop(env, state, params):
    K, J, L = env.n_cells, env.ues_per_cell, env.n_channels
    bw = p(params, "total_bandwidth") / L
    noise = p(params, "noise_psd") * bw
    rows = []
    for n in range(K * J):
        k = n // J
        row = [0.0] * (7 + K)
        if state["mask"][n]:
            si, so, work = _task(params, state["task"][n])
            hit = state["task"][n] in state["caches"][k]
            rx = p(params, "p_ue") * state["g_ue"][n]
            r_up = _rate(bw, rx / noise, params)
            r_dn = _rate(bw, p(params, "p_edge") * state["g_ue"][n] / noise, params)
            r_ec = _rate(bw, p(params, "p_edge") * state["g_ec"][k] / noise, params)
            r_ce = _rate(bw, p(params, "p_cloud") * state["g_ec"][k] / noise, params)
            times = [
                work / p(params, "f_ue"),
                (0.0 if hit else 1.0) * work / p(params, "f_edge"),
                si / r_up + so / r_dn,
                work / p(params, "f_cloud"),
                si / r_ec + so / r_ce,
            ]
            row[0] = (10.0 * math.log10(rx) + 30.0 + 200.0) / 100.0
            for i, t in enumerate(times):
                row[1 + i] = math.log1p(t)
            row[6] = 1.0
            row[7 + k] = 1.0
        rows.append(row)
    return np.array(rows)


def _decode(discrete, continuous, params, L):
    x = [min(max(int(v), 0), 2) for v in discrete[:, 0]]
    l = [min(max(int(v), 0), L - 1) for v in discrete[:, 1]]  # noqa: E741
    lo = p(params, "min_ratio")

    def ratio(v):
        v = float(v)
        v = 0.0 if math.isnan(v) else (1.0 if v == math.inf else (0.0 if v == -math.inf else v))
        return min(max(v, lo), 1.0)

    return x, l, [ratio(v) for v in continuous[:, 0]], [ratio(v) for v in continuous[:, 1]]


def step_loop(env, state, discrete, continuous, draws, params):
    """One round of one env, loops everywhere. ``discrete`` int[N, 2] (x, l), ``continuous`` [N, 2] (a, b)."""
    K, J, L = env.n_cells, env.ues_per_cell, env.n_channels
    N = K * J
    x, l, a, b = _decode(np.asarray(discrete), np.asarray(continuous), params, L)
    mask = state["mask"]
    bw = p(params, "total_bandwidth") / L
    noise = p(params, "noise_psd") * bw
    P, F_UE, F_E, F_C = p(params, "p_ue"), p(params, "f_ue"), p(params, "f_edge"), p(params, "f_cloud")
    use_gain = bool(np.asarray(params.interference_gain))
    count_all = bool(np.asarray(params.interference_all))

    T1, T21, T22, E, hits, offl = [0.0] * N, [0.0] * N, [0.0] * N, [0.0] * N, [False] * N, [False] * N
    collisions = 0
    for n in range(N):
        if not mask[n]:
            continue
        k = n // J
        si, so, work = _task(params, state["task"][n])
        hits[n] = state["task"][n] in state["caches"][k]  # cache state at the round's start (A18)
        if x[n] == 0:
            f = b[n] * F_UE
            T1[n] = work / f  # eq. 2
            E[n] = p(params, "kappa") * work * f * f  # eq. 3
            continue
        offl[n] = True
        # eq. 5 / U2: same-cell, same-channel interferers
        interference = 0.0
        for m in range(k * J, (k + 1) * J):
            if m == n or not mask[m] or l[m] != l[n]:
                continue
            if x[m] == 0 and not count_all:
                continue
            interference += a[m] * P * (state["g_ue"][m] if use_gain else 1.0)
        if any(m != n and mask[m] and x[m] > 0 and l[m] == l[n] for m in range(k * J, (k + 1) * J)):
            collisions += 1
        r_up = _rate(bw, a[n] * P * state["g_ue"][n] / (noise + interference), params)  # eq. 4
        r_dn = _rate(bw, p(params, "p_edge") * state["g_ue"][n] / noise, params)
        t_up = si / r_up
        T21[n] = t_up + so / r_dn  # eq. 8
        E[n] = a[n] * P * t_up  # eq. 6
        if x[n] == 1:
            T1[n] = (0.0 if hits[n] else 1.0) * work / F_E  # eq. 2
        else:
            T1[n] = work / F_C
            r_ec = _rate(bw, p(params, "p_edge") * state["g_ec"][k] / noise, params)
            r_ce = _rate(bw, p(params, "p_cloud") * state["g_ec"][k] / noise, params)
            T22[n] = si / r_ec + so / r_ce  # eq. 9

    # Queue matrices (10)-(11) and the round time (12), literally.
    def q11(n1, n2):
        return n1 == n2 or (x[n1] == 1 and x[n2] == 1 and n1 // J == n2 // J)

    def q12(n1, n2):
        return n1 == n2 or (x[n1] == 2 and x[n2] == 2)

    def q2(n1, n2):
        return (x[n1] == 1 and x[n2] == 1 and n1 // J == n2 // J) or (x[n1] == 2 and x[n2] == 2)

    fixed = bool(np.asarray(params.exec_time_fixed))
    tau = [0.0] * N
    for n1 in range(N):
        if not mask[n1]:
            continue
        total = T1[n1] if x[n1] == 0 else 0.0  # T1(0)
        for n2 in range(N):
            if not mask[n2]:
                continue
            if x[n2] == 1 and q11(n1, n2):
                total += T1[n2]  # Q11 T1(1)
            if x[n2] == 2 and q12(n1, n2):
                total += T1[n2]  # Q12 T1(2)
            if x[n2] == 1 and q2(n1, n2):
                total += T21[n2]  # Q2 T21(1)
        if x[n1] == 2:
            total += T22[n1] + (T21[n1] if fixed else 0.0)  # T22(2) (+ U4)
        tau[n1] = total
    round_time = max(tau[n] for n in range(N) if mask[n])
    total_energy = sum(E)
    cost = p(params, "w_time") * round_time + p(params, "w_energy") * total_energy
    reward = np.full(N, -cost)
    vector_reward = np.array([[-p(params, "w_time") * tau[n], -p(params, "w_energy") * E[n]] for n in range(N)])

    # Cache accesses after the round, UE order per cell (A18).
    for k in range(K):
        for j in range(J):
            n = k * J + j
            if mask[n] and x[n] > 0:
                so = _task(params, state["task"][n])[1]
                state["caches"][k].access(state["task"][n], _kbit(so), state["t"] * J + j)

    n_active = max(sum(mask), 1)
    n_tx = sum(offl)
    cap = max(_capacity_kbit(params), 1)
    n_edges = min(int(params.n_edges), K)
    metrics = {
        "round_time": round_time,
        "energy": total_energy / n_active,
        "cost": cost,
        "cache_hit_ratio": sum(1 for n in range(N) if hits[n] and offl[n] and x[n] == 1)
        / max(sum(1 for n in range(N) if mask[n] and x[n] == 1), 1),  # only x = 1 hits save time (§2.6)
        "collision_ratio": collisions / max(n_tx, 1),
        "local_ratio": sum(1 for n in range(N) if mask[n] and x[n] == 0) / n_active,
        "edge_ratio": sum(1 for n in range(N) if mask[n] and x[n] == 1) / n_active,
        "cloud_ratio": sum(1 for n in range(N) if mask[n] and x[n] == 2) / n_active,
        "cache_fill": sum(state["caches"][k].used() / cap for k in range(n_edges)) / max(n_edges, 1),
    }
    g_ec = path_gain(p(params, "r_cloud"), params)
    state["g_ue"] = [state["g_ue_mean"][n] * float(draws["fade_ue"][n]) for n in range(N)]
    state["g_ec"] = [g_ec * float(draws["fade_ec"][k]) for k in range(K)]
    state["task"] = [int(v) for v in draws["task"]]
    state["t"] += 1
    truncated = state["t"] >= int(params.episode_len)
    return observations_loop(env, state, params), state, reward, truncated, metrics, vector_reward


# ------------------------------------------------------------------------------------------------
# Batched NumPy reference (vectorised over a leading env axis B; slot-array caches as in JAX)
# ------------------------------------------------------------------------------------------------
def initial_state_batched(env, ep, draws, params):
    K, J = env.n_cells, env.ues_per_cell
    B = np.shape(ep["n_ues"])[0]
    cell = np.repeat(np.arange(K), J)
    j = np.tile(np.arange(J), K)
    mask = (cell < int(params.n_edges))[None] & (j[None] < np.asarray(ep["n_ues"])[:, cell])
    g_mean = _gain_batched(np.asarray(ep["dist"], np.float64), params)
    g_ec = _gain_batched(np.float64(p(params, "r_cloud")), params)
    S = env.cache_slots
    return {
        "mask": mask, "ue_type": np.asarray(ep["ue_type"]), "g_ue_mean": g_mean,
        "g_ue": g_mean * draws["fade_ue"], "g_ec": g_ec * draws["fade_ec"], "task": np.asarray(draws["task"]),
        "item": np.full((B, K, S), -1, np.int64), "size": np.zeros((B, K, S), np.int64),
        "last": np.zeros((B, K, S), np.int64), "count": np.zeros((B, K, S), np.int64),
        "t": np.zeros(B, np.int64),
    }


def _gain_batched(d, params):
    d = np.maximum(d, p(params, "d_min"))
    return 10.0 ** (-(p(params, "pl_const_db") + p(params, "pl_slope_db") * np.log10(d / 1000.0)) / 10.0)


def _rates_batched(bw, snr, params):
    return np.maximum(bw * np.log1p(snr) / LN2, p(params, "rate_floor"))


def _lower_bounds_batched(env, state, params):
    K, J, L = env.n_cells, env.ues_per_cell, env.n_channels
    B = state["mask"].shape[0]
    bw = p(params, "total_bandwidth") / L
    noise = p(params, "noise_psd") * bw
    task = state["task"]
    si = np.asarray(params.task_si, np.float64)[task]
    so = np.asarray(params.task_so, np.float64)[task]
    work = si * np.asarray(params.task_c, np.float64)[task]
    hit = (state["item"][:, :, None, :] == task.reshape(B, K, J)[..., None]).any(-1).reshape(B, -1)
    g_ec = np.repeat(state["g_ec"], J, axis=-1)
    rx = p(params, "p_ue") * state["g_ue"]
    r_up0 = _rates_batched(bw, rx / noise, params)
    r_dn = _rates_batched(bw, p(params, "p_edge") * state["g_ue"] / noise, params)
    r_ec = _rates_batched(bw, p(params, "p_edge") * g_ec / noise, params)
    r_ce = _rates_batched(bw, p(params, "p_cloud") * g_ec / noise, params)
    return dict(si=si, so=so, work=work, hit=hit, rx=rx, r_up0=r_up0, r_dn=r_dn, r_ec=r_ec, r_ce=r_ce,
                bw=bw, noise=noise)


def observations_batched(env, state, params):
    lb = _lower_bounds_batched(env, state, params)
    times = [lb["work"] / p(params, "f_ue"), (1.0 - lb["hit"]) * lb["work"] / p(params, "f_edge"),
             lb["si"] / lb["r_up0"] + lb["so"] / lb["r_dn"], lb["work"] / p(params, "f_cloud"),
             lb["si"] / lb["r_ec"] + lb["so"] / lb["r_ce"]]
    mask = state["mask"].astype(np.float64)
    feats = np.stack([(10.0 * np.log10(lb["rx"]) + 230.0) / 100.0] + [np.log1p(t) for t in times], -1)
    onehot = np.eye(env.n_cells)[np.repeat(np.arange(env.n_cells), env.ues_per_cell)]
    return np.concatenate([feats * mask[..., None], mask[..., None], onehot[None] * mask[..., None]], -1)


def _cache_access_batched(c, m, size, clock, active, capacity, lfu, insert_if_fits):
    """One access per (B, K) cache, slot arrays ``[B, K, S]`` (mirrors `physics.cache.access`)."""
    S = c["item"].shape[-1]
    match = (c["item"] == m[..., None]) & active[..., None]
    hit = match.any(-1)
    c["last"] = np.where(match, clock[..., None], c["last"])
    c["count"] = np.where(match, c["count"] + 1, c["count"])
    present = c["item"] >= 0
    used = np.where(present, c["size"], 0).sum(-1)
    need = used + size - capacity
    need_slots = (present.sum(-1) >= S).astype(np.int64)
    fits = (need <= 0) & (need_slots == 0)
    insert = active & ~hit & (size <= capacity) & (fits if insert_if_fits else True)
    lj, li = c["last"][..., :, None], c["last"][..., None, :]
    if lfu:
        cj, ci = c["count"][..., :, None], c["count"][..., None, :]
        before = (cj < ci) | ((cj == ci) & (lj < li))
    else:
        before = lj < li
    before &= present[..., :, None]
    freed = np.where(before, c["size"][..., :, None], 0).sum(-2)
    n_before = before.sum(-2)
    evict = present & ((freed < need[..., None]) | (n_before < need_slots[..., None])) & insert[..., None]
    for name in ("item", "size", "last", "count"):
        c[name] = np.where(evict, -1 if name == "item" else 0, c[name])
    slot = np.argmax(c["item"] < 0, axis=-1)
    put = (np.arange(S) == slot[..., None]) & insert[..., None]
    c["item"] = np.where(put, m[..., None], c["item"])
    c["size"] = np.where(put, size[..., None], c["size"])
    c["last"] = np.where(put, clock[..., None], c["last"])
    c["count"] = np.where(put, 1, c["count"])
    return hit


def step_batched(env, state, discrete, continuous, draws, params):
    """The same round for B envs at once: ``discrete`` int[B, N, 2], ``continuous`` float[B, N, 2]."""
    K, J, L = env.n_cells, env.ues_per_cell, env.n_channels
    B, N = state["mask"].shape
    x = np.clip(discrete[..., 0], 0, 2)
    l = np.clip(discrete[..., 1], 0, L - 1)  # noqa: E741
    ratios = np.clip(np.nan_to_num(continuous, nan=0.0, posinf=1.0, neginf=0.0), p(params, "min_ratio"), 1.0)
    a, b = ratios[..., 0], ratios[..., 1]
    mask = state["mask"]
    loc, off1, off2 = mask & (x == 0), mask & (x == 1), mask & (x == 2)
    tx = off1 | off2
    lb = _lower_bounds_batched(env, state, params)
    si, so, work, hit = lb["si"], lb["so"], lb["work"], lb["hit"]

    P = p(params, "p_ue")
    p_tx = a * P
    interferer = mask if bool(np.asarray(params.interference_all)) else tx
    contrib = np.where(interferer, p_tx * (state["g_ue"] if bool(np.asarray(params.interference_gain)) else 1.0), 0.0)
    lc = l.reshape(B, K, J)
    same = (lc[..., :, None] == lc[..., None, :]) & ~np.eye(J, dtype=bool)
    interference = np.where(same, contrib.reshape(B, K, 1, J), 0.0).sum(-1).reshape(B, N)
    r_up = _rates_batched(lb["bw"], p_tx * state["g_ue"] / (lb["noise"] + interference), params)

    f_loc = b * p(params, "f_ue")
    t1 = np.where(x == 0, work / f_loc, np.where(x == 1, (1.0 - hit) * work / p(params, "f_edge"),
                                                 work / p(params, "f_cloud")))
    t1 = np.where(mask, t1, 0.0)
    t_up = np.where(tx, si / r_up, 0.0)
    t21 = np.where(tx, t_up + so / lb["r_dn"], 0.0)
    t22 = np.where(off2, si / lb["r_ec"] + so / lb["r_ce"], 0.0)
    energy = np.where(loc, p(params, "kappa") * work * f_loc**2, 0.0) + np.where(tx, p_tx * t_up, 0.0)
    edge_sum = np.where(off1, t1 + t21, 0.0).reshape(B, K, J).sum(-1)
    cloud_sum = np.where(off2, t1, 0.0).sum(-1)
    fixed = bool(np.asarray(params.exec_time_fixed))
    tau = (np.where(loc, t1, 0.0) + np.where(off1, np.repeat(edge_sum, J, axis=-1), 0.0)
           + np.where(off2, cloud_sum[:, None] + t22 + (t21 if fixed else 0.0), 0.0))
    round_time = np.where(mask, tau, 0.0).max(-1)
    total_energy = energy.sum(-1)
    cost = p(params, "w_time") * round_time + p(params, "w_energy") * total_energy
    reward = np.repeat(-cost[:, None], N, axis=-1)
    vector_reward = np.stack([-p(params, "w_time") * np.where(mask, tau, 0.0), -p(params, "w_energy") * energy], -1)

    cache = {name: state[name].copy() for name in ("item", "size", "last", "count")}
    size = np.round(so / 1000.0).astype(np.int64).reshape(B, K, J)
    capacity = _capacity_kbit(params)
    lfu = int(np.asarray(params.cache_policy)) == 1
    iff = bool(np.asarray(params.insert_if_fits))
    task = state["task"].reshape(B, K, J)
    txc = tx.reshape(B, K, J)
    for j in range(J):
        clock = np.broadcast_to((state["t"] * J + j)[:, None], (B, K))
        _cache_access_batched(cache, task[..., j], size[..., j], clock, txc[..., j], capacity, lfu, iff)

    n_active = np.maximum(mask.sum(-1), 1)
    n_tx = np.maximum(tx.sum(-1), 1)
    collide = (same & txc[..., None, :]).any(-1) & txc
    n_edges = min(int(params.n_edges), K)
    used = np.where(cache["item"] >= 0, cache["size"], 0).sum(-1)
    metrics = {
        "round_time": round_time, "energy": total_energy / n_active, "cost": cost,
        "cache_hit_ratio": (hit & off1).sum(-1) / np.maximum(off1.sum(-1), 1),  # only x = 1 hits save (§2.6)
        "collision_ratio": collide.reshape(B, -1).sum(-1) / n_tx,
        "local_ratio": loc.sum(-1) / n_active, "edge_ratio": off1.sum(-1) / n_active,
        "cloud_ratio": off2.sum(-1) / n_active,
        "cache_fill": (used[:, :n_edges] / max(capacity, 1)).sum(-1) / max(n_edges, 1),
    }
    g_ec = _gain_batched(np.float64(p(params, "r_cloud")), params)
    new_state = dict(state)
    new_state.update(cache)
    new_state.update(g_ue=state["g_ue_mean"] * draws["fade_ue"], g_ec=g_ec * draws["fade_ec"],
                     task=np.asarray(draws["task"]), t=state["t"] + 1)
    truncated = new_state["t"] >= int(params.episode_len)
    return (observations_batched(env, new_state, params), new_state, reward, truncated, metrics,
            vector_reward)


# ------------------------------------------------------------------------------------------------
# Benchmark runners: one call = one round for every env, random actions, auto-reset.
# ------------------------------------------------------------------------------------------------
def _random_action(rng, env, batch):
    n = env.num_agents
    discrete = np.stack([rng.integers(0, 3, size=batch + (n,)),
                         rng.integers(0, env.n_channels, size=batch + (n,))], -1)
    return discrete, rng.random(batch + (n, 2))


def loop_runner(env, params, num_envs, rng):
    """Per-env Python loop (the paper-style gym baseline): returns ``step_all()``."""

    def fresh():
        ep = sample_episode(rng, env, params)
        return initial_state_loop(env, ep, sample_step(rng, env, params, ep["ue_type"]), params)

    states = [fresh() for _ in range(num_envs)]

    def step_all():
        for e in range(num_envs):
            discrete, continuous = _random_action(rng, env, ())
            draws = sample_step(rng, env, params, np.asarray(states[e]["ue_type"]))
            _, states[e], _, truncated, _, _ = step_loop(env, states[e], discrete, continuous, draws, params)
            if truncated:
                states[e] = fresh()

    return step_all


def batched_runner(env, params, num_envs, rng):
    """NumPy vectorised over envs: returns ``step_all()``."""
    batch = (num_envs,)

    def fresh():
        ep = sample_episode(rng, env, params, batch)
        return initial_state_batched(env, ep, sample_step(rng, env, params, ep["ue_type"]), params)

    holder = {"state": fresh()}

    def step_all():
        discrete, continuous = _random_action(rng, env, batch)
        draws = sample_step(rng, env, params, holder["state"]["ue_type"])
        _, state, _, truncated, _, _ = step_batched(env, holder["state"], discrete, continuous, draws, params)
        state = reset_finished(state, truncated, fresh)
        holder["state"] = state

    return step_all
