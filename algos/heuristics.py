"""Hand-written reference policies for every env: the baselines learners must beat.

Every policy has the signature ``policy(key, obs, state, params) -> action`` for a single env
(vmap it for a batch). Policies that only read ``obs`` are decentralised, like a learner's actor;
oracles read the privileged ``state``. ``make_heuristic(env, name)`` builds one;
``HEURISTICS[env.name]`` lists the names available for an env.
"""

from __future__ import annotations

import itertools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxedge import spaces
from jaxedge.envs import cloud_edge as ced
from jaxedge.envs import dt_inference as dti
from jaxedge.physics import channel, compute, tasks

Policy = Callable[..., object]


def random_policy(env) -> Policy:
    """Uniform over the action space."""

    def policy(key, obs, state, params):
        return env.action_space(params).sample(key)

    return policy


# ================================================================================================
# dt_inference (seed 000)
# ================================================================================================
def dt_local(env: dti.DTInference) -> Policy:
    """All-local: every task on its own device, asking for the whole CPU (split evenly by C2)."""

    def policy(key, obs, state, params):
        shape = (env.n_users, env.n_tasks)
        return spaces.HybridAction(jnp.zeros(shape, jnp.int32), jnp.ones(shape + (2,)))

    return policy


def _dt_server_option_costs(env, info, params):
    """Myopic eq.-8 cost of running each task on each server with no contention, and its best f.

    Returns ``(cost[N, M], freq[N, M])`` for one agent from its decoded observation.
    """
    f_user, p_tx = info["f_user"], info["p_tx"]
    cycles = info["cycles"][:, None]
    bits = info["bits"][:, None]
    f_server = info["f_server"][None, :]
    b_server = info["b_server"][None, :]
    charge = jnp.where(params.charge_server_energy, 1.0, 0.0)
    # Normalised cost in f: mu_T F_i / f + mu_E (kappa_s / kappa_u) f^2 / F_i^2 (eq. 8, A8).
    time_coef = params.mu_time * f_user
    energy_coef = params.mu_energy * charge * params.kappa_server / (params.kappa_user * f_user**2)
    freq = compute.best_frequency(time_coef, jnp.maximum(energy_coef, 1e-60), f_server)
    ln_snr = channel.log_snr(
        info["gain"][None, :], p_tx, info["dist"][None, :], params.d_ref,
        params.pathloss_exponent, params.noise, b_server, params.noise_is_psd,
    )
    t_tr = bits / channel.shannon_rate(b_server, ln_snr)
    delay = t_tr + cycles / freq
    energy = p_tx * t_tr + charge * params.kappa_server * freq**2 * cycles
    cost = dti.normalised_cost(delay, energy, cycles, f_user, params)
    return cost, freq


def dt_greedy(env: dti.DTInference) -> Policy:
    """Myopic greedy from the agent's own observation (spec §6.6, made cost-aware).

    Each agent walks through its tasks in order. Keeping a task local costs its eq.-8 cost with the
    CPU split evenly over the tasks kept local so far; sending it to server k costs the eq.-8 cost
    at that server's full bandwidth and the task's cost-optimal frequency (closed form, spec §3.2),
    ignoring every other agent. It takes the cheapest option and asks for phi_f = 1 locally (the
    even split) or phi_f = f*/F_k on a server, and phi_b = 1; the env's proportional projection
    then exposes the congestion the greedy ignored.
    """
    if not env.obs_include_channel:
        raise ValueError("dt_greedy needs obs_include_channel=True (it computes rates)")

    def agent(obs_i, params):
        info = env.decode_observation(obs_i, params)
        srv_cost, srv_freq = _dt_server_option_costs(env, info, params)
        best_srv = jnp.argmin(srv_cost, axis=1)
        targets, phi_f = [], []
        n_local = jnp.zeros((), jnp.float32)
        for j in range(env.n_tasks):
            share = n_local + 1.0
            local_cost = params.mu_time * share + params.mu_energy / share**2
            go = srv_cost[j, best_srv[j]] < local_cost
            targets.append(jnp.where(go, best_srv[j] + 1, 0))
            phi_f.append(jnp.where(go, srv_freq[j, best_srv[j]] / info["f_server"][best_srv[j]], 1.0))
            n_local = n_local + jnp.where(go, 0.0, 1.0)
        phi = jnp.stack([jnp.stack(phi_f), jnp.ones(env.n_tasks)], axis=-1)
        return jnp.stack(targets).astype(jnp.int32), phi

    def policy(key, obs, state, params):
        target, phi = jax.vmap(agent, in_axes=(0, None))(obs, params)
        return spaces.HybridAction(target, phi)

    return policy


