"""Plain NumPy references for seed 002's `v2x` env.

`step_loop` is written the way the paper's gym code would be: one env at a time, vehicles acting one
after another in ID order against a twin held in Python lists, explicit loops over vehicles and
servers, float64 scalars. `step_batched` is the strongest CPU competitor: the same slot vectorised
over a batch of envs with NumPy (the twin recursion still loops over vehicles, as it must). Both
take the slot's random draws as inputs (see `V2X.sample_step`, same field names) so tests can inject
exactly the randomness JAX used, and both return
``obs, state, reward, truncated, metrics, twin_obs`` with the state as a dict of arrays named as in
`jaxedge.envs.v2x.State` and ``twin_obs`` the observation each vehicle acted on.

Never imported by `jaxedge.envs`.
"""

from __future__ import annotations

import math

import numpy as np

from jaxedge.reference.common import reset_finished

EPS_HZ = 1e-12
EPS_RATE = 1e-30


def p(params, name):
    return float(np.asarray(getattr(params, name)))


def arr(params, name):
    return np.asarray(getattr(params, name), np.float64)


# ------------------------------------------------------------------------------------------------
# Randomness (NumPy generator) with the same distributions as the JAX env, for the benchmark.
# ------------------------------------------------------------------------------------------------
def _heading(theta):
    return np.stack([np.cos(theta), np.sin(theta)], axis=-1)


def _choice(rng, values, probs, shape):
    probs = np.asarray(probs, np.float64)
    return rng.choice(np.asarray(values, np.float64), size=shape, p=probs / probs.sum())


def sample_episode(rng, params, n_vehicles, batch=()):
    m = n_vehicles
    return {
        "pos": p(params, "area") * rng.random(batch + (m, 2)),
        "heading": _heading(2.0 * np.pi * rng.random(batch + (m,))),
        "speed": _choice(rng, arr(params, "speed_choices"), arr(params, "speed_probs"), batch + (m,)),
    }


def sample_step(rng, params, n_vehicles, n_servers, batch=()):
    m, n = n_vehicles, n_servers
    lo, hi = p(params, "es_cpu_low"), p(params, "es_cpu_high")
    return {
        "turn": rng.random(batch + (m,)) < p(params, "p_turn"),
        "heading": _heading(2.0 * np.pi * rng.random(batch + (m,))),
        "bits": _choice(rng, arr(params, "task_sizes"), arr(params, "task_probs"), batch + (m,)),
        "gain": rng.exponential(1.0, batch + (m, n)),
        "cpu": lo + rng.random(batch + (n,)) * (hi - lo),
    }


def initial_state(ep, draws, params):
    """Batched or single: works on any leading batch shape."""
    cpu = np.asarray(draws["cpu"], np.float64)
    return {
        "pos": np.asarray(ep["pos"], np.float64),
        "heading": np.asarray(ep["heading"], np.float64),
        "speed": np.asarray(ep["speed"], np.float64),
        "bits": np.asarray(draws["bits"], np.float64),
        "gain": np.asarray(draws["gain"], np.float64),
        "cpu": cpu,
        "bw": np.full(cpu.shape, p(params, "es_bw")),
        "t": np.zeros(cpu.shape[:-1], np.int64),
    }


# ------------------------------------------------------------------------------------------------
# Per-env loop reference
# ------------------------------------------------------------------------------------------------
def _fold(x, length):
    """Mirror a coordinate into [0, L]; returns (x, flipped)."""
    period = x % (2.0 * length)
    flipped = math.floor(x / length) % 2 == 1
    return (2.0 * length - period if period > length else period), flipped


def _local_row(state, i, params, es):
    M_N = len(es)
    area = p(params, "area")
    row = [state["bits"][i] / arr(params, "task_sizes").max()]
    for j in range(M_N):
        d = max(math.hypot(state["pos"][i][0] - es[j][0], state["pos"][i][1] - es[j][1]), p(params, "d_min"))
        row.append(d / (area * math.sqrt(2.0)))
    row.extend(state["gain"][i][j] for j in range(M_N))
    return row


def observations_loop(state, params):
    es = arr(params, "es_pos")
    rows = []
    for i in range(len(state["bits"])):
        row = _local_row(state, i, params, es)
        row.extend(c / p(params, "es_cpu_high") for c in state["cpu"])
        row.extend(b / p(params, "es_bw") for b in state["bw"])
        rows.append(row)
    return np.array(rows)


