"""Networks shared by learners: MLPs, dueling heads and per-agent parameter stacks.

Per-agent parameters are *stacked* on a leading agent axis (``init_stacked``) and applied with
``jax.vmap`` over that axis (``apply_stacked``), so n separate networks cost one batched matmul.
"""

from __future__ import annotations

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


def init_stacked(module: nn.Module, key: jax.Array, n: int, *example):
    """Independent parameters for ``n`` copies of ``module`` stacked on a leading axis."""
    return jax.vmap(lambda k: module.init(k, *example))(jax.random.split(key, n))


def apply_stacked(module: nn.Module, params, *inputs, in_axes=0):
    """Apply stacked parameters: copy ``i`` sees ``inputs[..][i]`` (agent axis first)."""
    return jax.vmap(module.apply, in_axes=(0,) + ((in_axes,) * len(inputs) if isinstance(in_axes, int) else tuple(in_axes)))(
        params, *inputs
    )


def soft_update(target, online, tau):
    """Polyak averaging ``target <- tau online + (1 - tau) target`` (tau may be traced)."""
    return jax.tree_util.tree_map(lambda t, o: tau * o + (1.0 - tau) * t, target, online)


def linear_schedule(start, end, fraction, progress):
    """``start`` -> ``end`` linearly while ``progress`` (in [0, 1]) goes 0 -> ``fraction``, then flat."""
    frac = jnp.clip(progress / jnp.maximum(fraction, 1e-8), 0.0, 1.0)
    return start + frac * (end - start)
