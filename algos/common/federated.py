"""Personalised federated aggregation over per-agent parameter stacks (seed 000 §5.8, eqs. 24-25).

Every function is pure and works on pytrees whose leaves carry a leading **agent axis** of length
n (the stacked-parameter layout of `algos.common.networks`), so it runs inside ``jit``/``scan`` and
under an outer ``vmap`` over seeds. The weight matrix ``W[i, i']`` is the share of agent ``i'``'s
parameters in agent ``i``'s aggregate; rows may differ (``"literal"``) or coincide (the others).

One FL round (every ``K_FL`` env steps; on other steps the learner does its ordinary soft update)::

    W = aggregation_weights(q_values, buffer_sizes, mode="normalized")   # [n, n]
    agg = aggregate(online, W)                                           # eq. 25, per leaf
    tau_t = fl_tau_schedule(round_idx)                                   # tau_0 * decay^r
    target = fl_target_update(target, online, agg, tau, tau_t)           # eq. 24

``fl_round`` chains these for one network stack; ``sync_targets`` for several (actors and critics)
with the learner's FL mode (``"personalized"``, ``"fedavg"``: tau_t = 1 and uniform weights, or
``"none"``: centralised training, targets unchanged). Plain FedAvg (seed 001, eqs. 17-18: the cloud
averages the generators with weights 1/B and broadcasts the mean) is ``fedavg(params)``.

Gap and deviation choices (spec §8.6; log ``W`` so runs can report the effective weights):

* **A37 dangling index.** The denominator of eq. (25) uses the summation index ``N^d_{t,i'}``
  outside the sum; we read it as ``N^d_{t,i}``: ``W[i, i'] = (Q_i'/N_i') / (n Q_i/N_i)``
  (mode ``"literal"``).
* **A38 weights do not sum to 1 / favour worse agents when Q < 0 / divide by buffer size.**
  The literal weights sum to ``mean(Q/N) / (Q_i/N_i)``, so they rescale parameters; with the
  negative rewards of eq. (12) the ratios are positive but the *worse* agent gets the larger
  share, and more data means less weight. Hence the default ``"normalized"``:
  ``pi_i' ∝ Q~_i'/N_i'`` with ``Q~ = Q - min Q + eps`` (better agents get more weight; the worst
  agent gets ~eps, i.e. ~0), the same row for every i. Personalisation then comes from eq. (24)'s
  own-parameter share ``1 - tau_t`` and from the online nets staying local.
  ``"softmax"``: ``pi ∝ exp(beta * standardised Q)`` (population std, floored at ``eps``; buffer
  sizes are not used, as in the spec). ``"fedavg"``: uniform 1/n.
* **A39 guards.** Buffer sizes are floored at 1 (an empty buffer is treated as one transition,
  never a division by zero); in ``"literal"`` mode a denominator ``n Q_i/N_i`` with magnitude below
  ``eps`` is replaced by ``±eps`` (``+eps`` when it is exactly 0), so weights stay finite (they can
  still be large: that is the literal formula's behaviour, kept for the ablation).
* **A40 schedule.** ``tau_t = tau_0 * decay**r`` with ``tau_0 = 0.5``, ``decay = 0.98``, ``r`` the
  FL-round index; the target-update rate ``tau`` (``tau^omega``) is the learner's ordinary 0.01.
  Eq. (24) is applied identically to actor and critic (A30); the weights are applied to all leaves
  of whatever pytree is passed (which networks to aggregate is the caller's choice; for centralised
  critics use an agent-relative input layout, A41). ``tau`` and ``tau_t`` are scalars (may be
  traced).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

WEIGHT_MODES = ("literal", "normalized", "softmax", "fedavg")
FL_MODES = ("personalized", "fedavg", "none")  # a learner's FL setting (`sync_targets`)


def _check_mode(mode: str) -> None:
    if mode not in WEIGHT_MODES:
        raise ValueError(f"unknown FL weight mode {mode!r}; valid modes: {', '.join(WEIGHT_MODES)}")


def aggregation_weights(q_values, buffer_sizes, mode: str = "normalized", beta=1.0, eps: float = 1e-6):
    """The ``[n, n]`` aggregation matrix; row ``i`` holds the weights agent ``i`` uses over agents ``i'``.

    ``q_values`` ``[n]``: each agent's current value ``Q_{t,i}`` (e.g. the mean online-critic value
    over its latest minibatch); ``buffer_sizes`` ``[n]``: ``N^d_{t,i}`` (ignored by ``"softmax"`` and
    ``"fedavg"``). ``mode`` is static; ``beta`` may be traced. See the module docstring (A37-A39).
    """
    # eq. (25) with N^d_{t,i} in the denominator (A37) and its normalised variants (A38)
    _check_mode(mode)
    q = jnp.asarray(q_values, jnp.float32)
    n = q.shape[0]
    if mode == "fedavg":
        return jnp.full((n, n), 1.0 / n, jnp.float32)
    if mode == "softmax":
        qbar = (q - q.mean()) / jnp.maximum(q.std(), eps)
        row = jax.nn.softmax(beta * qbar)
        return jnp.broadcast_to(row, (n, n))
    size = jnp.maximum(jnp.asarray(buffer_sizes, jnp.float32), 1.0)
    if mode == "normalized":
        ratio = (q - q.min() + eps) / size
        return jnp.broadcast_to(ratio / ratio.sum(), (n, n))
    ratio = q / size  # "literal"
    den = n * ratio
    den = jnp.where(jnp.abs(den) < eps, jnp.where(den < 0, -eps, eps), den)
    return ratio[None, :] / den[:, None]


def aggregate(params, W):
    """Per leaf ``omega_hat_i = sum_i' W[i, i'] omega_i'``: leaves ``[n, ...]`` -> ``[n, ...]``."""
    # eq. (25) numerator / denominator applied as a matrix over the agent axis
    def mix(x):
        w = W.astype(x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else W
        return jnp.tensordot(w, x, axes=1, precision=jax.lax.Precision.HIGHEST).astype(x.dtype)

    return jax.tree_util.tree_map(mix, params)


def fedavg(params):
    """Equal-weight FedAvg broadcast: every agent gets the mean over the agent axis (seed 001 eqs. 17-18)."""
    # seed 001 eqs. (17)-(18): theta_bar = (1/B) sum_b theta_b; theta_b <- theta_bar
    return jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x.mean(axis=0, dtype=jnp.float32).astype(x.dtype), x.shape), params
    )


