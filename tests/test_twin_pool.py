"""The DT experience pool of seed 000 §5.6 (eq. 23): ring, weights, gather and epsilon-greedy selection.

Pool entries encode (rollout id, step) as ``100 * id + step`` so a wrong gather shows up as a wrong
number. Expected matrices are written out by hand for n = 3, n' = 2 (H = 5, 3 slots).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algos.common import replay
from algos.common import twin_pool as tp

NN, NP = 3, 2  # n, n'
W_HAND = np.array([  # 1 - (p+q)/5, rows p = 0..2, columns q = 1..3
    [0.8, 0.6, 0.4],
    [0.6, 0.4, 0.2],
    [0.4, 0.2, 0.0],
])


def rollout(rid):
    step = jnp.arange(NN + NP)
    x = 100 * rid + step
    return {"x": x.astype(jnp.int32), "v": jnp.stack([x, -x], axis=-1).astype(jnp.float32)}


def pool_with(ids):
    pool = tp.init({"x": jnp.int32(0), "v": jnp.zeros(2)}, NN, NP)
    for r in ids:
        pool = tp.push_rollout(pool, rollout(r))
    return pool


def test_interval_weights_by_hand():
    np.testing.assert_allclose(tp.interval_weights(NN, NP), W_HAND, atol=1e-7)


def test_epsilon_schedule():
    np.testing.assert_allclose(tp.epsilon_schedule(5, 0.5), [0.5, 0.4, 0.3, 0.2, 0.1], atol=1e-7)


def test_init_shapes_and_sizes():
    pool = pool_with([])
    assert pool.data["x"].shape == (3, 5) and pool.data["v"].shape == (3, 5, 2)
    assert tp.sizes(pool) == (NN, NP)
    with pytest.raises(ValueError):
        tp.init({"x": jnp.int32(0)}, 0, 2)


def test_candidates_partial_pool():
    # rollouts 0 then 1 pushed: age 0 = rollout 1, age 1 = rollout 0, age 2 never filled
    cands, valid = tp.candidates(pool_with([0, 1]))
    np.testing.assert_array_equal(cands["x"][:2], [[100, 101, 102], [1, 2, 3]])
    np.testing.assert_array_equal(valid, [[True] * 3, [True] * 3, [False] * 3])
    np.testing.assert_array_equal(cands["v"][1, :, 1], [-1, -2, -3])


def test_candidates_after_wraparound_jit():
    # rollouts 0..4 in a 3-slot ring: ages 0, 1, 2 = rollouts 4, 3, 2; entry [p, q-1] = step p+q-1
    pool = pool_with(range(5))
    cands, valid = jax.jit(tp.candidates)(pool)
    np.testing.assert_array_equal(cands["x"], [[400, 401, 402], [301, 302, 303], [202, 203, 204]])
    assert cands["v"].shape == (3, 3, 2)
    assert bool(valid.all())
    assert int(pool.count) == 3
    # reset empties the pool (all invalid) without touching the data
    _, valid = tp.candidates(tp.reset(pool))
    assert not bool(valid.any())


def many(fn, n_keys=4000):
    keys = jax.random.split(jax.random.PRNGKey(0), n_keys)
    return jax.jit(jax.vmap(fn))(keys)


def test_eps1_always_argmax_among_valid():
    q = jnp.array([[1.0, 5.0, 0.0], [3.0, 2.0, jnp.nan], [9.0, 9.0, 9.0]])  # row 2 is invalid
    valid = jnp.array([[True] * 3, [True] * 3, [False] * 3])
    p, qi, ok = many(lambda k: tp.select(k, q, W_HAND, jnp.ones(3), valid), 200)
    np.testing.assert_array_equal(p, np.tile([1, 0, 0], (200, 1)))  # NaN never beats a finite score
    np.testing.assert_array_equal(qi[0], [0, 1, 2])
    assert bool(ok.all())


def test_eps0_frequencies_match_weights():
    valid = jnp.ones((3, 3), bool)
    p, _, _ = many(lambda k: tp.select(k, jnp.zeros((3, 3)), W_HAND, jnp.zeros(3), valid))
    freq = np.stack([np.bincount(np.asarray(p[:, c]), minlength=3) for c in range(3)], axis=1) / p.shape[0]
    expected = np.array([  # columns of W_HAND divided by their sums 1.8, 1.2, 0.6
        [4 / 9, 1 / 2, 2 / 3],
        [3 / 9, 1 / 3, 1 / 3],
        [2 / 9, 1 / 6, 0.0],
    ])
    np.testing.assert_allclose(freq, expected, atol=0.03)
    assert freq[2, 2] == 0.0  # weight 0 at (n', n): never drawn


def test_invalid_never_chosen_and_weights_renormalised():
    pool = pool_with([7, 8])  # count 2: row 2 invalid
    cands, valid = tp.candidates(pool)
    q = jnp.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [5.0, 5.0, 5.0]])
    p, _, _ = many(lambda k: tp.select(k, q, W_HAND, jnp.full(3, 0.5), valid))
    assert int(p.max()) <= 1
    p0, _, _ = many(lambda k: tp.select(k, q, W_HAND, jnp.zeros(3), valid))
    # column q=1 among rows 0, 1: [0.8, 0.6] / 1.4
    np.testing.assert_allclose(np.mean(np.asarray(p0[:, 0]) == 0), 0.8 / 1.4, atol=0.03)


def test_empty_pool_not_ok_and_zero_weight_fallback():
    cands, valid = tp.candidates(pool_with([]))
    _, _, ok = tp.select(jax.random.PRNGKey(1), jnp.zeros((3, 3)), W_HAND, jnp.zeros(3), valid)
    assert not bool(ok.any())
    # n' = 0: the last column's only weight is 0; the weighted branch still returns the valid row
    w = tp.interval_weights(2, 0)
    np.testing.assert_allclose(w, [[0.5, 0.0]])
    p, _, ok = tp.select(jax.random.PRNGKey(2), jnp.zeros((1, 2)), w, jnp.zeros(2), jnp.ones((1, 2), bool))
    np.testing.assert_array_equal(p, [0, 0])
    assert bool(ok.all())


def test_global_mode_and_take():
    pool = pool_with(range(5))
    cands, valid = tp.candidates(pool)
    q = jnp.array([[0.0, 1.0, 2.0], [3.0, 8.0, 4.0], [5.0, 6.0, 7.0]])
    p, qi, ok = tp.select(jax.random.PRNGKey(3), q, W_HAND, 1.0, valid, mode="global")
    assert (int(p[0]), int(qi[0]), bool(ok[0])) == (1, 1, True)
    np.testing.assert_array_equal(tp.take(cands, p, qi)["x"], [302])  # rollout 3 (age 1), step 1 + 2 - 1
    # eps = 0: one draw over the matrix with probability w / 3.6; invalid row 2 excluded
    valid2 = valid.at[2].set(False)
    p, qi, _ = many(lambda k: tp.select(k, q, W_HAND, 0.0, valid2, mode="global"))
    flat = np.asarray(p[:, 0] * 3 + qi[:, 0])
    freq = np.bincount(flat, minlength=9) / flat.size
    np.testing.assert_allclose(freq[:6], np.array([0.8, 0.6, 0.4, 0.6, 0.4, 0.2]) / 3.0, atol=0.03)
    assert freq[6:].sum() == 0.0
    with pytest.raises(ValueError, match="column, global"):
        tp.select(jax.random.PRNGKey(0), q, W_HAND, 0.0, valid, mode="row")


def test_select_vmaps_over_agents_and_take_column_mode():
    n_agents = 4
    pools = jax.vmap(lambda r: tp.push_rollout(tp.push_rollout(pool_with([]), rollout(r)), rollout(r + 1)))(
        jnp.arange(n_agents) * 10)
    cands, valid = jax.vmap(tp.candidates)(pools)
    # eps = 1 with scores that favour age 1 in every column
    q = jnp.broadcast_to(jnp.array([[0.0], [1.0], [2.0]]), (n_agents, 3, 3))
    keys = jax.random.split(jax.random.PRNGKey(4), n_agents)
    p, qi, ok = jax.jit(jax.vmap(lambda k, s, v: tp.select(k, s, W_HAND, jnp.ones(3), v)))(keys, q, valid)
    assert p.shape == (n_agents, 3) and bool(ok.all())
    got = jax.vmap(tp.take)(cands, p, qi)["x"]
    # agent a pushed rollouts 10a then 10a+1: age 1 = rollout 10a, entries at steps 1, 2, 3
    expected = np.array([[1000 * a + 1, 1000 * a + 2, 1000 * a + 3] for a in range(n_agents)])
    np.testing.assert_array_equal(got, expected)


# ---- the learner's eq. 23 step for every agent (`joint_rows`, `insert`) --------------------------
# Two owners, n = 3, n' = 2. Owner a's rollout r has reward 100 r + step + 1000 a and observation
# [reward, -reward]; the snapshot (the others' features) is 7 + agent for obs, 70 + agent for next_act.


def owner_rollout(rid, owner):
    step = jnp.arange(NN + NP, dtype=jnp.float32)
    r = 100.0 * rid + step + 1000.0 * owner
    return {"obs": jnp.stack([r, -r], -1), "reward": r}


SNAP = {"obs": jnp.array([[7.0, 7.0], [8.0, 8.0]]), "next_act": jnp.array([[70.0], [71.0]])}


def filled_pools():
    """Rollouts 0 and 1 pushed for both owners; `insert` then pushes rollout 2 (ages 0, 1, 2 = 2, 1, 0)."""
    pool = jax.vmap(lambda _: tp.init({"obs": jnp.zeros(2), "reward": jnp.float32(0)}, NN, NP))(jnp.arange(2))
    for rid in (0, 1):
        pool = jax.vmap(tp.push_rollout)(pool, jax.vmap(lambda a: owner_rollout(rid, a))(jnp.arange(2)))
    row = {"obs": jax.ShapeDtypeStruct((2, 2), jnp.float32), "reward": jax.ShapeDtypeStruct((), jnp.float32),
           "next_act": jax.ShapeDtypeStruct((2, 1), jnp.float32)}
    syn = jax.vmap(lambda _: replay.init(row, 16))(jnp.arange(2))
    return pool, syn, jax.vmap(lambda a: owner_rollout(2, a))(jnp.arange(2))


def test_joint_rows_put_the_owner_in_its_slot():
    cands = {"obs": jnp.arange(2 * 3 * 2, dtype=jnp.float32).reshape(2, 3, 2), "reward": jnp.ones((2, 3))}
    rows = tp.joint_rows(cands, SNAP)
    assert rows["obs"].shape == (2, 3, 2, 2) and rows["reward"].shape == (2, 3) and rows["next_act"].shape == (2, 3, 2, 1)
    np.testing.assert_array_equal(rows["obs"][0, 1], [[2.0, 3.0], [8.0, 8.0]])  # owner 0: its candidate, then agent 1's snapshot
    np.testing.assert_array_equal(rows["obs"][1, 2], [[7.0, 7.0], [10.0, 11.0]])  # owner 1: agent 0's snapshot, then its candidate
    np.testing.assert_array_equal(rows["next_act"][1, 0], SNAP["next_act"])


def test_insert_greedy_and_eq23_weighted_picks():
    """eps = 1: the best-scoring candidate of every column (score = its reward, so the freshest
    rollout); eps = 0: picks of owner 0, column q, from the rollout of age p with eq. (23)'s weights
    ``1 - (p+q)/(n+n')`` normalised over the column (W_HAND)."""
    pool, syn, new = filled_pools()
    score = lambda rows: rows["reward"]  # noqa: E731  [n, (n'+1) n]

    def run(key, eps):
        return tp.insert(pool, syn, key, new, SNAP, score, W_HAND, eps)

    pool1, syn1 = run(jax.random.PRNGKey(0), jnp.ones(NN))
    assert int(pool1.count[0]) == 3 and int(syn1.size[0]) == NN
    # owner a, column q (1-based): rollout 2 (age 0), step q - 1
    np.testing.assert_array_equal(syn1.data["reward"][:, :NN], [[200, 201, 202], [1200, 1201, 1202]])
    np.testing.assert_array_equal(syn1.data["obs"][1, 0], [[7.0, 7.0], [1200.0, -1200.0]])
    np.testing.assert_array_equal(syn1.data["next_act"][0, 2], SNAP["next_act"])

    rewards = jax.jit(jax.vmap(lambda k: run(k, jnp.zeros(NN))[1].data["reward"][0, :NN]))(
        jax.random.split(jax.random.PRNGKey(1), 4000))
    age = 2 - np.asarray(rewards) // 100  # rollout id 2 - p
    step = np.asarray(rewards) % 100
    np.testing.assert_array_equal(step, age + np.arange(NN))  # entry [p, q-1] is step p + q - 1
    freq = np.stack([np.bincount(age[:, c].astype(int), minlength=3) for c in range(NN)], 1) / len(age)
    np.testing.assert_allclose(freq, W_HAND / W_HAND.sum(0), atol=0.03)


def test_sample_synthetic_and_mix_replace_the_last_rows():
    """Owner 0's buffer holds rows, owner 1's is empty: only owner 0's last 2 of 5 rows are synthetic,
    and nothing is once ``on`` is False."""
    buf = jax.vmap(lambda _: replay.init({"r": jax.ShapeDtypeStruct((), jnp.float32)}, 4))(jnp.arange(2))
    buf = buf.replace(data={"r": jnp.array([[7.0, 7.0, 7.0, 7.0], [0.0] * 4])}, size=jnp.array([3, 0], jnp.int32))
    rows, use = tp.sample_synthetic(buf, jax.random.PRNGKey(0), 5, 2)
    assert rows["r"].shape == (2, 2)
    np.testing.assert_array_equal(use, [[False, False, False, True, True], [False] * 5])
    real = jnp.arange(10.0).reshape(2, 5)
    np.testing.assert_array_equal(tp.mix(use, real, rows["r"]), [[0, 1, 2, 7, 7], [5, 6, 7, 8, 9]])
    wide = jnp.broadcast_to(real[..., None], (2, 5, 3))  # feature axes broadcast with the mask
    np.testing.assert_array_equal(tp.mix(use, wide, jnp.broadcast_to(rows["r"][..., None], (2, 2, 3)))[0, :, 1],
                                  [0, 1, 2, 7, 7])
    _, off = tp.sample_synthetic(buf, jax.random.PRNGKey(0), 5, 2, on=jnp.bool_(False))
    assert not bool(off.any())
