"""Discrete SAC on `collab_edge` (seed 003's SAC baseline, spec §6) and SAC-F (its Table V ablation).

* Actor: MLP 128-128 with a softmax over the B servers; training actions are **sampled** from it
  (Categorical, as the released ``baselines/SAC``), evaluation takes the argmax.
* Twin critics Q(s) in R^B with soft target copies, learned temperature: the same discrete-SAC update
  as FDEdge (`algos.common.discrete_sac.make_update`), with the released SAC's constants: alpha_0 =
  0.01, alpha lr 1e-3, gamma = 0.9, updates once the replay holds > 300 transitions (A18).
* SAC-F (``feedback=True``, `SACFConfig`): the historical action probability x_I = X[t, n] (the
  feedback memory of `algos.common.task_slots`, holding the actor's last softmax for that (slot,
  task)) is appended to the state of the actor and the critics: state = [s, x_I].

One iteration = one slot of the per-task env (`algos.common.task_slots`); padded steps never stored.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp

from algos.common import discrete_sac as dsac
from algos.common.networks import TorchMLP
from algos.common.task_slots import Agent, SlotRunConfig, adam, check_env, make_slot_trainer
from algos.common.training import Trainer, hparams

TRACED = ("lr_actor", "lr_critic", "lr_alpha", "gamma", "tau", "alpha_init", "target_entropy")
ACTION_SPACES = ("discrete",)
ENVS = ("collab_edge",)


@dataclasses.dataclass(frozen=True)
class Config(SlotRunConfig):
    """The released ``baselines/SAC`` constants (spec §6); run sizes from `SlotRunConfig`."""

    warmup_steps: int = 300  # updates once the replay holds more than this
    feedback: bool = False  # SAC-F: x_I in the state
    hidden: Sequence[int] = (128, 128)
    critic_hidden: Sequence[int] = (128, 128)
    lr_actor: float = 1e-4
    lr_critic: float = 1e-3
    lr_alpha: float = 1e-3
    gamma: float = 0.9
    tau: float = 0.005
    alpha_init: float = 0.01
    target_entropy: float = -1.0


@dataclasses.dataclass(frozen=True)
class SACFConfig(Config):
    """SAC-F (Table V): SAC with the historical action probability x_I in the state."""

    feedback: bool = True


def make_train(cfg: Config, env, params) -> Trainer:
    check_env(env, params, "sac")
    B, obs_dim = env.n_servers, env.obs_dim
    in_dim = obs_dim + (B if cfg.feedback else 0)
    actor = TorchMLP(tuple(cfg.hidden), B)
    critic = dsac.TwinQ(B, tuple(cfg.critic_hidden))
    tx = adam(cfg.max_grad_norm)

    def state(obs, x):
        return jnp.concatenate([obs, x], -1) if cfg.feedback else obs

    def policy(p, obs, x, key):
        del key
        return jax.nn.softmax(actor.apply(p, state(obs, x)))

    def init(key, hp):
        k_a, k_c = jax.random.split(key)
        return dsac.init_learner(actor.init(k_a, jnp.zeros((in_dim,))), critic.init(k_c, jnp.zeros((in_dim,))), tx, hp)

    def draw_noise(key, n):
        return jax.random.gumbel(key, (n, B))

    def decide(ln, obs_row, x_in, gumbel, hp):
        probs = policy(ln["actor"], obs_row, x_in, None)
        action = jnp.argmax(jnp.log(probs + dsac.LOG_EPS) + gumbel)  # a ~ Categorical(pi)
        return action.astype(jnp.int32), probs

    def act(ln, obs):
        if cfg.feedback:  # the memory is out of reach of the evaluation: the uniform probability
            x = jnp.full(obs.shape[:-1] + (B,), 1.0 / B)
            return jnp.argmax(policy(ln["actor"], obs, x, None), -1).astype(jnp.int32)
        return jnp.argmax(policy(ln["actor"], obs, None, None), -1).astype(jnp.int32)

    update = dsac.make_update(policy, critic, tx, state=state)
    agent = Agent(init=init, draw_noise=draw_noise, decide=decide, update=update, act=act, memory=cfg.feedback)
    return make_slot_trainer(cfg, env, params, agent, hparams(cfg, TRACED))
