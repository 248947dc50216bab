"""DDPG-VDN: the seed-000 "DDPG with VDN" baseline (spec §6.6) — FACMAC without a mixer.

* Per-agent actors ``mu_i(o_i)`` with the same hybrid heads as MADDPG (Gumbel straight-through
  one-hot for discrete heads in training, argmax in evaluation; eps_min-floored sigmoid shares).
* Per-agent critics on the agent's *own* observation and action, ``Q_i(o_i, a_i)``, summed:
  ``Q_tot = sum_i Q_i``, trained on the team reward ``sum_i r_i`` with target networks and soft
  updates; each actor ascends the joint ``Q_tot`` through its own critic.
* All per-agent networks are stacked on the agent axis.

Reproduces: the DDPG baseline of seed 000 (Figs. 5-9). Defaults: spec §8.9 MADDPG row (the spec
gives DDPG the same action parameterisation) except where marked CPU.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp

from algos.common import replay
from algos.common.actions import ActionSpec
from algos.common.networks import MLP, init_per_agent, linear_schedule, per_agent, soft_update
from algos.common.training import (
    ActorCriticState as TrainState, OffPolicyConfig, ReplaySpec, Trainer, env_metrics, gated_updates, hparams,
    make_optimizer, make_trainer, replay_capacity, schedule, select, step_envs,
)

TRACED = ("lr_actor", "lr_critic", "gamma", "tau", "noise_start", "noise_end", "gumbel_temperature",
          "reward_scale", "logit_reg")
ACTION_SPACES = ("discrete", "multi_discrete", "hybrid")


@dataclasses.dataclass(frozen=True)
class Config(OffPolicyConfig):
    """Spec §8.9 defaults unless marked CPU; the rest of the run sizes are `OffPolicyConfig`'s
    (16 envs, batch 256, buffer 5e4 (CPU; spec 1e5), warm-up 1,000 env steps (spec 2,000))."""

    total_env_steps: int = 128_000  # CPU: 8k vector steps x 16 envs (spec: 300 episodes x 100 steps)
    actor_hidden: Sequence[int] = (64, 64)  # CPU (spec: 256, 256)
    critic_hidden: Sequence[int] = (128, 128)  # CPU (spec: 512, 256)
    lr_actor: float = 1e-3  # spec 1e-4: the policy collapses to low local shares and recovers too slowly for a CPU run
    lr_critic: float = 1e-3
    gamma: float = 0.5  # spec 0.95 ([G]); 0.5: the battery is the only coupling between steps (docs/DEVIATIONS.md)
    tau: float = 0.01
    gumbel_temperature: float = 1.0
    noise_start: float = 0.1
    noise_end: float = 0.02
    noise_fraction: float = 0.6
    eps_min: float = 0.05
    logit_reg: float = 1e-3
    reward_scale: float = 1.0


def make_train(cfg: Config, env, params) -> Trainer:
    spec = ActionSpec.from_env(env, params, cfg.eps_min)
    n, obs_dim = env.num_agents, env.observation_space(params).shape[-1]
    sizes = schedule(cfg, warmup_steps=cfg.warmup_steps)
    capacity = replay_capacity(cfg, sizes)
    actor = MLP(tuple(cfg.actor_hidden), spec.n_logits, out_scale=0.01)
    critic = MLP(tuple(cfg.critic_hidden), 1)
    tx = make_optimizer(cfg.max_grad_norm)
    E = cfg.num_envs
    example = dict(
        obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
        act=jax.ShapeDtypeStruct((n, spec.critic_dim), jnp.float32),
        reward=jax.ShapeDtypeStruct((n,), jnp.float32),
        next_obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
        terminated=jax.ShapeDtypeStruct((), jnp.bool_),
    )

    def q_values(p, obs, act):  # [..., n]
        return per_agent(critic, p, jnp.concatenate([obs, act], -1))[..., 0]

    def env_step(key, env_state, obs, one_hot, cont):
        act = jax.vmap(spec.env_action)(one_hot, cont)
        next_obs, env_state, reward, term, trunc, info, _ = step_envs(
            env, jax.random.split(key, E), env_state, act, params
        )
        tr = dict(obs=obs, act=spec.critic_action(one_hot, cont), reward=reward,
                  next_obs=info["final_observation"], terminated=term)
        return next_obs, env_state, tr, env_metrics(reward, info)

    def init(key, hp):
        k_a, k_c, k_env, key = jax.random.split(key, 4)
        actor_p = init_per_agent(actor, jax.random.split(k_a, n), jnp.zeros((obs_dim,)))
        critic_p = init_per_agent(critic, jax.random.split(k_c, n), jnp.zeros((obs_dim + spec.critic_dim,)))
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, E), params)
        buf = replay.init(example, capacity)
        return TrainState(
            actor=actor_p, critic=critic_p, actor_target=actor_p, critic_target=critic_p,
            actor_opt=tx(learning_rate=hp["lr_actor"]).init(actor_p),
            critic_opt=tx(learning_rate=hp["lr_critic"]).init(critic_p),
            buffer=buf, env_state=env_state, obs=obs, key=key, step=jnp.zeros((), jnp.int32), hp=hp,
        )

    def update(rs: TrainState, key):
        hp = rs.hp
        k_batch, k_actor = jax.random.split(key)
        b = replay.sample(rs.buffer, k_batch, cfg.batch_size)
        next_oh, next_c = spec.deterministic(per_agent(actor, rs.actor_target, b["next_obs"]))
        q_next = q_values(rs.critic_target, b["next_obs"], spec.critic_action(next_oh, next_c)).sum(-1)
        not_term = 1.0 - b["terminated"].astype(jnp.float32)
        y = jax.lax.stop_gradient(hp["reward_scale"] * b["reward"].sum(-1) + hp["gamma"] * not_term * q_next)

        def critic_loss(p):
            return jnp.mean((q_values(p, b["obs"], b["act"]).sum(-1) - y) ** 2)

        c_loss, c_grads = jax.value_and_grad(critic_loss)(rs.critic)
        c_upd, critic_opt = tx(learning_rate=hp["lr_critic"]).update(c_grads, rs.critic_opt, rs.critic)
        critic_p = jax.tree_util.tree_map(lambda p, u: p + u, rs.critic, c_upd)

        def actor_loss(a_params):
            out = per_agent(actor, a_params, b["obs"])
            one_hot, cont = spec.sample(k_actor, out, hp["gumbel_temperature"], 0.0)
            q = q_values(critic_p, b["obs"], spec.critic_action(one_hot, cont)).sum(-1)
            return -q.mean() + hp["logit_reg"] * jnp.mean(out**2)

        a_loss, a_grads = jax.value_and_grad(actor_loss)(rs.actor)
        a_upd, actor_opt = tx(learning_rate=hp["lr_actor"]).update(a_grads, rs.actor_opt, rs.actor)
        actor_p = jax.tree_util.tree_map(lambda p, u: p + u, rs.actor, a_upd)
        rs = rs.replace(
            actor=actor_p, critic=critic_p, actor_opt=actor_opt, critic_opt=critic_opt,
            actor_target=soft_update(rs.actor_target, actor_p, hp["tau"]),
            critic_target=soft_update(rs.critic_target, critic_p, hp["tau"]),
        )
        return rs, {"critic_loss": c_loss, "actor_loss": a_loss}

    def iteration(rs: TrainState, i):
        del i  # nothing periodic
        key, k_act, k_rand, k_step, k_upd = jax.random.split(rs.key, 5)
        learning = rs.step >= sizes.warmup_iters  # warm-up: uniformly random actions, no updates
        sigma = linear_schedule(rs.hp["noise_start"], rs.hp["noise_end"], cfg.noise_fraction,
                                sizes.learn_progress(rs.step))
        one_hot, cont = spec.sample(k_act, per_agent(actor, rs.actor, rs.obs), rs.hp["gumbel_temperature"], sigma)
        one_hot, cont = select(learning, (one_hot, cont), spec.random_critic_action(k_rand, (E,)))
        obs, env_state, tr, metrics = env_step(k_step, rs.env_state, rs.obs, one_hot, cont)
        rs = rs.replace(buffer=replay.add(rs.buffer, tr), obs=obs, env_state=env_state, key=key)
        rs, losses = gated_updates(learning, update, rs, jax.random.split(k_upd, cfg.updates_per_step))
        metrics.update(losses)
        return rs.replace(step=rs.step + 1), metrics

    def act(rs: TrainState, obs):
        one_hot, cont = spec.deterministic(per_agent(actor, rs.actor, obs))
        return spec.env_action(one_hot, cont)

    return make_trainer(init, iteration, act, cfg, hparams(cfg, TRACED), sizes, ReplaySpec(example, capacity))
