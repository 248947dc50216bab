"""DQN-VDN: the seed-000 "DQN with CTDE such as a VDN structure" baseline (spec §6.6).

* Per-agent Q-networks ``Q_i(o_i, .)`` (parameters stacked on the agent axis), trained jointly with
  value decomposition ``Q_tot = sum_i Q_i`` on the team reward ``sum_i r_i``.
* Action branching: one head per discrete head of the action space (dt_inference: per task) over a
  discretised joint option — the discrete choice x ``levels`` for every continuous entry of the
  head (dt_inference: 7 targets x 4 phi_f x 4 phi_b = 112), with ``Q_i = sum_j Q_ij``. Dueling heads
  optional (``dueling=True``).
* Double-DQN targets from a hard-copied target network every ``target_period`` env steps;
  epsilon-greedy 1.0 -> 0.05 over ``eps_fraction`` of training; Huber loss.

Reproduces: the DQN baseline of seed 000 (Figs. 5-9). Defaults: spec §8.9 (DQN-VDN row) except
where marked CPU.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import optax
from flax import struct

from algos.common import replay
from algos.common.actions import ActionSpec, DiscretisedActions
from algos.common.networks import MLP, DuelingMLP, init_per_agent, linear_schedule, per_agent
from algos.common.training import (
    OffPolicyConfig, ReplaySpec, Trainer, env_metrics, gated_updates, hparams, make_optimizer, make_trainer,
    replay_capacity, schedule,
    step_envs,
)

TRACED = ("lr", "gamma", "eps_start", "eps_end", "reward_scale")
ACTION_SPACES = ("discrete", "multi_discrete", "hybrid")


@dataclasses.dataclass(frozen=True)
class Config(OffPolicyConfig):
    """Spec §8.9 (DQN-VDN row) unless marked CPU; the rest of the run sizes are `OffPolicyConfig`'s
    (16 envs, batch 256, buffer 5e4 (CPU; spec 1e5), warm-up 1,000 env steps (spec 2,000))."""

    total_env_steps: int = 128_000  # CPU: 8k vector steps x 16 envs (spec: 300 episodes x 100 steps)
    hidden: Sequence[int] = (128, 128)  # CPU (spec does not size the DQN; same scale as MADDPG's actor)
    dueling: bool = True
    levels: Sequence[float] = (0.25, 0.5, 0.75, 1.0)  # phi levels per continuous entry (spec §6.6)
    lr: float = 1e-3
    gamma: float = 0.5  # spec 0.95 ([G]); 0.5: the battery is the only coupling between steps (docs/DEVIATIONS.md)
    target_period: int = 200  # env steps (per env) between hard target updates
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_fraction: float = 0.5
    reward_scale: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if not self.levels or any(not 0.0 < float(v) <= 1.0 for v in self.levels):
            raise ValueError(f"Config.levels must be a non-empty list of shares in (0, 1], got {self.levels!r}")


@struct.dataclass
class TrainState:
    q: dict
    q_target: dict
    opt: object
    buffer: replay.Buffer
    env_state: object
    obs: jax.Array
    key: jax.Array
    step: jax.Array
    hp: dict


def make_train(cfg: Config, env, params) -> Trainer:
    spec = ActionSpec.from_env(env, params)
    disc = DiscretisedActions(spec, tuple(float(v) for v in cfg.levels))
    n, obs_dim = env.num_agents, env.observation_space(params).shape[-1]
    heads, n_opt = spec.heads, disc.n_options
    mask = disc.mask  # [heads, n_opt]
    sizes = schedule(cfg, warmup_steps=cfg.warmup_steps)
    capacity = replay_capacity(cfg, sizes)
    if cfg.dueling:
        net = DuelingMLP(tuple(cfg.hidden), heads, n_opt)
    else:
        base = MLP(tuple(cfg.hidden), heads * n_opt)

        class _Net:
            def init(self, k, x):
                return base.init(k, x)

            def apply(self, p, x):
                out = base.apply(p, x)
                return out.reshape(out.shape[:-1] + (heads, n_opt))

        net = _Net()
    tx = make_optimizer(cfg.max_grad_norm)
    E = cfg.num_envs
    example = dict(
        obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
        option=jax.ShapeDtypeStruct((n, heads), jnp.int32),
        reward=jax.ShapeDtypeStruct((n,), jnp.float32),
        next_obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
        terminated=jax.ShapeDtypeStruct((), jnp.bool_),
    )

    def qvalues(p, obs):  # obs [..., n, obs_dim] -> [..., n, heads, n_opt] (invalid options -inf)
        q = per_agent(net, p, obs)
        return jnp.where(mask, q, -1e9)

    def env_step(key, env_state, obs, option):
        act = jax.vmap(disc.env_action)(option)
        next_obs, env_state, reward, term, trunc, info, _ = step_envs(
            env, jax.random.split(key, E), env_state, act, params
        )
        tr = dict(obs=obs, option=option, reward=reward, next_obs=info["final_observation"], terminated=term)
        return next_obs, env_state, tr, env_metrics(reward, info)

    def random_option(key, shape):
        logits = jnp.where(mask, 0.0, -1e9)
        return jax.random.categorical(key, jnp.broadcast_to(logits, shape + (heads, n_opt)))

    def init(key, hp):
        k_q, k_env, key = jax.random.split(key, 3)
        q = init_per_agent(net, jax.random.split(k_q, n), jnp.zeros((obs_dim,)))
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, E), params)
        buf = replay.init(example, capacity)
        return TrainState(q=q, q_target=q, opt=tx(learning_rate=hp["lr"]).init(q), buffer=buf,
                          env_state=env_state, obs=obs, key=key, step=jnp.zeros((), jnp.int32), hp=hp)

    def update(rs: TrainState, key):
        hp = rs.hp
        b = replay.sample(rs.buffer, key, cfg.batch_size)
        # Double DQN on the VDN sum: argmax with the online net, value from the target net.
        best = jnp.argmax(qvalues(rs.q, b["next_obs"]), -1)  # [B, n, heads]
        q_next = jnp.take_along_axis(qvalues(rs.q_target, b["next_obs"]), best[..., None], -1)[..., 0]
        not_term = 1.0 - b["terminated"].astype(jnp.float32)
        y = hp["reward_scale"] * b["reward"].sum(-1) + hp["gamma"] * not_term * q_next.sum((-1, -2))
        y = jax.lax.stop_gradient(y)

        def loss_fn(p):
            q = jnp.take_along_axis(qvalues(p, b["obs"]), b["option"][..., None], -1)[..., 0]
            return optax.huber_loss(q.sum((-1, -2)), y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(rs.q)
        upd, opt = tx(learning_rate=hp["lr"]).update(grads, rs.opt, rs.q)
        return rs.replace(q=optax.apply_updates(rs.q, upd), opt=opt), {"q_loss": loss}

    period = max(1, cfg.target_period)

    def iteration(rs: TrainState, i):
        del i  # the target copy is periodic in rs.step, which warm-up and resume keep exact
        key, k_eps, k_rand, k_step, k_upd = jax.random.split(rs.key, 5)
        learning = rs.step >= sizes.warmup_iters  # warm-up: uniformly random options, no updates
        progress = sizes.learn_progress(rs.step)
        eps = jnp.where(learning, linear_schedule(rs.hp["eps_start"], rs.hp["eps_end"], cfg.eps_fraction, progress), 1.0)
        greedy = jnp.argmax(qvalues(rs.q, rs.obs), -1)  # [E, n, heads]
        explore = jax.random.uniform(k_eps, greedy.shape) < eps
        option = jnp.where(explore, random_option(k_rand, (E, n)), greedy)
        obs, env_state, tr, metrics = env_step(k_step, rs.env_state, rs.obs, option)
        rs = rs.replace(buffer=replay.add(rs.buffer, tr), obs=obs, env_state=env_state, key=key)
        rs, losses = gated_updates(learning, update, rs, jax.random.split(k_upd, cfg.updates_per_step))
        step = rs.step + 1
        q_target = jax.tree_util.tree_map(
            lambda t, o: jnp.where(step % period == 0, o, t), rs.q_target, rs.q
        )
        metrics.update(losses)
        metrics["epsilon"] = eps
        return rs.replace(step=step, q_target=q_target), metrics

    def act(rs: TrainState, obs):
        return disc.env_action(jnp.argmax(qvalues(rs.q, obs), -1))

    return make_trainer(init, iteration, act, cfg, hparams(cfg, TRACED), sizes, ReplaySpec(example, capacity))
