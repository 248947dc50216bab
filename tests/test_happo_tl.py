"""HAPPO's pieces (GRU memory restart, local / global states (24)-(25), the sequential agent update and
its ratio factor), TL's behaviour-cloning loss (26), all on tiny synthetic data (no env rollout), and a
short learning test of happo against random on cloud_edge under -m slow."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algos import happo, tl
from algos.common.actions import ActionSpec
from algos.common.training import make_optimizer
from algos.ippo import log_prob, sample
from jaxedge.envs.cloud_edge import CloudEdge

ENV = CloudEdge(n_cells=2, ues_per_cell=2, n_channels=2, cache_slots=2)
SPEC = ActionSpec.from_env(ENV, ENV.default_params, 1e-3)
ACTOR = happo.RecurrentActor((8,), 8, SPEC.n_logits)


def test_gru_memory_restarts_at_episode_start():
    p = ACTOR.init(jax.random.PRNGKey(0), jnp.zeros((8,)), jnp.zeros((happo.LOCAL_DIM,)))
    xs = jax.random.normal(jax.random.PRNGKey(1), (6, 3, happo.LOCAL_DIM))
    other = xs.at[:3].set(jax.random.normal(jax.random.PRNGKey(2), (3, 3, happo.LOCAL_DIM)))  # another past
    first = jnp.zeros((6, 3), bool).at[3].set(True)
    run = jax.jit(lambda h0, xs, first: happo.unroll(ACTOR, p, h0, xs, first)[1])
    out = run(jnp.ones((3, 8)), xs, first)
    np.testing.assert_allclose(out[3:], run(jnp.zeros((3, 8)), other, first)[3:], atol=1e-6)  # the past is forgotten
    no_reset = jnp.zeros((6, 3), bool)
    assert not np.allclose(run(jnp.ones((3, 8)), xs, no_reset)[3:], run(jnp.zeros((3, 8)), other, no_reset)[3:],
                           atol=1e-4)  # ... and it does matter without the restart


def test_local_state_24_and_zero_padded_global_state_25():
    obs = jnp.zeros((4, 7 + 2)).at[:, :6].set(1.0)
    obs = obs.at[jnp.array([1, 3]), 6].set(1.0).at[1, 7].set(1.0).at[3, 8].set(1.0)  # slots 1 (edge 0), 3 (edge 1)
    local, mask = happo.local_states(obs, 2)
    np.testing.assert_array_equal(mask, [False, True, False, True])
    np.testing.assert_array_equal(local[0], 0.0)
    np.testing.assert_allclose(local[3, :2], [1.0, 1.0])  # slot 3 / 3, edge 1 / 1
    np.testing.assert_allclose(local[1, :2], [1 / 3, 0.0])
    g = happo.global_state(local, mask)
    assert g.shape == (4 * happo.LOCAL_DIM,)
    np.testing.assert_allclose(g[:16], jnp.concatenate([local[1], local[3]]))  # present UEs first
    np.testing.assert_array_equal(g[16:], 0.0)


def _batch(n=3, T=4, E=2, seed=0):
    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    nets = jax.vmap(lambda kk: ACTOR.init(kk, jnp.zeros((8,)), jnp.zeros((happo.LOCAL_DIM,))))(jax.random.split(k[0], n))
    params = {"net": nets, "log_std": jnp.zeros((n, SPEC.cont_dim))}
    x = jax.random.normal(k[1], (T, E, n, happo.LOCAL_DIM))
    first = jnp.zeros((T, E), bool).at[0].set(True)
    h0 = jnp.zeros((E, n, 8))

    def outs(params):
        return jax.vmap(lambda pa, xs: happo.unroll(ACTOR, pa, jnp.zeros((E, 8)), xs, first)[1],
                        in_axes=(0, 2), out_axes=2)(params["net"], x)

    out = outs(params)
    idx, pre = sample(SPEC, k[2], out, params["log_std"])
    data = dict(x=x, first=first, h0=h0, idx=idx, pre=pre, logp=log_prob(SPEC, out, params["log_std"], idx, pre),
                mask=jnp.ones((T, E, n), bool).at[:, :, 1].set(False).at[0, 0, 1].set(True),
                adv=jax.random.normal(k[3], (T, E)))
    return params, data, outs


def test_sequential_update_order_and_the_ratio_factor():
    params, data, outs = _batch()
    cfg = happo.Config(num_envs=2, update_epochs=2, num_minibatches=1)
    hp = {"lr": jnp.float32(1e-2), "clip_eps": jnp.float32(0.2), "ent_coef": jnp.float32(0.01)}
    tx = make_optimizer(cfg.max_grad_norm)
    opt = jax.vmap(tx(learning_rate=hp["lr"]).init)(params)
    order = jnp.array([2, 0, 1])
    new, _, info = jax.jit(lambda p, o: happo.update_actors(SPEC, ACTOR, tx, cfg, hp, p, o, data, order,
                                                            jax.random.PRNGKey(3)))(params, opt)
    np.testing.assert_array_equal(info["agent"], order)
    assert float(info["factor"][0]) == 1.0  # the first agent sees no earlier update
    new_logp = log_prob(SPEC, outs(new), new["log_std"], data["idx"], data["pre"])
    ratio = jnp.exp(new_logp - data["logp"])
    m = data["mask"]
    want1 = jnp.where(m[..., 2], ratio[..., 2], 1.0)  # agent 0 (second) sees agent 2's ratio
    np.testing.assert_allclose(info["factor"][1], happo.masked_mean(want1, m[..., 0]), rtol=1e-4)
    want2 = want1 * jnp.where(m[..., 0], ratio[..., 0], 1.0)
    np.testing.assert_allclose(info["factor"][2], happo.masked_mean(want2, m[..., 1]), rtol=1e-4)
    assert abs(float(info["factor"][1]) - 1.0) > 1e-4
    for i in range(3):  # every agent moved
        assert not np.allclose(new["log_std"][i], params["log_std"][i]) or not np.allclose(
            jax.tree_util.tree_leaves(new["net"])[0][i], jax.tree_util.tree_leaves(params["net"])[0][i])


def test_tl_bc_loss_decreases_on_a_fixed_batch():
    """Eq. (26) on a fixed batch of one-step inputs (16 rounds x 4 UEs, one UE absent) and random labels."""
    k = jax.random.split(jax.random.PRNGKey(4), 4)
    p = ACTOR.init(k[0], jnp.zeros((8,)), jnp.zeros((happo.LOCAL_DIM,)))
    x = jax.random.normal(k[1], (16, 4, happo.LOCAL_DIM))
    probs = jax.nn.one_hot(jax.random.randint(k[2], (16, 4, 2), 0, 2), SPEC.n_choices)
    cont = jax.random.uniform(k[3], (16, 4, 2), minval=0.1, maxval=0.9)
    mask = jnp.ones((16, 4), bool).at[:, 2].set(False)
    tx = make_optimizer(10.0)(learning_rate=1e-2)

    def loss(p):
        return tl.bc_loss(SPEC, ACTOR.apply(p, jnp.zeros((16, 4, 8)), x)[1], probs, cont, mask)

    @jax.jit
    def train(p):
        def step(carry, _):
            p, opt = carry
            val, g = jax.value_and_grad(loss)(p)
            upd, opt = tx.update(g, opt, p)
            return (jax.tree_util.tree_map(lambda a, u: a + u, p, upd), opt), val

        (p, _), vals = jax.lax.scan(step, (p, tx.init(p)), None, length=60)
        return vals[0], loss(p)

    first, last = train(p)
    assert float(last) < 0.5 * float(first)


def test_tl_labels_of_a_heuristic_teacher_are_one_hots():
    action = jax.tree_util.tree_map(jnp.asarray, __import__("jaxedge").spaces.HybridAction(
        jnp.array([[2, 1], [0, 0], [1, 1], [0, 1]], jnp.int32), jnp.full((4, 2), 0.5)))
    probs, cont = tl.action_labels(SPEC, action)
    assert probs.shape == (4, 2, SPEC.n_choices) and cont.shape == (4, 2)
    np.testing.assert_array_equal(probs.argmax(-1), action.discrete)
    np.testing.assert_array_equal(probs.sum(-1), 1.0)


@pytest.mark.slow
def test_happo_beats_random_on_cloud_edge():
    """A short budget (4 episodes per env at S1 sizes), 5 seeds: every seed below random's cost."""
    import algos
    from algos import heuristics
    from algos.common.evaluation import evaluate, evaluate_runs

    env = CloudEdge(n_cells=5, ues_per_cell=6)
    params = env.default_params
    cfg = dataclasses.replace(happo.Config(), total_env_steps=4 * 600 * 2, num_envs=2, rollout_len=100, chunk_size=6,
                              update_epochs=2)
    tr = algos.make_trainer("happo", cfg, env, params)
    keys = jnp.stack([jax.random.PRNGKey(s) for s in range(5)])
    out = jax.jit(jax.vmap(tr))(keys)
    key = jax.random.PRNGKey(123)
    learned = evaluate_runs(env, params, tr, out["train_state"], key, 4, 200)["run_means"]["cost"]
    rand = evaluate(env, params, heuristics.make_heuristic(env, "random"), key, 4, 200)["cost"]["mean"]
    assert np.all(learned < rand), (learned, rand)
