"""MADDPG (Lowe et al. 2017) for hybrid / discrete multi-agent actions: the seed-000 core (spec §5.5).

* Decentralised actors ``mu_i(o_i)`` (``o_i`` already contains the partial global state s', A20),
  one per agent, parameters stacked on the agent axis and applied with ``vmap``.
* Centralised critics ``Q_i(s, a_1..a_N)`` on ``env.global_state`` and every agent's critic action
  (per-head one-hot + continuous shares), one per agent, also stacked.
* Discrete heads: Gumbel-softmax with straight-through one-hot in training, argmax in evaluation;
  continuous shares ``eps_min + (1 - eps_min) sigmoid`` (spec §4.2, A17). Exploration: Gumbel
  sampling plus Gaussian noise on the pre-sigmoid outputs, sigma ``noise_start -> noise_end`` over
  ``noise_fraction`` of training (A65).
* Standard MADDPG targets (A29): ``y_i = r_i + gamma (1 - terminated) Q'_i(s', mu'(o'))`` with target
  actors and target critics; the actor loss uses the online critic with only agent i's action
  replaced. Soft target updates with ``tau``. Truncation (time limit) bootstraps.
* Replay: one ring buffer of joint transitions inside the scan state; a warm-up of random actions.

Reproduces: the "plain MADDPG" baseline of seed 000's Fig. 5 / Table 3 (the MADDPG-CGAN issue builds
on this module). Defaults: spec §8.9, except where marked "CPU" (see `Config`).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from algos.common import replay
from algos.common.actions import ActionSpec
from algos.common.networks import MLP, linear_schedule, soft_update
from algos.common.training import (
    ActorCriticState as TrainState, build_train, env_metrics, gated_updates, hparams, make_optimizer,
    replay_capacity, schedule_sizes, select, step_envs,
)

TRACED = ("lr_actor", "lr_critic", "gamma", "tau", "noise_start", "noise_end", "gumbel_temperature",
          "reward_scale", "logit_reg")


@dataclasses.dataclass(frozen=True)
class Config:
    """Spec §8.9 defaults unless marked CPU (sized so the default run fits 10 min on 2 CPU cores)."""

    total_env_steps: int = 128_000  # CPU: 8k vector steps x 16 envs (spec: 300 episodes x 100 steps)
    num_envs: int = 16  # parallel envs per vector step
    chunk_size: int = 500  # vector steps per compiled chunk (one checkpoint each)
    actor_hidden: Sequence[int] = (64, 64)  # CPU (spec: 256, 256)
    critic_hidden: Sequence[int] = (128, 128)  # CPU (spec: 512, 256)
    lr_actor: float = 1e-3  # spec 1e-4: the policy collapses to low local shares and recovers too slowly for a CPU run
    lr_critic: float = 1e-3
    max_grad_norm: float = 1.0
    gamma: float = 0.95
    tau: float = 0.01
    batch_size: int = 256
    buffer_size: int = 50_000  # CPU: halves memory and checkpoint size (spec: 1e5)
    warmup_steps: int = 1_000  # env steps of uniformly random actions before learning (spec: 2000)
    updates_per_step: int = 1  # gradient updates per vector env step
    gumbel_temperature: float = 1.0
    noise_start: float = 0.1
    noise_end: float = 0.02
    noise_fraction: float = 0.6
    eps_min: float = 0.05
    logit_reg: float = 1e-3  # L2 on actor outputs (keeps logits / sigmoids out of saturation)
    reward_scale: float = 1.0


def make_train(cfg: Config, env, params):
    spec = ActionSpec.from_env(env, params, cfg.eps_min)
    n, obs_dim = env.num_agents, env.observation_space(params).shape[-1]
    sizes = schedule_sizes(cfg)
    capacity = replay_capacity(cfg)
    actor = MLP(tuple(cfg.actor_hidden), spec.n_logits, out_scale=0.01)
    critic = MLP(tuple(cfg.critic_hidden), 1)
    tx = make_optimizer(cfg.max_grad_norm)
    E = cfg.num_envs

    _, state0 = jax.eval_shape(env.reset, jax.random.PRNGKey(0), params)
    g_dim = jax.eval_shape(env.global_state, state0, params).shape[-1]
    example = dict(
        obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
        gstate=jax.ShapeDtypeStruct((g_dim,), jnp.float32),
        act=jax.ShapeDtypeStruct((n, spec.critic_dim), jnp.float32),
        reward=jax.ShapeDtypeStruct((n,), jnp.float32),
        next_obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
        next_gstate=jax.ShapeDtypeStruct((g_dim,), jnp.float32),
        terminated=jax.ShapeDtypeStruct((), jnp.bool_),
    )
    make_train.example_transition = example  # for memory checks by callers

    def actors(p, obs):  # obs [..., n, obs_dim] -> [..., n, n_logits]
        return jax.vmap(actor.apply, in_axes=(0, -2), out_axes=-2)(p, obs)

    def critics(p, gstate, act):  # every agent's critic on the same joint input -> [n, B]
        x = jnp.concatenate([gstate, act.reshape(act.shape[:-2] + (-1,))], axis=-1)
        return jax.vmap(lambda q: critic.apply(q, x)[..., 0])(p)

    def env_step(rs_key, env_state, obs, one_hot, cont):
        act = jax.vmap(spec.env_action)(one_hot, cont)
        gstate = jax.vmap(env.global_state, in_axes=(0, None))(env_state, params)
        next_obs, env_state, reward, term, trunc, info, next_g = step_envs(
            env, jax.random.split(rs_key, E), env_state, act, params
        )
        transition = dict(obs=obs, gstate=gstate, act=spec.critic_action(one_hot, cont), reward=reward,
                          next_obs=info["final_observation"], next_gstate=next_g, terminated=term)
        return next_obs, env_state, transition, env_metrics(reward, info)

    def init(key, hp):
        k_a, k_c, k_env, key = jax.random.split(key, 4)
        actor_p = jax.vmap(lambda k: actor.init(k, jnp.zeros((obs_dim,))))(jax.random.split(k_a, n))
        critic_p = jax.vmap(lambda k: critic.init(k, jnp.zeros((g_dim + n * spec.critic_dim,))))(
            jax.random.split(k_c, n)
        )
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, E), params)
        buf = replay.init(example, capacity)
        return TrainState(
            actor=actor_p, critic=critic_p, actor_target=actor_p, critic_target=critic_p,
            actor_opt=jax.vmap(tx(learning_rate=hp["lr_actor"]).init)(actor_p),
            critic_opt=jax.vmap(tx(learning_rate=hp["lr_critic"]).init)(critic_p),
            buffer=buf, env_state=env_state, obs=obs, key=key, step=jnp.zeros((), jnp.int32), hp=hp,
        )

    def update(rs: TrainState, key):
        hp = rs.hp
        k_batch, k_actor = jax.random.split(key)
        b = replay.sample(rs.buffer, k_batch, cfg.batch_size)
        # ---- critics: y_i = r_i + gamma (1 - term) Q'_i(s', mu'(o')) -------------------------------
        next_oh, next_c = spec.deterministic(actors(rs.actor_target, b["next_obs"]))
        q_next = critics(rs.critic_target, b["next_gstate"], spec.critic_action(next_oh, next_c))
        not_term = 1.0 - b["terminated"].astype(jnp.float32)
        y = hp["reward_scale"] * b["reward"].T + hp["gamma"] * not_term * q_next  # [n, B]
        y = jax.lax.stop_gradient(y)
        x = jnp.concatenate([b["gstate"], b["act"].reshape(cfg.batch_size, -1)], axis=-1)

        def critic_loss(q_params, y_i):
            return jnp.mean((critic.apply(q_params, x)[..., 0] - y_i) ** 2)

        c_loss, c_grads = jax.vmap(jax.value_and_grad(critic_loss))(rs.critic, y)
        c_upd, critic_opt = jax.vmap(tx(learning_rate=hp["lr_critic"]).update)(c_grads, rs.critic_opt, rs.critic)
        critic_p = jax.tree_util.tree_map(lambda p, u: p + u, rs.critic, c_upd)

        # ---- actors: maximise Q_i with only agent i's action from the current policy -----------------
        def actor_loss(a_params, q_params, i, obs_i, k):
            out = actor.apply(a_params, obs_i)
            one_hot, cont = spec.sample(k, out, hp["gumbel_temperature"], 0.0)
            acts = b["act"].at[:, i].set(spec.critic_action(one_hot, cont))
            xa = jnp.concatenate([b["gstate"], acts.reshape(cfg.batch_size, -1)], axis=-1)
            q = critic.apply(q_params, xa)[..., 0]
            return -q.mean() + hp["logit_reg"] * jnp.mean(out**2), q.mean()

        (a_loss, q_mean), a_grads = jax.vmap(jax.value_and_grad(actor_loss, has_aux=True))(
            rs.actor, critic_p, jnp.arange(n), jnp.swapaxes(b["obs"], 0, 1), jax.random.split(k_actor, n)
        )
        a_upd, actor_opt = jax.vmap(tx(learning_rate=hp["lr_actor"]).update)(a_grads, rs.actor_opt, rs.actor)
        actor_p = jax.tree_util.tree_map(lambda p, u: p + u, rs.actor, a_upd)
        rs = rs.replace(
            actor=actor_p, critic=critic_p, actor_opt=actor_opt, critic_opt=critic_opt,
            actor_target=soft_update(rs.actor_target, actor_p, hp["tau"]),
            critic_target=soft_update(rs.critic_target, critic_p, hp["tau"]),
        )
        return rs, {"critic_loss": c_loss.mean(), "actor_loss": a_loss.mean(), "q": q_mean.mean()}

    def iteration(rs: TrainState):
        key, k_act, k_rand, k_step, k_upd = jax.random.split(rs.key, 5)
        learning = rs.step >= sizes["warmup_iters"]  # warm-up: uniformly random actions, no updates
        progress = (rs.step - sizes["warmup_iters"]) / sizes["learn_iters"]
        sigma = linear_schedule(rs.hp["noise_start"], rs.hp["noise_end"], cfg.noise_fraction, progress)
        one_hot, cont = spec.sample(k_act, actors(rs.actor, rs.obs), rs.hp["gumbel_temperature"], sigma)
        one_hot, cont = select(learning, (one_hot, cont), spec.random_critic_action(k_rand, (E,)))
        obs, env_state, tr, metrics = env_step(k_step, rs.env_state, rs.obs, one_hot, cont)
        rs = rs.replace(buffer=replay.add(rs.buffer, tr), obs=obs, env_state=env_state, key=key)
        rs, losses = gated_updates(learning, update, rs, jax.random.split(k_upd, cfg.updates_per_step))
        metrics.update(losses)
        return rs.replace(step=rs.step + 1), metrics

    def act(rs: TrainState, obs):
        """Deterministic decentralised policy for one env: argmax targets, noiseless shares."""
        one_hot, cont = spec.deterministic(actors(rs.actor, obs))
        return spec.env_action(one_hot, cont)

    train = build_train(init, iteration, act, cfg, hparams(cfg, TRACED))
    train.example_transition = example
    train.replay_capacity = capacity
    return train
