"""Hand-written reference policies for every env: the baselines learners must beat.

Every policy has the signature ``policy(key, obs, state, params) -> action`` for a single env
(vmap it for a batch). Policies that only read ``obs`` are decentralised, like a learner's actor;
oracles read the privileged ``state``. ``make_heuristic(env, name)`` builds one;
``HEURISTICS[env.name]`` lists the names available for an env. ``BOUNDS[env.name]`` (where an env
has one) is ``bound(env, params, key, num_envs, num_steps) -> {"cost": stat}``: a certified lower
bound on the cost of ANY policy on `evaluate`'s envs and keys (reports and train.py show it as "bound").

One module per env (``dt_inference``, ``slicing``, ``v2x``, ``collab_edge``, ``cloud_edge``), each
with its own ``HEURISTICS`` table and ``DEFAULT_EVAL`` tuple. Rates, delays, energies and costs come
from the env's own functions (``jaxedge.envs.*`` and ``jaxedge.physics``), never re-derived here, so
a heuristic always prices an option exactly as the env will charge it.
"""

from __future__ import annotations

from typing import Callable

from algos.heuristics import cloud_edge, collab_edge, dt_inference, slicing, v2x
from algos.heuristics import dt_inference_bound
from algos.heuristics.common import Policy, random_policy

_MODULES = (dt_inference, collab_edge, slicing, v2x, cloud_edge)

HEURISTICS: dict[str, dict[str, Callable]] = {
    module.ENV_NAME: {"random": random_policy, **module.HEURISTICS} for module in _MODULES
}

# Policies `scripts/evaluate.py` runs by default (oracles only on request: they are exponential).
DEFAULT_EVAL: dict[str, tuple[str, ...]] = {module.ENV_NAME: module.DEFAULT_EVAL for module in _MODULES}

# Certified lower bounds on any policy's cost, by env (see the module docstring).
BOUNDS: dict[str, Callable] = {dt_inference_bound.ENV_NAME: dt_inference_bound.expected_bound}

# The names the single-file module exported, kept for existing imports.
dt_local, dt_greedy, dt_oracle = dt_inference.local, dt_inference.greedy, dt_inference.oracle
ce_round_robin, ce_least_loaded = collab_edge.round_robin, collab_edge.least_loaded
ce_greedy_oracle = collab_edge.greedy_oracle
slicing_equal, slicing_proportional = slicing.equal, slicing.proportional
slicing_obs_oracle, slicing_oracle = slicing.obs_oracle, slicing.oracle
_largest_remainder = slicing.largest_remainder
v2x_alcs, v2x_amcs, v2x_rocs, v2x_greedy = v2x.alcs, v2x.amcs, v2x.rocs, v2x.greedy
cld_local, cld_edge, cld_cloud = cloud_edge.local, cloud_edge.edge, cloud_edge.cloud
cld_greedy, cld_greedy_decollide = cloud_edge.greedy, cloud_edge.greedy_decollide


def make_heuristic(env, name: str) -> Policy:
    """Build heuristic ``name`` for ``env``; raises ``ValueError`` listing the valid names."""
    table = HEURISTICS.get(env.name)
    if table is None:
        raise ValueError(f"no heuristics for env {env.name!r}; envs with heuristics: {sorted(HEURISTICS)}")
    if name not in table:
        raise ValueError(f"unknown heuristic {name!r} for {env.name}; choose one of {sorted(table)}")
    return table[name](env)


__all__ = ["BOUNDS", "DEFAULT_EVAL", "HEURISTICS", "Policy", "make_heuristic", "random_policy"]
