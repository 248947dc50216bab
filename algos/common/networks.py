"""Networks shared by learners: MLPs, structured actors / critics, dueling heads, attention and
transformer-encoder blocks, patch convolutions, and per-agent parameter stacks.

Per-agent parameters are *stacked* on a leading agent axis (``init_per_agent``) and applied with
``jax.vmap`` over that axis (``per_agent``), so n separate networks cost one batched matmul.
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS: dict[str, Callable] = {"relu": nn.relu, "tanh": nn.tanh, "elu": nn.elu, "gelu": nn.gelu}


class MLP(nn.Module):
    """``hidden`` dense layers with ``activation``, then a linear layer of width ``out``.

    ``out_scale`` scales the initialisation of the last layer (small values start policies near
    uniform and critics near zero).
    """

    hidden: Sequence[int]
    out: int
    activation: str = "relu"
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width)(x))
        init = nn.initializers.variance_scaling(self.out_scale, "fan_avg", "uniform")
        return nn.Dense(self.out, kernel_init=init)(x)


def head_blocks(obs, offset: int, heads: int, width: int):
    """The per-head inputs shared by the structured actors, each ``[..., heads, f]``: every head's
    block of ``width`` features from ``offset``, the mean block (what the heads compete for) and a
    one-hot of the head's index."""
    blocks = obs[..., offset:offset + heads * width].reshape(obs.shape[:-1] + (heads, width))
    mean = jnp.broadcast_to(blocks.mean(-2, keepdims=True), blocks.shape)
    return blocks, mean, jnp.broadcast_to(jnp.eye(heads), obs.shape[:-1] + (heads, heads))


def option_blocks(obs, offset: int, heads: int, width: int, n_choices: int, option_offsets):
    """The per-option inputs shared by `PerOptionActor` and `PerOptionCritic`: ``(options [..., c, F]``
    (option c's columns, zeros for option 0), ``is_stay [..., c, 1]``, ``shared [..., f])``, the
    observation without head and option columns plus the mean remote option's features."""
    r, batch = n_choices - 1, obs.shape[:-1]
    head_cols = np.arange(offset, offset + heads * width)
    option_cols = np.asarray(option_offsets)[:, None] + np.arange(r)[None, :]  # [F, r]
    context_cols = np.setdiff1d(np.arange(obs.shape[-1]), np.concatenate([head_cols, option_cols.ravel()]))
    remote = jnp.swapaxes(obs[..., option_cols], -1, -2)  # [..., r, F]
    options = jnp.concatenate([jnp.zeros(batch + (1, remote.shape[-1])), remote], -2)
    is_stay = jnp.broadcast_to((jnp.arange(n_choices) == 0)[:, None], batch + (n_choices, 1))
    return options, is_stay, jnp.concatenate([obs[..., context_cols], remote.mean(-2)], -1)


class PerHeadMLP(nn.Module):
    """One MLP shared by every discrete action head (e.g. every task of an agent).

    The observation holds ``heads`` blocks of ``width`` features from ``offset`` (the env's
    ``head_obs_layout``); the rest is context. Head h's MLP input is its own block, the mean of all
    blocks (what the other heads compete for), the context and a one-hot of h (heads may differ
    by position, e.g. a battery paid in task order). Returns ``[..., heads, out]``: the same
    function of a task's features wherever the task sits, which a flat MLP has to learn per slot.
    """

    hidden: Sequence[int]
    heads: int
    offset: int
    width: int
    out: int
    activation: str = "relu"
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, obs):
        end = self.offset + self.heads * self.width
        blocks, mean, head = head_blocks(obs, self.offset, self.heads, self.width)
        context = jnp.concatenate([obs[..., :self.offset], obs[..., end:]], -1)
        wide_context = jnp.broadcast_to(context[..., None, :], blocks.shape[:-1] + context.shape[-1:])
        x = jnp.concatenate([blocks, mean, wide_context, head], -1)
        return MLP(self.hidden, self.out, self.activation, self.out_scale)(x)


class PerHeadActor(nn.Module):
    """`PerHeadMLP` laid out as `ActionSpec`'s flat actor output: every head's ``n_choices`` logits
    first, then every head's ``cont_out`` continuous pre-activations (head-major)."""

    hidden: Sequence[int]
    heads: int
    offset: int
    width: int
    n_choices: int
    cont_out: int
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, obs):
        y = PerHeadMLP(self.hidden, self.heads, self.offset, self.width, self.n_choices + self.cont_out,
                       out_scale=self.out_scale)(obs)
        lead = y.shape[:-2]
        return jnp.concatenate([y[..., :self.n_choices].reshape(lead + (-1,)),
                                y[..., self.n_choices:].reshape(lead + (-1,))], -1)


