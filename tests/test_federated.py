"""Personalised federated aggregation (seed 000 §5.8, eqs. 24-25): hand-computed examples.

The running example is 3 agents with Q = [-2, -1, -4] and buffer sizes N = [10, 20, 10], so
Q/N = [-0.2, -0.05, -0.4]. Every expected matrix below is written out by hand.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algos.common import federated as fl

Q = jnp.array([-2.0, -1.0, -4.0])
N = jnp.array([10.0, 20.0, 10.0])


def test_literal_weights_eq25():
    # W[i, i'] = (Q_i'/N_i') / (3 Q_i/N_i); Q/N = [-0.2, -0.05, -0.4]
    # row 0: denominator 3 * -0.2 = -0.6; row 1: -0.15; row 2: -1.2
    expected = np.array([
        [1 / 3, 1 / 12, 2 / 3],
        [4 / 3, 1 / 3, 8 / 3],
        [1 / 6, 1 / 24, 1 / 3],
    ])
    W = fl.aggregation_weights(Q, N, "literal")
    np.testing.assert_allclose(W, expected, rtol=1e-6)
    # A38: rows do not sum to 1, and the worst agent (Q=-4) gets the largest share
    assert not np.allclose(np.sum(W, axis=1), 1.0)
    assert np.all(np.argmax(W, axis=1) == 2)


def test_normalized_weights_default():
    # Q~ = Q - min Q + eps = [2, 3, 0] (+1e-6); Q~/N = [0.2, 0.15, ~1e-7]; sum 0.35 -> [4/7, 3/7, ~0]
    row = np.array([4 / 7, 3 / 7, 0.0])
    W = fl.aggregation_weights(Q, N)  # default mode
    np.testing.assert_allclose(W, np.stack([row] * 3), atol=1e-6)
    np.testing.assert_allclose(np.sum(W, axis=1), 1.0, rtol=1e-6)


def test_softmax_weights():
    # mean Q = -7/3, deviations [1/3, 4/3, -5/3], population std sqrt(14)/3
    # standardised [1, 4, -5]/sqrt(14) = [0.267261, 1.069045, -1.336306]
    # exp -> [1.306378, 2.912582, 0.262841], sum 4.481801
    row = np.array([0.2914864, 0.6498731, 0.0586405])
    W = fl.aggregation_weights(Q, N, "softmax")
    np.testing.assert_allclose(W, np.stack([row] * 3), atol=1e-5)
    # beta = 0 and equal Q both give uniform weights (std floored at eps, no NaN)
    np.testing.assert_allclose(fl.aggregation_weights(Q, N, "softmax", beta=0.0), np.full((3, 3), 1 / 3), atol=1e-6)
    np.testing.assert_allclose(fl.aggregation_weights(jnp.full(3, -1.0), N, "softmax"), np.full((3, 3), 1 / 3),
                               atol=1e-6)


def test_fedavg_weights():
    np.testing.assert_allclose(fl.aggregation_weights(Q, N, "fedavg"), np.full((3, 3), 1 / 3), rtol=1e-6)


def test_bad_mode_lists_valid_modes():
    with pytest.raises(ValueError, match="literal, normalized, softmax, fedavg"):
        fl.aggregation_weights(Q, N, "fedprox")


def test_literal_guards_division_by_zero():
    W = fl.aggregation_weights(jnp.array([0.0, -1.0]), jnp.array([0.0, 5.0]), "literal")
    assert np.all(np.isfinite(W))
    W = fl.aggregation_weights(jnp.array([0.0, -1.0]), jnp.array([0.0, 5.0]), "normalized")
    assert np.all(np.isfinite(W))
    np.testing.assert_allclose(np.sum(W, axis=1), 1.0, rtol=1e-6)


def test_weights_jit_and_vmap_over_seeds():
    f = jax.jit(fl.aggregation_weights, static_argnames="mode")
    qs = jnp.stack([Q, Q + 1.0])  # shifting Q does not change the normalized weights
    Ws = jax.vmap(lambda q: f(q, N, mode="normalized"))(qs)
    assert Ws.shape == (2, 3, 3)
    np.testing.assert_allclose(Ws[0], Ws[1], atol=1e-6)
    np.testing.assert_allclose(Ws[0, 0], [4 / 7, 3 / 7, 0.0], atol=1e-6)


def test_aggregate_tiny_pytree():
    W = jnp.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    params = {"w": jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), "b": jnp.array([10.0, 20.0, 30.0])}
    out = fl.aggregate(params, W)
    # row 2: 0.2*[1,2] + 0.3*[3,4] + 0.5*[5,6] = [3.6, 4.6]; b: 0.2*10 + 0.3*20 + 0.5*30 = 23
    np.testing.assert_allclose(out["w"], [[1.0, 2.0], [2.0, 3.0], [3.6, 4.6]], rtol=1e-6)
    np.testing.assert_allclose(out["b"], [10.0, 15.0, 23.0], rtol=1e-6)
    assert out["w"].dtype == params["w"].dtype


def test_fedavg_broadcasts_mean():
    params = {"w": jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]])}
    np.testing.assert_allclose(fl.fedavg(params)["w"], [[3.0, 5.0]] * 3, rtol=1e-6)


def test_fl_target_update_eq24():
    # tau = 0.1, tau_t = 0.5, target 1, online 3, aggregate 5: 0.1 * (0.5*3 + 0.5*5) + 0.9 * 1 = 1.3
    out = fl.fl_target_update({"a": jnp.array([1.0])}, {"a": jnp.array([3.0])}, {"a": jnp.array([5.0])}, 0.1, 0.5)
    np.testing.assert_allclose(out["a"], [1.3], rtol=1e-6)
    # tau_t = 0 is the ordinary soft update: 0.1 * 3 + 0.9 * 1 = 1.2
    out = fl.fl_target_update({"a": jnp.array([1.0])}, {"a": jnp.array([3.0])}, {"a": jnp.array([5.0])}, 0.1, 0.0)
    np.testing.assert_allclose(out["a"], [1.2], rtol=1e-6)


def test_tau_schedule():
    np.testing.assert_allclose(fl.fl_tau_schedule(0), 0.5, rtol=1e-6)
    np.testing.assert_allclose(fl.fl_tau_schedule(2), 0.5 * 0.9604, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(fl.fl_tau_schedule)(jnp.int32(1), 0.4, 0.5), 0.2, rtol=1e-6)


def test_fl_round_fedavg():
    # tau = 1, round 0 (tau_t = 0.5), online [0, 3, 6] (mean 3): target = 0.5 * online + 0.5 * 3
    online = {"a": jnp.array([[0.0], [3.0], [6.0]])}
    target = {"a": jnp.zeros((3, 1))}
    new, W = jax.jit(fl.fl_round, static_argnames="mode")(target, online, Q, N, 0, 1.0, mode="fedavg")
    np.testing.assert_allclose(new["a"][:, 0], [1.5, 3.0, 4.5], rtol=1e-6)
    np.testing.assert_allclose(W, np.full((3, 3), 1 / 3), rtol=1e-6)


# ---- a learner's FL round on several network stacks (`sync_targets`) -----------------------------
# Two stacks (an "actor" and a "critic"), 2 agents, tau = 0.5. Q = [1, 3], N = [1, 1]: the
# normalised weights are (Q - min Q + eps) / sum = [~0, ~1] for every row.
ACTOR = ({"w": jnp.array([[2.0], [6.0]])}, {"w": jnp.array([[0.0], [4.0]])})  # (online, target)
CRITIC = ({"b": jnp.array([1.0, 5.0])}, {"b": jnp.array([1.0, 1.0])})


def sync(mode, round_idx=1):
    return fl.sync_targets((ACTOR[1], CRITIC[1]), (ACTOR[0], CRITIC[0]), jnp.array([1.0, 3.0]), jnp.ones(2),
                           round_idx, 0.5, fl_mode=mode, tau0=0.5, decay=0.5)


def test_sync_targets_personalized_by_hand():
    # round 1: tau_t = 0.5 * 0.5 = 0.25; aggregate = agent 1's online (w 6, b 5)
    # actor:  agent 0: 0.5 (0.75*2 + 0.25*6) + 0.5*0 = 1.5;  agent 1: 0.5 (0.75*6 + 0.25*6) + 0.5*4 = 5
    # critic: agent 0: 0.5 (0.75*1 + 0.25*5) + 0.5*1 = 1.5;  agent 1: 0.5 (0.75*5 + 0.25*5) + 0.5*1 = 3
    actor_t, critic_t = sync("personalized")
    np.testing.assert_allclose(actor_t["w"][:, 0], [1.5, 5.0], rtol=1e-5)
    np.testing.assert_allclose(critic_t["b"], [1.5, 3.0], rtol=1e-5)


def test_sync_targets_fedavg_and_none_by_hand():
    # fedavg: tau_t = 1, uniform weights: target <- 0.5 * mean(online) + 0.5 * target
    actor_t, critic_t = sync("fedavg")
    np.testing.assert_allclose(actor_t["w"][:, 0], [0.5 * 4 + 0.0, 0.5 * 4 + 2.0], rtol=1e-6)
    np.testing.assert_allclose(critic_t["b"], [0.5 * 3 + 0.5, 0.5 * 3 + 0.5], rtol=1e-6)
    # none: centralised training, the targets come back unchanged
    actor_t, critic_t = sync("none")
    np.testing.assert_array_equal(actor_t["w"], ACTOR[1]["w"])
    np.testing.assert_array_equal(critic_t["b"], CRITIC[1]["b"])
    with pytest.raises(ValueError, match="personalized, fedavg, none"):
        sync("gossip")


def test_sync_targets_equals_fl_round_per_stack():
    """Same as `fl_round` on each stack with the shared weights (jit, traced round index and tau)."""
    got = jax.jit(lambda r, tau: fl.sync_targets((ACTOR[1], CRITIC[1]), (ACTOR[0], CRITIC[0]), Q[:2], N[:2], r, tau))(
        jnp.int32(3), jnp.float32(0.1))
    for new, (online, target) in zip(got, (ACTOR, CRITIC)):
        ref, _ = fl.fl_round(target, online, Q[:2], N[:2], 3, 0.1)
        for a, b in zip(jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(ref)):
            np.testing.assert_allclose(a, b, rtol=1e-6)
