"""Discrete soft actor-critic pieces (seed 003 spec §5.7-§5.8), shared by FDEdge, D2SAC, SAC and SAC-F.

The critics map a state to one Q value per action (state input only); the policy is a probability
vector over the same actions. Pure functions of arrays, so every learner builds its update from them:

* `entropy`: H(pi) = -sum_a pi_a log(pi_a + 1e-8).
* `soft_target`: r + gamma (sum_a pi'_a min_j Q~_j(s')_a + alpha H(pi')) (eq. 14 in the code's form,
  no done mask; ``entropy_bonus=False`` drops the entropy term, as D2SAC does).
* `critic_loss`: the MSE of Q_j(s, a) against the target (eq. 15), summed over the twin critics.
* `actor_loss`: mean[-alpha H(pi) - sum_a pi_a min_j Q_j(s)_a] (eq. 16 in the code's form).
* `alpha_loss`: mean[(H(pi) - H~)] (stop-grad) * exp(log alpha) (eq. 17 in the code's form; lowers
  alpha while H > H~).
* `TwinQ`: two independent MLP critics evaluated together, ``[2, ..., n_actions]``.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from algos.common.networks import MLP, TorchMLP

LOG_EPS = 1e-8


def entropy(probs):
    """H(pi) = -sum_a pi_a log(pi_a + 1e-8) over the last axis."""
    return -(probs * jnp.log(probs + LOG_EPS)).sum(-1)


def soft_target(reward, next_probs, next_q_target, gamma, alpha, entropy_bonus: bool = True):
    """Q_target = r + gamma (E_{a~pi'} min_j Q~_j(s', a) + alpha H(pi')) (eq. 14, spec §5.8).

    ``next_q_target``: ``[2, K, A]`` target-critic values at s'; ``next_probs``: ``[K, A]``."""
    v = (next_probs * next_q_target.min(0)).sum(-1)
    if entropy_bonus:
        v = v + alpha * entropy(next_probs)
    return jax.lax.stop_gradient(reward + gamma * v)


def critic_loss(q, action, target):
    """sum_j mean_k (Q_j(s_k, a_k) - target_k)^2 (eq. 15); ``q`` ``[2, K, A]``, ``action`` int ``[K]``."""
    q_sa = jnp.take_along_axis(q, jnp.broadcast_to(action[None, :, None], q.shape[:2] + (1,)), -1)[..., 0]
    return ((q_sa - target[None]) ** 2).mean(-1).sum()


def actor_loss(probs, q, alpha):
    """mean_k[-alpha H(pi_k) - sum_a pi_k,a min_j Q_j(s_k)_a] (eq. 16, spec §5.8); critics held fixed."""
    q_min = jax.lax.stop_gradient(q.min(0))
    return (-alpha * entropy(probs) - (probs * q_min).sum(-1)).mean()


def alpha_loss(log_alpha, probs, target_entropy):
    """mean[(H(pi) - H~)]_stop-grad * exp(log alpha) (eq. 17 with the code's sign)."""
    gap = jax.lax.stop_gradient(entropy(probs) - target_entropy).mean()
    return gap * jnp.exp(log_alpha)


class TwinQ(nn.Module):
    """Two independent critics Q_1, Q_2: state -> one value per action; output ``[2, ..., n_actions]``."""

    n_actions: int
    hidden: Sequence[int] = (128, 128)
    torch_init: bool = True  # PyTorch nn.Linear's initialisation, as the released code

    @nn.compact
    def __call__(self, s):
        net = TorchMLP if self.torch_init else MLP
        return jnp.stack([net(tuple(self.hidden), self.n_actions, name=f"q{j}")(s) for j in (1, 2)])