def step_loop(state, target, frac, draws, params):
    """One slot of one env. ``target`` int[M] in {0..N}, ``frac`` float[M, 3] = (power, cpu, bw)."""
    M = len(state["bits"])
    es = arr(params, "es_pos")
    N = len(es)
    R, area = p(params, "radius"), p(params, "area")
    zeta, w, cap = p(params, "zeta"), p(params, "w"), p(params, "cost_cap")
    psd, bw_from_target, dvfs = bool(params.noise_is_psd), bool(params.bw_from_target), bool(params.local_dvfs)

    cpu = [float(c) for c in state["cpu"]]  # the twin (eqs. 1-2)
    bw = [float(b) for b in state["bw"]]
    cpu_used, bw_used = [0.0] * N, [0.0] * N
    costs, delays, energies = [], [], []
    n_off = n_remote = n_clip = 0
    twin_obs = []
    for i in range(M):  # vehicles act in ID order (S6)
        row = _local_row(state, i, params, es)
        row.extend(c / p(params, "es_cpu_high") for c in cpu)
        row.extend(b / p(params, "es_bw") for b in bw)
        twin_obs.append(row)

        x = float(target[i])
        x = 0 if not math.isfinite(x) else min(max(int(x), 0), N)
        a_p, a_f, a_b = (min(max(0.0 if math.isnan(float(v)) else float(v), 0.0), 1.0) for v in frac[i])
        D = float(state["bits"][i])
        dist = [max(math.hypot(state["pos"][i][0] - es[k][0], state["pos"][i][1] - es[k][1]), p(params, "d_min"))
                for k in range(N)]
        if x == 0:  # local (eqs. 3, 12)
            f_loc = a_f * p(params, "f_loc") if dvfs else p(params, "f_loc")
            f_loc = max(f_loc, EPS_HZ)
            T = zeta * D / f_loc
            E = p(params, "phi_cv") * zeta * D * f_loc**2
        else:
            n_off += 1
            j = x - 1
            if dist[j] <= R:
                acc = j
            else:  # remote: via the nearest ES and a wire (eq. 11)
                n_remote += 1
                acc = min(range(N), key=lambda k: dist[k])
            node = j if bw_from_target else acc
            f = a_f * cpu[j]
            cpu[j] -= f
            b = a_b * bw[node]
            bw[node] -= b
            cpu_used[j] += f
            bw_used[node] += b
            power = a_p * p(params, "p_max")
            if b > 0:
                noise = p(params, "noise") * (b if psd else 1.0)
                snr = power * state["gain"][i][acc] * dist[acc] ** (-p(params, "alpha")) / noise
                rate = b * math.log2(1.0 + snr)  # eq. 5
            else:
                rate = 0.0
            t_up = D / max(rate, EPS_RATE)  # eq. 7
            e_up = power * t_up  # eq. 14
            d_wire = math.hypot(es[acc][0] - es[j][0], es[acc][1] - es[j][1])
            t_wire = D * d_wire / p(params, "phi_wired")  # eqs. 9-10
            f_safe = max(f, EPS_HZ)
            T = zeta * D / f_safe + t_up + t_wire  # eq. 8 / 11
            E = p(params, "phi_es") * zeta * D * f_safe**2 + e_up  # eqs. 16-17
        c = w * T + (1.0 - w) * E  # eq. 23
        if c > cap:
            n_clip += 1
        delays.append(min(T, cap))  # metrics only
        energies.append(min(E, cap))
        costs.append(min(c, cap))  # per-vehicle cost capped (A15)

    if bool(params.reward_global):
        reward = np.full(M, -sum(costs) / M)
    else:
        reward = -np.array(costs)

    # mobility: random direction with reflection (§2.2)
    new_pos = np.zeros((M, 2))
    new_heading = np.zeros((M, 2))
    for i in range(M):
        h = list(draws["heading"][i]) if bool(draws["turn"][i]) else list(state["heading"][i])
        for c in range(2):
            moved = state["pos"][i][c] + state["speed"][i] * p(params, "dt") * h[c]
            new_pos[i][c], flipped = _fold(moved, area)
            new_heading[i][c] = -h[c] if flipped else h[c]

    t_next = int(state["t"]) + 1
    new_state = {
        "pos": new_pos, "heading": new_heading, "speed": np.array(state["speed"], np.float64),
        "bits": np.array(draws["bits"], np.float64), "gain": np.array(draws["gain"], np.float64),
        "cpu": np.array(draws["cpu"], np.float64), "bw": np.full(N, p(params, "es_bw")), "t": t_next,
    }
    metrics = {
        "delay": sum(delays) / M, "energy": sum(energies) / M, "cost": sum(costs) / M,
        "offload_ratio": n_off / M, "remote_ratio": n_remote / M, "clip_ratio": n_clip / M,
        "cpu_used": sum(cpu_used) / sum(state["cpu"]), "bw_used": sum(bw_used) / sum(state["bw"]),
        "cpu_excess": max(max(cpu_used[k] - state["cpu"][k], 0.0) / state["cpu"][k] for k in range(N)),
        "bw_excess": max(max(bw_used[k] - state["bw"][k], 0.0) / state["bw"][k] for k in range(N)),
    }
    truncated = t_next >= p(params, "episode_len")
    return observations_loop(new_state, params), new_state, reward, truncated, metrics, np.array(twin_obs)


