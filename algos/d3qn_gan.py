"""FedD3QN-GAN (seed 001's learner, spec §5.6) and its three §5.8 baselines, one module with switches.

Per AP agent b (parameters stacked on the agent axis, every update vmapped over it):

* **Generator** ``G_b`` (§5.2, eqs. 9-10): state embedding ⊙ noise embedding (ReLU, 256), a hidden
  layer (256), a value branch 128 -> N = 30 particles and a dueling advantage branch 128 -> |A|
  (18,496 joint actions at the defaults), centred (A18): ``Q(o, a) = mean(particles) + A_a - mean A``.
  The greedy policy is ``argmax_a Q`` at fresh noise ``z ~ U(0,1)^10`` (A19, A36: ``z`` not tau).
* **Discriminator** ``D_b``: WGAN-GP critic over the raw particle vector (A43), 256-256-128-1.
* **One slot's update** (Algorithm 1 lines 15-23, §5.6): ``n_critic`` D steps on eq. 14 with the
  gradient penalty of eq. 15 (λ/2, real/fake interpolation, A16; γ in the real sample, A15), then
  one G step on eq. 12 with the sign fix A14 (``-E[D(P)] + E[½ ξ²]``) on a separately sampled
  minibatch; the target value is double-DQN (A17: online argmax at ``(o', z')``, the target
  generator's value at the same ``z'``) or ``max`` over the target's Q (Hua code).
* **Target generator**: hard copy every ``target_period`` G updates (eq. 13) or Polyak (A25).
* **Federated averaging** (eqs. 17-18): after every episode the main generators are replaced by
  their equal-weight mean (`algos.common.federated.fedavg`); targets, discriminators, Adam moments
  and replay stay local (A25, A26, A28, A29; options reset the target / the moments).

Variants (registered names, `VARIANTS`): ``fed_d3qn_gan`` (the paper's method: ``gan=True,
federated=True``), ``id3qn_gan`` (no aggregation), ``fed_d3qn`` (no GAN: the same trunk without the
noise branch, one value unit, ``½(Q - y)²`` with the double-DQN target, default Adam betas, §5.8)
and ``id3qn`` (neither). Same buffers, batch, γ, schedules and ε-greedy for all four (A20).

Cheap heads: the advantage layer (128 x 18,496 per agent) dominates. Acting and the double-DQN
argmax need every action's value; the TD term only needs the taken action's centred advantage
``(K[:, a] - mean_a K) · g + b_a - mean b`` (`Generator` with ``action``), which is exact and costs
O(128) per sample instead of O(128 |A|) (its gradient touches one column plus the mean).

Replay: one ring buffer whose transitions carry every agent's ``(o_b, a_b, r, o'_b)`` (A45); each
agent samples its own indices (per-agent keys), which is the same as B separate FIFO buffers.
Terminal handling A32: no done flags, always bootstrap (the env's episodes are truncations).

Gaps / deviations (docs/DEVIATIONS.md, seed 001): ε-greedy ``eps_end + (eps_start - eps_end)
exp(-n / eps_decay)`` over slots n (A20; ``eps_greedy=False`` is the literal Algorithm 1); warm-up
``warmup_steps`` = 2 episodes (A24); Adam β1 = 0.5 for G/D (A21); learning rates x ``lr_decay`` every
``lr_decay_episodes`` (§6.2). CPU-sized where marked in `Config`: ``num_envs`` parallel envs per
agent feed the buffer (the paper has one; every env of a slot shares the slot's update) and the run
is ``total_env_steps`` long (the paper trains 1,000 episodes).

Reproduces: seed 001 Figs. 3-6 (``benchmarks/reproduce/seed_001.py``).
"""

from __future__ import annotations

import dataclasses
import types
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from algos import cgan
from algos.common import federated, lazy_adam, replay
from algos.common.networks import MLP, init_per_agent, soft_update
from algos.common.training import (
    OffPolicyConfig, ReplaySpec, Trainer, check_positive_ints, env_metrics, gated_updates, hparams, make_trainer,
    replay_capacity, schedule, step_envs,
)

