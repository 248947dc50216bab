"""Networks shared by learners: MLPs, dueling heads and per-agent parameter stacks.

Per-agent parameters are *stacked* on a leading agent axis (``init_stacked``) and applied with
``jax.vmap`` over that axis (``apply_stacked``), so n separate networks cost one batched matmul.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

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
