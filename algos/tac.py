"""TAC / DTAC (Han et al., JSAC 2025; seed 004): a transformer actor-critic over UE tokens on
`cloud_edge`, its decentralised transfer (DTAC) and the TL-transformer baseline.

Load a trained TAC run and get its deterministic actions (the API other learners use; stable)::

    from algos import tac
    run = tac.load_run("runs/tac-cloud_edge")          # any train.py --algo tac output dir
    out = run.outputs(obs, run=0)                      # obs [..., N, obs_dim] -> [..., N, L + 5]
                                                       # = (p_x (3), p_l (L), a, b) of run 0's actor
    action = run.act(obs, run=0)                       # the env's HybridAction (argmax x, l; a, b)
    run.config, run.state, run.meta                    # Config, the runner state (leading run axis), metadata

* Tokens: each UE slot of the env's observation is a token: its six scaled (U6) features go
  through ``Dense(d)``, plus a learned position table indexed by the edge id (the env's one-hot);
  the mask column is the key-padding mask (`networks.TokenEncoderDecoder`: post-LN encoder layers,
  then decoder layers on the same embedded tokens with the encoder output as memory, no causal
  mask). Padded UEs are never attended to and are masked out of every loss, so they change nothing.
* Actor heads per token: p_x = softmax (3), p_l = softmax (L), a, b = sigmoid clipped to
  [min_ratio, 1] (spec §5.2). Critic: the same trunk on [s, p_x, p_l, a, b] tokens -> Q [N, 2].
* Critic (eq. 18): MSE of Q to the per-UE weighted costs (w1 tau_n, w2 E_n) = -(17) of the stored
  round, masked; no bootstrapping (gamma = 0, a contextual bandit per round, A20).
* Actor (eq. 19, implementable form, A5): max_n Q_1 + sum_n Q_2 - w_s sum_n (H(p_x) + H(p_l)) over
  the real UEs, through the critic with its parameters held fixed (stop-gradient on them, not on
  the actions), from the noise-free policy output.
* Exploration (§5.4, A6, A7): p~ = p + N(0, v) on p_x, p_l, a, b; x = argmax p~_x, l = argmax p~_l,
  a~, b~ clipped to [min_ratio, 1]; the noisy A~ (probabilities clipped to [0, 1]) is stored and fed
  to the critic. v <- max(v eps, v_min) after every env episode (all parallel envs share the clock).
* AdamW, global-norm gradient clipping; one update per vector step after a short warm-up.
* ``transfer="critic"`` (DTAC, ``dtac``): the actor starts as a copy of a trained TAC actor
  (``init_from`` = its run dir, loaded through `algos.common.checkpoint`) with identity attention
  (eq. 21) in every attention block, so each UE's action is a function of its own token only, and
  is fine-tuned by eq. (22) through the frozen TAC critic. ``transfer="mse"`` (``tl_transformer``):
  the same model trained by the MSE (26) to TAC's actions on the same states.

Deviations and choices where the spec leaves a gap (docs/DEVIATIONS.md, seed 004): the critic
regresses the *weighted* costs (17 with the sign flipped), so the actor loss has no further w factors
(equivalent to §5.3's form with w > 0, and defined at w = 0); learning rates 1e-3 (Table II's 2e-5 is
far too slow for a CPU-sized run) and run sizes for a 10-minute CPU run (see `Config`); the transfer
phases collect their states with the transferred actor's own rollouts (A12's option) instead of
reading TAC's replay memory, so a DTAC run needs only TAC's networks; p_l is not learned by
default (``learn_channels=False``: channel slot mod L from ``channel_prior``, `Channels`), because a
learned p_l, even on top of the prior, let some seeds collapse onto shared channels; DTAC run seed s
starts from TAC run seed s where the TAC run has it, else its first run. Without ``init_from`` the transfer
variants start from fresh TAC weights (smoke tests only).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from algos.common import checkpoint, replay
from algos.common.networks import TokenEncoderDecoder
from algos.common.runner import run_keys_hp
from algos.common.training import (
    OffPolicyConfig, ReplaySpec, Trainer, env_metrics, gated_updates, hparams, make_trainer, replay_capacity,
    schedule,
)
from jaxedge import spaces
from jaxedge.wrappers import VecEnv

TRACED = ("lr_actor", "lr_critic", "noise_var", "noise_decay", "entropy_coef")
ACTION_SPACES = ("hybrid",)
ENVS = ("cloud_edge",)
TRANSFERS = ("none", "critic", "mse")
N_FEATURES = 6  # (14)/(U6): the env's first six observation columns; then the mask, then the edge one-hot
MASK_COL = 6


@dataclasses.dataclass(frozen=True)
class Config(OffPolicyConfig):
    """Spec §5.7 unless marked CPU. Run sizes: 16 envs x 1,800 rounds (3 episodes of 600 per env,
    48 episodes in all), one update of a batch of 64 rounds per vector step."""

    total_env_steps: int = 28_800  # CPU (spec: 300 episodes x 600 rounds)
    num_envs: int = 16
    chunk_size: int = 300  # iterations per chunk: half an episode
    batch_size: int = 64  # rounds (each N tokens)
    buffer_size: int = 9_600  # CPU: one episode of every env (spec 100k rounds)
    warmup_steps: int = 1_024  # env steps of the (noisy) policy before the first update
    updates_per_step: int = 1
    max_grad_norm: float = 1.0
    d_model: int = 16  # spec §5.7 [G]: d 16, 2 heads, FFN 32, 2 encoder + 1 decoder layers (~8.2k parameters)
    heads: int = 2
    ffn: int = 32
    enc_layers: int = 2
    dec_layers: int = 1
    lr_actor: float = 1e-3  # CPU (Table II: 2e-5)
    lr_critic: float = 1e-3  # CPU (Table II: 2e-5)
    weight_decay: float = 1e-2  # AdamW [G]
    noise_var: float = 0.05  # v0 (§5.4 [G])
    noise_decay: float = 0.99  # eps per episode
    noise_min: float = 1e-4
    entropy_coef: float = 0.01  # w_s (Table II)
    channel_prior: float = 10.0  # logit added to channel (slot mod L) of each UE (ours, A24): distinct channels per cell; 0 = none
    learn_channels: bool = False  # ours (A24): False = p_l is the prior alone (no actor logits, no gradient); True = the paper's learned p_l
    critic_space: str = "log"  # "log": Q is fitted as log(1 + cost) and read back with expm1; "linear": eq. 18 literally
    transfer: str = "none"  # "none" (TAC), "critic" (DTAC, eq. 22), "mse" (TL transformer, eq. 26)
    init_from: str = ""  # the TAC run dir a transfer starts from (scripts/train.py --init-from)

    def __post_init__(self):
        super().__post_init__()
        if self.transfer not in TRANSFERS:
            raise ValueError(f"Config.transfer must be one of {TRANSFERS}, got {self.transfer!r}")
        if self.critic_space not in ("log", "linear"):
            raise ValueError(f"Config.critic_space must be 'log' or 'linear', got {self.critic_space!r}")
        if self.dec_layers < 1 or self.enc_layers < 0:
            raise ValueError("Config.dec_layers must be >= 1 and enc_layers >= 0")


@dataclasses.dataclass(frozen=True)
class DTACConfig(Config):
    """DTAC (§5.6): identity attention, eq. (22) through the frozen TAC critic; 100 x U steps in the
    spec, CPU: 16 envs x 600 rounds (one episode each, 600 updates)."""

    transfer: str = "critic"
    total_env_steps: int = 9_600
    noise_var: float = 0.0  # states only: A' is recomputed from them
    warmup_steps: int = 512


@dataclasses.dataclass(frozen=True)
class TLTransformerConfig(DTACConfig):
    """TL transformer (§7): the DTAC model trained by the MSE (26) to TAC's actions."""

    transfer: str = "mse"


