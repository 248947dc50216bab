"""IPPO: independent PPO (de Witt et al. 2020), PureJaxRL style, for every action space of the env
contract (``Discrete``, ``MultiDiscrete``, ``Hybrid``).

* Every agent learns from its own observation and its own reward (independent learners). With
  ``share_params`` (default) one actor-critic serves every agent, its input the observation plus
  a one-hot of the agent index (the usual shared-parameter IPPO); without it each agent has its
  own networks, stacked on the agent axis and applied with ``vmap``.
* Policy head from the env's `ActionSpec`: one categorical per discrete head (logits masked where a
  ``MultiDiscrete`` head has fewer options) and, for ``Hybrid`` boxes, a diagonal Gaussian over the
  *pre-activations* with a state-independent learned log-std, squashed into the box by
  ``ActionSpec.squash`` (the sigmoid with the ``eps_min`` floor on [0, 1] boxes that every learner
  here uses). Why not a Beta or a clipped Gaussian: the squash keeps every sample strictly inside
  the box, the deterministic policy is just ``squash(mean)``, and the log-prob is that of the
  pre-activation, whose Jacobian to the box is parameter-free and cancels in the PPO ratio (a
  clipped Gaussian puts probability mass on the bounds its log-prob does not see). Log-probs and
  entropies are summed over heads and continuous entries.
* One iteration: a rollout of ``rollout_len`` (T) vector steps of ``num_envs`` envs (auto-reset
  through `VecEnv`), GAE(lambda) with a bootstrap from the value of ``info["final_observation"]`` at
  truncations and zero at terminations, then ``update_epochs`` x ``num_minibatches`` Adam steps on
  the clipped surrogate + ``vf_coef`` x clipped value loss - ``ent_coef`` x entropy (advantages
  normalised per minibatch). The learning rate is traced and optionally annealed linearly to 0.
* Observations are standardised by running statistics and rewards divided by the running std of
  the discounted return (PureJaxRL's normalising wrappers, kept in the runner state): the envs'
  features and rewards differ by orders of magnitude, and one set of defaults serves all five.

`actor_net`, `Critic`, `sample`, `log_prob`, `entropy`, `gae`, `surrogate`, `value_error`, `ppo_loss`,
`RunningStats` and `normalize_rewards` are small module-level pieces that `algos.happo` imports (with
GRU actors and a centralised critic).

Reproduces: no paper figure; the generic on-policy baseline of the issue-20 trainer contract,
measured against random and greedy on all five envs in benchmarks/results/ippo_all_envs.md.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from algos.common.actions import ActionSpec
from algos.common.networks import MLP
from algos.common.training import (
    RunConfig, Trainer, check_positive_ints, env_metrics, hparams, make_optimizer, make_trainer, schedule,
)
from jaxedge.wrappers import VecEnv

TRACED = ("lr", "gamma", "gae_lambda", "clip_eps", "vf_coef", "ent_coef", "reward_scale")
ACTION_SPACES = ("discrete", "multi_discrete", "hybrid")


@dataclasses.dataclass(frozen=True)
class Config(RunConfig):
    """PureJaxRL's IPPO defaults (CleanRL's PPO) unless marked; sized for a few minutes on 2 CPU cores."""

    total_env_steps: int = 65_536  # CPU: 64 iterations of 16 envs x 64 steps
    num_envs: int = 16
    chunk_size: int = 16  # iterations per chunk (16 x 1,024 env steps)
    rollout_len: int = 64  # T vector steps per iteration
    update_epochs: int = 4
    num_minibatches: int = 4
    gamma: float = 0.5  # PureJaxRL 0.99; 0.5 as maddpg / dqn_vdn: the envs are near-myopic (slicing is a
    # contextual bandit) and collab_edge spreads a slot over 100 per-task steps: at 0.99 its deterministic
    # policy lost to random after 50k steps (reward -4.3 vs -0.71), at 0.5 it beat it (-0.34)
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    lr: float = 1e-3  # PureJaxRL 2.5e-4-5e-4: too slow for a CPU-sized run (slicing: entropy barely moved in 40k steps)
    anneal_lr: bool = True  # lr -> 0 linearly over the run
    max_grad_norm: float = 0.5
    reward_scale: float = 1.0  # rewards are multiplied by this before GAE (and before normalize_reward)
    normalize_obs: bool = True  # standardise observation features by running statistics (clipped to +-10): the
                                # envs' features range from shares in [0, 1] to queues in Gcycles
    normalize_reward: bool = True  # divide rewards by a running std of the discounted return (the envs' rewards
                                   # differ by 3 orders of magnitude: dt_inference ~ -8, cloud_edge ~ -36 per step)
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    log_std_init: float = 0.0  # initial std of the continuous pre-activations
    eps_min: float = 0.05  # floor of [0, 1] continuous entries (ActionSpec)
    share_params: bool = True  # one actor-critic for every agent, agent one-hot appended to the observation

    def __post_init__(self):
        super().__post_init__()
        check_positive_ints(self, ("rollout_len", "update_epochs", "num_minibatches"))
        if (self.num_envs * self.rollout_len) % self.num_minibatches:
            raise ValueError(f"Config.num_minibatches ({self.num_minibatches}) must divide num_envs x rollout_len "
                             f"({self.num_envs} x {self.rollout_len})")


# ---- networks -----------------------------------------------------------------------------------
def actor_net(hidden: Sequence[int], spec: ActionSpec, activation: str = "tanh") -> MLP:
    """Observation -> the ``spec.n_logits`` outputs of the `ActionSpec` layout (logits of every head,
    then the means of the continuous pre-activations); a small last layer starts near uniform."""
    return MLP(tuple(hidden), spec.n_logits, activation, out_scale=0.01)


class Critic(nn.Module):
    hidden: Sequence[int]
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x):
        return MLP(tuple(self.hidden), 1, self.activation)(x)[..., 0]


def agent_inputs(obs, share: bool):
    """``obs [..., n, d]`` -> the network input: with shared parameters the agent one-hot is appended."""
    if not share:
        return obs
    n = obs.shape[-2]
    return jnp.concatenate([obs, jnp.broadcast_to(jnp.eye(n, dtype=obs.dtype), obs.shape[:-1] + (n,))], -1)


def apply_agents(net, params, x, share: bool):
    """``net`` on every agent's input ``x [..., n, d]``: one network, or one per agent (parameters
    stacked on axis 0); the output keeps the agent axis where the input had it."""
    if share:
        return net.apply(params, x)
    return jax.vmap(net.apply, in_axes=(0, -2), out_axes=x.ndim - 2)(params, x)


def init_agents(net, key, n: int, in_dim: int, share: bool):
    if share:
        return net.init(key, jnp.zeros((in_dim,)))
    return jax.vmap(lambda k: net.init(k, jnp.zeros((in_dim,))))(jax.random.split(key, n))


# ---- the policy distribution --------------------------------------------------------------------
def sample(spec: ActionSpec, key, out, log_std):
    """``(idx int[..., heads], pre [..., cont_dim])``: a categorical draw per head and a Gaussian draw
    of the continuous pre-activations (squash them with ``spec.squash`` for the env)."""
    k_d, k_c = jax.random.split(key)
    logits, mean = spec.split(out)
    idx = jax.random.categorical(k_d, logits)
    pre = mean + jnp.exp(log_std) * jax.random.normal(k_c, mean.shape)
    return idx, pre


def log_prob(spec: ActionSpec, out, log_std, idx, pre):
    """Log-probability of ``(idx, pre)``, summed over heads and continuous entries: ``[...]``."""
    logits, mean = spec.split(out)
    logp = jnp.take_along_axis(jax.nn.log_softmax(logits), idx[..., None], -1)[..., 0].sum(-1)
    z = (pre - mean) * jnp.exp(-log_std)
    return logp + (-0.5 * z**2 - log_std - 0.5 * jnp.log(2 * jnp.pi)).sum(-1)


def entropy(spec: ActionSpec, out, log_std):
    """Entropy of the categorical heads (masked options have probability 0) plus the Gaussian's."""
    logits, mean = spec.split(out)
    p = jax.nn.softmax(logits)
    ent = -(p * jax.nn.log_softmax(logits)).sum((-1, -2))
    return ent + jnp.broadcast_to((log_std + 0.5 * jnp.log(2 * jnp.pi * jnp.e)).sum(-1), ent.shape)