# ------------------------------------------------------------------------------------------------
# Batched NumPy reference (vectorised over a leading env axis B)
# ------------------------------------------------------------------------------------------------
def _distances_batched(pos, es, d_min):
    return np.maximum(np.linalg.norm(pos[:, :, None, :] - es[None, None], axis=-1), d_min)  # B,M,N


def _local_batched(state, params, es):
    dist = _distances_batched(state["pos"], es, p(params, "d_min"))
    return np.concatenate([
        (state["bits"] / arr(params, "task_sizes").max())[..., None],
        dist / (p(params, "area") * math.sqrt(2.0)), state["gain"],
    ], axis=-1)


def observations_batched(state, params):
    es = arr(params, "es_pos")
    B, M = state["bits"].shape
    twin_part = np.concatenate([state["cpu"] / p(params, "es_cpu_high"), state["bw"] / p(params, "es_bw")], -1)
    return np.concatenate([_local_batched(state, params, es),
                           np.broadcast_to(twin_part[:, None], (B, M, twin_part.shape[-1]))], -1)


def step_batched(state, target, frac, draws, params):
    """The same slot for B envs at once: ``target`` int[B,M], ``frac`` float[B,M,3]."""
    B, M = target.shape
    es = arr(params, "es_pos")
    N = len(es)
    zeta, w, cap = p(params, "zeta"), p(params, "w"), p(params, "cost_cap")
    target = np.asarray(target, np.float64)
    x = np.clip(np.where(np.isfinite(target), target, 0.0).astype(np.int64), 0, N)
    a = np.clip(np.nan_to_num(np.asarray(frac, np.float64), nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    off = x > 0
    dist = _distances_batched(state["pos"], es, p(params, "d_min"))
    j = np.maximum(x - 1, 0)
    d_tgt = np.take_along_axis(dist, j[..., None], -1)[..., 0]
    in_range = d_tgt <= p(params, "radius")
    acc = np.where(in_range, j, dist.argmin(-1))
    node = j if bool(params.bw_from_target) else acc
    remote = off & ~in_range

    # twin recursion over vehicles (S6), vectorised over envs
    cpu, bw = state["cpu"].copy(), state["bw"].copy()
    rows = np.arange(B)
    f, b = np.zeros((B, M)), np.zeros((B, M))
    cpu_seen, bw_seen = np.zeros((B, M, N)), np.zeros((B, M, N))
    for i in range(M):
        cpu_seen[:, i], bw_seen[:, i] = cpu, bw
        f[:, i] = np.where(off[:, i], a[:, i, 1] * cpu[rows, j[:, i]], 0.0)
        b[:, i] = np.where(off[:, i], a[:, i, 2] * bw[rows, node[:, i]], 0.0)
        cpu[rows, j[:, i]] -= f[:, i]
        bw[rows, node[:, i]] -= b[:, i]

    D = state["bits"]
    power = a[..., 0] * p(params, "p_max")
    g_acc = np.take_along_axis(state["gain"], acc[..., None], -1)[..., 0]
    d_acc = np.take_along_axis(dist, acc[..., None], -1)[..., 0]
    b_safe = np.where(b > 0, b, 1.0)
    noise = p(params, "noise") * (b_safe if bool(params.noise_is_psd) else 1.0)
    with np.errstate(divide="ignore"):
        snr = power * g_acc * d_acc ** (-p(params, "alpha")) / noise
    rate = np.where(b > 0, b * np.log2(1.0 + snr), 0.0)
    t_up = D / np.maximum(rate, EPS_RATE)
    e_up = power * t_up
    t_wire = D * np.linalg.norm(es[acc] - es[j], axis=-1) / p(params, "phi_wired")
    f_loc = a[..., 1] * p(params, "f_loc") if bool(params.local_dvfs) else np.full((B, M), p(params, "f_loc"))
    freq = np.maximum(np.where(off, f, f_loc), EPS_HZ)
    phi = np.where(off, p(params, "phi_es"), p(params, "phi_cv"))
    T = zeta * D / freq + np.where(off, t_up + t_wire, 0.0)
    E = phi * zeta * D * freq**2 + np.where(off, e_up, 0.0)
    cost = w * T + (1.0 - w) * E  # eq. 23
    clipped = cost > cap
    cost = np.minimum(cost, cap)  # per-vehicle cost capped (A15)
    T, E = np.minimum(T, cap), np.minimum(E, cap)  # metrics only
    reward = np.broadcast_to(-cost.mean(-1, keepdims=True), cost.shape) if bool(params.reward_global) else -cost

    heading = np.where(draws["turn"][..., None], draws["heading"], state["heading"])
    moved = state["pos"] + (state["speed"] * p(params, "dt"))[..., None] * heading
    area = p(params, "area")
    period = np.mod(moved, 2.0 * area)
    flipped = np.mod(np.floor(moved / area), 2.0) == 1.0
    new_pos = np.where(period > area, 2.0 * area - period, period)
    new_heading = np.where(flipped, -heading, heading)

    cpu_used = state["cpu"] - cpu
    bw_used = state["bw"] - bw
    t_next = state["t"] + 1
    new_state = {
        "pos": new_pos, "heading": new_heading, "speed": state["speed"], "bits": draws["bits"],
        "gain": draws["gain"], "cpu": draws["cpu"], "bw": np.full((B, N), p(params, "es_bw")), "t": t_next,
    }
    metrics = {
        "delay": T.mean(-1), "energy": E.mean(-1), "cost": cost.mean(-1),
        "offload_ratio": off.mean(-1), "remote_ratio": remote.mean(-1), "clip_ratio": clipped.mean(-1),
        "cpu_used": cpu_used.sum(-1) / state["cpu"].sum(-1), "bw_used": bw_used.sum(-1) / state["bw"].sum(-1),
        "cpu_excess": (np.maximum(cpu_used - state["cpu"], 0.0) / state["cpu"]).max(-1),
        "bw_excess": (np.maximum(bw_used - state["bw"], 0.0) / state["bw"]).max(-1),
    }
    twin_part = np.concatenate([cpu_seen / p(params, "es_cpu_high"), bw_seen / p(params, "es_bw")], -1)
    twin_obs = np.concatenate([_local_batched(state, params, es), twin_part], -1)
    truncated = t_next >= p(params, "episode_len")
    return observations_batched(new_state, params), new_state, reward, truncated, metrics, twin_obs


# ------------------------------------------------------------------------------------------------
# Benchmark runners: one call = one env step for every env, random actions, auto-reset.
# ------------------------------------------------------------------------------------------------
def _random_action(rng, batch, n_vehicles, n_servers):
    return rng.integers(0, n_servers + 1, size=batch + (n_vehicles,)), rng.random(batch + (n_vehicles, 3))


def loop_runner(env, params, num_envs, rng):
    """Per-env Python loop (the paper-style gym baseline): returns ``step_all()``."""
    M, N = env.n_vehicles, env.n_servers

    def fresh():
        return initial_state(sample_episode(rng, params, M), sample_step(rng, params, M, N), params)

    states = [fresh() for _ in range(num_envs)]

    def step_all():
        for e in range(num_envs):
            target, frac = _random_action(rng, (), M, N)
            draws = sample_step(rng, params, M, N)
            _, states[e], _, truncated, _, _ = step_loop(states[e], target, frac, draws, params)
            if truncated:
                states[e] = fresh()

    return step_all


def batched_runner(env, params, num_envs, rng):
    """NumPy vectorised over envs: returns ``step_all()``."""
    M, N = env.n_vehicles, env.n_servers
    batch = (num_envs,)

    def fresh():
        return initial_state(sample_episode(rng, params, M, batch), sample_step(rng, params, M, N, batch), params)

    holder = {"state": fresh()}

    def step_all():
        target, frac = _random_action(rng, batch, M, N)
        draws = sample_step(rng, params, M, N, batch)
        _, state, _, truncated, _, _ = step_batched(holder["state"], target, frac, draws, params)
        state = reset_finished(state, truncated, fresh)
        holder["state"] = state

    return step_all