TRACED = ("lr", "lr_d", "gamma", "gp_lambda", "eps_start", "eps_end", "eps_decay", "tau")
ACTION_SPACES = ("discrete",)
TARGET_MODES = ("double", "max")
TABLE_ADAMS = ("lazy", "dense")
TARGET_UPDATES = ("hard", "soft")
G_LOSSES = ("combined", "separate")


@dataclasses.dataclass(frozen=True)
class Config(OffPolicyConfig):
    """FedD3QN-GAN. Spec §5.6 / Table 1 values unless marked CPU; every §9 item is a field."""

    total_env_steps: int = 48_000  # CPU: 60 episodes x 100 slots x 8 envs (spec: 1,000 episodes, 1 env)
    num_envs: int = 8  # CPU: parallel envs per agent feeding the buffer (spec: 1)
    chunk_size: int = 500  # iterations (slots) per compiled chunk: 5 episodes
    batch_size: int = 32  # K (Table 1)
    buffer_size: int = 50_000  # |M_b| (Table 1), per agent
    warmup_steps: int = 1_600  # T_update = 2 episodes x 100 slots x 8 envs (A24): no updates before
    max_grad_norm: float = 0.0  # 0: no clipping (the paper clips nothing)
    gan: bool = True  # False: D3QN (no noise branch, one value unit, no discriminator) (§5.8)
    federated: bool = True  # FedAvg of the main generators / Q-networks after every episode (eqs. 17-18)
    n_particles: int = 30  # N (Table 1)
    noise_dim: int = 10  # (Table 1)
    embed: int = 256  # D^G_1 (A30, Hua code)
    hidden: int = 256  # D^G_2
    head_hidden: int = 128  # D^G_3 = D^G_4
    disc_hidden: Sequence[int] = (256, 256, 128)  # D^D_1..3 (A30)
    value_relu: bool = False  # ReLU on the particles (Hua code); linear is the default (A30)
    adv_init_scale: float = 1.0  # scale of the advantage table's LeCun-normal init (not in the paper)
    sort_particles: bool = False  # sort the particles before D (non-faithful option, A43)
    lr: float = 1e-3  # eta_G (and the D3QN learning rate) (Table 1)
    lr_d: float = 1e-3  # eta_D (Table 1)
    lr_decay: float = 0.1  # x0.1 ...
    lr_decay_episodes: int = 300  # ... every 300 episodes (§6.2)
    gan_betas: Sequence[float] = (0.5, 0.999)  # Adam betas of G and D (A21); D3QN uses (0.9, 0.999)
    gamma: float = 0.8  # (Table 1)
    gp_lambda: float = 10.0  # λ of eq. 15 with the printed λ/2 (A31)
    gamma_in_real_sample: bool = True  # γ in eq. 14's real sample (A15)
    n_critic: int = 1  # D steps per G step (A22; Hua code 5)
    g_loss: str = "combined"  # eq. 12 as one loss, or Hua's two Adam steps (GAN term, TD term) (A23)
    target_mode: str = "double"  # a' of eq. 11: online argmax ("double") or "max" over the target (A17)
    target_update: str = "hard"  # hard copy every target_period G updates, or "soft" Polyak tau (A25)
    target_period: int = 10  # (Table 1)
    tau: float = 0.01  # soft-update rate (Hua code)
    reset_target_on_aggregate: bool = False  # A25 option: target <- aggregated generator
    reset_adam_on_aggregate: bool = False  # A26 option: fresh Adam moments every round
    common_init: bool = True  # all generators start from one broadcast initialisation (A27)
    table_adam: str = "lazy"  # CPU: Adam on the minibatch's advantage columns ("dense": every column)
    sequential_runs: bool = True  # CPU: seeds one after the other (a seed vmap of the table scatters is slow)
    eps_greedy: bool = True  # A20 (False: literal Algorithm 1, exploration from the noise only)
    eps_start: float = 1.0
    eps_end: float = 0.01
    eps_decay: float = 1_500.0  # CPU: slots (spec 3,000 env steps with one env; here 8 envs per slot)

    def __post_init__(self):
        super().__post_init__()
        check_positive_ints(self, ("n_particles", "noise_dim", "embed", "hidden", "head_hidden", "n_critic",
                                   "target_period", "lr_decay_episodes"))
        for name, value, valid in (("target_mode", self.target_mode, TARGET_MODES),
                                   ("target_update", self.target_update, TARGET_UPDATES),
                                   ("g_loss", self.g_loss, G_LOSSES),
                                   ("table_adam", self.table_adam, TABLE_ADAMS)):
            if value not in valid:
                raise ValueError(f"Config.{name} must be one of {valid}, got {value!r}")
        if len(tuple(self.gan_betas)) != 2:
            raise ValueError(f"Config.gan_betas must be two numbers, got {self.gan_betas!r}")


