"""Seed 004 (`cloud_edge`) heuristics: all-local / all-edge / all-cloud and the per-UE greedy,
with random or de-collided uplink channels.

Times and energies are the env's own: `CloudEdge.lower_bounds` ((14)/(U6)), `local_compute`
(eqs. 2-3), `cloud_time` ((12)/(U4), A16) and `weighted_cost` (eq. 13).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from algos.heuristics.common import Policy
from jaxedge import spaces
from jaxedge.envs import cloud_edge as ce
from jaxedge.physics import compute

ENV_NAME = "cloud_edge"


def _action(env: ce.CloudEdge, x, channel, a=1.0, b=1.0) -> spaces.HybridAction:
    n = env.num_agents
    disc = jnp.stack([jnp.broadcast_to(x, (n,)), jnp.broadcast_to(channel, (n,))], -1).astype(jnp.int32)
    cont = jnp.stack([jnp.broadcast_to(a, (n,)), jnp.broadcast_to(b, (n,))], -1).astype(jnp.float32)
    return spaces.HybridAction(disc, cont)


def random_channels(env: ce.CloudEdge, key):
    return jax.random.randint(key, (env.num_agents,), 0, env.n_channels)


def distinct_channels(env: ce.CloudEdge, key, transmitting):
    """Channel de-collision: the transmitting UEs of a cell take channels offset + 0, 1, 2, ... (mod L)
    from a random per-cell offset, so no two of them share one while a cell has <= L transmitters."""
    k, j, l = env.n_cells, env.ues_per_cell, env.n_channels
    tx = transmitting.reshape(k, j).astype(jnp.int32)
    rank = jnp.cumsum(tx, axis=1) - tx
    offset = jax.random.randint(key, (k, 1), 0, l)
    return ((rank + offset) % l).reshape(-1)


def _fixed(x_value: int, distinct: bool = True):
    def make(env: ce.CloudEdge) -> Policy:
        def policy(key, obs, state, params):
            x = jnp.full((env.num_agents,), x_value, jnp.int32)
            channel = distinct_channels(env, key, state.mask & (x > 0)) if distinct else (
                random_channels(env, key))
            return _action(env, x, channel)

        return policy

    return make


local = _fixed(0)
local.__doc__ = "All-local at full CPU (x = 0, b = 1)."
edge = _fixed(1)
edge.__doc__ = "All-edge at full power with distinct channels per cell (spec §10.2)."
cloud = _fixed(2)
cloud.__doc__ = "All-cloud at full power with distinct channels per cell (spec §10.2)."


def greedy_choice(env: ce.CloudEdge, state, params):
    """Per-UE myopic choice of x from its own lower bounds (14)/(U6) (no interference, no queues).

    Local runs at the ratio b minimising the env's cost of a local task, w1 T1(0) + w2 E^c; per unit
    of work that is w1 t / b + w2 e b^2 with (t, e) the time and energy at b = 1, so
    b = (w1 t / (2 w2 e))^(1/3) clipped to [min_ratio, 1]. Offloading runs at a = 1. The cost of x
    is (13) for the task alone: w1 (its lower-bound time) + w2 (its energy); a cloud task's time
    counts T*_21 only under ``exec_time_fixed``, as the env's round time does (A16).
    """
    lb = env.lower_bounds(state, params)
    _, _, work = env.task_arrays(state)
    t_unit, e_unit = ce.local_compute(1.0, 1.0, params)  # one cycle at the full F_UE
    b = compute.best_frequency(
        ce.weighted_cost(t_unit, 0.0, params), jnp.maximum(ce.weighted_cost(0.0, e_unit, params), 1e-30), 1.0
    )
    b = jnp.clip(b, params.min_ratio, 1.0)
    cost_local = ce.weighted_cost(*ce.local_compute(work, b, params), params)
    cost_edge = ce.weighted_cost(lb["t1_edge"] + lb["t21"], lb["e_up"], params)  # (10)-(11), alone in its group
    cost_cloud = ce.weighted_cost(ce.cloud_time(lb["t1_cloud"], lb["t21"], lb["t22"], params), lb["e_up"], params)
    x = jnp.argmin(jnp.stack([cost_local, cost_edge, cost_cloud], -1), axis=-1).astype(jnp.int32)
    return x, b


def greedy(env: ce.CloudEdge) -> Policy:
    """Greedy: each UE takes its best x by its own lower bounds, with a uniformly random channel.

    Reads the UE's own quantities from ``state`` (its observation, unscaled, plus its upload energy).
    """

    def policy(key, obs, state, params):
        x, b = greedy_choice(env, state, params)
        return _action(env, x, random_channels(env, key), 1.0, b)

    return policy


def greedy_decollide(env: ce.CloudEdge) -> Policy:
    """Greedy x as `greedy`, then channel de-collision: distinct channels for the cell's transmitters."""

    def policy(key, obs, state, params):
        x, b = greedy_choice(env, state, params)
        channel = distinct_channels(env, key, state.mask & (x > 0))
        return _action(env, x, channel, 1.0, b)

    return policy


HEURISTICS = {"local": local, "edge": edge, "cloud": cloud, "greedy": greedy, "greedy_decollide": greedy_decollide}
DEFAULT_EVAL = ("random", "local", "edge", "cloud", "greedy", "greedy_decollide")