def deterministic(spec: ActionSpec, out):
    """Mode of the policy: ``(argmax idx, squashed mean)``."""
    logits, mean = spec.split(out)
    return jnp.argmax(logits, -1), spec.squash(mean)


# ---- advantages and the loss --------------------------------------------------------------------
def gae(rewards, values, next_values, terminated, done, gamma, lam):
    """Generalised advantage estimation over a rollout (time on axis 0).

    ``next_values[t]`` is the value of the observation that step t led to (before any auto-reset);
    ``terminated[t]`` zeroes it (no bootstrap), ``done[t]`` (terminated or truncated) cuts the
    lambda-trace at the episode boundary. ``terminated`` / ``done`` broadcast against ``rewards``.
    Returns ``(advantages, returns = advantages + values)``.
    """
    not_term = 1.0 - terminated.astype(jnp.float32)
    not_done = 1.0 - done.astype(jnp.float32)
    deltas = rewards + gamma * not_term * next_values - values

    def body(next_adv, x):
        delta, nd = x
        adv = delta + gamma * lam * nd * next_adv
        return adv, adv

    _, adv = jax.lax.scan(body, jnp.zeros_like(deltas[0]), (deltas, jnp.broadcast_to(not_done, deltas.shape)),
                          reverse=True)
    return adv, adv + values


