"""FDEdge (Xu et al., TMC 2025): feedback-diffusion discrete SAC for task scheduling on `collab_edge`
(seed 003), and the diffusion-actor family around it: FDEdge-NF (no feedback) and D2SAC (Du et al.).

* Actor = the feedback diffusion network (FDN, spec §5.3-§5.6): the I-step vp reverse chain
  (`algos.common.diffusion`) of an epsilon-MLP on [x_i, emb(i), s], started from the historical
  action probability x_I = X[t, n] (``feedback_mode="replace"``), softmax over the B servers,
  argmax to act; X[t, n] <- the output (``stored_value``: the softmax probability as in [C], or x_0).
  The feedback memory lives in the train state per env and persists across episodes
  (`algos.common.task_slots`).
* Twin critics Q(s) in R^B with target copies, discrete-SAC target / critic / policy losses through
  the min critic and the learned temperature (log alpha, H~ = -1) (`algos.common.discrete_sac`,
  spec §5.8); update order target -> critics -> actor -> alpha -> soft targets; gradients flow
  through the whole reverse chain, re-run on each batch with fresh noise (A24).
* Schedule: the released code's, one update per slot once the replay holds > 500 transitions,
  batch 64 drawn without replacement, FIFO 10k (``update_every="K_tasks"``: Alg. 1's one update per
  64 tasks). Padded no-op steps of the per-task env are never stored.

Variants (Config defaults via `FDEdgeNFConfig` / `D2SACConfig`): ``fdedge_nf`` = ``feedback_mode=
"none"`` (x_I ~ N(0, I): what the released code actually runs, A1); ``d2sac`` = the AGOD actor
(256-256 Mish, learnable time MLP, tanh epsilon output), a target actor for s', fixed alpha = 0.05 with
no entropy term in the target, sampled actions while training (argmax in evaluation) (spec §6).

Choices where the spec leaves a gap (docs/DEVIATIONS.md, seed 003): the deterministic policy
(``act``, used by evaluation, which sees the observation only) runs the chain without injected noise
from a fixed start, the simplex centre 1/B when the feedback stores softmax probabilities, else 0
(the mean of N(0, I)); ``replay_feedback="live_view"`` (A25) and the Shannon channel (A15) are not
implemented; ``next_state_queue_quirk`` and the Qbef-free state come from the env's ``literal``
preset. Reproduces Tables IV-V and Figs. 4, 5, 8 of seed 003 (benchmarks/reproduce/seed_003.py).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from algos.common import discrete_sac as dsac
from algos.common.diffusion import Denoiser, reverse_chain, vp_schedule
from algos.common.task_slots import Agent, SlotRunConfig, adam, check_env, make_slot_trainer
from algos.common.training import Trainer, hparams

TRACED = ("lr_actor", "lr_critic", "lr_alpha", "gamma", "tau", "alpha_init", "target_entropy")
ACTION_SPACES = ("discrete",)
ENVS = ("collab_edge",)
FEEDBACK_MODES = ("replace", "noised", "none")
STORED_VALUES = ("softmax", "x0")
ACTION_SELECT = ("argmax", "sample")
EVAL_NOISE = ("obs_seeded", "none")
EVAL_KEY = jax.random.PRNGKey(20251215)


@dataclasses.dataclass(frozen=True)
class Config(SlotRunConfig):
    """Spec §5 / Table III / §7.2 ([C]'s constants). Run sizes: 100 episodes of the paper's env
    (B = 10, N_max = 100: 100 slots x 100 padded per-task steps each, ~505k decisions, ~9.9k updates)
    on one env, one iteration per slot, one chunk per episode."""

    # actor (FDN)
    hidden: Sequence[int] = (128, 128)
    activation: str = "relu"
    eps_out: str = "softmax"  # epsilon-net output activation: softmax ([C]) | tanh (AGOD) | identity (A17)
    time_mlp: bool = False
    t_dim: int = 16
    denoise_steps: int = 5  # I
    beta_min: float = 0.1
    beta_max: float = 10.0
    feedback_mode: str = "replace"  # replace (paper) | noised (SDEdit-like) | none (FDEdge-NF, [C] in effect)
    stored_value: str = "softmax"  # what X[t, n] keeps: softmax ([C]) | x0 (paper text) (A2)
    action_select: str = "argmax"  # argmax ([C], eq. 9) | sample (A23)
    target_actor: bool = False  # D2SAC: a Polyak target actor for s'
    eval_noise: str = "obs_seeded"  # the deterministic policy's chain noise (see make_train's act)
    # critics and SAC
    critic_hidden: Sequence[int] = (128, 128)
    lr_actor: float = 1e-4
    lr_critic: float = 1e-3
    lr_alpha: float = 3e-4
    gamma: float = 0.95
    tau: float = 0.005
    alpha_init: float = 0.05
    learn_alpha: bool = True
    target_entropy: float = -1.0  # H~
    entropy_in_target: bool = True

    def __post_init__(self):
        super().__post_init__()
        for name, allowed in (("feedback_mode", FEEDBACK_MODES), ("stored_value", STORED_VALUES),
                              ("action_select", ACTION_SELECT), ("eval_noise", EVAL_NOISE)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Config.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not isinstance(self.denoise_steps, int) or self.denoise_steps < 1:
            raise ValueError(f"Config.denoise_steps must be an int >= 1, got {self.denoise_steps!r}")


@dataclasses.dataclass(frozen=True)
class FDEdgeNFConfig(Config):
    """FDEdge-NF (Table V): the chain starts from fresh N(0, I) noise, the released code's sampler (A1)."""

    feedback_mode: str = "none"


@dataclasses.dataclass(frozen=True)
class D2SACConfig(Config):
    """D2SAC (Du et al. 2024) with AGOD's actor (spec §6): N(0, I) start, target actor, fixed alpha
    without entropy in the target, sampled training actions; I = 5 vp, FDEdge's lrs / gamma / tau."""

    hidden: Sequence[int] = (256, 256)
    activation: str = "mish"
    eps_out: str = "tanh"
    time_mlp: bool = True
    feedback_mode: str = "none"
    action_select: str = "sample"
    target_actor: bool = True
    learn_alpha: bool = False
    entropy_in_target: bool = False


def make_train(cfg: Config, env, params) -> Trainer:
    check_env(env, params, "fdedge")
    B, I = env.n_servers, cfg.denoise_steps
    sched = vp_schedule(I, cfg.beta_min, cfg.beta_max)
    lbar = float(sched["alphas_cumprod"][-1])
    actor = Denoiser(B, tuple(cfg.hidden), cfg.t_dim, cfg.activation, cfg.eps_out, cfg.time_mlp)
    critic = dsac.TwinQ(B, tuple(cfg.critic_hidden))
    tx = adam(cfg.max_grad_norm)
    feedback = cfg.feedback_mode != "none"
    obs_dim = env.obs_dim
    det_start = jnp.full((B,), 1.0 / B if feedback and cfg.stored_value == "softmax" else 0.0)

    def start_point(x_mem, z):
        """x_I (spec §5.6): the stored X[t, n], its SDEdit-style noising, or fresh N(0, I)."""
        if cfg.feedback_mode == "replace":
            return x_mem
        if cfg.feedback_mode == "noised":
            return np.sqrt(lbar) * x_mem + np.sqrt(1.0 - lbar) * z
        return z

    def policy_x0(p, s, x_start, noise):
        return reverse_chain(lambda x, emb, s_: actor.apply(p, x, emb, s_), s, x_start, noise, sched)

    def draw_noise(key, n):
        k_z, k_g = jax.random.split(key)
        out = {"z": jax.random.normal(k_z, (n, I, B))}  # z[0]: N(0, I) start; z[1:]: injected noise
        if cfg.action_select == "sample":
            out["g"] = jax.random.gumbel(k_g, (n, B))
        return out

    def policy(p, obs, x, key):
        z = jax.random.normal(key, obs.shape[:-1] + (I, B))
        return jax.nn.softmax(policy_x0(p, obs, start_point(x, z[..., 0, :]), z[..., 1:, :]))

    def init(key, hp):
        k_a, k_c = jax.random.split(key)
        a = actor.init(k_a, jnp.zeros((B,)), jnp.zeros((cfg.t_dim,)), jnp.zeros((obs_dim,)))
        return dsac.init_learner(a, critic.init(k_c, jnp.zeros((obs_dim,))), tx, hp, cfg.target_actor)

    def decide(ln, obs_row, x_in, noise, hp):
        x0 = policy_x0(ln["actor"], obs_row, start_point(x_in, noise["z"][0]), noise["z"][1:])
        probs = jax.nn.softmax(x0)
        if cfg.action_select == "sample":
            action = jnp.argmax(jnp.log(probs + dsac.LOG_EPS) + noise["g"])
        else:
            action = jnp.argmax(probs)  # eq. 9
        return action.astype(jnp.int32), probs if cfg.stored_value == "softmax" else x0

    update = dsac.make_update(policy, critic, tx, learn_alpha=cfg.learn_alpha, entropy_in_target=cfg.entropy_in_target,
                              target_actor=cfg.target_actor)

    def act(ln, obs):
        """Eq. 9's argmax; the chain's noise (and an N(0, I) start, the feedback memory being out of
        reach) drawn from a key that is a fixed function of the observation, so the action is a
        deterministic function of the observation that keeps the FDN's noise-driven spread
        (``eval_noise="obs_seeded"``); ``"none"``: the noise-free chain from the fixed start."""
        if cfg.eval_noise == "none":
            x0 = policy_x0(ln["actor"], obs, jnp.broadcast_to(det_start, obs.shape[:-1] + (B,)), None)
            return jnp.argmax(x0, -1).astype(jnp.int32)
        flat = obs.reshape(-1, obs.shape[-1])
        seeds = jax.lax.bitcast_convert_type(flat, jnp.uint32).sum(-1)
        z = jax.vmap(lambda sd: jax.random.normal(jax.random.fold_in(EVAL_KEY, sd), (I, B)))(seeds)
        x0 = policy_x0(ln["actor"], flat, z[:, 0], z[:, 1:])
        return jnp.argmax(x0, -1).astype(jnp.int32).reshape(obs.shape[:-1])

    agent = Agent(init=init, draw_noise=draw_noise, decide=decide, update=update, act=act, memory=feedback)
    return make_slot_trainer(cfg, env, params, agent, hparams(cfg, TRACED))
