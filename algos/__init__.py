"""Learners (one module per algorithm) and the heuristics they are compared against.

``ALGOS`` maps an algorithm name to its module; each exposes ``Config`` (a dataclass whose defaults
are the paper / spec values, CPU-sized where marked), ``TRACED`` (the hyperparameters a sweep may
vmap over without recompiling) and ``make_train(cfg, env, params)`` (see `algos.common.training`).
"""

from algos import ddpg_vdn, dqn_vdn, maddpg, maddpg_cgan

ALGOS: dict = {
    "maddpg": maddpg,
    "maddpg_cgan": maddpg_cgan,
    "dqn_vdn": dqn_vdn,
    "ddpg_vdn": ddpg_vdn,
}