class PerOptionActor(nn.Module):
    """One MLP shared by every (head, option) pair: an option-equivariant actor.

    Option 0 is the head's "stay" choice (e.g. run locally); options ``1..n_choices-1`` are remote
    nodes whose features sit in the observation at ``option_offsets`` (one column block of
    ``n_choices - 1`` values per feature, e.g. every server's CPU, bandwidth, gain, distance). Pair
    (h, c)'s input is head h's block, the mean of all head blocks, the rest of the observation
    (context), the mean of every option's features, option c's own features (zeros for c = 0)
    with an "is option 0" flag, and a one-hot of h. Each pair emits 1 logit and ``cont_out``
    continuous pre-activations (that option's shares), laid out as `ActionSpec`'s flat per-choice
    actor output. Permuting the remote options in the observation permutes their outputs, so
    what is learned about one server carries over to every server with similar features.
    """

    hidden: Sequence[int]
    heads: int
    offset: int
    width: int
    n_choices: int
    option_offsets: tuple
    cont_out: int
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, obs):
        h, batch = self.heads, obs.shape[:-1]
        options, is_stay, shared = option_blocks(obs, self.offset, h, self.width, self.n_choices, self.option_offsets)
        per_head = jnp.concatenate(head_blocks(obs, self.offset, h, self.width), -1)
        per_option = jnp.concatenate([options, is_stay], -1)
        # First layer on the concatenation [per_head, per_option, shared], computed per part and
        # summed by broadcasting: the same Dense, without materialising h x c copies of its input.
        width, fan_in = self.hidden[0], per_head.shape[-1] + per_option.shape[-1] + shared.shape[-1]

        def part(x, name, bias=False):  # lecun-normal over the whole concatenation's fan-in
            init = nn.initializers.variance_scaling(x.shape[-1] / fan_in, "fan_in", "truncated_normal")
            return nn.Dense(width, use_bias=bias, kernel_init=init, name=name)(x)

        first = (part(per_head, "first_head")[..., :, None, :] + part(per_option, "first_option")[..., None, :, :]
                 + part(shared, "first_shared", bias=True)[..., None, None, :])
        y = MLP(tuple(self.hidden[1:]), 1 + self.cont_out, out_scale=self.out_scale)(nn.relu(first))  # [..., h, c, 1 + k]
        return jnp.concatenate([y[..., 0].reshape(batch + (-1,)), y[..., 1:].reshape(batch + (-1,))], -1)


class PerOptionCritic(nn.Module):
    """A centralised critic factored over the owner's heads: ``Q = sum_h q(z_h)``, one MLP ``q``
    shared by every head (e.g. every task, whose costs the reward sums).

    The input is a flat critic vector ``x`` holding the owner's observation at ``obs_start`` and
    every agent's critic action (per-head one-hot over ``n_choices`` options, then ``cont_k``
    continuous values per head) from ``act_start``, owner first. Head h's ``z_h`` is its
    observation block, the mean block, the context (the observation without head and option
    columns, plus the mean option features), a one-hot of h, its own continuous values and the
    *chosen* option's features: the option's columns (zeros for option 0, as in
    `PerOptionActor`), an "is option 0" flag and the option's load, i.e. the number of heads
    choosing it and the sum of their continuous values (option 0: the owner's own heads; a remote
    option: every agent's), divided by ``heads``. The chosen option enters through the one-hot, so
    gradients reach a straight-through sample, and the critic is invariant under permuting the
    remote options (in the observation and in every one-hot alike). It needs ``n_choices - 1`` remote options laid out as ``option_offsets``.
    """

    hidden: Sequence[int]
    n_agents: int
    obs_start: int
    obs_dim: int
    act_start: int
    heads: int
    offset: int
    width: int
    n_choices: int
    option_offsets: tuple
    cont_k: int

    @nn.compact
    def __call__(self, x):
        n, h, c, k = self.n_agents, self.heads, self.n_choices, self.cont_k
        batch = x.shape[:-1]
        obs = x[..., self.obs_start:self.obs_start + self.obs_dim]
        act = x[..., self.act_start:self.act_start + n * h * (c + k)].reshape(batch + (n, h * (c + k)))
        one_hot = act[..., :h * c].reshape(batch + (n, h, c))
        cont = act[..., h * c:].reshape(batch + (n, h, k))
        requests = jnp.concatenate([one_hot[..., None], one_hot[..., None] * cont[..., :, None, :]], -1)
        load = jnp.where((jnp.arange(c) == 0)[:, None], requests[..., 0, :, :, :].sum(-3),
                         requests.sum((-4, -3))) / h  # [..., c, 1 + k]
        options, is_stay, shared = option_blocks(obs, self.offset, h, self.width, c, self.option_offsets)
        option_features = jnp.concatenate([options, is_stay, load], -1)  # [..., c, F + 2 + k]
        own = one_hot[..., 0, :, :]
        chosen = jnp.einsum("...hc,...cf->...hf", own, option_features)
        per_head = jnp.concatenate(head_blocks(obs, self.offset, h, self.width) + (cont[..., 0, :, :], chosen), -1)
        z = jnp.concatenate([per_head, jnp.broadcast_to(shared[..., None, :], batch + (h,) + shared.shape[-1:])], -1)
        return MLP(self.hidden, 1)(z).sum(-2)  # [..., 1]


