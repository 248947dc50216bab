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
from jaxedge.envs import dt_inference as dti
from jaxedge.envs import v2x
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
# v2x (seed 002). AMCS / ROCS / greedy read vehicle positions from ``state`` (the geometry the
# observation encodes) so their routing and equal shares match the env's exactly.
# ================================================================================================
def _v2x_later_counts(onehot):
    """Per agent i and node j: how many agents k >= i use node j (rows are one-hot or zero)."""
    return jnp.cumsum(onehot[::-1], axis=0)[::-1]


def _v2x_equal_share(env: v2x.V2X, target, state, params):
    """Spec §6 AMCS allocation in the twin's remaining-fraction form: the k-th of n users of a node
    takes 1 / (n - k) of what remains, i.e. an exact equal share of the slot-start capacity; p = p_max.
    """
    dist = v2x.distances(state.pos, params.es_pos, params.d_min)
    on_cpu, _, on_bw, _ = v2x.routing(target, dist, params, env.n_servers)
    left_cpu = jnp.sum(_v2x_later_counts(on_cpu) * on_cpu, -1)
    left_bw = jnp.sum(_v2x_later_counts(on_bw) * on_bw, -1)
    frac = jnp.stack([
        jnp.ones_like(left_cpu), 1.0 / jnp.maximum(left_cpu, 1.0), 1.0 / jnp.maximum(left_bw, 1.0)
    ], axis=-1)
    return spaces.HybridAction(target.astype(jnp.int32), frac)


def v2x_alcs(env: v2x.V2X) -> Policy:
    """ALCS (spec §6): every task computed locally at F_loc."""

    def policy(key, obs, state, params):
        m = env.n_vehicles
        return spaces.HybridAction(jnp.zeros((m,), jnp.int32), jnp.ones((m, 3)))

    return policy


def v2x_amcs(env: v2x.V2X) -> Policy:
    """AMCS (spec §6): every task to its nearest ES at p_max, equal shares of CPU and bandwidth."""

    def policy(key, obs, state, params):
        dist = v2x.distances(state.pos, params.es_pos, params.d_min)
        return _v2x_equal_share(env, jnp.argmin(dist, axis=-1) + 1, state, params)

    return policy


def v2x_rocs(env: v2x.V2X) -> Policy:
    """ROCS (spec §6): target uniform over {local, ES 1..N}; AMCS's equal shares when offloading."""

    def policy(key, obs, state, params):
        target = spaces.Discrete(env.n_servers + 1, (env.n_vehicles,)).sample(key)
        return _v2x_equal_share(env, target, state, params)

    return policy


def v2x_greedy(env: v2x.V2X) -> Policy:
    """Sequential twin-aware greedy with the closed-form best ES frequency (spec §2.9-3, S3).

    Vehicles decide in ID order inside `V2X.act_sequential`, each seeing the live twin. Vehicle i
    prices every option at p_max: local at F_loc, or ES j with CPU f = min(f*, f_hat_j / n_j) and
    bandwidth b_hat_a / n_a, where f* = (w / (2 (1 - w) phi_es))^(1/3) is the cost-minimising ES
    frequency and n_j = 1 + the number of later vehicles whose nearest ES is j (a fair-share
    congestion estimate). It takes the cheapest option; CPU it leaves unused (f* < share) flows to
    later vehicles through the twin.
    """
    n = env.n_servers
    candidates = jnp.arange(1, n + 1)

    def policy(key, obs, state, params):
        dist = v2x.distances(state.pos, params.es_pos, params.d_min)
        nearest = jax.nn.one_hot(jnp.argmin(dist, -1), n)
        later = _v2x_later_counts(nearest) - nearest  # later vehicles per nearest ES, (M, N)
        es_dist = v2x.es_distances(params.es_pos)
        f_star = v2x.best_es_frequency(params)
        f_star_cv = compute.best_frequency(params.w, (1.0 - params.w) * params.phi_cv, params.f_loc)
        f_local = jnp.where(params.local_dvfs, f_star_cv, params.f_loc)

        def agent(i, obs_i):
            seen = env.decode_observation(obs_i, params)  # live twin: cpu, bw
            dist_i = jnp.broadcast_to(dist[i], (n, n))
            on_cpu, on_acc, on_bw, _ = v2x.routing(candidates, dist_i, params, n)
            crowd = 1.0 + later[i]
            f_avail = seen["cpu"]
            f = jnp.minimum(f_star, f_avail / crowd)
            b_avail = on_bw @ seen["bw"]
            b = b_avail / (on_bw @ crowd)
            bits = state.bits[i]
            d_wired = jnp.einsum("ci,ij,cj->c", on_acc, es_dist, on_cpu)
            delay, energy = v2x.delay_energy(
                bits, True, f, b, params.p_max, on_acc @ state.gain[i], on_acc @ dist[i], d_wired,
                f_local, params,
            )
            t_loc, e_loc = v2x.delay_energy(bits, False, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, f_local, params)
            delay = jnp.concatenate([t_loc[None], delay])
            energy = jnp.concatenate([e_loc[None], energy])
            cost = params.w * jnp.minimum(delay, params.cost_cap) + (1.0 - params.w) * jnp.minimum(
                energy, params.cost_cap
            )
            choice = jnp.argmin(cost)
            es = jnp.maximum(choice - 1, 0)
            frac_f = jnp.where(choice == 0, f_local / params.f_loc, f[es] / jnp.maximum(f_avail[es], 1e-30))
            frac_b = jnp.where(choice == 0, 1.0, b[es] / jnp.maximum(b_avail[es], 1e-30))
            return choice, jnp.clip(jnp.stack([1.0, frac_f, frac_b]), 0.0, 1.0)

        action, _ = env.act_sequential(state, params, agent)
        return action

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
    "v2x": {
        "random": random_policy,
        "alcs": v2x_alcs,
        "rocs": v2x_rocs,
        "amcs": v2x_amcs,
        "greedy": v2x_greedy,
    },
}

# Policies `scripts/evaluate.py` runs by default (oracles only on request: they are exponential).
DEFAULT_EVAL = {"dt_inference": ("random", "local", "greedy"), "v2x": ("alcs", "rocs", "amcs", "greedy")}


def make_heuristic(env, name: str) -> Policy:
    """Build heuristic ``name`` for ``env``; raises ``ValueError`` listing the valid names."""
    table = HEURISTICS.get(env.name)
    if table is None:
        raise ValueError(f"no heuristics for env {env.name!r}; envs with heuristics: {sorted(HEURISTICS)}")
    if name not in table:
        raise ValueError(f"unknown heuristic {name!r} for {env.name}; choose one of {sorted(table)}")
    return table[name](env)