class Trunk(nn.Module):
    """The generator without its advantage table (§5.2, §10.3); ``noise=False``: the D3QN trunk (§5.8).

    ``__call__(obs, z) -> (particles [..., N], features [..., head_hidden + 1])``: the value
    branch's N particles and the advantage branch's hidden layer with a constant 1 appended, so the
    advantage layer is one table ``[head_hidden + 1, A]`` (kernel rows, then the bias row).
    """

    n_particles: int = 30
    embed: int = 256
    hidden: int = 256
    head_hidden: int = 128
    noise: bool = True
    value_relu: bool = False

    @nn.compact
    def __call__(self, obs, z=None):
        e = nn.relu(nn.Dense(self.embed)(obs))
        if self.noise:
            e = e * nn.relu(nn.Dense(self.embed)(z))  # Hadamard merge of the embeddings (§5.2)
        h = nn.relu(nn.Dense(self.hidden)(e))
        particles = MLP((self.head_hidden,), self.n_particles)(h)  # value branch: N particles
        if self.value_relu:
            particles = nn.relu(particles)
        g = nn.relu(nn.Dense(self.head_hidden)(h))
        return particles, jnp.concatenate([g, jnp.ones(g.shape[:-1] + (1,), g.dtype)], -1)


def init_table(key, head_hidden: int, n_actions: int, scale: float = 1.0):
    """The advantage layer ``[head_hidden + 1, A]``: LeCun-normal kernel rows (times ``scale``) and a
    zero bias row."""
    kernel = scale * nn.initializers.lecun_normal()(key, (head_hidden, n_actions))
    return jnp.concatenate([kernel, jnp.zeros((1, n_actions), kernel.dtype)])


def advantages(table, feat):
    """Every action's centred advantage ``[..., A]`` (eq. 9 centring, A18)."""
    adv = feat @ table
    return adv - adv.mean(-1, keepdims=True)


def advantage_of(cols, mean, feat):
    """The centred advantage of one action per sample from its table column ``cols [d + 1, K]`` and
    the mean column ``mean [d + 1]``: ``feat . (T[:, a] - mean_a T)`` (eq. 9, O(d) per sample)."""
    return jnp.einsum("kd,dk->k", feat, cols) - feat @ mean


def q_values(particles, adv):
    """Eq. 10: ``Q = mean(particles) + centred advantage`` (``adv`` of all actions or one)."""
    mean = particles.mean(-1)
    return (mean[..., None] if adv.ndim == particles.ndim else mean) + adv


def lr_schedule(base, episode, decay, every):
    """``base * decay ** floor(episode / every)`` (0-based episode; §6.2: x0.1 every 300 episodes)."""
    return base * jnp.asarray(decay, jnp.float32) ** jnp.floor(jnp.asarray(episode, jnp.float32) / every)


def epsilon(hp, slot):
    """A20: ``eps_end + (eps_start - eps_end) exp(-slot / eps_decay)``."""
    return hp["eps_end"] + (hp["eps_start"] - hp["eps_end"]) * jnp.exp(-slot / hp["eps_decay"])


@struct.dataclass
class Agents:
    """One run's learners, every leaf with a leading agent axis."""

    gen: dict
    gen_target: dict
    disc: dict  # {} without the GAN
    gen_opt: object
    disc_opt: object


@struct.dataclass
class TrainState:
    agents: Agents
    buffer: replay.Buffer
    env_state: object
    obs: jax.Array
    key: jax.Array
    step: jax.Array
    hp: dict


