"""Diffusion policies over discrete actions (seed 003: FDEdge's FDN and the D2SAC / AGOD actor).

* `vp_schedule`: the variance-preserving noise schedule (spec §5.2, eq. U3) and the DDPM posterior
  coefficients as float32 constants.
* `timestep_embedding`: the fixed sinusoidal step embedding (eq. U4).
* `Denoiser`: the epsilon-network eps_theta(x_i, i, s), an MLP on [x_i, emb(i), s] (spec §5.3) with a
  configurable output activation (softmax as in FDEdge's code, tanh as in AGOD), an optional
  learnable time MLP (AGOD) and PyTorch's initialisation by default (the states are unnormalised,
  so flax's larger lecun-normal weights saturate the softmax head and stall learning: measured).
* `reverse_chain`: the I-step reverse process from a start point x_I (eqs. 11-13 in the code's form,
  spec §5.4), unrolled in Python (I is static and small), differentiable end to end; the injected
  noise is an argument so a caller can draw a whole slot's noise in one call.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from algos.common.networks import torch_dense

OUT_ACTIVATIONS = {"softmax": jax.nn.softmax, "tanh": jnp.tanh, "identity": lambda x: x}
HIDDEN_ACTIVATIONS = {"relu": nn.relu, "mish": lambda x: x * jnp.tanh(jax.nn.softplus(x))}


def vp_schedule(steps: int, beta_min: float = 0.1, beta_max: float = 10.0) -> dict:
    """The vp schedule and posterior coefficients for 1-based steps i = 1..I, as float64 NumPy arrays
    indexed 0..I-1 (spec §5.2)."""
    i = np.arange(1, steps + 1, dtype=np.float64)
    betas = 1.0 - np.exp(-beta_min / steps - (2 * i - 1) / (2 * steps**2) * (beta_max - beta_min))  # eq. U3
    alphas = 1.0 - betas  # lambda_i
    acp = np.cumprod(alphas)  # lambda-bar_i
    acp_prev = np.concatenate([[1.0], acp[:-1]])  # lambda-bar_{i-1}, lambda-bar_0 = 1
    post_var = betas * (1.0 - acp_prev) / (1.0 - acp)  # beta-tilde_i
    return {
        "betas": betas, "alphas": alphas, "alphas_cumprod": acp, "posterior_variance": post_var,
        "sqrt_recip_acp": np.sqrt(1.0 / acp), "sqrt_recipm1_acp": np.sqrt(1.0 / acp - 1.0),
        "coef1": betas * np.sqrt(acp_prev) / (1.0 - acp),
        "coef2": (1.0 - acp_prev) * np.sqrt(alphas) / (1.0 - acp),
        "noise_std": np.exp(0.5 * np.log(np.maximum(post_var, 1e-20))),  # code's exp(0.5 log var) (A5)
    }


def timestep_embedding(i, dim: int = 16):
    """Sinusoidal embedding of the 0-based step index: [sin(i w), cos(i w)], w_j = exp(-j ln 1e4 / (h-1))
    (eq. U4)."""
    half = dim // 2
    w = np.exp(-np.arange(half) * np.log(10000.0) / max(half - 1, 1))
    arg = jnp.asarray(i, jnp.float32)[..., None] * w
    return jnp.concatenate([jnp.sin(arg), jnp.cos(arg)], -1)


class Denoiser(nn.Module):
    """eps_theta(x_i, i, s): MLP on [x_i, emb(i), s] -> ``out`` with output activation ``out_act``
    (spec §5.3: FDEdge 128-128 ReLU softmax; AGOD 256-256 Mish tanh with a 16-32-16 time MLP)."""

    out: int
    hidden: Sequence[int] = (128, 128)
    t_dim: int = 16
    activation: str = "relu"
    out_act: str = "softmax"
    time_mlp: bool = False
    torch_init: bool = True  # PyTorch nn.Linear's U(+-1/sqrt(fan_in)) ([C], [A]); False: flax's defaults

    @nn.compact
    def __call__(self, x, emb, s):
        act = HIDDEN_ACTIVATIONS[self.activation]
        if self.time_mlp:  # AGOD's learnable time MLP
            emb = nn.Dense(self.t_dim)(act(nn.Dense(2 * self.t_dim)(emb)))
        emb = jnp.broadcast_to(emb, x.shape[:-1] + emb.shape[-1:])
        h = jnp.concatenate([x, emb, s], -1)
        for width in self.hidden:
            h = act(self.dense(width, h.shape[-1])(h))
        return OUT_ACTIVATIONS[self.out_act](self.dense(self.out, h.shape[-1])(h))

    def dense(self, width, fan_in):
        return torch_dense(width, fan_in) if self.torch_init else nn.Dense(width)


def reverse_chain(denoise, s, x_start, noise, schedule: dict):
    """x_0 from x_I by the I reverse steps (spec §5.4, code form):

        x_recon = sqrt(1/lbar_i) x_i - sqrt(1/lbar_i - 1) eps_hat          (no clipping)
        x_{i-1} = coef1_i x_recon + coef2_i x_i + 1[i > 1] sqrt(beta-tilde_i) z_i

    ``denoise(x, emb, s) -> eps_hat``; ``noise`` is ``[..., I - 1, B]`` (the z of steps I..2 in that
    order) or None for the noise-free chain. Unrolled: I is a static Python int.
    """
    steps = len(schedule["betas"])
    x = x_start
    for k, i in enumerate(range(steps - 1, -1, -1)):  # 0-based step index, as the code feeds the embedding
        eps = denoise(x, timestep_embedding(i), s)
        x_recon = float(schedule["sqrt_recip_acp"][i]) * x - float(schedule["sqrt_recipm1_acp"][i]) * eps
        x = float(schedule["coef1"][i]) * x_recon + float(schedule["coef2"][i]) * x  # eq. 13
        if i > 0 and noise is not None:
            x = x + float(schedule["noise_std"][i]) * noise[..., k, :]
    return x
