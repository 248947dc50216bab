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


def vehicle_cost(env: v2x.V2X, params, seen: dict, target, frac):
    """One vehicle's turn on the live twin: its capped cost c = w T + (1 - w) E (eq. 23, A15) for
    ``target`` in {0..N} and ``frac`` = (power, CPU, bandwidth) fractions, and the twin ``(cpu, bw)`` it
    leaves (f = a^f f_hat_target, b = a^b b_hat_access; eqs. 25-26, S5). ``seen`` as in `greedy_options`."""
    cpu, bw, dist = seen["cpu"], seen["bw"], seen["dist"]
    on_cpu, on_acc, on_bw, _ = v2x.routing(target, dist, params, env.n_servers)
    f, b = frac[1] * jnp.sum(on_cpu * cpu), frac[2] * jnp.sum(on_bw * bw)
    f_local = jnp.where(params.local_dvfs, frac[1] * params.f_loc, params.f_loc)  # A7
    delay, energy = v2x.delay_energy(
        seen["bits"], target > 0, f, b, frac[0] * params.p_max, jnp.sum(on_acc * seen["gain"]),
        jnp.sum(on_acc * dist), v2x.wired_length(on_acc, on_cpu, params.es_pos), f_local, params,
    )
    return v2x.capped_cost(delay, energy, params)[0], cpu - f * on_cpu, bw - b * on_bw


def greedy_options(env: v2x.V2X, params, seen: dict, later, share_power: float = 0.0, price: float = 0.0):
    """`greedy`'s priced options for one vehicle: ``(cost [1 + N], fractions [1 + N, 3])``, option 0 local.

    ``seen``: the vehicle's task ``bits``, links ``dist`` / ``gain`` (N,) and the live twin ``cpu`` /
    ``bw`` (N,), physical units; ``later`` (N,): how many later vehicles are expected per nearest ES.
    """
    n = env.n_servers
    f_star = v2x.best_es_frequency(params)
    f_local = jnp.where(params.local_dvfs, v2x.best_local_frequency(params), params.f_loc)
    weight = jnp.sum(params.task_probs * params.task_sizes**share_power) / jnp.sum(params.task_probs)  # E[D^s]
    bits, dist = seen["bits"], seen["dist"]
    on_cpu, on_acc, on_bw, _ = v2x.routing(jnp.arange(1, n + 1), jnp.broadcast_to(dist, (n, n)), params, n)  # row c: ES c+1
    crowd = 1.0 + later * (weight / bits**share_power)
    f_avail = seen["cpu"]
    f = jnp.minimum(f_star, f_avail / crowd)
    b_avail = on_bw @ seen["bw"]
    b = b_avail / (on_bw @ crowd)
    delay, energy = v2x.delay_energy(
        bits, True, f, b, params.p_max, jnp.sum(on_acc * seen["gain"], -1), jnp.sum(on_acc * dist, -1),
        v2x.wired_length(on_acc, on_cpu, params.es_pos), f_local, params,
    )
    t_loc, e_loc = v2x.delay_energy(bits, False, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, f_local, params)
    cost, _, _, _ = v2x.capped_cost(
        jnp.concatenate([t_loc[None], delay]), jnp.concatenate([e_loc[None], energy]), params
    )
    if price:
        taken = f / jnp.maximum(f_avail, 1e-30) + b / jnp.maximum(b_avail, 1e-30)
        cost = cost + jnp.concatenate([jnp.zeros(1), price * taken * (jnp.sum(later) > 0)])
    frac_f = jnp.concatenate([(f_local / params.f_loc)[None], f / jnp.maximum(f_avail, 1e-30)])
    frac_b = jnp.concatenate([jnp.ones(1), b / jnp.maximum(b_avail, 1e-30)])
    return cost, jnp.clip(jnp.stack([jnp.ones_like(frac_f), frac_f, frac_b], -1), 0.0, 1.0)


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

    def policy(key, obs, state, params):
        if informed:
            dist = v2x.distances(state.pos, params.es_pos, params.d_min)
            nearest = jax.nn.one_hot(jnp.argmin(dist, -1), n)
            later_all = later_counts(nearest) - nearest  # later vehicles per nearest ES, (M, N)
        else:
            q = nearest_shares(env, params)

        def agent(i, obs_i):
            seen = env.physical_observation(obs_i, params)  # live twin: cpu, bw; own task and links
            if informed:
                seen = {**seen, "bits": state.bits[i], "dist": dist[i], "gain": state.gain[i]}
            cost, frac = greedy_options(env, params, seen, later_all[i] if informed else (m - 1 - i) * q,
                                        share_power, price)
            choice = jnp.argmin(cost)
            return choice, frac[choice]

        if informed:
            return env.act_sequential(state, params, agent)[0]
        return env.act_sequential_from_obs(obs, params, agent)[0]

    return policy


