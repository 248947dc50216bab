"""Plain NumPy references for seed 001's `slicing` env.

`step_loop` is written the way the paper's Python simulator would be: one env at a time, explicit
loops over access points and users, float64 scalars and Python integers for the eq.-2 floor.
`step_batched` is the same transition vectorised over a leading env axis with NumPy. Both take the
next slot's random draws (slice labels and fading, see `Slicing.sample_step`) as inputs and return
``obs, state, reward, truncated, metrics``, with the state a dict of arrays named as in
`jaxedge.envs.slicing.State`. The action enumeration is rebuilt here independently of the env.

Never imported by `jaxedge.envs`.
"""

from __future__ import annotations

import math

import numpy as np

from jaxedge.reference.common import reset_finished


def p(params, name):
    return float(getattr(params, name))


def flag(params, name):
    return bool(getattr(params, name))


# ------------------------------------------------------------------------------------------------
# Action enumeration: lexicographic allocations (spec §4.2, A10-A11)
# ------------------------------------------------------------------------------------------------
def allocations(n_blocks, n_slices, mode, unit):
    """List of block-count tuples in lexicographic order (recursive, independent of the env)."""
    step = unit if mode == "coarse" else 1
    chunks = n_blocks // step
    out = []

    def rec(prefix, left):
        if len(prefix) == n_slices:
            if mode == "leq" or left == 0:
                out.append(tuple(step * c for c in prefix))
            return
        for c in range(1, left + 1):
            rec(prefix + [c], left - c)

    rec([], chunks)
    return out


_TABLES = {}


def tables(env):
    key = (env.n_bw_blocks, env.n_cpu_blocks, env.n_slices, env.action_mode, env.coarse_unit)
    if key not in _TABLES:
        _TABLES[key] = (
            allocations(env.n_bw_blocks, env.n_slices, env.action_mode, env.coarse_unit),
            allocations(env.n_cpu_blocks, env.n_slices, env.action_mode, env.coarse_unit),
        )
    return _TABLES[key]


def decode_action(a, env):
    """Index -> (f_B, f_C): floor floats (NaN -> 0, +inf -> last), clip into range, divmod."""
    bw, cpu = tables(env)
    last = len(bw) * len(cpu) - 1
    a = float(a)
    if math.isnan(a):
        a = 0.0
    a = min(max(a, 0.0), float(last))
    i_b, i_c = divmod(int(math.floor(a)), len(cpu))
    return bw[i_b], cpu[i_c]


# ------------------------------------------------------------------------------------------------
# Randomness (NumPy generator) with the same distributions as the JAX env, for the benchmark.
# ------------------------------------------------------------------------------------------------
def sample_episode(rng, n_aps, max_users, batch=()):
    return {"radius_u": rng.random(batch + (n_aps, max_users))}


def sample_step(rng, params, n_aps, max_users, batch=()):
    shape = batch + (n_aps, max_users)
    probs = np.asarray(params.slice_probs, np.float64)
    cum = np.cumsum(probs)[:-1] / probs.sum()
    fade_up = rng.exponential(size=shape)
    fade_down = fade_up if flag(params, "reciprocal") else rng.exponential(size=shape)
    return {"slice": np.searchsorted(cum, rng.random(shape), side="right"),
            "fade_up": fade_up, "fade_down": fade_down}


def initial_state(ep, draws, params):
    """Batched or single: works on any leading batch shape."""
    d_min, radius = p(params, "d_min"), p(params, "radius")
    u = np.asarray(ep["radius_u"], np.float64)
    batch = u.shape[:-2]
    return {
        "dist": np.sqrt(d_min**2 + u * (radius**2 - d_min**2)),
        "slice": np.asarray(draws["slice"]),
        "fade_up": np.asarray(draws["fade_up"], np.float64),
        "fade_down": np.asarray(draws["fade_down"], np.float64),
        "t": np.zeros(batch, np.int64),
    }