def _dt_allocation(env, state, target, params):
    """Cost-optimal shares for fixed targets: KKT frequencies per node, sqrt bandwidth split.

    Frequencies are exact (spec §3.2); the bandwidth split is exact when the SNR does not depend on
    b (total-noise presets) and evaluated at an even split otherwise.
    """
    u, n, m = env.n_users, env.n_tasks, env.n_servers
    cycles, bits = tasks.medmnist_cycles_and_bits(state.task_type, params.cycles_per_flop, params.image_side)
    f_user = jnp.broadcast_to(state.f_user[:, None], (u, n))
    charge = jnp.where(params.charge_server_energy, 1.0, 0.0)
    time_coef = params.mu_time * f_user
    local_e = params.mu_energy / f_user**2
    server_e = jnp.maximum(params.mu_energy * charge * params.kappa_server / (params.kappa_user * f_user**2), 1e-60)

    def node_freqs(capacity, mask, energy_coef):
        return compute.kkt_frequencies(time_coef.ravel(), energy_coef.ravel(), capacity, mask.ravel()).reshape(u, n)

    local_f = jax.vmap(lambda cap, a, e, mk: compute.kkt_frequencies(a, e, cap, mk))(
        state.f_user, time_coef, local_e, target == 0
    )
    servers = jnp.arange(1, m + 1)
    server_f = jax.vmap(lambda cap, k: node_freqs(cap, target == k, server_e))(state.f_server, servers)
    freq = jnp.where(target == 0, local_f, server_f.sum(0))
    phi_f = jnp.where(target == 0, freq / state.f_user[:, None], freq / jnp.take(state.f_server, jnp.maximum(target - 1, 0)))

    def server_bw(k, capacity):
        mask = target == k
        count = jnp.maximum(mask.sum(), 1)
        gain = state.gain[:, k - 1][:, None]
        dist = state.dist[:, k - 1][:, None]
        ln_snr = channel.log_snr(
            gain, state.p_tx[:, None], dist, params.d_ref, params.pathloss_exponent,
            params.noise, capacity / count, params.noise_is_psd,
        )
        spectral = jax.nn.softplus(ln_snr) / channel.LN2  # bit/s/Hz
        per_bit = params.mu_time / (cycles / f_user) + params.mu_energy * state.p_tx[:, None] / (
            params.kappa_user * f_user**2 * cycles
        )
        weights = bits * per_bit / spectral
        return compute.sqrt_bandwidth_split(weights.ravel(), capacity, mask.ravel()).reshape(u, n)

    bw = jax.vmap(server_bw)(servers, state.b_server).sum(0)
    phi_b = jnp.where(target == 0, 1.0, bw / jnp.take(state.b_server, jnp.maximum(target - 1, 0)))
    return jnp.stack([phi_f, phi_b], axis=-1)


def dt_oracle(env: dti.DTInference, max_assignments: int = 200_000) -> Policy:
    """Per-step exhaustive oracle for tiny instances (spec §6.6): every joint target assignment,
    each with its cost-optimal allocation, scored by the env's own transition; returns the best."""
    count = (env.n_servers + 1) ** (env.n_users * env.n_tasks)
    if count > max_assignments:
        raise ValueError(
            f"dt_oracle enumerates (n_servers+1)^(n_users*n_tasks) = {count} assignments; "
            f"limit {max_assignments}: use a tiny instance"
        )
    grid = np.array(list(itertools.product(range(env.n_servers + 1), repeat=env.n_users * env.n_tasks)))
    all_targets = jnp.asarray(grid.reshape(-1, env.n_users, env.n_tasks), jnp.int32)

    def policy(key, obs, state, params):
        draws = dti.StepDraws(
            task_type=state.task_type,
            fading=jnp.ones_like(state.gain),
            twin_eps=jnp.zeros((4, env.n_users, env.n_tasks)),
        )

        def score(target):
            shares = _dt_allocation(env, state, target, params)
            action = spaces.HybridAction(target, shares)
            _, _, reward, _, _, _ = env.transition(state, action, draws, params)
            return reward.sum(), shares

        totals, shares = jax.lax.map(score, all_targets, batch_size=256)
        best = jnp.argmax(totals)
        return spaces.HybridAction(all_targets[best], shares[best])

    return policy


# ================================================================================================
# cloud_edge (seed 004)
# ================================================================================================
def _ce_action(env: ced.CloudEdge, x, channel, a=1.0, b=1.0) -> spaces.HybridAction:
    n = env.num_agents
    disc = jnp.stack([jnp.broadcast_to(x, (n,)), jnp.broadcast_to(channel, (n,))], -1).astype(jnp.int32)
    cont = jnp.stack([jnp.broadcast_to(a, (n,)), jnp.broadcast_to(b, (n,))], -1).astype(jnp.float32)
    return spaces.HybridAction(disc, cont)


def _ce_random_channels(env: ced.CloudEdge, key):
    return jax.random.randint(key, (env.num_agents,), 0, env.n_channels)


