"""Plain NumPy references for seed 000's `dt_inference` env.

`step_loop` is written the way the paper's gym code would be: one env at a time, explicit Python
loops over users, tasks and servers, float64 scalars. `step_batched` is the strongest CPU competitor:
the same transition vectorised over a batch of envs with NumPy. Both take the step's random draws
as inputs (see `DTInference.sample_step`) so tests can inject exactly the randomness JAX used, and
both return ``obs, state, reward, truncated, metrics`` with the state as a dict of arrays named as
in `jaxedge.envs.dt_inference.State`.

Never imported by `jaxedge.envs`.
"""

from __future__ import annotations

import math

import numpy as np

from jaxedge.physics import tasks as task_table
from jaxedge.reference.common import reset_finished

NUM_TYPES = task_table.NUM_MEDMNIST_TYPES
FLOPS = task_table.MEDMNIST_FLOPS.astype(np.float64)
CHANNELS = task_table.MEDMNIST_CHANNELS.astype(np.float64)
MEAN_FLOPS = float(task_table.MEDMNIST_FLOPS.mean())
MAX_FLOPS = float(task_table.MEDMNIST_FLOPS.max())
MAX_CHANNELS = float(task_table.MEDMNIST_CHANNELS.max())


def p(params, name):
    return float(getattr(params, name))


# ------------------------------------------------------------------------------------------------
# Randomness (NumPy generator) with the same distributions as the JAX env, for the benchmark.
# ------------------------------------------------------------------------------------------------
def sample_episode(rng, n_users, n_servers, batch=()):
    u, m = n_users, n_servers
    return {
        "f_user": rng.random(batch + (u,)), "p_tx": rng.random(batch + (u,)),
        "f_server": rng.random(batch + (m,)), "b_server": rng.random(batch + (m,)),
        "dist": rng.random(batch + (u, m)), "gain_mean": rng.random(batch + (u, m)),
    }


def sample_step(rng, params, n_users, n_servers, n_tasks, batch=()):
    u, m, n = n_users, n_servers, n_tasks
    x, y = rng.standard_normal(batch + (u, m)), rng.standard_normal(batch + (u, m))
    if bool(params.rayleigh):
        fading = 0.5 * (x * x + y * y)  # |h|^2 ~ Exp(1)
    else:
        fading = np.maximum(0.1, 1.0 + p(params, "fading_sigma") * x)
    return {
        "task_type": rng.integers(0, NUM_TYPES, size=batch + (u, n)),
        "fading": fading,
        "twin_eps": rng.standard_normal(batch + (4, u, n)),
    }


def initial_state(ep, draws, params, n_tasks):
    """Batched or single: works on any leading batch shape."""
    def scale(x, lo, hi):
        return p(params, lo) + np.asarray(x, np.float64) * (p(params, hi) - p(params, lo))

    f_user = scale(ep["f_user"], "f_user_min", "f_user_max")
    gain_mean = scale(ep["gain_mean"], "gain_min", "gain_max")
    battery = (p(params, "battery_factor") * p(params, "episode_len") * n_tasks
               * p(params, "kappa_user") * f_user**2 * MEAN_FLOPS * p(params, "cycles_per_flop"))
    n_servers = np.shape(ep["f_server"])[-1]
    batch = np.shape(ep["f_user"])[:-1]
    return {
        "f_user": f_user, "p_tx": scale(ep["p_tx"], "p_tx_min", "p_tx_max"),
        "battery": battery, "battery_init": battery.copy(),
        "f_server": scale(ep["f_server"], "f_server_min", "f_server_max"),
        "b_server": scale(ep["b_server"], "b_server_min", "b_server_max"),
        "dist": scale(ep["dist"], "dist_min", "dist_max"),
        "gain_mean": gain_mean, "gain": gain_mean * np.asarray(draws["fading"], np.float64),
        "task_type": np.asarray(draws["task_type"]),
        "sprime": np.zeros(batch + (3 * n_servers + 1,)),
        "t": np.zeros(batch, np.int64),
    }


