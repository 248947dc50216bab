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


def init_learner(actor, critic, tx, hp, target_actor: bool = False) -> dict:
    """The learner pytree of a discrete SAC: networks, target copies, log alpha and Adam states
    (per-network learning rates ``lr_actor`` / ``lr_critic`` / ``lr_alpha`` from ``hp``)."""
    log_alpha = jnp.log(hp["alpha_init"])
    return dict(actor=actor, actor_target=actor if target_actor else None, critic=critic, critic_target=critic,
                log_alpha=log_alpha, opt_actor=tx(learning_rate=hp["lr_actor"]).init(actor),
                opt_critic=tx(learning_rate=hp["lr_critic"]).init(critic),
                opt_alpha=tx(learning_rate=hp["lr_alpha"]).init(log_alpha))


def make_update(policy, critic, tx, *, state=lambda obs, x: obs, learn_alpha: bool = True,
                entropy_in_target: bool = True, target_actor: bool = False):
    """One discrete-SAC update in the released code's order (spec §5.8): target (eq. 14) -> both
    critics (eq. 15) -> actor through the updated min critic (eq. 16) -> log alpha (eq. 17) -> soft
    targets (eq. 18). ``policy(actor_params, obs, x, key) -> probs`` (``x``: the batch's feedback
    vector or None); ``state(obs, x)``: the critics' input. Returns ``update(ln, batch, key, hp)``."""
    import optax

    from algos.common.networks import soft_update

    def update(ln, b, key, hp):
        k_next, k_now = jax.random.split(key)
        alpha = jnp.exp(ln["log_alpha"])
        x, next_x = b.get("x"), b.get("next_x")
        s, s_next = state(b["obs"], x), state(b["next_obs"], next_x)
        next_actor = ln["actor_target"] if target_actor else ln["actor"]
        probs_next = jax.lax.stop_gradient(policy(next_actor, b["next_obs"], next_x, k_next))
        y = soft_target(b["reward"], probs_next, critic.apply(ln["critic_target"], s_next), hp["gamma"], alpha,
                        entropy_in_target)
        c_loss, c_grad = jax.value_and_grad(lambda c: critic_loss(critic.apply(c, s), b["action"], y))(ln["critic"])
        upd, opt_c = tx(learning_rate=hp["lr_critic"]).update(c_grad, ln["opt_critic"], ln["critic"])
        c_new = optax.apply_updates(ln["critic"], upd)
        q_now = critic.apply(c_new, s)

        def a_loss_fn(p):
            probs = policy(p, b["obs"], x, k_now)
            return actor_loss(probs, q_now, alpha), probs

        (a_loss, probs), a_grad = jax.value_and_grad(a_loss_fn, has_aux=True)(ln["actor"])
        upd, opt_a = tx(learning_rate=hp["lr_actor"]).update(a_grad, ln["opt_actor"], ln["actor"])
        a_new = optax.apply_updates(ln["actor"], upd)
        log_alpha, opt_al = ln["log_alpha"], ln["opt_alpha"]
        if learn_alpha:
            al_grad = jax.grad(alpha_loss)(log_alpha, probs, hp["target_entropy"])
            upd, opt_al = tx(learning_rate=hp["lr_alpha"]).update(al_grad, opt_al, log_alpha)
            log_alpha = optax.apply_updates(log_alpha, upd)
        new = dict(actor=a_new, critic=c_new, log_alpha=log_alpha, opt_actor=opt_a, opt_critic=opt_c,
                   opt_alpha=opt_al, critic_target=soft_update(ln["critic_target"], c_new, hp["tau"]),
                   actor_target=soft_update(ln["actor_target"], a_new, hp["tau"]) if target_actor else None)
        metrics = dict(critic_loss=c_loss, actor_loss=a_loss, alpha=jnp.exp(log_alpha), entropy=entropy(probs).mean(),
                       q_mean=q_now.mean())
        return new, metrics

    return update