class DuelingMLP(nn.Module):
    """Dueling Q-network with branching: a shared torso, one value per head and advantages
    ``[heads, n_actions]``; ``Q = V + A - mean(A)`` (Wang et al. 2016, Tavakoli et al. 2018)."""

    hidden: Sequence[int]
    heads: int
    n_actions: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width)(x))
        value = nn.Dense(self.heads)(x)[..., None]
        adv = nn.Dense(self.heads * self.n_actions)(x)
        adv = adv.reshape(adv.shape[:-1] + (self.heads, self.n_actions))
        return value + adv - adv.mean(-1, keepdims=True)


def init_per_agent(module, keys: jax.Array, *example):
    """Parameters of one copy of ``module`` (anything with flax's ``init`` / ``apply``) per key,
    stacked on a leading agent axis (``keys [n, 2]``; identical keys give identical copies)."""
    return jax.vmap(lambda k: module.init(k, *example))(keys)


def per_agent(module, params, *xs):
    """Agent i's copy of ``module`` (``params`` stacked on a leading agent axis) on agent i's inputs:
    every ``x [..., n, d]`` -> ``[..., n, *out]`` (the agent axis stays after the batch axes)."""
    lead = xs[0].ndim - 2
    return jax.vmap(module.apply, in_axes=(0,) + (-2,) * len(xs), out_axes=lead)(params, *xs)


# ----------------------------------------------------------------------------------------------
# Attention and transformer-encoder blocks (seed 000's twin, §5.2-§5.3; transformer actor-critics)
# ----------------------------------------------------------------------------------------------


def _attention_mask(kv_mask, q_len: int | None = None):
    """A key-padding mask ``bool[B, L_kv]`` (True = attend) as flax's ``[B, 1, L_q, L_kv]``; None stays None."""
    if kv_mask is None:
        return None
    return jnp.broadcast_to(kv_mask[..., None, None, :], kv_mask.shape[:-1] + (1, q_len or 1, kv_mask.shape[-1]))


def feed_forward(x, width: int):
    """The position-wise MLP of a transformer block: ``Dense(width)(gelu(Dense(2 width)(x)))``."""
    return nn.Dense(width)(nn.gelu(nn.Dense(2 * width)(x)))


class CrossAttentionBlock(nn.Module):
    """Pre-LN ``q + CrossAttn(LN q, LN kv)`` then ``+ MLP(LN)``: ``queries [B, L_q, C]`` attend to
    ``context [B, L_kv, C']``; ``context_mask bool[B, L_kv]`` (optional, True = real token) hides padding."""

    heads: int

    @nn.compact
    def __call__(self, queries, context, context_mask=None):
        width = queries.shape[-1]
        attn = nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=width)
        mask = _attention_mask(context_mask, queries.shape[-2])
        x = queries + attn(nn.LayerNorm()(queries), nn.LayerNorm()(context), mask=mask)
        return x + feed_forward(nn.LayerNorm()(x), width)


class TransformerLayer(nn.Module):
    """Pre-LN encoder layer on ``x [B, L, C]``: self-attention over positions, then an MLP;
    ``mask bool[B, L]`` (optional, True = real token): padded positions are never attended to."""

    heads: int

    @nn.compact
    def __call__(self, x, mask=None):
        width = x.shape[-1]
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=width)(
            h, h, mask=_attention_mask(mask, x.shape[-2]))
        return x + feed_forward(nn.LayerNorm()(x), width)