def surrogate(ratio, adv, clip_eps):
    """PPO's clipped surrogate per element, ``min(r A, clip(r, 1 +- eps) A)`` (to be maximised)."""
    return jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps) * adv)


def value_error(value, old_value, returns, clip_eps):
    """PPO's clipped squared value error per element (``0.5 max`` of the plain and clipped errors)."""
    v_clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
    return 0.5 * jnp.maximum((value - returns) ** 2, (v_clipped - returns) ** 2)


def ppo_loss(logp, old_logp, adv, value, old_value, returns, ent, clip_eps, vf_coef, ent_coef):
    """Clipped surrogate + ``vf_coef`` x clipped value loss - ``ent_coef`` x entropy (means over every
    element). ``adv`` is used as given (normalise it beforehand). Returns ``(loss, metrics)``."""
    ratio = jnp.exp(logp - old_logp)
    actor_loss = -surrogate(ratio, adv, clip_eps).mean()
    value_loss = value_error(value, old_value, returns, clip_eps).mean()
    ent = ent.mean()
    loss = actor_loss + vf_coef * value_loss - ent_coef * ent
    approx_kl = ((ratio - 1) - (logp - old_logp)).mean()
    clip_frac = (jnp.abs(ratio - 1) > clip_eps).mean()
    return loss, {"actor_loss": actor_loss, "value_loss": value_loss, "entropy": ent, "approx_kl": approx_kl,
                  "clip_frac": clip_frac}