# ------------------------------------------------------------------------------------------------
# Per-env loop reference
# ------------------------------------------------------------------------------------------------
def _task_delay_energy(X, D, f, b, g, d, P, kappa, offloaded, params):
    """Eqs. 1, U1, U2, 2, 3 for one task, scalars."""
    t_tr = e_tr = 0.0
    if offloaded:
        noise = p(params, "noise") * (b if bool(params.noise_is_psd) else 1.0)
        snr = g * P * (d / p(params, "d_ref")) ** (-p(params, "pathloss_exponent")) / noise
        rate = b * math.log1p(snr) / math.log(2.0)
        t_tr = D / rate
        e_tr = P * t_tr
    t_c = X / f
    e_c = kappa * f * f * X
    e_charged = e_c if (not offloaded or bool(params.charge_server_energy)) else 0.0
    return t_tr + t_c, e_tr + e_charged, e_tr, e_c


def observations_loop(state, params, n_tasks, include_channel=True):
    U = len(state["f_user"])
    M = len(state["f_server"])
    side = p(params, "image_side")
    max_bits = side * side * MAX_CHANNELS * 8.0
    rows = []
    for i in range(U):
        row = []
        for j in range(n_tasks):
            k = int(state["task_type"][i][j])
            row.append(FLOPS[k] / MAX_FLOPS)
            row.append(side * side * CHANNELS[k] * 8.0 / max_bits)
            row.extend(1.0 if c == k else 0.0 for c in range(NUM_TYPES))
        row.append(state["battery"][i] / state["battery_init"][i])
        row.append(state["f_user"][i] / p(params, "f_user_max"))
        row.extend(state["f_server"][k] / p(params, "f_server_max") for k in range(M))
        row.extend(state["b_server"][k] / p(params, "b_server_max") for k in range(M))
        if include_channel:
            row.extend(state["gain"][i][k] / p(params, "gain_max") for k in range(M))
            row.extend(state["dist"][i][k] / p(params, "dist_max") for k in range(M))
            row.append(state["p_tx"][i] / p(params, "p_tx_max"))
        row.extend(state["sprime"])
        rows.append(row)
    return np.array(rows)


