"""Seed 001 (`slicing`) heuristics: equal and demand-proportional splits, the observation-only
oracle and the exact full-information oracle.

Delays and satisfaction come from the env (`Slicing.action_values`, which runs `Slicing.user_delays`
on every allocation, eqs. 1-5, D1-D5), the reward from `physics.slicing.slicing_reward` (eq. R) and
the proxy user distance from `annulus_distance` (A5). The block rounding below is a policy choice,
not physics.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from algos.heuristics.common import Policy
from jaxedge.envs import slicing as sl
from jaxedge.physics import slicing as phys

ENV_NAME = "slicing"


def largest_remainder(weights, n_units, n_slices):
    """Split ``n_units`` into ``n_slices`` positive integer parts ~ proportional to ``weights``.

    Every slice gets one unit; the remaining ``n_units - I`` go by the largest-remainder (Hamilton)
    method. All-zero weights give the (largest-remainder) equal split. Works on ``[..., I]``.
    """
    weights = jnp.maximum(jnp.asarray(weights, jnp.float32), 0.0)
    total = weights.sum(-1, keepdims=True)
    weights = jnp.where(total > 0, weights, 1.0)
    spare = n_units - n_slices
    quota = spare * weights / weights.sum(-1, keepdims=True)
    base = jnp.floor(quota).astype(jnp.int32)
    left = spare - base.sum(-1, keepdims=True)
    # rank of each remainder (0 = largest; ties go to the lower slice index)
    order = jnp.argsort(-(quota - base), axis=-1, stable=True)
    rank = jnp.argsort(order, axis=-1)
    return 1 + base + (rank < left).astype(jnp.int32)


def _split(env, weights_b, weights_c):
    unit = env.unit
    f_b = unit * largest_remainder(weights_b, env.n_bw_blocks // unit, env.n_slices)
    f_c = unit * largest_remainder(weights_c, env.n_cpu_blocks // unit, env.n_slices)
    return env.encode_action(f_b, f_c)


def equal(env: sl.Slicing) -> Policy:
    """Equal split of both resources, (6, 6, 6 | 6, 6, 6) at the defaults (spec §8)."""
    ones = np.ones(env.n_slices, np.float32)
    action = int(_split(env, ones, ones))

    def policy(key, obs, state, params):
        return jnp.full((env.n_aps,), action, jnp.int32)

    return policy


def proportional(env: sl.Slicing) -> Policy:
    """Demand-proportional split from the AP's own observation (spec §8): bandwidth blocks
    proportional to the slice data n_i x_i, compute blocks to the slice cycles n_i s_i, each
    rounded by largest remainder with every slice keeping at least one block (unit)."""

    def policy(key, obs, state, params):
        n = env.physical_observation(obs, params)["slice_users"]  # (B, I) slice user counts
        return _split(env, n * params.task_bits, n * params.task_cycles).astype(jnp.int32)

    return policy


def obs_oracle(env: sl.Slicing) -> Policy:
    """Observation-only oracle (spec §10.6.6): the exhaustive search of every action, per AP, with
    each user's channel replaced by |h|^2 = 1 at the median distance of the coverage disc. Only the
    AP's own slice counts are used, so it is a legitimate decentralised policy; it maximises the
    AP's own alpha e^(-L_b) + (1 - alpha) e^(phi_b)."""

    def policy(key, obs, state, params):
        counts = jnp.round(env.physical_observation(obs, params)["slice_users"]).astype(jnp.int32)  # (B, I)
        # users sorted by slice: user u is in slice #{i : cumsum(n)_i <= u}
        labels = jnp.sum(jnp.arange(env.max_users)[None, :, None] >= jnp.cumsum(counts, -1)[:, None, :-1], -1)
        median = sl.annulus_distance(0.5, params.d_min, params.radius)
        shape = (env.n_aps, env.max_users)
        proxy = sl.make_state(jnp.full(shape, median), labels, jnp.ones(shape), jnp.ones(shape), params)
        delay, sat = env.action_values(proxy, params)
        users = jnp.asarray(params.n_users, jnp.float32)
        value = phys.slicing_reward(delay / users, sat / users, params.alpha, params.delay_scale)
        return jnp.argmax(value, axis=1).astype(jnp.int32)

    return policy


def oracle(env: sl.Slicing) -> Policy:
    """Full-information per-slot optimum of the global reward (spec §10.6 oracle, made exact).

    Actions do not affect the next state, so maximising each slot's reward is optimal. Every AP's
    every action (all 18,496 at the defaults) is scored in one vectorised call
    (`Slicing.action_values`: summed delay D_b(a) and satisfied users S_b(a)). The reward
    alpha e^(-L) + (1-alpha) e^(phi) only depends on sum_b D_b and sum_b S_b, so for each AP the
    frontier F_b(k) = min {D_b(a) : S_b(a) >= k} is computed, a min-plus convolution over APs gives
    G(K) = min sum_b D_b with sum_b S_b >= K, the best K is picked, and each AP plays its frontier
    action for its share k_b of K. This is the exact joint optimum (up to float32 ties).
    """
    n_users_max = env.max_users

    def policy(key, obs, state, params):
        delay, sat = env.action_values(state, params)  # (B, A)
        sat_i = jnp.round(sat).astype(jnp.int32)
        ks = jnp.arange(n_users_max + 1)
        exact = jax.vmap(lambda d, s: jax.ops.segment_min(d, s, num_segments=n_users_max + 1))(delay, sat_i)
        # empty segments hold +inf (= infeasible), which the min-plus sums keep as +inf
        frontier = jax.lax.cummin(exact, axis=1, reverse=True)  # F_b(k) = min over S_b >= k
        g = frontier[0]
        choices = []
        for b in range(1, env.n_aps):  # min-plus convolution over APs (B is a small static size)
            size = (b + 1) * n_users_max + 1
            prev = jnp.arange(size)[:, None] - ks[None, :]
            valid = (prev >= 0) & (prev < g.shape[0])
            cand = jnp.where(valid, g[jnp.clip(prev, 0, g.shape[0] - 1)] + frontier[b][None, :], jnp.inf)
            choices.append(jnp.argmin(cand, axis=1))
            g = jnp.min(cand, axis=1)
        users = jnp.asarray(params.n_users, jnp.float32) * env.n_aps
        total_k = jnp.arange(g.shape[0])
        value = phys.slicing_reward(g / users, total_k / users, params.alpha, params.delay_scale)
        best = jnp.argmax(jnp.where(jnp.isfinite(g), value, -jnp.inf))
        shares = []
        for b in range(env.n_aps - 1, 0, -1):  # backtrack each AP's satisfied-user target
            k_b = choices[b - 1][best]
            shares.append(k_b)
            best = best - k_b
        shares.append(best)
        k = jnp.stack(shares[::-1])  # (B,)
        masked = jnp.where(sat_i >= k[:, None], delay, jnp.inf)
        return jnp.argmin(masked, axis=1).astype(jnp.int32)

    return policy


HEURISTICS = {"equal": equal, "proportional": proportional, "obs_oracle": obs_oracle, "oracle": oracle}
DEFAULT_EVAL = ("random", "equal", "proportional", "obs_oracle", "oracle")
