"""Learners (one module per algorithm) and the heuristics they are compared against.

``ALGOS`` maps an algorithm name to its module; each exposes ``Config`` (a dataclass extending
`algos.common.training.RunConfig`, defaults = the paper / spec values, CPU-sized where marked),
``TRACED`` (the hyperparameters a sweep may vmap over without recompiling), ``ACTION_SPACES`` (the
kinds of action space it handles: "discrete", "multi_discrete", "hybrid"), optionally ``ENVS`` (the
only envs it runs on, e.g. seed 003's per-task schedulers need `collab_edge`, dt_maddpg's sequential
twin `v2x`) and
``make_train(cfg, env, params) -> Trainer`` (see `algos.common.training`). A registered *variant*
(`variant`) is a module's ``make_train`` with another ``Config`` (e.g. ``fdedge_nf``, ``d2sac``).

    trainer = algos.make_trainer("maddpg", algos.maddpg.Config(), env, params)
"""

import types

from algos import d3qn_gan, ddpg, ddpg_vdn, dqn, dqn_vdn, dt_maddpg, fdedge, happo, ippo, maddpg, maddpg_cgan, sac, tac, tl
from jaxedge import spaces


def variant(module, config, doc: str):
    """A registry entry that is ``module`` with another default ``Config`` (same learner, other
    defaults: one module per method family)."""
    return types.SimpleNamespace(Config=config, make_train=module.make_train, TRACED=module.TRACED,
                                 ACTION_SPACES=module.ACTION_SPACES, ENVS=getattr(module, "ENVS", None),
                                 __doc__=doc, __name__=f"{module.__name__}:{config.__name__}")


ALGOS: dict = {
    "maddpg": maddpg,
    "maddpg_cgan": maddpg_cgan,
    "dqn_vdn": dqn_vdn,
    "ddpg_vdn": ddpg_vdn,
    "ippo": ippo,
    # seed 003 (collab_edge): FDEdge and the baselines of its Tables IV-V
    "fdedge": fdedge,
    "fdedge_nf": variant(fdedge, fdedge.FDEdgeNFConfig, "FDEdge without feedback (x_I ~ N(0, I)), Table V"),
    "d2sac": variant(fdedge, fdedge.D2SACConfig, "D2SAC (AGOD diffusion actor from N(0, I)), Table IV"),
    "sac": sac,
    "sac_f": variant(sac, sac.SACFConfig, "SAC with the historical action probability in the state, Table V"),
    "dqn": dqn,
    # seed 002 (v2x): DT-MADDPG and its DDPG baseline
    "dt_maddpg": dt_maddpg,
    "ddpg": ddpg,
    # seed 004 (cloud_edge): the MARL and behaviour-cloning baselines
    "happo": happo,
    "tl": tl,
    # seed 001 (slicing): fed_d3qn_gan, id3qn_gan, fed_d3qn, id3qn: one module, switches gan / federated
    **d3qn_gan.VARIANTS,
    # seed 004 (cloud_edge): TAC, its decentralised transfer DTAC and the TL-transformer baseline
    "tac": tac,
    "dtac": variant(tac, tac.DTACConfig, "DTAC: TAC's actor with identity attention, fine-tuned through the frozen "
                    "TAC critic (eq. 22); --init-from the TAC run"),
    "tl_transformer": variant(tac, tac.TLTransformerConfig, "TL transformer: the DTAC model trained by the MSE (26) "
                              "to TAC's actions; --init-from the TAC run"),
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
    envs = getattr(ALGOS[name], "ENVS", None)
    if envs is not None and env.name not in envs:
        return False
    return action_kind(env.action_space(params)) in ALGOS[name].ACTION_SPACES


def make_trainer(name: str, cfg, env, params):
    """``ALGOS[name].make_train(cfg, env, params)``, refusing an env whose action space the learner
    does not handle with a one-line ``ValueError``."""
    if name not in ALGOS:
        raise ValueError(f"unknown algo {name!r}; choose one of {sorted(ALGOS)}")
    if not supports(name, env, params):
        kind = action_kind(env.action_space(params))
        envs = getattr(ALGOS[name], "ENVS", None)
        if envs is not None and env.name not in envs:
            raise ValueError(f"{name} does not support {env.name}: it runs on {', '.join(envs)} only")
        raise ValueError(f"{name} does not support {env.name}: its action space is {kind}, {name} takes "
                         f"{', '.join(ALGOS[name].ACTION_SPACES)}")
    return ALGOS[name].make_train(cfg, env, params)
