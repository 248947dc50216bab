"""HAPPO: heterogeneous-agent PPO (Kuba et al. 2022, HARL), the MARL baseline of seed 004 (spec §7)
on `cloud_edge`, built on `algos.ippo`'s pieces (policy distribution, GAE, clipped surrogate and
value error, running statistics, reward normalisation).

* **Agents** are the env's UE slots; each has its OWN recurrent actor (heterogeneous: parameters,
  log-std and Adam state stacked on the agent axis): Dense layers, a GRU cell, then the `ActionSpec`
  head (categorical x and channel l, a diagonal Gaussian over the pre-activations of the ratios a, b,
  squashed into the box as in `algos.ippo`). The GRU memory restarts at every episode start, in the
  rollout, in the update's re-unroll (`unroll`) and in evaluation (`Trainer.memory`).
* **Local state (24)** of UE n: {n, k, P_UE|h|^2, T*_1(0), T*_1(1), T*_21(1), T*_1(2), T*_22(2)}: the
  slot index n / (N_max - 1) and edge id k / (K - 1) (scaled ids [G]) and the env's six scaled
  features (U6), standardised by running statistics; zero for absent UEs.
* **Global state (25)** for the centralised critic: the present UEs' local states first, then zeros,
  flattened to 8 N_max (the zero-padded concatenation; the slot a UE lands in depends on how many UEs
  precede it, the loss of position information the paper blames for HAPPO's instability).
* **Reward (23)**: the shared -(w1 T_t + w2 sum_n E_n) (the env's team reward), divided by a running
  std of the discounted return (`algos.ippo.normalize_rewards`).
* **Update** per iteration (a rollout of ``rollout_len`` rounds of ``num_envs`` envs): GAE(lambda)
  advantages from the critic, normalised once; the critic by ``update_epochs`` x ``num_minibatches``
  clipped value-loss steps; then the actors **sequentially in a random permutation** (HAPPO's
  sequential update scheme): agent i_m maximises ``M * min(r A, clip(r) A)`` with ``M`` the product
  of the probability ratios pi_new / pi_old of the agents updated before it (1 for the first), then
  multiplies its own ratio into ``M`` (`update_actors`). Minibatches are whole env sequences (the
  GRU is re-unrolled from the rollout's first memory). Absent UEs are masked out of every loss.

Deviations and [G] choices (docs/DEVIATIONS.md, seed 004): HARL-style defaults for what the paper
leaves out (A21: clip 0.2, GAE 0.95, gamma 0.95, 5 epochs, 1 minibatch, GRU 64, lr 5e-4), but a
small network (64-unit layers, GRU 64; critic 128 x 128), not the 799k / 1436k parameters of Table IV;
the scaled ids of (24); running standardisation of the features; no linear lr decay; no value
normalisation (HARL's ValueNorm) but reward normalisation.

Reproduces: seed 004's HAPPO baseline (Figs. 5-10, benchmarks/reproduce/seed_004.py).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from algos.common.actions import ActionSpec
from algos.common.networks import ACTIVATIONS, MLP
from algos.common.training import (
    RunConfig, Trainer, check_positive_ints, env_metrics, hparams, make_optimizer, make_trainer, schedule,
)
from algos.ippo import (
    RunningStats, deterministic, entropy, gae, log_prob, normalize_rewards, sample, surrogate, value_error,
)
from jaxedge.wrappers import VecEnv

TRACED = ("lr", "critic_lr", "gamma", "gae_lambda", "clip_eps", "ent_coef", "reward_scale")
ACTION_SPACES = ("hybrid",)
ENVS = ("cloud_edge",)
N_FEATURES = 6  # the local features (14)/(U6) at the head of the cloud_edge observation
LOCAL_DIM = 2 + N_FEATURES  # (24): ids n, k + the six features


@dataclasses.dataclass(frozen=True)
class Config(RunConfig):
    """HARL HAPPO defaults (A21) unless marked; sized for a few minutes on 2 CPU cores."""

    total_env_steps: int = 24_000  # CPU: 10 episodes of 600 rounds in each of 4 envs
    num_envs: int = 4
    chunk_size: int = 10  # iterations per chunk
    rollout_len: int = 150  # rounds per env per iteration (a quarter episode)
    update_epochs: int = 5
    num_minibatches: int = 1  # of whole env sequences (must divide num_envs)
    gamma: float = 0.95
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    lr: float = 5e-4  # actors
    critic_lr: float = 5e-4
    max_grad_norm: float = 10.0  # HARL
    reward_scale: float = 1.0
    normalize_obs: bool = True  # standardise the six features by running statistics
    normalize_reward: bool = True
    hidden: Sequence[int] = (64,)  # actor layers before the GRU
    gru: int = 64  # GRU hidden size
    critic_hidden: Sequence[int] = (128, 128)
    activation: str = "relu"
    log_std_init: float = -0.5
    eps_min: float = 1e-3  # floor of a, b (the env's min_ratio, A7)
    random_order: bool = True  # a fresh random agent permutation every iteration (HAPPO); False: 0..n-1

    def __post_init__(self):
        super().__post_init__()
        check_positive_ints(self, ("rollout_len", "update_epochs", "num_minibatches", "gru"))
        if self.num_envs % self.num_minibatches:
            raise ValueError(f"Config.num_minibatches ({self.num_minibatches}) must divide num_envs ({self.num_envs})")


# ---- states (24), (25) ---------------------------------------------------------------------------
def local_states(obs, n_cells: int, stats: RunningStats | None = None):
    """``obs [..., N, 7 + K]`` (cloud_edge) -> the local states (24) ``[..., N, 8]`` and the mask
    ``[..., N]``: scaled slot index and edge id, then the six features (standardised by ``stats``),
    all zero for absent UEs."""
    n = obs.shape[-2]
    mask = obs[..., N_FEATURES]
    feats = obs[..., :N_FEATURES] if stats is None else stats.normalize(obs[..., :N_FEATURES])
    slot = jnp.broadcast_to(jnp.arange(n, dtype=obs.dtype) / max(n - 1, 1), mask.shape)
    edge = jnp.argmax(obs[..., N_FEATURES + 1:N_FEATURES + 1 + n_cells], -1).astype(obs.dtype) / max(n_cells - 1, 1)
    local = jnp.concatenate([slot[..., None], edge[..., None], feats], -1)
    return local * mask[..., None], mask > 0


def global_state(local, mask):
    """(25): the present UEs' local states first (in slot order), zeros after, flattened: ``[..., 8 N]``."""
    order = jnp.argsort(~mask, axis=-1, stable=True)
    packed = jnp.take_along_axis(local, order[..., None], axis=-2)
    return packed.reshape(packed.shape[:-2] + (-1,))