# ---- the trainer --------------------------------------------------------------------------------
@struct.dataclass
class RunningStats:
    """Running mean and variance (parallel Welford), of the observation features or the return."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, shape=()):
        return cls(mean=jnp.zeros(shape), var=jnp.ones(shape), count=jnp.full((), 1e-4))

    def update(self, x):
        """Fold in the samples ``x [..., *shape]`` (every leading axis is a sample axis)."""
        axes = tuple(range(x.ndim - self.mean.ndim))
        b_mean, b_var, b_count = x.mean(axes), x.var(axes), x.size // max(1, self.mean.size)
        delta, total = b_mean - self.mean, self.count + b_count
        var = (self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total) / total
        return RunningStats(mean=self.mean + delta * b_count / total, var=var, count=total)

    def normalize(self, x, clip: float = 10.0):
        return jnp.clip((x - self.mean) / jnp.sqrt(self.var + 1e-8), -clip, clip)


def normalize_rewards(stats: RunningStats, ret, rewards, done, gamma):
    """PureJaxRL's ``NormalizeVecReward``: fold the discounted returns of a rollout (``rewards [T, E,
    n]``, ``done [T, E, 1]``, ``ret [E, n]`` the running return of every env's current episode) into
    ``stats`` and divide the rewards by their std. Returns ``(stats, ret, rewards)``."""

    def body(ret, x):
        r, d = x
        ret = ret * gamma + r
        return ret * (1.0 - d), ret

    ret, rets = jax.lax.scan(body, ret, (rewards, done.astype(jnp.float32)))
    stats = stats.update(rets)
    return stats, ret, rewards / jnp.sqrt(stats.var + 1e-8)


@struct.dataclass
class TrainState:
    params: dict  # {"actor", "log_std" (state-independent, [cont_dim] or [n, cont_dim]), "critic"}
    opt: object
    env_state: object
    obs: jax.Array
    obs_stats: RunningStats  # [obs_dim] features, pooled over envs and agents
    ret_stats: RunningStats  # the discounted return (scalar)
    ret: jax.Array  # [E, n] discounted return so far of every env's current episode
    key: jax.Array
    hp: dict


def make_train(cfg: Config, env, params) -> Trainer:
    spec = ActionSpec.from_env(env, params, cfg.eps_min)
    n, obs_dim = env.num_agents, env.observation_space(params).shape[-1]
    share, E, T = cfg.share_params, cfg.num_envs, cfg.rollout_len
    in_dim = obs_dim + (n if share else 0)
    actor = actor_net(cfg.hidden, spec, cfg.activation)
    critic = Critic(tuple(cfg.hidden), cfg.activation)
    sizes = schedule(cfg, env_steps_per_iter=E * T)
    tx = make_optimizer(cfg.max_grad_norm)
    venv = VecEnv(env)
    batch = E * T
    mb = batch // cfg.num_minibatches

    def policy(p, obs):  # obs [..., n, obs_dim] -> (out [..., n, n_logits], log_std [(n,) cont_dim])
        return apply_agents(actor, p["actor"], agent_inputs(obs, share), share), p["log_std"]

    def value(p, obs):  # -> [..., n]
        return apply_agents(critic, p["critic"], agent_inputs(obs, share), share)

    def init(key, hp):
        k_a, k_c, k_env, key = jax.random.split(key, 4)
        log_std = jnp.full(((n,) if not share else ()) + (spec.cont_dim,), cfg.log_std_init, jnp.float32)
        p = {"actor": init_agents(actor, k_a, n, in_dim, share), "log_std": log_std,
             "critic": init_agents(critic, k_c, n, in_dim, share)}
        obs, env_state = venv.reset(jax.random.split(k_env, E), params)
        return TrainState(params=p, opt=tx(learning_rate=hp["lr"]).init(p), env_state=env_state, obs=obs,
                          obs_stats=RunningStats.create((obs_dim,)), ret_stats=RunningStats.create(),
                          ret=jnp.zeros((E, n)), key=key, hp=hp)

    def prep(obs_stats, obs):
        return obs_stats.normalize(obs) if cfg.normalize_obs else obs

    def env_step(carry, key):
        p, obs_stats, env_state, raw = carry
        k_act, k_step = jax.random.split(key)
        obs = prep(obs_stats, raw)
        out, log_std = policy(p, obs)
        idx, pre = sample(spec, k_act, out, log_std)
        action = jax.vmap(spec.env_action_from_indices)(idx, spec.squash(pre))
        next_obs, env_state, reward, term, trunc, info = venv.step(jax.random.split(k_step, E), env_state, action,
                                                                   params)
        tr = dict(obs=obs, raw=raw, idx=idx, pre=pre, logp=log_prob(spec, out, log_std, idx, pre),
                  value=value(p, obs), next_value=value(p, prep(obs_stats, info["final_observation"])), reward=reward,
                  term=term, done=jnp.logical_or(term, trunc))
        return (p, obs_stats, env_state, next_obs), (tr, env_metrics(reward, info))

    def update_minibatch(carry, b):
        p, opt, hp = carry

        def loss_fn(p):
            out, log_std = policy(p, b["obs"])
            adv = (b["adv"] - b["adv"].mean()) / (b["adv"].std() + 1e-8)
            return ppo_loss(log_prob(spec, out, log_std, b["idx"], b["pre"]), b["logp"], adv, value(p, b["obs"]),
                            b["value"], b["ret"], entropy(spec, out, log_std), hp["clip_eps"], hp["vf_coef"],
                            hp["ent_coef"])

        (loss, m), grads = jax.value_and_grad(loss_fn, has_aux=True)(p)
        upd, opt = tx(learning_rate=hp["lr"]).update(grads, opt, p)
        return (jax.tree_util.tree_map(lambda a, u: a + u, p, upd), opt, hp), {"loss": loss, **m}

    def update_epoch(carry, key):
        data = carry[-1]
        perm = jax.random.permutation(key, batch)
        shuffled = jax.tree_util.tree_map(lambda x: x[perm].reshape((cfg.num_minibatches, mb) + x.shape[1:]), data)
        inner, m = jax.lax.scan(update_minibatch, carry[:-1], shuffled)
        return (*inner, data), m

    def iteration(rs: TrainState, i):
        key, k_roll, k_upd = jax.random.split(rs.key, 3)
        hp = rs.hp
        (_, _, env_state, obs), (tr, metrics) = jax.lax.scan(
            env_step, (rs.params, rs.obs_stats, rs.env_state, rs.obs), jax.random.split(k_roll, T))
        done = tr["done"][..., None]  # [T, E, 1]: every agent shares the episode
        reward, ret_stats, ret = hp["reward_scale"] * tr["reward"], rs.ret_stats, rs.ret
        if cfg.normalize_reward:
            ret_stats, ret, reward = normalize_rewards(ret_stats, ret, reward, done, hp["gamma"])
        adv, targets = gae(reward, tr["value"], tr["next_value"], tr["term"][..., None], done, hp["gamma"],
                           hp["gae_lambda"])
        data = dict(obs=tr["obs"], idx=tr["idx"], pre=tr["pre"], logp=tr["logp"], value=tr["value"], adv=adv,
                    ret=targets)
        data = jax.tree_util.tree_map(lambda x: x.reshape((batch,) + x.shape[2:]), data)
        frac = 1.0 - i.astype(jnp.float32) / sizes.total_iters if cfg.anneal_lr else 1.0
        opt = rs.opt._replace(hyperparams={**rs.opt.hyperparams, "learning_rate": hp["lr"] * frac})
        (p, opt, _, _), losses = jax.lax.scan(update_epoch, (rs.params, opt, hp, data),
                                              jax.random.split(k_upd, cfg.update_epochs))
        metrics = jax.tree_util.tree_map(lambda v: v.mean(), {**metrics, **losses})
        metrics["lr"] = hp["lr"] * frac
        # the rollout's observations enter the statistics after the update, so the update saw the
        # inputs the rollout's log-probs were computed from
        obs_stats = rs.obs_stats.update(tr["raw"]) if cfg.normalize_obs else rs.obs_stats
        return rs.replace(params=p, opt=opt, env_state=env_state, obs=obs, obs_stats=obs_stats, ret_stats=ret_stats,
                          ret=ret, key=key), metrics

    def act(rs: TrainState, obs):
        """Deterministic decentralised policy for one env: argmax per head, squashed mean."""
        idx, cont = deterministic(spec, policy(rs.params, prep(rs.obs_stats, obs))[0])
        return spec.env_action_from_indices(idx, cont)

    return make_trainer(init, iteration, act, cfg, hparams(cfg, TRACED), sizes)