def _ce_distinct_channels(env: ced.CloudEdge, key, transmitting):
    """Channel de-collision: the transmitting UEs of a cell take channels offset + 0, 1, 2, ... (mod L)
    from a random per-cell offset, so no two of them share one while a cell has <= L transmitters."""
    k, j, l = env.n_cells, env.ues_per_cell, env.n_channels
    tx = transmitting.reshape(k, j).astype(jnp.int32)
    rank = jnp.cumsum(tx, axis=1) - tx
    offset = jax.random.randint(key, (k, 1), 0, l)
    return ((rank + offset) % l).reshape(-1)


def _ce_fixed(x_value: int, distinct: bool = True):
    def make(env: ced.CloudEdge) -> Policy:
        def policy(key, obs, state, params):
            x = jnp.full((env.num_agents,), x_value, jnp.int32)
            channel = _ce_distinct_channels(env, key, state.mask & (x > 0)) if distinct else (
                _ce_random_channels(env, key))
            return _ce_action(env, x, channel)

        return policy

    return make


ce_local = _ce_fixed(0)
ce_local.__doc__ = "All-local at full CPU (x = 0, b = 1)."
ce_edge = _ce_fixed(1)
ce_edge.__doc__ = "All-edge at full power with distinct channels per cell (spec §10.2)."
ce_cloud = _ce_fixed(2)
ce_cloud.__doc__ = "All-cloud at full power with distinct channels per cell (spec §10.2)."


def _ce_greedy_choice(env: ced.CloudEdge, state, params):
    """Per-UE myopic choice of x from its own lower bounds (14)/(U6) (no interference, no queues).

    Local runs at the b minimising w1 W/(b F) + w2 kappa W (b F)^2, i.e. b = (w1 / (2 w2 kappa F^3))^(1/3);
    offloading at a = 1. The cost of x is w1 (its lower-bound time) + w2 (its energy); a cloud task's
    time counts T*_21 only under ``exec_time_fixed``, as the env's round time does (A16).
    """
    lb = env.lower_bounds(state, params)
    b = jnp.clip(
        jnp.cbrt(params.w_time / jnp.maximum(2.0 * params.w_energy * params.kappa * params.f_ue**3, 1e-30)),
        params.min_ratio, 1.0,
    )
    cost_local = params.w_time * lb["t1_local"] / b + params.w_energy * lb["e_local"] * b**2
    cost_edge = params.w_time * (lb["t1_edge"] + lb["t21"]) + params.w_energy * lb["e_up"]
    cloud_time = lb["t1_cloud"] + lb["t22"] + jnp.where(params.exec_time_fixed, lb["t21"], 0.0)
    cost_cloud = params.w_time * cloud_time + params.w_energy * lb["e_up"]
    x = jnp.argmin(jnp.stack([cost_local, cost_edge, cost_cloud], -1), axis=-1).astype(jnp.int32)
    return x, b


def ce_greedy(env: ced.CloudEdge) -> Policy:
    """Greedy: each UE takes its best x by its own lower bounds, with a uniformly random channel.

    Reads the UE's own quantities from ``state`` (its observation, unscaled, plus its upload energy).
    """

    def policy(key, obs, state, params):
        x, b = _ce_greedy_choice(env, state, params)
        return _ce_action(env, x, _ce_random_channels(env, key), 1.0, b)

    return policy


def ce_greedy_decollide(env: ced.CloudEdge) -> Policy:
    """Greedy x as `ce_greedy`, then channel de-collision: distinct channels for the cell's transmitters."""

    def policy(key, obs, state, params):
        x, b = _ce_greedy_choice(env, state, params)
        channel = _ce_distinct_channels(env, key, state.mask & (x > 0))
        return _ce_action(env, x, channel, 1.0, b)

    return policy


# ================================================================================================
# Registry
# ================================================================================================
HEURISTICS: dict[str, dict[str, Callable]] = {
    "dt_inference": {
        "random": random_policy,
        "local": dt_local,
        "greedy": dt_greedy,
        "oracle": dt_oracle,
    },
    "cloud_edge": {
        "random": random_policy,
        "local": ce_local,
        "edge": ce_edge,
        "cloud": ce_cloud,
        "greedy": ce_greedy,
        "greedy_decollide": ce_greedy_decollide,
    },
}

# Policies `scripts/evaluate.py` runs by default (oracles only on request: they are exponential).
DEFAULT_EVAL = {
    "dt_inference": ("random", "local", "greedy"),
    "cloud_edge": ("random", "local", "edge", "cloud", "greedy", "greedy_decollide"),
}


def make_heuristic(env, name: str) -> Policy:
    """Build heuristic ``name`` for ``env``; raises ``ValueError`` listing the valid names."""
    table = HEURISTICS.get(env.name)
    if table is None:
        raise ValueError(f"no heuristics for env {env.name!r}; envs with heuristics: {sorted(HEURISTICS)}")
    if name not in table:
        raise ValueError(f"unknown heuristic {name!r} for {env.name}; choose one of {sorted(table)}")
    return table[name](env)