def step_loop(state, target, shares, draws, params, include_channel=True):
    """One env step, loops everywhere. ``target`` int[U,N], ``shares`` float[U,N,2]."""
    U, N = np.shape(target)
    M = len(state["f_server"])
    min_share = p(params, "min_share")

    # decode (clip targets, NaN -> 0, clip shares)
    s = [[min(max(int(target[i][j]), 0), M) for j in range(N)] for i in range(U)]
    phi = [[[0.0, 0.0] for _ in range(N)] for _ in range(U)]
    for i in range(U):
        for j in range(N):
            for c in range(2):
                x = float(shares[i][j][c])
                if math.isnan(x):
                    x = 0.0
                phi[i][j][c] = min(max(x, min_share), 1.0)

    # proportional projection (C2-C4)
    f_alloc = [[0.0] * N for _ in range(U)]
    b_alloc = [[0.0] * N for _ in range(U)]
    for i in range(U):
        req = sum(phi[i][j][0] * state["f_user"][i] for j in range(N) if s[i][j] == 0)
        scale = min(1.0, state["f_user"][i] / req) if req > 0 else 1.0
        for j in range(N):
            if s[i][j] == 0:
                f_alloc[i][j] = phi[i][j][0] * state["f_user"][i] * scale
    for k in range(1, M + 1):
        req_f = sum(phi[i][j][0] * state["f_server"][k - 1] for i in range(U) for j in range(N) if s[i][j] == k)
        req_b = sum(phi[i][j][1] * state["b_server"][k - 1] for i in range(U) for j in range(N) if s[i][j] == k)
        sf = min(1.0, state["f_server"][k - 1] / req_f) if req_f > 0 else 1.0
        sb = min(1.0, state["b_server"][k - 1] / req_b) if req_b > 0 else 1.0
        for i in range(U):
            for j in range(N):
                if s[i][j] == k:
                    f_alloc[i][j] = phi[i][j][0] * state["f_server"][k - 1] * sf
                    b_alloc[i][j] = phi[i][j][1] * state["b_server"][k - 1] * sb

    sigma = p(params, "twin_sigma")
    side = p(params, "image_side")
    reward = np.zeros(U)
    new_battery = np.array(state["battery"], dtype=np.float64)
    sums = dict(delay=0.0, energy=0.0, cost=0.0, miss=0.0, fail=0.0, off=0.0, tw_d=0.0, tw_e=0.0, tw_db=0.0,
                tw_eb=0.0)
    for i in range(U):
        F_i = state["f_user"][i]
        P = state["p_tx"][i]
        spent = 0.0
        any_fail = False
        for j in range(N):
            k_type = int(state["task_type"][i][j])
            X = FLOPS[k_type] * p(params, "cycles_per_flop")
            D = side * side * CHANNELS[k_type] * 8.0
            off = s[i][j] > 0
            g = state["gain"][i][s[i][j] - 1] if off else 1.0
            d = state["dist"][i][s[i][j] - 1] if off else p(params, "d_ref")
            kappa = p(params, "kappa_server") if off else p(params, "kappa_user")
            f, b = f_alloc[i][j], b_alloc[i][j]
            T, E, e_tr, e_c = _task_delay_energy(X, D, f, b, g, d, P, kappa, off, params)
            cost = (p(params, "mu_time") * T / (X / F_i)
                    + p(params, "mu_energy") * E / (p(params, "kappa_user") * F_i * F_i * X))
            spent += e_tr + (0.0 if off else e_c)
            failed = spent > state["battery"][i]
            any_fail = any_fail or failed
            missed = T > p(params, "deadline")
            task_cost = (p(params, "fail_cost") if failed else cost) + p(params, "deadline_penalty") * missed
            reward[i] -= task_cost
            # digital twin (eqs. 4-7)
            eps = draws["twin_eps"]
            dev = [max(1.0 + sigma * eps[c][i][j], 1e-3) for c in range(4)]
            T_hat, E_hat, _, _ = _task_delay_energy(
                X, D, f * dev[2], b * dev[3], g * dev[0], d * dev[1], P, kappa, off, params)
            sums["delay"] += T
            sums["energy"] += E
            sums["cost"] += cost
            sums["miss"] += missed
            sums["fail"] += failed
            sums["off"] += off
            sums["tw_d"] += abs(T_hat - T) / T
            sums["tw_e"] += abs(E_hat - E) / E
            sums["tw_db"] += (T_hat - T) / T
            sums["tw_eb"] += (E_hat - E) / E
        new_battery[i] = 0.0 if any_fail else state["battery"][i] - spent

    t_next = int(state["t"]) + 1
    sprime = []
    for key_idx in (0, 1):
        sprime.extend(sum(phi[i][j][key_idx] for i in range(U) for j in range(N) if s[i][j] == k)
                      for k in range(1, M + 1))
    sprime.extend(sum(1.0 for i in range(U) for j in range(N) if s[i][j] == k) / (U * N)
                  for k in range(1, M + 1))
    sprime.append(t_next / p(params, "episode_len"))

    new_state = dict(state)
    new_state.update(
        battery=new_battery,
        gain=np.asarray(state["gain_mean"]) * np.asarray(draws["fading"], np.float64),
        task_type=np.asarray(draws["task_type"]),
        sprime=np.array(sprime),
        t=t_next,
    )
    total = U * N
    metrics = {
        "delay": sums["delay"] / total, "energy": sums["energy"] / total, "cost": sums["cost"] / total,
        "deadline_miss": sums["miss"] / total, "battery_fail": sums["fail"] / total,
        "offload_ratio": sums["off"] / total,
        "twin_delay_error": sums["tw_d"] / total, "twin_energy_error": sums["tw_e"] / total,
        "twin_delay_bias": sums["tw_db"] / total, "twin_energy_bias": sums["tw_eb"] / total,
    }
    truncated = t_next >= p(params, "episode_len")
    obs = observations_loop(new_state, params, N, include_channel)
    return obs, new_state, reward, truncated, metrics