# ---- networks -----------------------------------------------------------------------------------
class RecurrentActor(nn.Module):
    """``(h [..., gru], x [..., d]) -> (h', out [..., n_out])``: Dense layers, a GRU cell, a linear head
    (small init: a near-uniform start). The HAPPO actor and `algos.tl`'s student."""

    hidden: Sequence[int]
    gru: int
    n_out: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, h, x):
        for width in self.hidden:
            x = ACTIVATIONS[self.activation](nn.Dense(width)(x))
        # lecun-normal recurrent kernel, not flax's default orthogonal one: its QR (LAPACK) deadlocked
        # XLA:CPU in a seed-vmapped init on this machine (42 agents x 5 seeds; jaxlib 0.10.2)
        h, y = nn.GRUCell(self.gru, recurrent_kernel_init=nn.initializers.lecun_normal())(h, x)
        return h, MLP((), self.n_out, out_scale=0.01)(y)


def unroll(actor, params, h0, xs, first):
    """One actor over a sequence: ``xs [T, B, d]``, ``first [T, B]`` (the step starts an episode: the
    memory restarts from zeros before it), ``h0 [B, gru]`` -> ``(h_T, out [T, B, n_out])``."""

    def step(h, inp):
        x, f = inp
        h = jnp.where(f[..., None], 0.0, h)
        return actor.apply(params, h, x)

    return jax.lax.scan(step, h0, (xs, first))


