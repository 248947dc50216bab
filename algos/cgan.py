"""Conditional StyleGAN digital twin of seed 000 (spec §5.2–§5.4): generator, critic, four losses.

One model serves two kinds of data, chosen by the shape of one sample (``x_example`` of `init`):

* **images** ``x: float32[H, W, C]`` in [-1, 1] (sklearn digits 8x8 in the benchmark): 2-D convs,
  learned constant ``H/4 x W/4`` -> up x2 -> up x2, conv1x1 -> tanh output;
* **vectors** ``x: float32[dim]`` (RL experience features): the "spatial" axis is a token axis,
  learned constant of 4 tokens -> up x2 -> up x2 (16 tokens), 1-D convs, flatten -> linear output.

The condition is one sample's ``c: float32[c_dim]`` (a one-hot label or a continuous vector; embedded
into ``c_tokens`` tokens by a linear map) or ``float32[m_c, f]`` (pre-tokenised, e.g. one token per task
and per server; each token projected to the model width).

Pure functional API, jit / vmap / scan friendly (the configuration is static: a frozen dataclass
carried as a non-pytree field of `GANParams`):

    state = init(key, cfg, x_example, c_example)          # GANState: params + optimiser states
    state = fit_aux(state, key, x_all, c_all, steps, batch)   # labels: train and freeze C first
    state, metrics = train_step(state, key, x_batch, c_batch) # n_critic D steps + 1 G step (+ C step)
    x_fake = generate(state.params, key, c_batch)

Losses (``GANConfig.loss``): ``"minimax"`` (eq. 15), ``"wgan"`` (eq. 16, clipping), ``"wgan_gp"``
(eqs. 17-18) and ``"cwgan_gp"`` (eqs. 17-19, the paper's conditional WGAN-GP). All four are
class/condition-conditioned; they differ only in the loss and (for WGAN) the optimiser (A28).

Deviations from the paper, and gaps filled (spec §8.4):

* **Sign of eq. 19 fixed (A26):** ``L_G = -E[D(G(z,c),c)] + rho_CE L_CE``; the printed ``+E[D]``
  would make the generator minimise the score the critic of eq. 17 gives to real data.
* **Gradient penalty on interpolates (A25):** eq. 18 is written over generated samples; we use the
  text's interpolates ``x_bar = eps x + (1 - eps) x_hat``, ``eps ~ U[0, 1]`` per sample, same ``c``,
  gradient with respect to ``x_bar`` only (never ``c``). ``rho_GP = 10``.
* **Eq. 15:** the fake term uses ``D(G(z,c), c)`` (the printed second ``D`` has no condition); the
  generator uses the non-saturating loss ``-log D(G(z,c),c)`` (A24). D outputs a logit.
* **WGAN (eq. 16):** weight clipping to +-0.01 of every critic parameter, RMSProp(5e-5) for both
  networks, ``n_critic = 5`` (original WGAN settings, A28).
* **What C is (A27):** ``consistency="ce"`` (labels): a small CNN / MLP classifier trained on real
  data with `fit_aux` and then frozen; ``L_CE`` = softmax cross-entropy against ``c``.
  ``consistency="mse"`` (continuous conditions): a regression net trained on real ``(x, c)`` inside
  every `train_step`; ``L_cons = mean_j (C(x_hat)_j - c_j)^2`` (the squared norm of the spec divided
  by ``dim(c)``, so ``rho_CE`` does not scale with the condition size). C is only used by
  ``cwgan_gp``; "wgan_gp" is the same model with ``rho_CE = 0``.
* **Sizes (CPU):** ``z_dim`` 32, style width 64, token/channel width 32, 2 base-mapping layers,
  4 z-tokens and 4 condition tokens, 1 cross-attention block, 1 transformer layer in G and in D,
  4 heads (spec: 8 x 256 mapping layers, 2 blocks, 2 layers, widths 64-256). No noise injection.
* **Critic batches:** the ``n_critic`` critic steps of one `train_step` reuse the caller's real batch
  with fresh ``z`` and ``eps`` (pass a larger batch for more real samples per step).
* **Optimiser:** Adam(1e-4, b1=0, b2=0.9) for every variant but WGAN (spec §5.4); the learning rates
  are injected hyperparameters (``opt_state.hyperparams["learning_rate"]``) so they can be traced.
* Not implemented: discrete output heads with straight-through Gumbel for one-hot parts of RL
  vectors (spec §5.2 iii), a learnable style balance lambda, ``gp_on="fake"``, the saturating
  minimax option.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from algos.common.networks import Conv, ConditionTokens, CrossAttentionBlock, SelfAttentionStack, TransformerLayer, upsample

LOSSES = ("minimax", "wgan", "wgan_gp", "cwgan_gp")
CONSISTENCY = ("ce", "mse")


@dataclasses.dataclass(frozen=True)
class GANConfig:
    """Static configuration (hashable). Spec §8.9 defaults unless marked CPU."""

    loss: str = "cwgan_gp"  # one of LOSSES
    consistency: str = "mse"  # "ce" (label c, frozen C) or "mse" (continuous c, C trained online)
    z_dim: int = 32
    w_dim: int = 64  # CPU (spec: 256 images / 128 vectors)
    width: int = 32  # channels of G/D convs and token width of every attention block; CPU (spec 64)
    map_layers: int = 2  # base mapping MLP depth; CPU (spec: 8 images / 4 vectors)
    z_tokens: int = 4  # z is split into this many tokens (queries of the mapping cross-attention)
    c_tokens: int = 4  # a flat condition is embedded into this many tokens
    cross_blocks: int = 1  # L_m cross-attention blocks of the mapping net; CPU (spec 2)
    g_layers: int = 1  # transformer layers of the synthesis net; CPU (spec 2)
    d_layers: int = 1  # transformer layers of the discriminator; CPU (spec 2)
    heads: int = 4
    upsamples: int = 2  # x2 upsamplings of the synthesis net (8x8 images: 2x2 -> 8x8)
    vector_tokens: int = 4  # learned-constant tokens for vector data (16 after 2 upsamplings)
    attn_positions: int = 16  # G's transformer runs at the last resolution with at most this many positions
    style_mix: float = 0.5  # lambda of eq. 13
    rho_gp: float = 10.0  # eq. 17
    rho_ce: float = 1.0  # eq. 19 (cwgan_gp only)
    n_critic: int = 5
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    lr_aux: float = 1e-3
    adam_b1: float = 0.0
    adam_b2: float = 0.9
    lr_wgan: float = 5e-5  # RMSProp for both networks under loss="wgan"
    clip: float = 0.01  # WGAN weight clipping
    # Filled by `init` from the examples: the shape of one sample and of one condition.
    x_shape: tuple[int, ...] = ()
    c_shape: tuple[int, ...] = ()

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r}: choose one of {LOSSES}")
        if self.consistency not in CONSISTENCY:
            raise ValueError(f"consistency={self.consistency!r}: choose one of {CONSISTENCY}")
        if self.z_dim % self.z_tokens:
            raise ValueError(f"z_dim={self.z_dim} must be a multiple of z_tokens={self.z_tokens}")
        if self.width % self.heads:
            raise ValueError(f"width={self.width} must be a multiple of heads={self.heads}")
        if self.n_critic < 1:
            raise ValueError(f"n_critic={self.n_critic} must be >= 1")
        if self.x_shape and len(self.x_shape) not in (1, 3):
            raise ValueError(f"x_shape={self.x_shape}: one sample is float[dim] or an image float[H, W, C]")
        if len(self.x_shape) == 3 and any(s % 2**self.upsamples for s in self.x_shape[:2]):
            raise ValueError(f"image size {self.x_shape[:2]} must be divisible by 2**upsamples={2**self.upsamples}")
        if self.c_shape and len(self.c_shape) not in (1, 2):
            raise ValueError(f"c_shape={self.c_shape}: one condition is float[c_dim] or tokens float[m_c, f]")

    @property
    def is_image(self) -> bool:
        return len(self.x_shape) == 3

    @property
    def c_dim(self) -> int:
        return math.prod(self.c_shape)


# ---- building blocks (attention, transformer layers and patch convolutions: algos.common.networks) ----


def leaky_relu(x):
    return nn.leaky_relu(x, 0.2)


def adain(features, scale, bias, eps: float = 1e-5):
    """Eq. 14: ``scale * (F - mu(F)) / sigma(F) + bias``, statistics per sample and channel over the
    positions (A23); ``features [B, *positions, C]``, ``scale, bias [B, C]``."""
    axes = tuple(range(1, features.ndim - 1))
    mean = features.mean(axes, keepdims=True)
    sigma = jnp.sqrt(features.var(axes, keepdims=True) + eps)
    expand = (slice(None),) + (None,) * len(axes) + (slice(None),)
    return scale[expand] * (features - mean) / sigma + bias[expand]


class AdaIN(nn.Module):
    """Eq. 14 with learned affine maps ``alpha(w), beta(w)`` (alpha's bias starts at 1)."""

    @nn.compact
    def __call__(self, features, w):
        channels = features.shape[-1]
        scale = nn.Dense(channels, bias_init=nn.initializers.ones, name="alpha")(w)
        bias = nn.Dense(channels, name="beta")(w)
        return adain(features, scale, bias)


# ---- generator (§5.2) and discriminator (§5.3) -----------------------------------------------


class MappingNetwork(nn.Module):
    """Conditional style mapping (§5.2 i): base ``MLP(z) -> w``, condition branch ``w^c`` from
    z-tokens cross-attending to condition tokens, and the residual style mix of eq. 13."""

    cfg: GANConfig

    @nn.compact
    def __call__(self, z, c):
        cfg = self.cfg
        w = z
        for _ in range(cfg.map_layers):
            w = leaky_relu(nn.Dense(cfg.w_dim)(w))
        queries = nn.Dense(cfg.width)(z.reshape(z.shape[0], cfg.z_tokens, -1))
        queries = queries + self.param("z_pos", nn.initializers.normal(0.02), queries.shape[1:])
        context = ConditionTokens(cfg.c_tokens, cfg.width)(c)
        for _ in range(cfg.cross_blocks):
            queries = CrossAttentionBlock(cfg.heads)(queries, context)
        w_c = nn.Dense(cfg.w_dim)(nn.LayerNorm()(queries).mean(1))
        return style_mix(w, w_c, cfg.style_mix)


def style_mix(w, w_c, lam):
    """Eq. 13: ``w_tilde = (1 - lam) w + lam w^c``."""
    return (1.0 - lam) * w + lam * w_c


class Generator(nn.Module):
    """``G(z, c)`` (§5.2): mapping (eq. 13) -> learned constant -> [conv -> AdaIN (eq. 14) -> LReLU]
    with x2 upsampling, a transformer encoder over the positions of one block -> output layer."""

    cfg: GANConfig

    @nn.compact
    def __call__(self, z, c):
        cfg = self.cfg
        w = MappingNetwork(cfg, name="mapping")(z, c)
        start = tuple(s // 2**cfg.upsamples for s in cfg.x_shape[:2]) if cfg.is_image else (cfg.vector_tokens,)
        const = self.param("const", nn.initializers.normal(1.0), (*start, cfg.width))
        h = jnp.broadcast_to(const, (z.shape[0], *const.shape))
        for block in range(cfg.upsamples + 1):
            if block:
                h = upsample(h)
            h = leaky_relu(AdaIN()(Conv(cfg.width)(h), w))
            if block == attention_block(cfg):
                h = SelfAttentionStack(cfg.g_layers, cfg.heads)(h)
        if cfg.is_image:
            return jnp.tanh(Conv(cfg.x_shape[-1], kernel=1, name="to_image")(h))
        return nn.Dense(cfg.x_shape[0], name="to_vector")(h.reshape(h.shape[0], -1))


def attention_block(cfg: GANConfig) -> int:
    """The synthesis block after which G's transformer runs: the last one with at most
    ``cfg.attn_positions`` positions (the first block if none): 16 tokens for vectors, 4x4 for 8x8
    images (the spec's "before the last upsampling" option; attention over all 64 pixels costs 3x)."""
    start = math.prod(s // 2**cfg.upsamples for s in cfg.x_shape[:2]) if cfg.is_image else cfg.vector_tokens
    growth = 4 if cfg.is_image else 2
    fits = [b for b in range(cfg.upsamples + 1) if start * growth**b <= cfg.attn_positions]
    return max(fits, default=0)


class Discriminator(nn.Module):
    """``D(x, c)`` (§5.3): conv features -> cross-attention fusion with the condition tokens (queries
    = feature positions) -> transformer encoder -> mean-pool -> Linear(1). No BatchNorm (per-sample
    gradient penalty); returns a logit (minimax) or an unbounded critic score (WGAN variants)."""

    cfg: GANConfig

    @nn.compact
    def __call__(self, x, c):
        cfg = self.cfg
        if cfg.is_image:
            h = leaky_relu(Conv(cfg.width)(x))
            h = leaky_relu(Conv(2 * cfg.width, stride=2)(h))
        else:  # tokenise the vector, then 1-D convs over the token axis
            n = cfg.vector_tokens * 2**cfg.upsamples
            h = nn.Dense(n * cfg.width)(x).reshape(x.shape[0], n, cfg.width)
            h = leaky_relu(Conv(cfg.width)(leaky_relu(h)))
            h = leaky_relu(Conv(2 * cfg.width, stride=2)(h))
        tokens = nn.Dense(cfg.width)(h.reshape(h.shape[0], -1, h.shape[-1]))
        tokens = tokens + self.param("pos", nn.initializers.normal(0.02), tokens.shape[1:])
        context = ConditionTokens(cfg.c_tokens, cfg.width)(c)
        tokens = CrossAttentionBlock(cfg.heads)(tokens, context)
        for _ in range(cfg.d_layers):
            tokens = TransformerLayer(cfg.heads)(tokens)
        return nn.Dense(1)(nn.LayerNorm()(tokens).mean(1))[:, 0]


class AuxNet(nn.Module):
    """``C`` of eq. 19 (A27): predicts the flattened condition from a sample: class logits
    (``consistency="ce"``) or a regression of ``c`` (``"mse"``). Small CNN for images, MLP for vectors."""

    cfg: GANConfig

    @nn.compact
    def __call__(self, x):
        cfg = self.cfg
        if cfg.is_image:
            h = nn.relu(Conv(cfg.width)(x))
            h = nn.relu(Conv(2 * cfg.width, stride=2)(h))
            h = h.reshape(h.shape[0], -1)
        else:
            h = nn.relu(nn.Dense(4 * cfg.width)(x))
        return nn.Dense(cfg.c_dim)(nn.relu(nn.Dense(4 * cfg.width)(h)))


# ---- losses (§5.4) ---------------------------------------------------------------------------


def minimax_d_loss(real_logits, fake_logits):
    """Eq. 15 for D (to minimise): ``-log D(x,c) - log(1 - D(G(z,c),c))`` with ``D = sigmoid(logit)``."""
    return jax.nn.softplus(-real_logits).mean() + jax.nn.softplus(fake_logits).mean()


def minimax_g_loss(fake_logits):
    """Eq. 15 for G, non-saturating form (A24): ``-log D(G(z,c),c)``."""
    return jax.nn.softplus(-fake_logits).mean()


def wasserstein_d_loss(real_scores, fake_scores):
    """Eqs. 16-17 for D (to minimise): ``E[D(x_hat,c)] - E[D(x,c)]``."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_g_loss(fake_scores):
    """Eq. 19's adversarial term with the corrected sign (A26): ``-E[D(G(z,c),c)]``."""
    return -fake_scores.mean()


def gradient_penalty(critic, x_real, x_fake, eps):
    """Eq. 18 on interpolates (A25): ``E[(||grad_x_bar D(x_bar, c)||_2 - 1)^2]``,
    ``x_bar = eps x + (1 - eps) x_hat`` with one ``eps`` per sample.

    ``critic`` maps a batch of samples to a batch of scores with the condition already bound, so the
    gradient is taken with respect to ``x_bar`` only. The per-sample gradients come from one
    ``grad`` of the summed scores, valid because no layer of D mixes samples (no BatchNorm)."""
    eps = eps.reshape((-1,) + (1,) * (x_real.ndim - 1))
    x_bar = eps * x_real + (1.0 - eps) * x_fake
    grads = jax.grad(lambda xb: critic(xb).sum())(x_bar)
    norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=-1) + 1e-12)
    return jnp.mean((norms - 1.0) ** 2)


def consistency_loss(prediction, c, kind: str):
    """Eq. 19's ``L_CE(C(x_hat), c)`` (``kind="ce"``: softmax cross-entropy against the one-hot /
    probability vector ``c``) or the continuous consistency regression (``"mse"``, A27)."""
    target = c.reshape(c.shape[0], -1)
    if kind == "ce":
        return optax.softmax_cross_entropy(prediction, target).mean()
    return jnp.mean((prediction - target) ** 2)


def clip_weights(params, clip: float):
    """WGAN weight clipping (eq. 16 baseline, A28): every parameter into ``[-clip, clip]``."""
    return jax.tree_util.tree_map(lambda p: jnp.clip(p, -clip, clip), params)


# ---- state and functional training API -------------------------------------------------------


@struct.dataclass
class GANParams:
    """Parameters of G, D and C (eq. 19's auxiliary net); ``cfg`` is static (part of the treedef)."""

    generator: Any
    discriminator: Any
    aux: Any
    cfg: GANConfig = struct.field(pytree_node=False)


@struct.dataclass
class GANState:
    """Everything `train_step` updates: parameters, the three optimiser states and a step counter."""

    params: GANParams
    opt_g: Any
    opt_d: Any
    opt_aux: Any
    step: jax.Array

    @property
    def cfg(self) -> GANConfig:
        return self.params.cfg


def optimizers(cfg: GANConfig):
    """(G, D, C) optimisers: Adam(b1, b2) or, for ``loss="wgan"``, RMSProp(5e-5) for G and D (A28).
    Learning rates are injected hyperparameters (traced, in the optimiser state)."""
    if cfg.loss == "wgan":
        rms = optax.inject_hyperparams(optax.rmsprop)(learning_rate=cfg.lr_wgan, decay=0.99)
        tx_g = tx_d = rms
    else:
        adam = optax.inject_hyperparams(optax.adam)
        tx_g = adam(learning_rate=cfg.lr_g, b1=cfg.adam_b1, b2=cfg.adam_b2)
        tx_d = adam(learning_rate=cfg.lr_d, b1=cfg.adam_b1, b2=cfg.adam_b2)
    tx_aux = optax.inject_hyperparams(optax.adam)(learning_rate=cfg.lr_aux)
    return tx_g, tx_d, tx_aux


def init(key, cfg: GANConfig, x_example, c_example) -> GANState:
    """Parameters and optimiser states for samples shaped like ``x_example`` (one sample: ``[dim]`` or
    ``[H, W, C]``) and conditions shaped like ``c_example`` (one condition: ``[c_dim]`` or ``[m_c, f]``)."""
    cfg = dataclasses.replace(cfg, x_shape=tuple(jnp.shape(x_example)), c_shape=tuple(jnp.shape(c_example)))
    k_g, k_d, k_aux = jax.random.split(key, 3)
    x = jnp.zeros((1, *cfg.x_shape), jnp.float32)
    c = jnp.zeros((1, *cfg.c_shape), jnp.float32)
    z = jnp.zeros((1, cfg.z_dim), jnp.float32)
    params_d = Discriminator(cfg).init(k_d, x, c)
    if cfg.loss == "wgan":
        params_d = clip_weights(params_d, cfg.clip)
    params = GANParams(Generator(cfg).init(k_g, z, c), params_d, AuxNet(cfg).init(k_aux, x), cfg)
    tx_g, tx_d, tx_aux = optimizers(cfg)
    return GANState(params, tx_g.init(params.generator), tx_d.init(params.discriminator),
                    tx_aux.init(params.aux), jnp.zeros((), jnp.int32))


def sample_latent(key, batch: int, cfg: GANConfig):
    """``z ~ N(0, I)`` of eq. 15-19."""
    return jax.random.normal(key, (batch, cfg.z_dim), jnp.float32)


def generate(params: GANParams, key, c):
    """``x_hat = G(z, c)`` with fresh ``z`` for a batch of conditions ``c [B, *c_shape]`` (§5.2)."""
    z = sample_latent(key, c.shape[0], params.cfg)
    return Generator(params.cfg).apply(params.generator, z, c)


def critic(params: GANParams, x, c):
    """``D(x, c)`` scores ``[B]`` (§5.3): logits for minimax, critic values for the WGAN variants."""
    return Discriminator(params.cfg).apply(params.discriminator, x, c)


def predict_condition(params: GANParams, x):
    """``C(x)`` of eq. 19: class logits (``"ce"``) or the regressed condition (``"mse"``), ``[B, c_dim]``."""
    return AuxNet(params.cfg).apply(params.aux, x)


def critic_loss(params: GANParams, x_real, x_fake, c, eps):
    """D's loss: eq. 15 (minimax), eq. 16 (wgan) or eqs. 17-18 (wgan_gp, cwgan_gp). Returns
    ``(loss, metrics)``; ``metrics["wasserstein"]`` = E[D(x,c)] - E[D(x_hat,c)] for every loss."""
    cfg = params.cfg
    real, fake = critic(params, x_real, c), critic(params, x_fake, c)
    if cfg.loss == "minimax":
        loss, gp = minimax_d_loss(real, fake), jnp.zeros(())
    else:
        loss = wasserstein_d_loss(real, fake)
        gp = jnp.zeros(())
        if cfg.loss in ("wgan_gp", "cwgan_gp"):
            gp = gradient_penalty(lambda xb: critic(params, xb, c), x_real, x_fake, eps)
            loss = loss + cfg.rho_gp * gp
    return loss, {"d_loss": loss, "gp": gp, "wasserstein": real.mean() - fake.mean()}


def generator_loss(params: GANParams, z, c):
    """G's loss: non-saturating eq. 15 (minimax) or eq. 19 with the corrected sign,
    ``-E[D(G(z,c),c)] + rho_CE L_CE`` (``rho_CE`` used by cwgan_gp only). Returns ``(loss, metrics)``."""
    cfg = params.cfg
    x_fake = Generator(cfg).apply(params.generator, z, c)
    fake = critic(params, x_fake, c)
    adversarial = minimax_g_loss(fake) if cfg.loss == "minimax" else wasserstein_g_loss(fake)
    consistency = consistency_loss(predict_condition(params, x_fake), c, cfg.consistency)
    rho = cfg.rho_ce if cfg.loss == "cwgan_gp" else 0.0
    loss = adversarial + rho * consistency
    return loss, {"g_loss": loss, "consistency": consistency}


def aux_loss(params: GANParams, x, c):
    """C's fit on real pairs (A27): cross-entropy for labels, regression for continuous conditions."""
    return consistency_loss(predict_condition(params, x), c, params.cfg.consistency)


def _update(tx, opt_state, params, grads):
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def train_step(state: GANState, key, x, c):
    """One alternation (§5.4): ``n_critic`` D steps (``lax.scan``; the real batch ``x [B, ...]``,
    ``c [B, ...]`` is reused with fresh ``z`` and ``eps``), one G step, and for
    ``consistency="mse"`` with ``cwgan_gp`` one step of C on the real batch. Pure; jit/vmap/scan-safe.
    Returns ``(state, metrics)`` with scalar metrics (those of the last critic step)."""
    cfg = state.cfg
    tx_g, tx_d, tx_aux = optimizers(cfg)
    batch = x.shape[0]
    k_critic, k_gen = jax.random.split(key)

    def critic_update(carry, k):
        params_d, opt_d = carry
        k_z, k_eps = jax.random.split(k)
        x_fake = Generator(cfg).apply(state.params.generator, sample_latent(k_z, batch, cfg), c)
        eps = jax.random.uniform(k_eps, (batch,))
        grads, metrics = jax.grad(
            lambda pd: critic_loss(state.params.replace(discriminator=pd), x, x_fake, c, eps), has_aux=True
        )(params_d)
        params_d, opt_d = _update(tx_d, opt_d, params_d, grads)
        if cfg.loss == "wgan":
            params_d = clip_weights(params_d, cfg.clip)
        return (params_d, opt_d), metrics

    (params_d, opt_d), d_metrics = jax.lax.scan(
        critic_update, (state.params.discriminator, state.opt_d), jax.random.split(k_critic, cfg.n_critic)
    )
    params = state.params.replace(discriminator=params_d)

    z = sample_latent(k_gen, batch, cfg)
    grads, g_metrics = jax.grad(lambda pg: generator_loss(params.replace(generator=pg), z, c), has_aux=True)(
        params.generator
    )
    params_g, opt_g = _update(tx_g, state.opt_g, params.generator, grads)
    params = params.replace(generator=params_g)

    opt_aux, c_loss = state.opt_aux, jnp.zeros(())
    if cfg.loss == "cwgan_gp" and cfg.consistency == "mse":
        c_loss, grads = jax.value_and_grad(lambda pa: aux_loss(params.replace(aux=pa), x, c))(params.aux)
        params_aux, opt_aux = _update(tx_aux, opt_aux, params.aux, grads)
        params = params.replace(aux=params_aux)

    metrics = {k: v[-1] for k, v in d_metrics.items()} | g_metrics | {"aux_loss": c_loss}
    return GANState(params, opt_g, opt_d, opt_aux, state.step + 1), metrics


def fit_aux(state: GANState, key, x_all, c_all, steps: int, batch_size: int):
    """Trains C alone on real pairs for ``steps`` minibatches drawn from ``(x_all, c_all)`` (``"ce"``:
    do this once before GAN training; C then stays frozen). ``steps``, ``batch_size`` are static.
    Returns ``(state, losses [steps])``."""
    _, _, tx_aux = optimizers(state.cfg)

    def step(carry, k):
        params_aux, opt_aux = carry
        idx = jax.random.randint(k, (batch_size,), 0, x_all.shape[0])
        loss, grads = jax.value_and_grad(lambda pa: aux_loss(state.params.replace(aux=pa), x_all[idx], c_all[idx]))(
            params_aux
        )
        return _update(tx_aux, opt_aux, params_aux, grads), loss

    (params_aux, opt_aux), losses = jax.lax.scan(
        step, (state.params.aux, state.opt_aux), jax.random.split(key, steps)
    )
    return state.replace(params=state.params.replace(aux=params_aux), opt_aux=opt_aux), losses