# ------------------------------------------------------------------------------------------------
# Batched NumPy reference (vectorised over a leading env axis B)
# ------------------------------------------------------------------------------------------------
def _delay_energy_batched(X, D, f, b, g, d, P, kappa, off, params):
    safe_b = np.where(off, b, 1.0)
    noise = p(params, "noise") * (safe_b if bool(params.noise_is_psd) else 1.0)
    snr = g * P * (d / p(params, "d_ref")) ** (-p(params, "pathloss_exponent")) / noise
    rate = safe_b * np.log1p(snr) / np.log(2.0)
    t_tr = np.where(off, D / rate, 0.0)
    e_tr = P * t_tr
    t_c = X / f
    e_c = kappa * f**2 * X
    charged = np.where(off & (not bool(params.charge_server_energy)), 0.0, e_c)
    return t_tr + t_c, e_tr + charged, e_tr, e_c


def observations_batched(state, params, n_tasks, include_channel=True):
    B, U = state["f_user"].shape
    side = p(params, "image_side")
    tt = state["task_type"]
    feats = np.concatenate([
        (FLOPS[tt] / MAX_FLOPS)[..., None],
        (side * side * CHANNELS[tt] * 8.0 / (side * side * MAX_CHANNELS * 8.0))[..., None],
        np.eye(NUM_TYPES)[tt],
    ], axis=-1).reshape(B, U, -1)

    def everyone(x):
        return np.broadcast_to(x[:, None, :], (B, U, x.shape[-1]))

    parts = [feats, (state["battery"] / state["battery_init"])[..., None],
             (state["f_user"] / p(params, "f_user_max"))[..., None],
             everyone(state["f_server"] / p(params, "f_server_max")),
             everyone(state["b_server"] / p(params, "b_server_max"))]
    if include_channel:
        parts += [state["gain"] / p(params, "gain_max"), state["dist"] / p(params, "dist_max"),
                  (state["p_tx"] / p(params, "p_tx_max"))[..., None]]
    parts.append(everyone(state["sprime"]))
    return np.concatenate(parts, axis=-1)