def apply_agents(actor, params, h, x):
    """Every agent's own actor (parameters stacked on axis 0) on ``h [..., n, gru]``, ``x [..., n, d]``."""
    axis = x.ndim - 2
    return jax.vmap(actor.apply, in_axes=(0, axis, axis), out_axes=axis)(params, h, x)


def masked_mean(x, mask):
    return jnp.sum(jnp.where(mask, x, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


# ---- the sequential actor update ----------------------------------------------------------------
def update_actors(spec: ActionSpec, actor, tx, cfg: Config, hp, params, opt, data, order, key):
    """HAPPO's sequential scheme: the agents in ``order``, each with ``update_epochs`` x
    ``num_minibatches`` steps on ``-M * min(r A, clip(r) A) - ent_coef * entropy`` (masked means),
    ``M`` the product of the new/old probability ratios of the agents updated before it.

    ``params``/``opt``: every agent's ``{"net", "log_std"}`` and optimiser state stacked on axis 0;
    ``data``: ``x [T, E, n, 8]``, ``first [T, E]``, ``h0 [E, n, gru]``, ``idx``, ``pre``, ``logp [T, E, n]``,
    ``mask [T, E, n]``, ``adv [T, E]`` (normalised). Returns ``(params, opt, info)``, ``info`` per update
    in order: ``agent``, ``factor`` (the masked mean M the agent's update saw), ``loss``.
    """
    E = data["adv"].shape[1]
    mb = E // cfg.num_minibatches

    def agent_step(carry, inp):
        params, opt, factor = carry
        i, key = inp
        take = lambda tree: jax.tree_util.tree_map(lambda a: a[i], tree)  # noqa: E731
        p, o = take(params), take(opt)
        d = {k: data[k][:, :, i] for k in ("x", "idx", "pre", "logp", "mask")}
        h0 = data["h0"][:, i]

        def policy_out(p, envs):
            return unroll(actor, p["net"], h0[envs], d["x"][:, envs], data["first"][:, envs])[1]

        def loss_fn(p, envs):
            out = policy_out(p, envs)
            logp = log_prob(spec, out, p["log_std"], d["idx"][:, envs], d["pre"][:, envs])
            ratio = jnp.exp(logp - d["logp"][:, envs])
            m = d["mask"][:, envs]
            obj = factor[:, envs] * surrogate(ratio, data["adv"][:, envs], hp["clip_eps"])
            return -masked_mean(obj, m) - hp["ent_coef"] * masked_mean(entropy(spec, out, p["log_std"]), m)

        def minibatch(carry, envs):
            p, o = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, envs)
            upd, o = tx(learning_rate=hp["lr"]).update(grads, o, p)
            return (jax.tree_util.tree_map(lambda a, u: a + u, p, upd), o), loss

        def epoch(carry, key):
            envs = jax.random.permutation(key, E).reshape(cfg.num_minibatches, mb)
            return jax.lax.scan(minibatch, carry, envs)

        (p, o), losses = jax.lax.scan(epoch, (p, o), jax.random.split(key, cfg.update_epochs))
        all_envs = jnp.arange(E)
        new_logp = log_prob(spec, policy_out(p, all_envs), p["log_std"], d["idx"], d["pre"])
        seen = masked_mean(factor, d["mask"])
        factor = factor * jnp.where(d["mask"], jnp.exp(new_logp - d["logp"]), 1.0)
        put = lambda tree, new: jax.tree_util.tree_map(lambda a, v: a.at[i].set(v), tree, new)  # noqa: E731
        return (put(params, p), put(opt, o), factor), {"agent": i, "factor": seen, "loss": losses.mean()}

    factor = jnp.ones(data["adv"].shape, jnp.float32)
    keys = jax.random.split(key, order.shape[0])
    (params, opt, _), info = jax.lax.scan(agent_step, (params, opt, factor), (order, keys))
    return params, opt, info


# ---- the trainer --------------------------------------------------------------------------------
@struct.dataclass
class TrainState:
    actor: dict  # {"net", "log_std"} stacked on the agent axis
    critic: dict
    actor_opt: object  # stacked on the agent axis
    critic_opt: object
    env_state: object
    obs: jax.Array  # [E, n, obs_dim] raw env observations
    h: jax.Array  # [E, n, gru] GRU memory before the next step
    first: jax.Array  # [E] the next step starts an episode
    obs_stats: RunningStats  # the six features, pooled over envs and agents
    ret_stats: RunningStats
    ret: jax.Array  # [E] discounted return so far
    key: jax.Array
    hp: dict


def make_train(cfg: Config, env, params) -> Trainer:
    spec = ActionSpec.from_env(env, params, cfg.eps_min)
    n, K, E, T = env.num_agents, env.n_cells, cfg.num_envs, cfg.rollout_len
    actor = RecurrentActor(tuple(cfg.hidden), cfg.gru, spec.n_logits, cfg.activation)
    critic = MLP(tuple(cfg.critic_hidden), 1, cfg.activation)
    sizes = schedule(cfg, env_steps_per_iter=E * T)
    tx = make_optimizer(cfg.max_grad_norm)
    venv = VecEnv(env)
    batch = E * T
    if batch % cfg.num_minibatches:
        raise ValueError(f"num_minibatches ({cfg.num_minibatches}) must divide num_envs x rollout_len ({batch})")

    def states(obs_stats, obs):
        local, mask = local_states(obs, K, obs_stats if cfg.normalize_obs else None)
        return local, mask, global_state(local, mask)

    def value(p, g):
        return critic.apply(p, g)[..., 0]

    def init(key, hp):
        k_a, k_c, k_env, key = jax.random.split(key, 4)
        nets = jax.vmap(lambda k: actor.init(k, jnp.zeros((cfg.gru,)), jnp.zeros((LOCAL_DIM,))))(
            jax.random.split(k_a, n))
        a_p = {"net": nets, "log_std": jnp.full((n, spec.cont_dim), cfg.log_std_init, jnp.float32)}
        c_p = critic.init(k_c, jnp.zeros((LOCAL_DIM * n,)))
        obs, env_state = venv.reset(jax.random.split(k_env, E), params)
        return TrainState(actor=a_p, critic=c_p, actor_opt=jax.vmap(tx(learning_rate=hp["lr"]).init)(a_p),
                          critic_opt=tx(learning_rate=hp["critic_lr"]).init(c_p), env_state=env_state, obs=obs,
                          h=jnp.zeros((E, n, cfg.gru)), first=jnp.ones((E,), bool),
                          obs_stats=RunningStats.create((N_FEATURES,)), ret_stats=RunningStats.create(),
                          ret=jnp.zeros((E,)), key=key, hp=hp)

    def env_step(carry, key):
        a_p, c_p, obs_stats, env_state, raw, h, first = carry
        k_act, k_step = jax.random.split(key)
        x, mask, g = states(obs_stats, raw)
        h_new, out = apply_agents(actor, a_p["net"], jnp.where(first[:, None, None], 0.0, h), x)
        idx, pre = sample(spec, k_act, out, a_p["log_std"])
        action = jax.vmap(spec.env_action_from_indices)(idx, spec.squash(pre))
        next_obs, env_state, reward, term, trunc, info = venv.step(jax.random.split(k_step, E), env_state, action,
                                                                   params)
        done = jnp.logical_or(term, trunc)
        tr = dict(x=x, raw=raw[..., :N_FEATURES], first=first, idx=idx, pre=pre, mask=mask, g=g,
                  logp=log_prob(spec, out, a_p["log_std"], idx, pre), value=value(c_p, g),
                  next_value=value(c_p, states(obs_stats, info["final_observation"])[2]), reward=reward[:, 0],
                  term=term, done=done)
        return (a_p, c_p, obs_stats, env_state, next_obs, h_new, done), (tr, env_metrics(reward, info))

    def critic_update(c_p, c_opt, data, key, hp):
        def minibatch(carry, b):
            p, o = carry

            def loss_fn(p):
                return value_error(value(p, b["g"]), b["value"], b["ret"], hp["clip_eps"]).mean()

            loss, grads = jax.value_and_grad(loss_fn)(p)
            upd, o = tx(learning_rate=hp["critic_lr"]).update(grads, o, p)
            return (jax.tree_util.tree_map(lambda a, u: a + u, p, upd), o), loss

        def epoch(carry, key):
            perm = jax.random.permutation(key, batch)
            shuffled = jax.tree_util.tree_map(
                lambda x: x.reshape((batch,) + x.shape[2:])[perm].reshape((cfg.num_minibatches, -1) + x.shape[2:]),
                data)
            return jax.lax.scan(minibatch, carry, shuffled)

        (c_p, c_opt), losses = jax.lax.scan(epoch, (c_p, c_opt), jax.random.split(key, cfg.update_epochs))
        return c_p, c_opt, losses.mean()

    def iteration(rs: TrainState, i):
        key, k_roll, k_crit, k_perm, k_act = jax.random.split(rs.key, 5)
        hp = rs.hp
        (_, _, _, env_state, obs, h, first), (tr, metrics) = jax.lax.scan(
            env_step, (rs.actor, rs.critic, rs.obs_stats, rs.env_state, rs.obs, rs.h, rs.first),
            jax.random.split(k_roll, T))
        reward, ret_stats, ret = hp["reward_scale"] * tr["reward"], rs.ret_stats, rs.ret
        if cfg.normalize_reward:
            ret_stats, ret, reward = normalize_rewards(ret_stats, ret, reward, tr["done"], hp["gamma"])
        adv, targets = gae(reward, tr["value"], tr["next_value"], tr["term"], tr["done"], hp["gamma"],
                           hp["gae_lambda"])
        c_p, c_opt, v_loss = critic_update(rs.critic, rs.critic_opt,
                                           dict(g=tr["g"], value=tr["value"], ret=targets), k_crit, hp)
        order = jax.random.permutation(k_perm, n) if cfg.random_order else jnp.arange(n)
        data = dict(x=tr["x"], first=tr["first"], h0=rs.h, idx=tr["idx"], pre=tr["pre"], logp=tr["logp"],
                    mask=tr["mask"], adv=(adv - adv.mean()) / (adv.std() + 1e-8))
        a_p, a_opt, info = update_actors(spec, actor, tx, cfg, hp, rs.actor, rs.actor_opt, data, order, k_act)
        metrics = jax.tree_util.tree_map(lambda v: v.mean(), metrics)
        metrics.update(value_loss=v_loss, actor_loss=info["loss"].mean(), last_factor=info["factor"][-1],
                       log_std=a_p["log_std"].mean())
        # the rollout's features enter the statistics after the update (the update saw the rollout's inputs)
        obs_stats = rs.obs_stats.update(tr["raw"]) if cfg.normalize_obs else rs.obs_stats
        return rs.replace(actor=a_p, critic=c_p, actor_opt=a_opt, critic_opt=c_opt, env_state=env_state, obs=obs,
                          h=h, first=first, obs_stats=obs_stats, ret_stats=ret_stats, ret=ret, key=key), metrics

    def memory(rs: TrainState):
        return jnp.zeros((n, cfg.gru))

    def act(rs: TrainState, obs, h):
        """Deterministic decentralised policy for one env (argmax heads, squashed mean), carrying the GRU memory."""
        x = states(rs.obs_stats, obs)[0]
        h, out = apply_agents(actor, rs.actor["net"], h, x)
        idx, cont = deterministic(spec, out)
        return spec.env_action_from_indices(idx, cont), h

    return make_trainer(init, iteration, act, cfg, hparams(cfg, TRACED), sizes, memory=memory)