@struct.dataclass
class TACState:
    actor: dict
    critic: dict  # TAC: trained; transfers: the frozen TAC critic
    teacher: dict  # the TAC actor a transfer starts from (TL's labels); TAC: its own actor at init
    actor_opt: object
    critic_opt: object
    buffer: replay.Buffer
    env_state: object
    obs: jax.Array
    key: jax.Array
    step: jax.Array
    hp: dict


# ---- networks and the pieces of the losses --------------------------------------------------------
def networks(cfg: Config, n_channels: int, attn_mode: str = "softmax"):
    """(actor, critic) modules: actor -> [.., N, L + 5] pre-activations; critic -> Q [.., N, 2]."""
    def net(out, mode):
        return TokenEncoderDecoder(cfg.d_model, cfg.heads, cfg.ffn, cfg.enc_layers, cfg.dec_layers, out, mode)

    return net(n_channels + 5, attn_mode), net(2, "softmax")


def split_obs(obs, slot_ids: bool = True):
    """``obs [.., N, 7 + K]`` -> (features [.., N, 6], position one-hot [.., N, K (+ J)], mask bool
    [.., N]). The position is the edge id (the env's one-hot, §5.2) and, with ``slot_ids``, the UE's
    slot within its cell (A24's within-cell index: agent n is slot n % J of cell n // J)."""
    edge, mask = obs[..., MASK_COL + 1:], obs[..., MASK_COL] > 0.5
    if slot_ids:
        n, k = obs.shape[-2], edge.shape[-1]
        slot = np.tile(np.eye(n // k, dtype=np.float32), (k, 1)) * mask[..., None]
        edge = jnp.concatenate([edge, slot], -1)
    return obs[..., :N_FEATURES], edge, mask


def _batched(fn, obs, *rest):
    """Apply a [B, N, .] network to ``obs [.., N, d]`` with any leading shape."""
    lead = obs.shape[:-2]
    flat = [x.reshape((-1,) + x.shape[len(lead):]) for x in (obs, *rest)]
    out = fn(*flat)
    return out.reshape(lead + out.shape[1:])


def slot_channels(n: int, k: int, n_l: int) -> np.ndarray:
    """``[N, L]``: the one-hot of channel (slot mod L) of every UE slot (slot = n % J, J = N / K)."""
    return np.eye(n_l, dtype=np.float32)[np.tile(np.arange(n // k), k) % n_l]


@dataclasses.dataclass(frozen=True)
class Channels:
    """How p_l is formed (A24): ``prior`` is the logit added to channel (slot mod L) of each UE (its
    within-cell index); without ``learned`` the actor's channel logits are dropped (p_l = the prior)."""

    prior: float = 0.0
    learned: bool = True

    @classmethod
    def of(cls, cfg: "Config") -> "Channels":
        return cls(cfg.channel_prior, cfg.learn_channels)


def policy_outputs(actor, actor_p, obs, min_ratio: float, channels: Channels = Channels()):
    """A = (p_x, p_l, a, b) ``[.., N, L + 5]`` (eq. 16): softmaxes and clipped sigmoids; p_l per `Channels`."""
    def run(o):
        feats, pos, mask = split_obs(o)
        return actor.apply(actor_p, feats, pos, mask)

    raw = _batched(run, obs)
    n_l = raw.shape[-1] - 5
    prior = slot_channels(obs.shape[-2], obs.shape[-1] - MASK_COL - 1, n_l) * channels.prior
    logits = raw[..., 3:3 + n_l] if channels.learned else jnp.zeros_like(raw[..., 3:3 + n_l])
    raw = raw.at[..., 3:3 + n_l].set(logits + prior)
    p_x, p_l = jax.nn.softmax(raw[..., :3]), jax.nn.softmax(raw[..., 3:3 + n_l])
    ratios = jnp.clip(jax.nn.sigmoid(raw[..., 3 + n_l:]), min_ratio, 1.0)
    return jnp.concatenate([p_x, p_l, ratios], -1)


def critic_out(critic, critic_p, obs, act):
    """The critic's raw output ``[.., N, 2]`` on the tokens [s, p_x, p_l, a, b]."""
    def run(o, a):
        feats, pos, mask = split_obs(o)
        return critic.apply(critic_p, jnp.concatenate([feats, a], -1), pos, mask)

    return _batched(run, obs, act)


def to_cost(out, space: str):
    """Q (weighted time, energy) from the critic's output: ``expm1`` of it in ``"log"`` space."""
    return jnp.expm1(out) if space == "log" else out


def to_target(cost, space: str):
    return jnp.log1p(jnp.maximum(cost, 0.0)) if space == "log" else cost


def critic_q(critic, critic_p, obs, act, space: str = "log"):
    """Q ``[.., N, 2]`` (weighted time, energy) of the tokens [s, p_x, p_l, a, b]."""
    return to_cost(critic_out(critic, critic_p, obs, act), space)


def env_action(act, min_ratio: float) -> spaces.HybridAction:
    """x = argmax p_x, l = argmax p_l, (a, b) clipped (§4.3)."""
    n_l = act.shape[-1] - 5
    disc = jnp.stack([jnp.argmax(act[..., :3], -1), jnp.argmax(act[..., 3:3 + n_l], -1)], -1).astype(jnp.int32)
    return spaces.HybridAction(disc, jnp.clip(act[..., 3 + n_l:], min_ratio, 1.0))


def explore(key, act, var, min_ratio: float):
    """A~ = A + N(0, v) (§5.4): probabilities clipped to [0, 1], ratios to [min_ratio, 1] (A6, A7)."""
    noisy = act + jnp.sqrt(var) * jax.random.normal(key, act.shape)
    return jnp.concatenate([jnp.clip(noisy[..., :-2], 0.0, 1.0), jnp.clip(noisy[..., -2:], min_ratio, 1.0)], -1)


def entropy(act, mask):
    """sum over real UEs of H(p_x) + H(p_l), per batch row."""
    p = act[..., :-2]
    h = -jnp.sum(p * jnp.log(jnp.clip(p, 1e-8, 1.0)), -1)
    return jnp.sum(jnp.where(mask, h, 0.0), -1)


def objective(q, mask):
    """max_n Q_1 + sum_n Q_2 over real UEs, per batch row (the eq. 19 / 22 cost)."""
    return jnp.max(jnp.where(mask, q[..., 0], -jnp.inf), -1) + jnp.sum(jnp.where(mask, q[..., 1], 0.0), -1)


def critic_loss(critic, critic_p, obs, act, cost, space: str = "log"):
    """Eq. (18): sum over real UEs of the squared error of Q to the weighted costs, batch mean (in
    log(1 + cost) space by default: round times span 0.1 s to 1e5 s under channel collisions)."""
    err = (critic_out(critic, critic_p, obs, act) - to_target(cost, space)) ** 2
    return jnp.mean(jnp.sum(jnp.where(split_obs(obs)[2][..., None], err, 0.0), (-1, -2)))


def actor_loss(actor, critic, actor_p, critic_p, obs, entropy_coef, min_ratio: float, space: str = "log",
               channels: Channels = Channels()):
    """Eqs. (19) / (22), implementable form: the critic's cost of the noise-free action minus w_s
    entropy, over real UEs, batch mean. The critic's parameters are held fixed (stop-gradient)."""
    act = policy_outputs(actor, actor_p, obs, min_ratio, channels)
    q = critic_q(critic, jax.lax.stop_gradient(critic_p), obs, act, space)
    mask = split_obs(obs)[2]
    cost = objective(q, mask)
    return jnp.mean(cost - entropy_coef * entropy(act, mask)), jnp.mean(cost)


def imitation_loss(actor, actor_p, teacher, teacher_p, obs, min_ratio: float, channels: Channels = Channels()):
    """Eq. (26): squared error of the student's A to the teacher's, summed over real UEs and the
    L + 5 components, batch mean."""
    want = jax.lax.stop_gradient(policy_outputs(teacher, teacher_p, obs, min_ratio, channels))
    err = jnp.sum((policy_outputs(actor, actor_p, obs, min_ratio, channels) - want) ** 2, -1)
    return jnp.mean(jnp.sum(jnp.where(split_obs(obs)[2], err, 0.0), -1))


def optimizer(cfg: Config):
    def build(learning_rate):
        return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm),
                           optax.adamw(learning_rate, weight_decay=cfg.weight_decay))

    return optax.inject_hyperparams(build)


def _step(tx, params, opt, grads, lr):
    upd, opt = tx(learning_rate=lr).update(grads, opt, params)
    return optax.apply_updates(params, upd), opt


# ---- loading a trained TAC run ----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TACRun:
    """A trained TAC run dir restored through `algos.common.checkpoint` (see the module docstring)."""

    config: Config
    state: TACState  # leading run axis
    meta: dict
    actor: object
    critic: object
    min_ratio: float

    @property
    def seeds(self) -> list[int]:
        return [int(r["seed"]) for r in self.meta["runs"]]

    def params_of(self, run: int = 0) -> tuple:
        """(actor params, critic params) of one run."""
        pick = lambda x: x[run]  # noqa: E731
        return jax.tree_util.tree_map(pick, self.state.actor), jax.tree_util.tree_map(pick, self.state.critic)

    def outputs(self, obs, run: int = 0):
        """TAC's deterministic A = (p_x, p_l, a, b) ``[.., N, L + 5]`` for ``obs [.., N, obs_dim]``."""
        return policy_outputs(self.actor, self.params_of(run)[0], obs, self.min_ratio, Channels.of(self.config))

    def act(self, obs, run: int = 0) -> spaces.HybridAction:
        return env_action(self.outputs(obs, run), self.min_ratio)


def load_run(run_dir, env=None, params=None) -> TACRun:
    """Restore a ``scripts/train.py --algo tac`` output dir (its ``checkpoint.msgpack``). ``env`` /
    ``params`` default to the run's own (its --env, --size and --preset)."""
    from algos.common import cli

    meta = checkpoint.read(run_dir)[0]
    if meta.get("algo") != "tac":
        raise checkpoint.CheckpointError(f"{run_dir} holds a {meta.get('algo')!r} run, not a tac run")
    if env is None:
        env, params = cli.make_env(meta["env"], meta.get("sizes") or (), meta.get("preset"))
    cfg = checkpoint.config_from_meta(meta["config"], Config)
    trainer = make_train(cfg, env, params)
    sweep = [k for k in meta["runs"][0] if k in TRACED]
    template = jax.eval_shape(jax.vmap(trainer.init), *run_keys_hp(meta["runs"], sweep))
    state, meta = checkpoint.load(run_dir, template)
    actor, critic = networks(cfg, env.n_channels)
    return TACRun(cfg, state, meta, actor, critic, float(params.min_ratio))


# ---- the trainer ------------------------------------------------------------------------------------
def make_train(cfg: Config, env, params) -> Trainer:
    if env.name not in ENVS:
        raise ValueError(f"tac runs on {', '.join(ENVS)} only, not {env.name}")
    transfer = cfg.transfer != "none"
    n, obs_dim, n_l = env.num_agents, env.obs_dim, env.n_channels
    min_ratio, ep_len, channels = float(params.min_ratio), int(params.episode_len), Channels.of(cfg)
    actor, critic = networks(cfg, n_l, "identity" if transfer else "softmax")
    central_actor = networks(cfg, n_l)[0]
    tx = optimizer(cfg)
    sizes = schedule(cfg, warmup_steps=cfg.warmup_steps)
    capacity = replay_capacity(cfg, sizes)
    E = cfg.num_envs
    vec = VecEnv(env)
    example = dict(obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
                   act=jax.ShapeDtypeStruct((n, n_l + 5), jnp.float32),
                   cost=jax.ShapeDtypeStruct((n, 2), jnp.float32))
    source = load_run(cfg.init_from, env, params) if transfer and cfg.init_from else None
    shared = ("d_model", "heads", "ffn", "enc_layers", "dec_layers", "critic_space", "channel_prior",
              "learn_channels")
    if source is not None and any(getattr(source.config, f) != getattr(cfg, f) for f in shared):
        raise ValueError(f"{cfg.init_from} was trained with another model; set the same {', '.join(shared)}")

    def fresh_networks(key):
        k_a, k_c = jax.random.split(key)
        feats, pos, mask = split_obs(jnp.zeros((1, n, obs_dim)))
        return (actor.init(k_a, feats, pos, mask),
                critic.init(k_c, jnp.zeros((1, n, N_FEATURES + n_l + 5)), pos, mask))

    def source_networks(key, k_net):
        """The TAC run's (actor, critic) of the same seed (matched by key), else its first run."""
        if source is None:
            return fresh_networks(k_net)
        seeds = jnp.stack([jax.random.PRNGKey(s) for s in source.seeds])
        hit = jnp.all(seeds == key, -1)
        idx = jnp.where(hit.any(), jnp.argmax(hit), 0)
        pick = lambda x: jnp.asarray(x)[idx]  # noqa: E731
        return jax.tree_util.tree_map(pick, source.state.actor), jax.tree_util.tree_map(pick, source.state.critic)

    def init(key, hp):
        k_net, k_env, k_run = jax.random.split(key, 3)
        actor_p, critic_p = source_networks(key, k_net) if transfer else fresh_networks(k_net)
        obs, env_state = vec.reset(jax.random.split(k_env, E), params)
        return TACState(actor=actor_p, critic=critic_p, teacher=actor_p,
                        actor_opt=tx(learning_rate=hp["lr_actor"]).init(actor_p),
                        critic_opt=None if transfer else tx(learning_rate=hp["lr_critic"]).init(critic_p),
                        buffer=replay.init(example, capacity), env_state=env_state, obs=obs, key=k_run,
                        step=jnp.zeros((), jnp.int32), hp=hp)

    def update(rs: TACState, key):
        b = replay.sample(rs.buffer, key, cfg.batch_size)
        hp, metrics = rs.hp, {}
        critic_p, critic_opt = rs.critic, rs.critic_opt
        if not transfer:  # eq. (18)
            c_loss, grads = jax.value_and_grad(lambda p: critic_loss(critic, p, b["obs"], b["act"], b["cost"], cfg.critic_space))(rs.critic)
            critic_p, critic_opt = _step(tx, rs.critic, rs.critic_opt, grads, hp["lr_critic"])
            metrics["critic_loss"] = c_loss
        if cfg.transfer == "mse":  # eq. (26)
            loss_fn = lambda p: (imitation_loss(actor, p, central_actor, rs.teacher, b["obs"], min_ratio, channels), 0.0)  # noqa: E731
        else:  # eqs. (19) / (22)
            loss_fn = lambda p: actor_loss(actor, critic, p, critic_p, b["obs"], hp["entropy_coef"], min_ratio,
                                               cfg.critic_space, channels)  # noqa: E731
        (a_loss, q_cost), grads = jax.value_and_grad(loss_fn, has_aux=True)(rs.actor)
        actor_p, actor_opt = _step(tx, rs.actor, rs.actor_opt, grads, hp["lr_actor"])
        metrics.update(actor_loss=a_loss, q_cost=jnp.asarray(q_cost, jnp.float32))
        return rs.replace(actor=actor_p, actor_opt=actor_opt, critic=critic_p, critic_opt=critic_opt), metrics

    def iteration(rs: TACState, i):
        del i
        key, k_act, k_step, k_upd = jax.random.split(rs.key, 4)
        episode = (rs.step // ep_len).astype(jnp.float32)
        var = jnp.maximum(rs.hp["noise_var"] * rs.hp["noise_decay"] ** episode, cfg.noise_min)
        var = jnp.where(rs.hp["noise_var"] > 0, var, 0.0)
        act = explore(k_act, policy_outputs(actor, rs.actor, rs.obs, min_ratio, channels), var, min_ratio)  # A6
        obs, env_state, reward, _, _, info = vec.step(jax.random.split(k_step, E), rs.env_state,
                                                      env_action(act, min_ratio), params)
        tr = dict(obs=rs.obs, act=act, cost=-info["vector_reward"])  # (17) with the sign flipped
        rs = rs.replace(buffer=replay.add(rs.buffer, tr), obs=obs, env_state=env_state, key=key)
        learning = rs.step >= sizes.warmup_iters
        rs, losses = gated_updates(learning, update, rs, jax.random.split(k_upd, cfg.updates_per_step))
        metrics = env_metrics(reward, info)
        metrics.update(losses, noise_var=var)
        return rs.replace(step=rs.step + 1), metrics

    def act(rs: TACState, obs):
        """Deterministic policy, one env (identity attention for the transfers: per-UE execution)."""
        return env_action(policy_outputs(actor, rs.actor, obs, min_ratio, channels), min_ratio)

    return make_trainer(init, iteration, act, cfg, hparams(cfg, TRACED), sizes, ReplaySpec(example, capacity))


def parameter_count(tree) -> int:
    return int(sum(np.size(x) for x in jax.tree_util.tree_leaves(tree)))