class SelfAttentionStack(nn.Module):
    """Transformer encoder over the positions of ``[B, *positions, C]`` with a learned positional
    embedding; returns the same shape. ``mask bool[B, L]`` (optional, ``L`` = number of positions)."""

    layers: int
    heads: int

    @nn.compact
    def __call__(self, h, mask=None):
        tokens = h.reshape(h.shape[0], -1, h.shape[-1])
        tokens = tokens + self.param("pos", nn.initializers.normal(0.02), tokens.shape[1:])
        for _ in range(self.layers):
            tokens = TransformerLayer(self.heads)(tokens, mask)
        return tokens.reshape(h.shape)


class ConditionTokens(nn.Module):
    """Embeds a flat batch ``[B, d]`` (e.g. a GAN condition) into ``[B, n_tokens, width]`` (one linear
    map, then a reshape) or projects pre-tokenised ``[B, m, f]`` token-wise; adds a learned token
    embedding. (The class name is part of the parameter paths, hence of their initial values.)"""

    n_tokens: int
    width: int

    @nn.compact
    def __call__(self, c):
        if c.ndim == 2:
            tokens = nn.Dense(self.n_tokens * self.width)(c).reshape(c.shape[0], self.n_tokens, self.width)
        else:
            tokens = nn.Dense(self.width)(c)
        pos = self.param("pos", nn.initializers.normal(0.02), tokens.shape[1:])
        return tokens + pos


# ----------------------------------------------------------------------------------------------
# Convolutions as patches + Dense (fast gradients inside lax.scan on XLA:CPU)
# ----------------------------------------------------------------------------------------------