def adam(cfg: Config):
    """Adam (injected learning rate), GAN betas for G/D, default betas for D3QN (A21); optional clipping."""
    b1, b2 = (tuple(cfg.gan_betas) if cfg.gan else (0.9, 0.999))

    def build(learning_rate):
        opt = optax.adam(learning_rate, b1=b1, b2=b2)
        return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), opt) if cfg.max_grad_norm > 0 else opt

    return optax.inject_hyperparams(build)


def make_networks(cfg: Config):
    trunk = Trunk(cfg.n_particles if cfg.gan else 1, cfg.embed, cfg.hidden, cfg.head_hidden, noise=cfg.gan,
                  value_relu=cfg.value_relu)
    return trunk, MLP(tuple(cfg.disc_hidden), 1)


def make_parts(cfg: Config, trunk: Trunk, disc: MLP, tx_g, tx_d) -> types.SimpleNamespace:
    """One agent's losses and steps; ``.update`` is the slot update: ``n_critic`` D steps then one G
    step on fresh minibatches (§5.6). A generator's parameters are ``{"trunk": flax params,
    "table": [head_hidden + 1, A]}``."""

    def noise(key, n):
        return jax.random.uniform(key, (n, cfg.noise_dim)) if cfg.gan else None  # z ~ U(0,1)^10 (A19)

    def critic(dp, x):
        x = jnp.sort(x, -1) if cfg.sort_particles else x  # A43 option
        return disc.apply(dp, x)[..., 0]

    def d_loss(dp, gp, gtp, b, key, hp):
        """Eqs. 14-15: ``E D(fake) - E D(real) + λ/2 E(||∇D(ψ)|| - 1)^2``, samples under stop-gradient."""
        k_z, k_z2, k_eps = jax.random.split(key, 3)
        k = b["reward"].shape[0]
        fake, _ = trunk.apply(gp["trunk"], b["obs"], noise(k_z, k))
        nxt, _ = trunk.apply(gtp["trunk"], b["next_obs"], noise(k_z2, k))
        g_real = hp["gamma"] if cfg.gamma_in_real_sample else 1.0  # A15
        real = jax.lax.stop_gradient(b["reward"][:, None] + g_real * nxt)
        fake = jax.lax.stop_gradient(fake)
        eps = jax.random.uniform(k_eps, (k,))
        gp_term = 0.5 * hp["gp_lambda"] * cgan.gradient_penalty(lambda x: critic(dp, x), real, fake, eps)  # eq. 15
        return cgan.wasserstein_d_loss(critic(dp, real), critic(dp, fake)) + gp_term

    def td_target(gp, gtp, b, key, hp):
        """Eq. 11: ``r + γ (mean P̂(o', z') + Â_{a'}(o', z'))``; a' from the online net at the same z'
        (A17 "double") or the max over the target's Q ("max")."""
        z2 = noise(key, b["reward"].shape[0])
        particles, feat = trunk.apply(gtp["trunk"], b["next_obs"], z2)
        if cfg.target_mode == "double":
            on_particles, on_feat = trunk.apply(gp["trunk"], b["next_obs"], z2)
            best = jnp.argmax(advantages(gp["table"], on_feat), -1)  # argmax Q = argmax of the advantage
            table = gtp["table"]
            q_next = q_values(particles, advantage_of(table[:, best], table.mean(1), feat))
        else:
            q_next = q_values(particles, advantages(gtp["table"], feat)).max(-1)
        return jax.lax.stop_gradient(b["reward"] + hp["gamma"] * q_next)

    def g_loss(trunk_p, cols, mean, dp, b, z, y, weights):
        """Eq. 12 (A14 sign): ``w_adv (-E D(P)) + w_td E ½ (Q - y)^2`` with Q of the taken actions."""
        particles, feat = trunk.apply(trunk_p, b["obs"], z)
        td = 0.5 * jnp.mean((q_values(particles, advantage_of(cols, mean, feat)) - y) ** 2)
        adv_term = cgan.wasserstein_g_loss(critic(dp, particles)) if cfg.gan else jnp.zeros(())
        return weights[0] * adv_term + weights[1] * td, (adv_term, td)

    def step(tx, lr, grads, opt, params):
        # inject_hyperparams reads the rate from its state: write this episode's scheduled rate there
        opt = opt._replace(hyperparams={**opt.hyperparams, "learning_rate": jnp.asarray(lr, jnp.float32)})
        upd, opt = tx(learning_rate=lr).update(grads, opt, params)
        return optax.apply_updates(params, upd), opt

    b1, b2 = tuple(cfg.gan_betas) if cfg.gan else (0.9, 0.999)

    def g_step(gp, opt, dp, b, z, y, lr, weights):
        a = b["action"]
        if cfg.table_adam == "dense":  # the faithful dense Adam over the whole generator
            def loss(p):
                return g_loss(p["trunk"], p["table"][:, a], p["table"].mean(1), dp, b, z, y, weights)

            (_, terms), grads = jax.value_and_grad(loss, has_aux=True)(gp)
            gp, opt = step(tx_g, lr, grads, opt, gp)
            return gp, opt, terms
        # lazy: dense Adam on the trunk, Adam on the minibatch's table columns only (algos.common.lazy_adam)
        cols, mean = gp["table"][:, a], jax.lax.stop_gradient(gp["table"].mean(1))
        (_, terms), (g_trunk, g_cols) = jax.value_and_grad(g_loss, argnums=(0, 1), has_aux=True)(
            gp["trunk"], cols, mean, dp, b, z, y, weights)
        trunk_p, trunk_opt = step(tx_g, lr, g_trunk, opt["trunk"], gp["trunk"])
        table, table_opt = lazy_adam.update(gp["table"], opt["table"], a, g_cols, lr, b1, b2)
        return {"trunk": trunk_p, "table": table}, {"trunk": trunk_opt, "table": table_opt}, terms

    def update(ag: Agents, buf, key, hp, lr_g, lr_d):
        k_d, k_g = jax.random.split(key)
        metrics = {}
        if cfg.gan:
            def d_step(carry, k):
                dp, opt = carry
                k_b, k_l = jax.random.split(k)
                b = replay.sample(buf, k_b, cfg.batch_size)
                loss, grads = jax.value_and_grad(d_loss)(dp, ag.gen, ag.gen_target, b, k_l, hp)
                return step(tx_d, lr_d, grads, opt, dp), loss

            (dp, d_opt), d_losses = jax.lax.scan(d_step, (ag.disc, ag.disc_opt), jax.random.split(k_d, cfg.n_critic))
            ag = ag.replace(disc=dp, disc_opt=d_opt)
            metrics["d_loss"] = d_losses.mean()
        k_b, k_y, k_z = jax.random.split(k_g, 3)
        b = replay.sample(buf, k_b, cfg.batch_size)  # a separately sampled minibatch (§4.3)
        y = td_target(ag.gen, ag.gen_target, b, k_y, hp)
        z = noise(k_z, cfg.batch_size)
        if cfg.g_loss == "combined" or not cfg.gan:
            gp, opt, (adv_term, td) = g_step(ag.gen, ag.gen_opt, ag.disc, b, z, y, lr_g, (1.0, 1.0))
        else:  # A23: Hua's two Adam steps, the GAN term then the TD term
            gp, opt, (adv_term, _) = g_step(ag.gen, ag.gen_opt, ag.disc, b, z, y, lr_g, (1.0, 0.0))
            gp, opt, (_, td) = g_step(gp, opt, ag.disc, b, z, y, lr_g, (0.0, 1.0))
        metrics.update(td_loss=td, g_adv=adv_term, q_target=y.mean())
        return ag.replace(gen=gp, gen_opt=opt), metrics

    return types.SimpleNamespace(noise=noise, d_loss=d_loss, td_target=td_target, g_loss=g_loss, g_step=g_step,
                                 update=update)


