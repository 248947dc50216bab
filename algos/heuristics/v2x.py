"""Seed 002 (`v2x`) heuristics: ALCS, AMCS, ROCS (spec §6) and the sequential twin-aware greedy.

AMCS / ROCS / greedy read vehicle positions from ``state`` (the geometry the observation encodes) so
their routing and equal shares match the env's exactly. Routing, wire lengths, delay and energy,
the capped cost and the cost-minimising frequencies are the env's own (`routing`, `wired_length`,
`delay_energy`, `capped_cost`, `best_es_frequency`, `best_local_frequency`: eqs. 3-17, 23, S1-S3).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from algos.heuristics.common import Policy
from jaxedge import spaces
from jaxedge.envs import v2x

ENV_NAME = "v2x"


def later_counts(onehot):
    """Per agent i and node j: how many agents k >= i use node j (rows are one-hot or zero)."""
    return jnp.cumsum(onehot[::-1], axis=0)[::-1]


def equal_share(env: v2x.V2X, target, state, params):
    """Spec §6 AMCS allocation in the twin's remaining-fraction form: the k-th of n users of a node
    takes 1 / (n - k) of what remains, i.e. an exact equal share of the slot-start capacity; p = p_max.
    """
    dist = v2x.distances(state.pos, params.es_pos, params.d_min)
    on_cpu, _, on_bw, _ = v2x.routing(target, dist, params, env.n_servers)
    left_cpu = jnp.sum(later_counts(on_cpu) * on_cpu, -1)
    left_bw = jnp.sum(later_counts(on_bw) * on_bw, -1)
    frac = jnp.stack([
        jnp.ones_like(left_cpu), 1.0 / jnp.maximum(left_cpu, 1.0), 1.0 / jnp.maximum(left_bw, 1.0)
    ], axis=-1)
    return spaces.HybridAction(target.astype(jnp.int32), frac)


def alcs(env: v2x.V2X) -> Policy:
    """ALCS (spec §6): every task computed locally at F_loc."""

    def policy(key, obs, state, params):
        m = env.n_vehicles
        return spaces.HybridAction(jnp.zeros((m,), jnp.int32), jnp.ones((m, 3)))

    return policy


def amcs(env: v2x.V2X) -> Policy:
    """AMCS (spec §6): every task to its nearest ES at p_max, equal shares of CPU and bandwidth."""

    def policy(key, obs, state, params):
        dist = v2x.distances(state.pos, params.es_pos, params.d_min)
        return equal_share(env, jnp.argmin(dist, axis=-1) + 1, state, params)

    return policy


def rocs(env: v2x.V2X) -> Policy:
    """ROCS (spec §6): target uniform over {local, ES 1..N}; AMCS's equal shares when offloading."""

    def policy(key, obs, state, params):
        target = spaces.Discrete(env.n_servers + 1, (env.n_vehicles,)).sample(key)
        return equal_share(env, target, state, params)

    return policy


def nearest_shares(env: v2x.V2X, params, grid: int = 100):
    """q_j: the fraction of the square whose nearest ES is j, float32[N] (a vehicle's position is
    uniform, spec §2.2), on a ``grid x grid`` lattice (traceable: ``params`` may be traced)."""
    side = (jnp.arange(grid) + 0.5) / grid * params.area
    xy = jnp.stack(jnp.meshgrid(side, side), -1).reshape(-1, 2)
    nearest = jax.nn.one_hot(jnp.argmin(v2x.distances(xy, params.es_pos, params.d_min), -1), env.n_servers)
    return nearest.mean(0)