def extract_patches(x, kernel: int, stride: int = 1):
    """``[B, *positions, C] -> [B, *out_positions, kernel**d * C]``: the zero-padded ("SAME")
    neighbourhoods a ``kernel``-wide convolution with ``stride`` reads, by slicing."""
    n_spatial = x.ndim - 2
    half = kernel // 2
    padded = jnp.pad(x, [(0, 0)] + [(half, half)] * n_spatial + [(0, 0)])
    out = [-(-size // stride) for size in x.shape[1:-1]]
    patches = []
    for offsets in itertools.product(range(kernel), repeat=n_spatial):
        window = tuple(slice(o, o + stride * (n - 1) + 1, stride) for o, n in zip(offsets, out))
        patches.append(padded[(slice(None), *window, slice(None))])
    return jnp.concatenate(patches, axis=-1)


class Conv(nn.Module):
    """1-D or 2-D convolution (SAME padding) written as `extract_patches` + one dense layer.

    Same function as ``nn.Conv``, but its gradients are slices and matmuls: on XLA:CPU the gradient
    of a native convolution inside a ``while`` loop (any ``lax.scan`` training loop) runs 20-100x
    slower than outside one (measured: 2 ms -> 197 ms for a 3x3 kernel gradient on 64x8x8x32)."""

    features: int
    kernel: int = 3
    stride: int = 1

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.features)(extract_patches(x, self.kernel, self.stride))


def upsample(x):
    """Nearest-neighbour x2 along every position axis of ``[B, *positions, C]``."""
    for axis in range(1, x.ndim - 1):
        x = jnp.repeat(x, 2, axis=axis)
    return x


def soft_update(target, online, tau):
    """Polyak averaging ``target <- tau online + (1 - tau) target`` (tau may be traced)."""
    return jax.tree_util.tree_map(lambda t, o: tau * o + (1.0 - tau) * t, target, online)


def linear_schedule(start, end, fraction, progress):
    """``start`` -> ``end`` linearly while ``progress`` (in [0, 1]) goes 0 -> ``fraction``, then flat."""
    frac = jnp.clip(progress / jnp.maximum(fraction, 1e-8), 0.0, 1.0)
    return start + frac * (end - start)


def torch_dense(features: int, fan_in: int, name: str | None = None) -> nn.Dense:
    """A Dense layer initialised as PyTorch's ``nn.Linear``: weights and bias ~ U(-1/sqrt(fan_in),
    1/sqrt(fan_in)). For ports whose learning depends on it (seed 003's unnormalised states feed a
    softmax epsilon-head: flax's lecun-normal weights, ~1.7x larger per layer, saturate it)."""
    bound = 1.0 / np.sqrt(fan_in)

    def uniform(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return nn.Dense(features, kernel_init=uniform, bias_init=uniform, name=name)


class TorchMLP(nn.Module):
    """`MLP` (ReLU hidden layers, linear output) with PyTorch's default initialisation (`torch_dense`)."""

    hidden: Sequence[int]
    out: int

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.relu(torch_dense(width, x.shape[-1])(x))
        return torch_dense(self.out, x.shape[-1])(x)


# ----------------------------------------------------------------------------------------------
# Post-LN token transformer with key-padding masks and identity attention (seed 004's TAC / DTAC)
# ----------------------------------------------------------------------------------------------

ATTN_MODES = ("softmax", "identity")


def token_mask(mask, q_len: int, kv_len: int, attn_mode: str = "softmax"):
    """Flax's ``[B, 1, L_q, L_kv]`` attention mask over tokens. ``"softmax"``: the key-padding mask
    (``mask bool[B, L_kv]``, True = real token; None = every key); ``"identity"``: only the diagonal,
    so softmax(QK^T/sqrt d) over one key is exactly 1 and the block returns the token's own V W_o
    (the I V attention of seed 004's eq. 21: every token reads only itself)."""
    if attn_mode == "identity":
        return jnp.eye(q_len, kv_len, dtype=bool)[None, None]
    if attn_mode != "softmax":
        raise ValueError(f"unknown attn_mode {attn_mode!r}; valid: {ATTN_MODES}")
    return None if mask is None else _attention_mask(mask, q_len)


def _mha(heads: int, width: int, x, kv, mask):
    return nn.MultiHeadDotProductAttention(num_heads=heads, qkv_features=width)(x, kv, mask=mask)


def relu_ffn(x, hidden: int):
    """Position-wise ``Dense(width)(relu(Dense(hidden)(x)))``."""
    return nn.Dense(x.shape[-1])(nn.relu(nn.Dense(hidden)(x)))


class PostLNEncoderLayer(nn.Module):
    """Post-LN encoder layer (Vaswani et al.): ``x = LN(x + MHA(x, x))``, ``x = LN(x + FFN(x))`` on
    ``x [B, L, C]``; ``mask bool[B, L]`` hides padded keys; ``attn_mode`` as `token_mask`."""

    heads: int
    ffn: int
    attn_mode: str = "softmax"

    @nn.compact
    def __call__(self, x, mask=None):
        width, n = x.shape[-1], x.shape[-2]
        x = nn.LayerNorm()(x + _mha(self.heads, width, x, x, token_mask(mask, n, n, self.attn_mode)))
        return nn.LayerNorm()(x + relu_ffn(x, self.ffn))


class PostLNDecoderLayer(nn.Module):
    """Post-LN decoder layer without a causal mask: self-attention, cross-attention to ``memory``
    (same token set), FFN, each with residual + LayerNorm; ``mask`` hides padded keys in both."""

    heads: int
    ffn: int
    attn_mode: str = "softmax"

    @nn.compact
    def __call__(self, y, memory, mask=None):
        width, n, m = y.shape[-1], y.shape[-2], memory.shape[-2]
        y = nn.LayerNorm()(y + _mha(self.heads, width, y, y, token_mask(mask, n, n, self.attn_mode)))
        y = nn.LayerNorm()(y + _mha(self.heads, width, y, memory, token_mask(mask, n, m, self.attn_mode)))
        return nn.LayerNorm()(y + relu_ffn(y, self.ffn))


class TokenEncoderDecoder(nn.Module):
    """A set transformer over tokens: ``Dense(features) + position table[pos]`` embeds each token,
    ``enc_layers`` post-LN encoder layers then ``dec_layers`` decoder layers (decoder input = the
    embedded tokens, memory = the encoder output, no causal mask), and a linear head ``out`` per
    token. ``features [B, L, f]``, ``pos_onehot [B, L, P]`` (a one-hot of the position id, zeros
    allowed: a learned table of P rows), ``mask bool[B, L]`` (True = real token). Returns
    ``[B, L, out]``. ``attn_mode="identity"`` makes it a per-token function with the same parameters."""

    d_model: int
    heads: int
    ffn: int
    enc_layers: int
    dec_layers: int
    out: int
    attn_mode: str = "softmax"

    @nn.compact
    def __call__(self, features, pos_onehot, mask=None):
        table = self.param("pos", nn.initializers.normal(0.1), (pos_onehot.shape[-1], self.d_model))
        tokens = nn.Dense(self.d_model, name="embed")(features) + pos_onehot @ table
        memory = tokens
        for _ in range(self.enc_layers):
            memory = PostLNEncoderLayer(self.heads, self.ffn, self.attn_mode)(memory, mask)
        y = tokens
        for _ in range(self.dec_layers):
            y = PostLNDecoderLayer(self.heads, self.ffn, self.attn_mode)(y, memory, mask)
        return nn.Dense(self.out, name="head")(y)