def make_train(cfg: Config, env, params) -> Trainer:
    space = env.action_space(params)
    n, obs_dim = env.num_agents, env.observation_space(params).shape[-1]
    if tuple(space.shape) != (n,):
        raise ValueError(f"{type(env).__name__}: d3qn_gan needs one Discrete action per agent, got {space}")
    n_actions, E = space.n, cfg.num_envs
    T = int(params.episode_len) if hasattr(params, "episode_len") else 100
    sizes = schedule(cfg, warmup_steps=cfg.warmup_steps)
    capacity = replay_capacity(cfg, sizes)
    trunk, disc = make_networks(cfg)
    tx_g, tx_d = adam(cfg), adam(cfg)
    update = make_parts(cfg, trunk, disc, tx_g, tx_d).update
    example = dict(obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
                   action=jax.ShapeDtypeStruct((n,), jnp.int32),
                   reward=jax.ShapeDtypeStruct((n,), jnp.float32),
                   next_obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32))
    z0 = jnp.zeros((cfg.noise_dim,)) if cfg.gan else None

    def q_all(gp, obs, z):
        """One agent's Q of every action, eq. 10: ``[..., A]``."""
        particles, feat = trunk.apply(gp["trunk"], obs, z)
        return q_values(particles, advantages(gp["table"], feat))

    def greedy(gp, obs, key):
        """``argmax_a Q`` per agent (obs ``[..., n, d]``, fresh noise per env and agent)."""
        z = jax.random.uniform(key, obs.shape[:-1] + (cfg.noise_dim,)) if cfg.gan else None
        apply = jax.vmap(q_all, in_axes=(0, -2, -2 if cfg.gan else None), out_axes=obs.ndim - 2)
        return jnp.argmax(apply(gp, obs, z), -1).astype(jnp.int32)

    def init_gen(key):
        k_t, k_a = jax.random.split(key)
        return {"trunk": trunk.init(k_t, jnp.zeros((obs_dim,)), z0),
                "table": init_table(k_a, cfg.head_hidden, n_actions, cfg.adv_init_scale)}

    def init_gen_opt(gp, lr):
        if cfg.table_adam == "dense":
            return tx_g(learning_rate=lr).init(gp)
        return {"trunk": tx_g(learning_rate=lr).init(gp["trunk"]), "table": lazy_adam.init(gp["table"])}

    def init(key, hp):
        k_g, k_d, k_env, key = jax.random.split(key, 4)
        g_keys = jnp.broadcast_to(k_g, (n, 2)) if cfg.common_init else jax.random.split(k_g, n)  # A27
        gp = jax.vmap(init_gen)(g_keys)
        dp = init_per_agent(disc, jax.random.split(k_d, n), jnp.zeros((cfg.n_particles,))) if cfg.gan else {}
        ag = Agents(gen=gp, gen_target=gp, disc=dp, gen_opt=jax.vmap(lambda p: init_gen_opt(p, hp["lr"]))(gp),
                    disc_opt=jax.vmap(tx_d(learning_rate=hp["lr_d"]).init)(dp) if cfg.gan else {})
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, E), params)
        return TrainState(agents=ag, buffer=replay.init(example, capacity), env_state=env_state, obs=obs, key=key,
                          step=jnp.zeros((), jnp.int32), hp=hp)

    def learn(rs: TrainState, key, lr_g, lr_d):
        """Every agent's slot update on its own minibatches (vmapped over the agent axis)."""
        axes = replay.Buffer(data=1, ptr=None, size=None)  # each agent samples its own indices (A45)
        ag, metrics = jax.vmap(update, in_axes=(0, axes, 0, None, None, None))(
            rs.agents, rs.buffer, jax.random.split(key, n), rs.hp, lr_g, lr_d)
        return rs.replace(agents=ag), jax.tree_util.tree_map(jnp.mean, metrics)

    def sync(ag: Agents, i, tau):
        """Target update after G update ``i`` (eq. 13 hard copy / A25 soft) and FedAvg at episode ends."""
        ups = cfg.updates_per_step
        k = (i - sizes.warmup_iters + 1) * ups  # G updates done (updates_per_step per learning slot)
        if cfg.target_update == "soft":
            target = soft_update(ag.gen_target, ag.gen, tau)
        else:
            crossed = k // cfg.target_period > (k - ups) // cfg.target_period  # a multiple of the period
            target = jax.lax.cond((i >= sizes.warmup_iters) & crossed, lambda: ag.gen, lambda: ag.gen_target)
        ag = ag.replace(gen_target=target)
        if not cfg.federated:
            return ag

        def aggregate(ag):
            gp = federated.fedavg(ag.gen)  # eqs. 17-18
            ag = ag.replace(gen=gp)
            if cfg.reset_target_on_aggregate:
                ag = ag.replace(gen_target=gp)
            if cfg.reset_adam_on_aggregate:
                ag = ag.replace(gen_opt=jax.vmap(lambda p: init_gen_opt(p, 0.0))(gp))  # rate set at the next step
            return ag

        return jax.lax.cond((i + 1) % T == 0, aggregate, lambda a: a, ag)

    def iteration(rs: TrainState, i):
        key, k_act, k_eps, k_rand, k_step, k_upd = jax.random.split(rs.key, 6)
        hp = rs.hp
        eps = epsilon(hp, i.astype(jnp.float32)) if cfg.eps_greedy else jnp.zeros(())
        action = greedy(rs.agents.gen, rs.obs, k_act)  # [E, n]
        explore = jax.random.uniform(k_eps, action.shape) < eps
        action = jnp.where(explore, jax.random.randint(k_rand, action.shape, 0, n_actions), action)
        obs, env_state, reward, _, _, info, _ = step_envs(env, jax.random.split(k_step, E), rs.env_state, action,
                                                          params)
        tr = dict(obs=rs.obs, action=action, reward=reward, next_obs=info["final_observation"])  # no dones (A32)
        rs = rs.replace(buffer=replay.add(rs.buffer, tr), obs=obs, env_state=env_state, key=key)
        episode = i // T
        lr_g = lr_schedule(hp["lr"], episode, cfg.lr_decay, cfg.lr_decay_episodes)
        lr_d = lr_schedule(hp["lr_d"], episode, cfg.lr_decay, cfg.lr_decay_episodes)
        learning = i >= sizes.warmup_iters
        rs, losses = gated_updates(learning, lambda r, k: learn(r, k, lr_g, lr_d), rs,
                                   jax.random.split(k_upd, cfg.updates_per_step))
        rs = rs.replace(agents=sync(rs.agents, i, hp["tau"]), step=rs.step + 1)
        metrics = env_metrics(reward, info)
        metrics.update(losses, epsilon=eps, lr=lr_g)
        return rs, metrics

    def act(rs: TrainState, obs):
        """The deterministic policy: argmax of Q at fresh noise (a fixed key per call: reproducible)."""
        return greedy(rs.agents.gen, obs, jax.random.PRNGKey(0))

    return make_trainer(init, iteration, act, cfg, hparams(cfg, TRACED), sizes, ReplaySpec(example, capacity))


def _variant(name: str, doc: str, **defaults):
    fields = [(k, type(v), dataclasses.field(default=v)) for k, v in defaults.items()]
    cls = dataclasses.make_dataclass(name, fields, bases=(Config,), frozen=True)
    cls.__doc__ = doc
    cls.__module__ = __name__
    return cls


ID3QNGANConfig = _variant("ID3QNGANConfig", "ID3QN-GAN (§5.8): no aggregation.", federated=False)
FedD3QNConfig = _variant("FedD3QNConfig", "FedD3QN (§5.8): D3QN without the GAN, FedAvg of the Q-nets.", gan=False)
ID3QNConfig = _variant("ID3QNConfig", "ID3QN (§5.8): independent D3QNs.", gan=False, federated=False)


def _registered(config_cls):
    return types.SimpleNamespace(Config=config_cls, make_train=make_train, TRACED=TRACED,
                                 ACTION_SPACES=ACTION_SPACES, __doc__=config_cls.__doc__, module=__name__)


VARIANTS = {"fed_d3qn_gan": _registered(Config), "id3qn_gan": _registered(ID3QNGANConfig),
            "fed_d3qn": _registered(FedD3QNConfig), "id3qn": _registered(ID3QNConfig)}
