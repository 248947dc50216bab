"""Learners (one module per algorithm) and the heuristics they are compared against.

``ALGOS`` maps an algorithm name to its module; each exposes ``Config`` (a dataclass extending
`algos.common.training.RunConfig`, defaults = the paper / spec values, CPU-sized where marked),
``TRACED`` (the hyperparameters a sweep may vmap over without recompiling), ``ACTION_SPACES`` (the
kinds of action space it handles: "discrete", "multi_discrete", "hybrid") and
``make_train(cfg, env, params) -> Trainer`` (see `algos.common.training`).

    trainer = algos.make_trainer("maddpg", algos.maddpg.Config(), env, params)
"""

from algos import d3qn_gan, ddpg_vdn, dqn_vdn, ippo, maddpg, maddpg_cgan
from jaxedge import spaces

ALGOS: dict = {
    "maddpg": maddpg,
    "maddpg_cgan": maddpg_cgan,
    "dqn_vdn": dqn_vdn,
    "ddpg_vdn": ddpg_vdn,
    "ippo": ippo,
    **d3qn_gan.VARIANTS,  # fed_d3qn_gan, id3qn_gan, fed_d3qn, id3qn: one module, switches gan / federated
}


def action_kind(space) -> str:
    """The kind of an env's action space, as learners declare it in ``ACTION_SPACES``."""
    kinds = {spaces.Hybrid: "hybrid", spaces.MultiDiscrete: "multi_discrete", spaces.Discrete: "discrete",
             spaces.Box: "continuous"}
    for cls, kind in kinds.items():
        if isinstance(space, cls):
            return kind
    return type(space).__name__


def supports(name: str, env, params) -> bool:
    return action_kind(env.action_space(params)) in ALGOS[name].ACTION_SPACES


def make_trainer(name: str, cfg, env, params):
    """``ALGOS[name].make_train(cfg, env, params)``, refusing an env whose action space the learner
    does not handle with a one-line ``ValueError``."""
    if name not in ALGOS:
        raise ValueError(f"unknown algo {name!r}; choose one of {sorted(ALGOS)}")
    if not supports(name, env, params):
        kind = action_kind(env.action_space(params))
        raise ValueError(f"{name} does not support {env.name}: its action space is {kind}, {name} takes "
                         f"{', '.join(ALGOS[name].ACTION_SPACES)}")
    return ALGOS[name].make_train(cfg, env, params)