def fl_target_update(target, online, aggregated, tau, tau_t):
    """``omega' <- tau ((1 - tau_t) omega + tau_t omega_hat) + (1 - tau) omega'`` per leaf."""
    # eq. (24)
    return jax.tree_util.tree_map(
        lambda tg, on, ag: tau * ((1.0 - tau_t) * on + tau_t * ag) + (1.0 - tau) * tg, target, online, aggregated
    )


def fl_tau_schedule(round_idx, tau0=0.5, decay=0.98):
    """``tau_t = tau0 * decay ** round_idx`` (float32; ``round_idx`` may be traced)."""
    # §5.8 / A40: tau_t in (0, 1), decreasing with the FL round
    return jnp.asarray(tau0, jnp.float32) * jnp.asarray(decay, jnp.float32) ** jnp.asarray(round_idx, jnp.float32)


def fl_round(target, online, q_values, buffer_sizes, round_idx, tau, mode: str = "normalized", beta=1.0,
             tau0=0.5, decay=0.98, eps: float = 1e-6):
    """One personalised FL round on one network stack: returns ``(new_target, W)``.

    ``W`` (``[n, n]``) is returned so the caller can log the effective weights (A38).
    """
    # eqs. (25) then (24)
    W = aggregation_weights(q_values, buffer_sizes, mode, beta=beta, eps=eps)
    agg = aggregate(online, W)
    return fl_target_update(target, online, agg, tau, fl_tau_schedule(round_idx, tau0, decay)), W


def sync_targets(targets: tuple, onlines: tuple, q_values, data_sizes, round_idx, tau, fl_mode: str = "personalized",
                 weight_mode: str = "normalized", tau0=0.5, decay=0.98):
    """One FL round (eqs. 25 then 24) on several network stacks that share the weights, e.g.
    ``(actor_target, critic_target)`` with ``(actor, critic)``; returns the new targets (a tuple).

    ``fl_mode`` (static): ``"personalized"``: weights ``weight_mode`` over ``q_values`` and
    ``data_sizes`` (``[n]``), ``tau_t = tau0 * decay**round_idx``; ``"fedavg"``: uniform weights and
    ``tau_t = 1`` (each target moves toward the plain average at rate ``tau``); ``"none"``: no change.
    """
    if fl_mode not in FL_MODES:
        raise ValueError(f"unknown fl_mode {fl_mode!r}; valid: {', '.join(FL_MODES)}")
    if fl_mode == "none":
        return tuple(targets)
    mode = "fedavg" if fl_mode == "fedavg" else weight_mode
    tau_t = 1.0 if fl_mode == "fedavg" else fl_tau_schedule(round_idx, tau0, decay)
    W = aggregation_weights(q_values, data_sizes, mode)
    return tuple(fl_target_update(target, online, aggregate(online, W), tau, tau_t)
                 for target, online in zip(targets, onlines))