def greedy_blind(env: v2x.V2X, share_power: float = 0.5, price: float = 0.005) -> Policy:
    """Greedy-DT with a DT-MADDPG actor's information only (`greedy` with ``informed=False``), by
    default with task-size weighted shares and a price on what it takes from later vehicles."""
    return greedy(env, informed=False, share_power=share_power, price=price)


def prior_vehicles(env: v2x.V2X, params, key, samples: int) -> dict:
    """``samples`` draws of a whole slot's vehicles from the prior alone (what an actor knows of the
    others): uniform positions (§2.2; the random-direction walk with reflection keeps them uniform), task
    sizes, Exp(1) fades (§2.5). ``{bits [S, M], dist, gain [S, M, N]}``."""
    m, n = env.n_vehicles, env.n_servers
    k_pos, k_bits, k_gain = jax.random.split(key, 3)
    pos = params.area * jax.random.uniform(k_pos, (samples, m, 2))
    return {"bits": v2x.categorical(jax.random.uniform(k_bits, (samples, m)), params.task_probs, params.task_sizes),
            "dist": jax.vmap(lambda p: v2x.distances(p, params.es_pos, params.d_min))(pos),
            "gain": jax.random.exponential(k_gain, (samples, m, n))}


def lookahead(env: v2x.V2X, samples: int = 32, multipliers=(0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0),
              share_power: float = 0.5, price: float = 0.005) -> Policy:
    """A one-step rollout of `greedy_blind` with only a DT-MADDPG actor's information (a reference, not
    a paper baseline): vehicle i, at its turn, prices each candidate by its own cost plus the mean,
    over ``samples`` slots of later vehicles drawn from the prior (`prior_vehicles`, never the real
    ones), of what `greedy_blind` then costs the vehicles after it on the twin it leaves. Candidates:
    local, and for each ES `greedy_blind`'s CPU and bandwidth fractions each times every one of
    ``multipliers`` (clipped to 1), power p_max; with 1 among them, `greedy_blind`'s own choice is one.
    ~6 min of one CPU core for 64 envs x 100 slots at the defaults.
    """
    n, m = env.n_servers, env.n_vehicles
    mult = jnp.asarray(multipliers, jnp.float32)
    pairs = jnp.stack(jnp.meshgrid(mult, mult, indexing="ij"), -1).reshape(-1, 2)  # (CPU, bandwidth) multipliers
    targets = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.repeat(jnp.arange(1, n + 1), len(pairs))])
    scale = jnp.concatenate([jnp.ones((1, 2)), jnp.tile(pairs, (n, 1))])  # local keeps its fractions

    def policy(key, obs, state, params):
        del state  # the observations only
        q = nearest_shares(env, params)

        def blind(i, seen):
            cost, frac = greedy_options(env, params, seen, (m - 1 - i) * q, share_power, price)
            return jnp.argmin(cost), frac

        def later_cost(i, cpu, bw, slot):  # greedy_blind's cost of the vehicles after i on one prior slot
            def turn(carry, j):
                cpu, bw, total = carry
                seen = {"bits": slot["bits"][j], "dist": slot["dist"][j], "gain": slot["gain"][j], "cpu": cpu, "bw": bw}
                choice, frac = blind(j, seen)
                cost, cpu2, bw2 = vehicle_cost(env, params, seen, choice, frac[choice])
                after = j > i
                carry = (jnp.where(after, cpu2, cpu), jnp.where(after, bw2, bw), total + jnp.where(after, cost, 0.0))
                return carry, None

            return jax.lax.scan(turn, (cpu, bw, 0.0), jnp.arange(m))[0][2]

        def agent(i, obs_i):
            seen = env.physical_observation(obs_i, params)
            _, frac = blind(i, seen)
            fracs = frac[targets].at[:, 1:].multiply(scale)
            fracs = jnp.clip(fracs, 0.0, 1.0)
            prior = prior_vehicles(env, params, jax.random.fold_in(key, i), samples)

            def value(target, frac):
                cost, cpu, bw = vehicle_cost(env, params, seen, target, frac)
                return cost + jnp.mean(jax.vmap(lambda slot: later_cost(i, cpu, bw, slot))(prior))

            best = jnp.argmin(jax.vmap(value)(targets, fracs))
            return targets[best], fracs[best]

        return env.act_sequential_from_obs(obs, params, agent)[0]

    return policy


HEURISTICS = {"alcs": alcs, "rocs": rocs, "amcs": amcs, "greedy": greedy}
DEFAULT_EVAL = ("alcs", "rocs", "amcs", "greedy")