# ------------------------------------------------------------------------------------------------
# Per-env loop reference
# ------------------------------------------------------------------------------------------------
def _slice_consts(params):
    return (np.asarray(params.task_bits, np.float64), np.asarray(params.task_cycles, np.float64),
            np.asarray(params.max_delay, np.float64))


def observations_loop(state, params, n_slices):
    B = len(state["dist"])
    n_users = int(params.n_users)
    bits, cycles, _ = _slice_consts(params)
    beta = p(params, "result_ratio")
    rows = []
    for b in range(B):
        counts = [0] * n_slices
        for u in range(n_users):
            counts[int(state["slice"][b][u])] += 1
        if flag(params, "obs_normalise"):
            row = [counts[i] / n_users for i in range(n_slices)] * 2
        else:
            row = [counts[i] * (1 + beta) * bits[i] / 1e3 for i in range(n_slices)]
            row += [counts[i] * cycles[i] / 1e9 for i in range(n_slices)]
        rows.append(row)
    return np.array(rows)


def user_delay(f_b, f_c, n, bits, cycles, lmax, dist, fade_up, fade_down, params):
    """One user's (l_up, l_cal, l_down, starved, total, satisfied, delay in L), eqs. 1-5, D1-D5, A9."""
    unit = int(round(p(params, "bw_unit")))
    w = unit * ((f_b * int(round(p(params, "block_bw")))) // (unit * max(n, 1)))  # eq. 2 (integers)
    c = f_c * p(params, "block_cpu") / max(n, 1)  # eq. 1
    pl_db = p(params, "pl_const_db") + p(params, "pl_slope_db") * math.log10(dist / 1000.0)
    g = 10.0 ** (-pl_db / 10.0)
    p_user = 10.0 ** ((p(params, "p_user_dbm") - 30.0) / 10.0)
    p_ap = 10.0 ** ((p(params, "p_ap_dbm") - 30.0) / 10.0)
    n0 = 10.0 ** ((p(params, "noise_psd_dbm_hz") - 30.0) / 10.0) * 10.0 ** (p(params, "noise_figure_db") / 10.0)
    cap = p(params, "delay_cap")
    l_cal = cycles / c
    if w == 0:
        l_up = l_dn = 0.0
        starved = True
        total = cap
    else:
        starved = False
        r_up = w * math.log2(1.0 + fade_up * g * p_user / (n0 * w))
        r_dn = w * math.log2(1.0 + fade_down * g * p_ap / (n0 * w))
        l_up = bits / max(r_up, 1e-30)
        l_dn = bits * p(params, "result_ratio") / max(r_dn, 1e-30)
        total = l_up + l_cal + l_dn
    satisfied = (not starved) and total <= lmax
    in_l = min(total, cap) if flag(params, "clip_delay") else total
    return l_up, l_cal, l_dn, starved, total, satisfied, in_l


def step_loop(state, action, draws, params, env):
    """One env step, loops everywhere. ``action``: one index per AP."""
    B = len(state["dist"])
    I = env.n_slices
    n_users = int(params.n_users)
    bits, cycles, lmax = _slice_consts(params)
    delay_sum = sat_sum = 0.0
    comp = {"up": 0.0, "cal": 0.0, "dn": 0.0}
    served = starved_count = 0
    for b in range(B):
        f_b, f_c = decode_action(action[b], env)
        counts = [0] * I
        for u in range(n_users):
            counts[int(state["slice"][b][u])] += 1
        ap_delay = ap_sat = 0.0
        for u in range(n_users):
            k = int(state["slice"][b][u])
            l_up, l_cal, l_dn, starved, _, sat, in_l = user_delay(
                f_b[k], f_c[k], counts[k], bits[k], cycles[k], lmax[k], state["dist"][b][u],
                state["fade_up"][b][u], state["fade_down"][b][u], params)
            ap_delay += in_l
            ap_sat += sat
            if starved:
                starved_count += 1
            else:
                served += 1
                clip = min if flag(params, "clip_delay") else (lambda x, _: x)
                comp["up"] += clip(l_up, p(params, "delay_cap"))  # clipped at l_cap like L (A9)
                comp["cal"] += l_cal
                comp["dn"] += clip(l_dn, p(params, "delay_cap"))
        delay_sum += ap_delay / n_users  # eq. 6 inner mean
        sat_sum += ap_sat / n_users  # eq. 7 inner mean
    mean_delay = delay_sum / B
    satisfaction = sat_sum / B
    alpha = p(params, "alpha")
    r = alpha * math.exp(-mean_delay * p(params, "delay_scale")) + (1 - alpha) * math.exp(satisfaction)
    reward = np.full(B, r)

    t_next = int(state["t"]) + 1
    new_state = dict(state)
    new_state.update(
        slice=np.asarray(draws["slice"]) if flag(params, "resample_slices") else state["slice"],
        fade_up=np.asarray(draws["fade_up"], np.float64),
        fade_down=np.asarray(draws["fade_down"], np.float64),
        t=t_next,
    )
    n_served = max(served, 1)
    metrics = {
        "delay": mean_delay, "satisfaction": satisfaction,
        "delay_upload": comp["up"] / n_served, "delay_compute": comp["cal"] / n_served,
        "delay_download": comp["dn"] / n_served, "starved": starved_count / (n_users * B),
    }
    truncated = t_next >= p(params, "episode_len")
    return observations_loop(new_state, params, I), new_state, reward, truncated, metrics


# ------------------------------------------------------------------------------------------------
# Batched NumPy reference (vectorised over a leading env axis E)
# ------------------------------------------------------------------------------------------------
def observations_batched(state, params, n_slices):
    n_users = int(params.n_users)
    labels = state["slice"][..., :n_users]
    counts = (labels[..., None] == np.arange(n_slices)).sum(-2).astype(np.float64)  # E,B,I
    if flag(params, "obs_normalise"):
        return np.concatenate([counts / n_users] * 2, axis=-1)
    bits, cycles, _ = _slice_consts(params)
    return np.concatenate([counts * (1 + p(params, "result_ratio")) * bits / 1e3, counts * cycles / 1e9], -1)


def step_batched(state, action, draws, params, env):
    """The same transition for E envs at once: ``action`` int[E, B]."""
    I = env.n_slices
    n_users = int(params.n_users)
    bw, cpu = (np.asarray(t, np.int64) for t in tables(env))
    a = np.asarray(action)
    last = len(bw) * len(cpu) - 1
    if np.issubdtype(a.dtype, np.floating):
        a = np.floor(np.clip(np.nan_to_num(a, nan=0.0, posinf=last, neginf=0.0), 0, last))
    a = np.clip(a.astype(np.int64), 0, last)
    f_b, f_c = bw[a // len(cpu)], cpu[a % len(cpu)]  # E,B,I

    labels = state["slice"][..., :n_users]  # E,B,U
    onehot = labels[..., None] == np.arange(I)  # E,B,U,I
    counts = onehot.sum(-2)  # E,B,I
    n_u = np.take_along_axis(counts, labels, -1)
    fb_u = np.take_along_axis(f_b, labels, -1)
    fc_u = np.take_along_axis(f_c, labels, -1)
    bits, cycles, lmax = (x[labels] for x in _slice_consts(params))
    unit = int(round(p(params, "bw_unit")))
    w = unit * ((fb_u * int(round(p(params, "block_bw")))) // (unit * np.maximum(n_u, 1)))  # eq. 2
    c = fc_u * p(params, "block_cpu") / np.maximum(n_u, 1)  # eq. 1
    dist = state["dist"][..., :n_users]
    g = 10.0 ** (-(p(params, "pl_const_db") + p(params, "pl_slope_db") * np.log10(dist / 1000.0)) / 10.0)
    n0 = 10.0 ** ((p(params, "noise_psd_dbm_hz") - 30.0) / 10.0) * 10.0 ** (p(params, "noise_figure_db") / 10.0)
    starved = w == 0
    safe_w = np.where(starved, 1.0, w)
    p_user = 10.0 ** ((p(params, "p_user_dbm") - 30.0) / 10.0)
    p_ap = 10.0 ** ((p(params, "p_ap_dbm") - 30.0) / 10.0)
    r_up = w * np.log2(1.0 + state["fade_up"][..., :n_users] * g * p_user / (n0 * safe_w))
    r_dn = w * np.log2(1.0 + state["fade_down"][..., :n_users] * g * p_ap / (n0 * safe_w))
    l_up = np.where(starved, 0.0, bits / np.maximum(r_up, 1e-30))
    l_dn = np.where(starved, 0.0, bits * p(params, "result_ratio") / np.maximum(r_dn, 1e-30))
    l_cal = cycles / c
    cap = p(params, "delay_cap")
    total = np.where(starved, cap, l_up + l_cal + l_dn)
    sat = ~starved & (total <= lmax)
    in_l = np.minimum(total, cap) if flag(params, "clip_delay") else total
    clip = (lambda x: np.minimum(x, cap)) if flag(params, "clip_delay") else (lambda x: x)  # noqa: E731
    mean_delay = in_l.mean(-1).mean(-1)  # eq. 6
    satisfaction = sat.mean(-1).mean(-1)  # eq. 7
    alpha = p(params, "alpha")
    r = alpha * np.exp(-mean_delay * p(params, "delay_scale")) + (1 - alpha) * np.exp(satisfaction)
    E, B = a.shape
    reward = np.broadcast_to(r[:, None], (E, B))

    served = ~starved
    n_served = np.maximum(served.sum((-1, -2)), 1)
    t_next = state["t"] + 1
    new_state = dict(state)
    new_state.update(
        slice=np.asarray(draws["slice"]) if flag(params, "resample_slices") else state["slice"],
        fade_up=np.asarray(draws["fade_up"], np.float64),
        fade_down=np.asarray(draws["fade_down"], np.float64),
        t=t_next,
    )
    metrics = {
        "delay": mean_delay, "satisfaction": satisfaction,
        "delay_upload": (clip(l_up) * served).sum((-1, -2)) / n_served,  # clipped at l_cap like L (A9)
        "delay_compute": (l_cal * served).sum((-1, -2)) / n_served,
        "delay_download": (clip(l_dn) * served).sum((-1, -2)) / n_served,
        "starved": starved.mean((-1, -2)),
    }
    truncated = t_next >= p(params, "episode_len")
    return observations_batched(new_state, params, I), new_state, reward, truncated, metrics


# ------------------------------------------------------------------------------------------------
# Benchmark runners: one call = one env step for every env, random actions, auto-reset.
# ------------------------------------------------------------------------------------------------
def _num_actions(env):
    bw, cpu = tables(env)
    return len(bw) * len(cpu)


def loop_runner(env, params, num_envs, rng):
    """Per-env Python loop (the paper-style gym baseline): returns ``step_all()``."""
    B, U = env.n_aps, env.max_users
    n_actions = _num_actions(env)

    def fresh():
        return initial_state(sample_episode(rng, B, U), sample_step(rng, params, B, U), params)

    states = [fresh() for _ in range(num_envs)]

    def step_all():
        for e in range(num_envs):
            action = rng.integers(0, n_actions, size=B)
            draws = sample_step(rng, params, B, U)
            _, states[e], _, truncated, _ = step_loop(states[e], action, draws, params, env)
            if truncated:
                states[e] = fresh()

    return step_all


def batched_runner(env, params, num_envs, rng):
    """NumPy vectorised over envs: returns ``step_all()``."""
    B, U = env.n_aps, env.max_users
    n_actions = _num_actions(env)
    batch = (num_envs,)

    def fresh():
        return initial_state(sample_episode(rng, B, U, batch), sample_step(rng, params, B, U, batch), params)

    holder = {"state": fresh()}

    def step_all():
        action = rng.integers(0, n_actions, size=batch + (B,))
        draws = sample_step(rng, params, B, U, batch)
        _, state, _, truncated, _ = step_batched(holder["state"], action, draws, params, env)
        state = reset_finished(state, truncated, fresh)
        holder["state"] = state

    return step_all