def greedy(env: v2x.V2X, informed: bool = True, share_power: float = 0.0, price: float = 0.0) -> Policy:
    """Sequential twin-aware greedy with the closed-form best ES frequency (spec §2.9-3, S3).

    Vehicles decide in ID order inside `V2X.act_sequential`, each seeing the live twin. Vehicle i
    prices every option at p_max: local at F_loc, or ES j with CPU f = min(f*, f_hat_j / n_j) and
    bandwidth b_hat_a / n_a, where f* = (w / (2 (1 - w) phi_es))^(1/3) is the cost-minimising ES
    frequency and n_j = 1 + the number of later vehicles whose nearest ES is j (a fair-share
    congestion estimate). It takes the cheapest option; CPU it leaves unused (f* < share) flows to
    later vehicles through the twin.

    Variants (the defaults are Greedy-DT): ``informed=False`` knows only what a DT-MADDPG actor sees --
    its own task and links, the live twin and its place in the order -- so n_j = 1 + (M - 1 - i) q_j
    with q_j the share of the square nearest to ES j (`nearest_shares`), and it acts on the
    observations alone (`V2X.act_sequential_from_obs`). ``share_power`` s weights the shares by task
    size: f = f_hat_j / (1 + (n_j - 1) E[D^s] / D_i^s) (s = 1/2 is the optimal split of a delay-bound
    resource, f_i proportional to sqrt(D_i)). ``price`` adds price x (f / f_hat_j + b / b_hat_a) to an
    offloading option while later vehicles are expected: the resources it takes from them.
    """
    n, m = env.n_servers, env.n_vehicles
    candidates = jnp.arange(1, n + 1)

    def policy(key, obs, state, params):
        f_star = v2x.best_es_frequency(params)
        f_local = jnp.where(params.local_dvfs, v2x.best_local_frequency(params), params.f_loc)
        weight = jnp.sum(params.task_probs * params.task_sizes**share_power) / jnp.sum(params.task_probs)  # E[D^s]
        if informed:
            dist = v2x.distances(state.pos, params.es_pos, params.d_min)
            nearest = jax.nn.one_hot(jnp.argmin(dist, -1), n)
            later_all = later_counts(nearest) - nearest  # later vehicles per nearest ES, (M, N)
        else:
            q = nearest_shares(env, params)

        def agent(i, obs_i):
            seen = env.physical_observation(obs_i, params)  # live twin: cpu, bw; own task and links
            later = later_all[i] if informed else (m - 1 - i) * q
            dist_i = dist[i] if informed else seen["dist"]
            bits = state.bits[i] if informed else seen["bits"]
            gain_i = state.gain[i] if informed else seen["gain"]
            on_cpu, on_acc, on_bw, _ = v2x.routing(candidates, jnp.broadcast_to(dist_i, (n, n)), params, n)  # row c: ES c+1
            crowd = 1.0 + later * (weight / bits**share_power)
            f_avail = seen["cpu"]
            f = jnp.minimum(f_star, f_avail / crowd)
            b_avail = on_bw @ seen["bw"]
            b = b_avail / (on_bw @ crowd)
            delay, energy = v2x.delay_energy(
                bits, True, f, b, params.p_max, jnp.sum(on_acc * gain_i, -1), jnp.sum(on_acc * dist_i, -1),
                v2x.wired_length(on_acc, on_cpu, params.es_pos), f_local, params,
            )
            t_loc, e_loc = v2x.delay_energy(bits, False, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, f_local, params)
            cost, _, _, _ = v2x.capped_cost(
                jnp.concatenate([t_loc[None], delay]), jnp.concatenate([e_loc[None], energy]), params
            )
            if price:
                taken = f / jnp.maximum(f_avail, 1e-30) + b / jnp.maximum(b_avail, 1e-30)
                cost = cost + jnp.concatenate([jnp.zeros(1), price * taken * (jnp.sum(later) > 0)])
            choice = jnp.argmin(cost)
            es = jnp.maximum(choice - 1, 0)
            frac_f = jnp.where(choice == 0, f_local / params.f_loc, f[es] / jnp.maximum(f_avail[es], 1e-30))
            frac_b = jnp.where(choice == 0, 1.0, b[es] / jnp.maximum(b_avail[es], 1e-30))
            return choice, jnp.clip(jnp.stack([1.0, frac_f, frac_b]), 0.0, 1.0)

        if informed:
            return env.act_sequential(state, params, agent)[0]
        return env.act_sequential_from_obs(obs, params, agent)[0]

    return policy


def greedy_blind(env: v2x.V2X, share_power: float = 0.5, price: float = 0.005) -> Policy:
    """Greedy-DT with a DT-MADDPG actor's information only (`greedy` with ``informed=False``), by
    default with task-size weighted shares and a price on what it takes from later vehicles."""
    return greedy(env, informed=False, share_power=share_power, price=price)


HEURISTICS = {"alcs": alcs, "rocs": rocs, "amcs": amcs, "greedy": greedy}
DEFAULT_EVAL = ("alcs", "rocs", "amcs", "greedy")