def step_batched(state, target, shares, draws, params, include_channel=True):
    """The same transition for B envs at once: ``target`` int[B,U,N], ``shares`` float[B,U,N,2]."""
    B, U, N = target.shape
    M = state["f_server"].shape[-1]
    s = np.clip(target, 0, M)
    phi = np.clip(np.nan_to_num(shares, nan=0.0, posinf=1.0, neginf=0.0), p(params, "min_share"), 1.0)
    phi_f, phi_b = phi[..., 0], phi[..., 1]
    off = s > 0
    onehot = (s[..., None] == np.arange(1, M + 1)).astype(np.float64)  # B,U,N,M

    f_user = state["f_user"][..., None]
    f_req_local = np.where(off, 0.0, phi_f * f_user)
    local_scale = np.minimum(1.0, state["f_user"] / np.maximum(f_req_local.sum(-1), 1e-30))
    f_req_srv = phi_f[..., None] * onehot * state["f_server"][:, None, None, :]
    b_req_srv = phi_b[..., None] * onehot * state["b_server"][:, None, None, :]
    sf = np.minimum(1.0, state["f_server"] / np.maximum(f_req_srv.sum((1, 2)), 1e-30))
    sb = np.minimum(1.0, state["b_server"] / np.maximum(b_req_srv.sum((1, 2)), 1e-30))
    f = np.where(off, (f_req_srv * sf[:, None, None, :]).sum(-1), f_req_local * local_scale[..., None])
    b = (b_req_srv * sb[:, None, None, :]).sum(-1)

    X = FLOPS[state["task_type"]] * p(params, "cycles_per_flop")
    side = p(params, "image_side")
    D = side * side * CHANNELS[state["task_type"]] * 8.0
    g = np.where(off, np.einsum("bunm,bum->bun", onehot, state["gain"]), 1.0)
    d = np.where(off, np.einsum("bunm,bum->bun", onehot, state["dist"]), p(params, "d_ref"))
    P = np.broadcast_to(state["p_tx"][..., None], s.shape)
    kappa = np.where(off, p(params, "kappa_server"), p(params, "kappa_user"))
    T, E, e_tr, e_c = _delay_energy_batched(X, D, f, b, g, d, P, kappa, off, params)
    cost = (p(params, "mu_time") * T / (X / f_user)
            + p(params, "mu_energy") * E / (p(params, "kappa_user") * f_user**2 * X))
    e_user = e_tr + np.where(off, 0.0, e_c)
    failed = np.cumsum(e_user, axis=-1) > state["battery"][..., None]
    battery = np.where(failed.any(-1), 0.0, state["battery"] - e_user.sum(-1))
    missed = T > p(params, "deadline")
    task_cost = np.where(failed, p(params, "fail_cost"), cost) + p(params, "deadline_penalty") * missed
    reward = -task_cost.sum(-1)

    dev = np.maximum(1.0 + p(params, "twin_sigma") * draws["twin_eps"], 1e-3)  # B,4,U,N
    T_hat, E_hat, _, _ = _delay_energy_batched(
        X, D, f * dev[:, 2], b * dev[:, 3], g * dev[:, 0], d * dev[:, 1], P, kappa, off, params)

    t_next = state["t"] + 1
    sprime = np.concatenate([
        (phi_f[..., None] * onehot).sum((1, 2)), (phi_b[..., None] * onehot).sum((1, 2)),
        onehot.sum((1, 2)) / (U * N), (t_next / p(params, "episode_len"))[:, None],
    ], axis=-1)
    new_state = dict(state)
    new_state.update(battery=battery, gain=state["gain_mean"] * draws["fading"],
                     task_type=draws["task_type"], sprime=sprime, t=t_next)
    mean = lambda x: x.reshape(B, -1).mean(-1)  # noqa: E731
    metrics = {
        "delay": mean(T), "energy": mean(E), "cost": mean(cost), "deadline_miss": mean(missed),
        "battery_fail": mean(failed), "offload_ratio": mean(off),
        "twin_delay_error": mean(np.abs(T_hat - T) / T),
        "twin_energy_error": mean(np.abs(E_hat - E) / E),
        "twin_delay_bias": mean((T_hat - T) / T),
        "twin_energy_bias": mean((E_hat - E) / E),
    }
    truncated = t_next >= p(params, "episode_len")
    return observations_batched(new_state, params, N, include_channel), new_state, reward, truncated, metrics


# ------------------------------------------------------------------------------------------------
# Benchmark runners: one call = one env step for every env, random actions, auto-reset.
# ------------------------------------------------------------------------------------------------
def _random_action(rng, batch, n_users, n_servers, n_tasks):
    target = rng.integers(0, n_servers + 1, size=batch + (n_users, n_tasks))
    shares = rng.random(batch + (n_users, n_tasks, 2))
    return target, shares


def loop_runner(env, params, num_envs, rng):
    """Per-env Python loop (the paper-style gym baseline): returns ``step_all()``."""
    U, M, N = env.n_users, env.n_servers, env.n_tasks

    def fresh():
        return initial_state(sample_episode(rng, U, M), sample_step(rng, params, U, M, N), params, N)

    states = [fresh() for _ in range(num_envs)]

    def step_all():
        for e in range(num_envs):
            target, shares = _random_action(rng, (), U, M, N)
            draws = sample_step(rng, params, U, M, N)
            _, states[e], _, truncated, _ = step_loop(states[e], target, shares, draws, params,
                                                      env.obs_include_channel)
            if truncated:
                states[e] = fresh()

    return step_all


def batched_runner(env, params, num_envs, rng):
    """NumPy vectorised over envs: returns ``step_all()``."""
    U, M, N = env.n_users, env.n_servers, env.n_tasks
    batch = (num_envs,)

    def fresh():
        return initial_state(sample_episode(rng, U, M, batch), sample_step(rng, params, U, M, N, batch),
                             params, N)

    holder = {"state": fresh()}

    def step_all():
        target, shares = _random_action(rng, batch, U, M, N)
        draws = sample_step(rng, params, U, M, N, batch)
        _, state, _, truncated, _ = step_batched(holder["state"], target, shares, draws, params,
                                                 env.obs_include_channel)
        state = reset_finished(state, truncated, fresh)
        holder["state"] = state

    return step_all
