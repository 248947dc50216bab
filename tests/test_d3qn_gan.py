"""Seed 001's FedD3QN-GAN and its baselines (spec §10.6 items 7-8), with tiny networks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import algos
import jaxedge
from algos import cgan, d3qn_gan as dg
from algos.common import lazy_adam
from algos.common.evaluation import rollout_stats, rollout_stats_runs
from algos.heuristics import make_heuristic

TINY = dict(embed=8, hidden=8, head_hidden=4, n_particles=5, noise_dim=3, disc_hidden=(8,), batch_size=4)


def parts(**kw):
    cfg = dg.Config(**{**TINY, **kw})
    trunk, disc = dg.make_networks(cfg)
    return cfg, trunk, disc, dg.make_parts(cfg, trunk, disc, dg.adam(cfg), dg.adam(cfg))


def gen_params(cfg, trunk, key, n_actions=6):
    k_t, k_a = jax.random.split(key)
    z = jnp.zeros((cfg.noise_dim,)) if cfg.gan else None
    return {"trunk": trunk.init(k_t, jnp.zeros((6,)), z), "table": dg.init_table(k_a, cfg.head_hidden, n_actions)}


def batch(key, n=4, n_actions=6):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return {"obs": jax.random.uniform(k1, (n, 6)), "next_obs": jax.random.uniform(k2, (n, 6)),
            "action": jax.random.randint(k3, (n,), 0, n_actions), "reward": jax.random.uniform(k4, (n,)) + 1.0}


def test_q_is_mean_particles_plus_centred_advantage():
    cfg, trunk, _, _ = parts()
    gp = gen_params(cfg, trunk, jax.random.PRNGKey(0))
    gp["table"] = gp["table"].at[-1].set(jnp.arange(6.0))  # a non-zero bias row
    obs, z = jax.random.uniform(jax.random.PRNGKey(1), (3, 6)), jax.random.uniform(jax.random.PRNGKey(2), (3, 3))
    particles, feat = trunk.apply(gp["trunk"], obs, z)
    raw = feat @ gp["table"]
    q = dg.q_values(particles, dg.advantages(gp["table"], feat))
    expected = particles.mean(-1, keepdims=True) + raw - raw.mean(-1, keepdims=True)
    np.testing.assert_allclose(q, expected, rtol=1e-5, atol=1e-6)
    a = jnp.array([0, 5, 2])
    one = dg.q_values(particles, dg.advantage_of(gp["table"][:, a], gp["table"].mean(1), feat))
    np.testing.assert_allclose(one, q[jnp.arange(3), a], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["double", "max"])
def test_double_target_uses_the_online_argmax(mode):
    cfg, trunk, _, p = parts(gan=False, target_mode=mode, gamma=0.5)
    online = gen_params(cfg, trunk, jax.random.PRNGKey(0))
    target = gen_params(cfg, trunk, jax.random.PRNGKey(1))
    # bias rows decide the argmax: the online net prefers action 1, the target net action 3
    online["table"] = online["table"].at[:-1].set(0.0).at[-1].set(jnp.eye(6)[1] * 100.0)
    target["table"] = target["table"].at[:-1].set(0.0).at[-1].set(jnp.eye(6)[3] * 50.0 + jnp.eye(6)[1] * 10.0)
    b = batch(jax.random.PRNGKey(2))
    y = p.td_target(online, target, b, jax.random.PRNGKey(3), {"gamma": 0.5})
    particles, _ = trunk.apply(target["trunk"], b["next_obs"], None)
    centred = target["table"][-1] - target["table"][-1].mean()
    chosen = 1 if mode == "double" else 3
    np.testing.assert_allclose(y, b["reward"] + 0.5 * (particles.mean(-1) + centred[chosen]), rtol=1e-5)


def test_gradient_penalty_is_zero_for_a_linear_critic_with_unit_gradient():
    w = jnp.array([0.6, 0.8, 0.0])
    real, fake = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 3))
    eps = jax.random.uniform(jax.random.PRNGKey(1), (5,))
    assert float(cgan.gradient_penalty(lambda x: x @ w, real, fake, eps)) < 1e-8
    assert float(cgan.gradient_penalty(lambda x: 2.0 * x @ w, real, fake, eps)) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("table_adam", ["lazy", "dense"])
def test_one_generator_step_lowers_the_td_error(table_adam):
    cfg, trunk, disc, p = parts(table_adam=table_adam)
    gp = gen_params(cfg, trunk, jax.random.PRNGKey(0))
    dp = disc.init(jax.random.PRNGKey(1), jnp.zeros((cfg.n_particles,)))
    b = batch(jax.random.PRNGKey(2))
    z = jax.random.uniform(jax.random.PRNGKey(3), (4, cfg.noise_dim))
    y = b["reward"] * 5.0
    tx = dg.adam(cfg)
    opt = (tx(learning_rate=1e-3).init(gp) if table_adam == "dense"
           else {"trunk": tx(learning_rate=1e-3).init(gp["trunk"]), "table": lazy_adam.init(gp["table"])})
    td_of = lambda g: p.g_loss(g["trunk"], g["table"][:, b["action"]], g["table"].mean(1), dp, b, z, y,  # noqa: E731
                               (1.0, 1.0))[1][1]
    new, _, _ = p.g_step(gp, opt, dp, b, z, y, 1e-3, (1.0, 1.0))
    assert float(td_of(new)) < float(td_of(gp))


def test_lazy_adam_matches_dense_adam_on_the_first_step():
    table = jax.random.normal(jax.random.PRNGKey(0), (3, 5))
    cols = jnp.array([0, 2, 2])
    col_grads = jax.random.normal(jax.random.PRNGKey(1), (3, 3))
    dense_grad = jnp.zeros_like(table).at[:, cols].add(col_grads)
    tx = optax.adam(0.1)
    upd, _ = tx.update(dense_grad, tx.init(table), table)
    new, state = lazy_adam.update(table, lazy_adam.init(table), cols, col_grads, 0.1)
    np.testing.assert_allclose(new, optax.apply_updates(table, upd), rtol=1e-5, atol=1e-6)
    assert int(state["count"]) == 1 and float(jnp.abs(state["m"][:, 1]).sum()) == 0.0


def test_learning_rate_schedule_values():
    lr = [float(dg.lr_schedule(1e-3, v - 1, 0.1, 300)) for v in (1, 300, 301, 601, 901, 1000)]
    np.testing.assert_allclose(lr, [1e-3, 1e-3, 1e-4, 1e-5, 1e-6, 1e-6], rtol=1e-5)


def tiny_env():
    env = jaxedge.make("slicing", n_aps=2, max_users=10, action_mode="coarse")  # non-faithful, CI only
    return env, env.default_params.replace(episode_len=5)


@pytest.mark.parametrize("name", ["fed_d3qn_gan", pytest.param("id3qn_gan", marks=pytest.mark.slow),
                                  pytest.param("fed_d3qn", marks=pytest.mark.slow)])
def test_aggregation_shares_generators_only_in_federated_variants(name):
    env, params = tiny_env()
    cfg = algos.ALGOS[name].Config(**TINY, num_envs=2, total_env_steps=20, chunk_size=10, warmup_steps=10)
    out = jax.jit(algos.make_trainer(name, cfg, env, params))(jax.random.PRNGKey(0))
    ag = out["train_state"].agents  # after 10 slots = the end of episode 2: just aggregated
    spread = lambda tree: max(float(jnp.abs(x[0] - x[1]).max()) for x in jax.tree_util.tree_leaves(tree))  # noqa: E731
    if cfg.federated:
        assert spread(ag.gen) == 0.0
    else:
        assert spread(ag.gen) > 0.0
    if cfg.gan:
        assert spread(ag.disc) > 0.0


def test_variants_are_one_module_with_switches():
    flags = {n: (algos.ALGOS[n].Config().gan, algos.ALGOS[n].Config().federated) for n in dg.VARIANTS}
    assert flags == {"fed_d3qn_gan": (True, True), "id3qn_gan": (True, False), "fed_d3qn": (False, True),
                     "id3qn": (False, False)}
    assert all(algos.ALGOS[n].make_train is dg.make_train for n in dg.VARIANTS)
    assert jaxedge.make("slicing").num_actions == 18_496 and dg.Config().table_adam in dg.TABLE_ADAMS
    with pytest.raises(ValueError, match="target_mode"):
        dg.Config(target_mode="nope")


@pytest.mark.slow  # ~60 s on a loaded 2-core box
def test_coarse_smoke_learning_beats_random():
    """Spec §10.6.8 on the non-faithful coarse mode (100 actions), B = 2, U = 10, 3 seeds."""
    env = jaxedge.make("slicing", n_aps=2, max_users=10, action_mode="coarse")
    params = env.default_params
    cfg = dg.Config(embed=32, hidden=32, head_hidden=32, disc_hidden=(32, 32), num_envs=4, total_env_steps=4_000,
                    warmup_steps=400, chunk_size=500, eps_decay=200.0)
    trainer = dg.make_train(cfg, env, params)
    out = jax.jit(jax.vmap(trainer))(jax.random.split(jax.random.PRNGKey(0), 3))
    key = jax.random.PRNGKey(7)
    learned = np.asarray(rollout_stats_runs(env, params, trainer.act, out["train_state"], key, 16, 100)["reward"])
    rand = float(np.asarray(rollout_stats(env, params, make_heuristic(env, "random"), key, 16, 100)["reward"]).mean())
    assert learned.mean(1).min() > rand + 0.05, (learned.mean(1), rand)
