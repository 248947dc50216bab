"""IPPO: GAE against a NumPy loop, the log-prob of a MultiDiscrete + Box action by hand, the Trainer
under a seed vmap and chunked == whole, and a learning test (beats random)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxedge
from algos import ALGOS, ippo
from algos.common.actions import ActionSpec
from algos.common.evaluation import rollout_stats, rollout_stats_runs
from algos.common.training import map_runs
from algos.heuristics import make_heuristic
from jaxedge import spaces

FAST_COMPILE = {"xla_backend_optimization_level": 0}


def test_registered():
    assert ALGOS["ippo"] is ippo
    assert set(ippo.ACTION_SPACES) == {"discrete", "multi_discrete", "hybrid"}


def gae_loop(r, v, v_next, term, trunc, gamma, lam):
    """The textbook backward loop, one env and one agent at a time."""
    T = len(r)
    adv = np.zeros(T)
    last = 0.0
    for t in reversed(range(T)):
        boot = 0.0 if term[t] else v_next[t]
        delta = r[t] + gamma * boot - v[t]
        last = delta + gamma * lam * (0.0 if (term[t] or trunc[t]) else last)
        adv[t] = last
    return adv, adv + v


def test_gae_matches_numpy_loop_with_terminations_and_truncations():
    rng = np.random.default_rng(0)
    T, E, n = 9, 3, 2
    r = rng.normal(size=(T, E, n)).astype(np.float32)
    v = rng.normal(size=(T, E, n)).astype(np.float32)
    v_next = rng.normal(size=(T, E, n)).astype(np.float32)  # value of each step's final observation
    term = np.zeros((T, E), bool)
    trunc = np.zeros((T, E), bool)
    term[2, 0] = term[6, 1] = True
    trunc[4, 0] = trunc[8, 2] = trunc[3, 1] = True
    gamma, lam = 0.9, 0.8
    adv, ret = ippo.gae(jnp.asarray(r), jnp.asarray(v), jnp.asarray(v_next), jnp.asarray(term)[..., None],
                        jnp.asarray(term | trunc)[..., None], gamma, lam)
    for e in range(E):
        for i in range(n):
            want_adv, want_ret = gae_loop(r[:, e, i], v[:, e, i], v_next[:, e, i], term[:, e], trunc[:, e], gamma, lam)
            np.testing.assert_allclose(adv[:, e, i], want_adv, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(ret[:, e, i], want_ret, rtol=1e-5, atol=1e-5)
    # a tiny case by hand: one env, T = 3, terminated at t = 1 (no bootstrap, trace cut), then truncated at
    # t = 2 (bootstrap from the final observation's value 5.0)
    adv, _ = ippo.gae(jnp.array([1.0, 2.0, 3.0]), jnp.array([0.5, 0.5, 0.5]), jnp.array([9.0, 9.0, 5.0]),
                      jnp.array([False, True, False]), jnp.array([False, True, True]), 0.5, 0.5)
    a2 = 3.0 + 0.5 * 5.0 - 0.5
    a1 = 2.0 - 0.5
    a0 = (1.0 + 0.5 * 9.0 - 0.5) + 0.25 * a1
    np.testing.assert_allclose(adv, [a0, a1, a2], rtol=1e-6)


def test_log_prob_multidiscrete_plus_box_by_hand():
    space = spaces.Hybrid(spaces.MultiDiscrete(np.array([3, 2]), shape=(2, 2)),
                          spaces.Box(0.0, 1.0, shape=(2, 2)))
    spec = ActionSpec.from_space(space, n_agents=2)
    assert spec.heads == 2 and spec.n_choices == 3 and spec.cont_dim == 2 and spec.n_logits == 8
    out = jnp.array([[0.3, -1.0, 2.0, 0.5, 0.1, 7.0, 0.2, -0.4],
                     [1.0, 0.0, -1.0, -0.3, 0.6, -5.0, 1.5, 0.0]])
    log_std = jnp.array([-0.5, 0.2])
    idx, pre = ippo.sample(spec, jax.random.PRNGKey(3), out, log_std)
    assert np.all(np.asarray(idx[:, 1]) < 2)  # the masked third option of head 2 is never drawn
    got = ippo.log_prob(spec, out, log_std, idx, pre)
    for a in range(2):
        o, want = np.asarray(out[a], np.float64), 0.0
        for h, opts in enumerate((3, 2)):
            z = o[3 * h:3 * h + opts]  # head h's logits, the masked option left out
            want += z[int(idx[a, h])] - np.log(np.exp(z).sum())
        for j in range(2):
            mu, sd, x = o[6 + j], np.exp(float(log_std[j])), float(pre[a, j])
            want += -0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
        np.testing.assert_allclose(float(got[a]), want, rtol=1e-5)
    # entropy: categorical entropies of the unmasked options plus the Gaussian's
    ent = ippo.entropy(spec, out, log_std)
    o = np.asarray(out[0], np.float64)
    want = 0.0
    for h, opts in enumerate((3, 2)):
        p = np.exp(o[3 * h:3 * h + opts]) / np.exp(o[3 * h:3 * h + opts]).sum()
        want -= (p * np.log(p)).sum()
    want += float((log_std + 0.5 * np.log(2 * np.pi * np.e)).sum())
    np.testing.assert_allclose(float(ent[0]), want, rtol=1e-5)
    # the deterministic policy: argmax per head (within the mask) and the squashed mean in the box
    det_idx, cont = ippo.deterministic(spec, out)
    np.testing.assert_array_equal(det_idx, [[2, 0], [0, 1]])  # agent 0, head 2: the masked 7.0 never wins
    assert np.all((np.asarray(cont) > 0) & (np.asarray(cont) <= 1))


def _tiny(share=True, env_name="dt_inference", **kw):
    sizes = {"dt_inference": dict(n_users=2, n_servers=2, n_tasks=2), "collab_edge": dict(n_servers=3, max_tasks=4)}
    env = jaxedge.make(env_name, **sizes[env_name])
    cfg = dict(total_env_steps=4 * 6 * 4, num_envs=4, rollout_len=6, num_minibatches=2, update_epochs=2,
               hidden=(16,), chunk_size=2, share_params=share)
    cfg.update(kw)
    return env, ippo.make_train(ippo.Config(**cfg), env, env.default_params)


def test_trainer_vmaps_over_seeds_and_chunks_equal_the_whole_run():
    env, train = _tiny(env_name="collab_edge")  # the cheapest env to compile; hybrid heads: the next test
    assert train.sizes.num_chunks == 2 and train.sizes.iters_per_chunk == 2 and train.replay is None
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    whole = jax.jit(jax.vmap(train), compiler_options=FAST_COMPILE)(keys)
    rs = jax.jit(jax.vmap(train.init))(keys)
    chunk = jax.jit(map_runs(train.train_chunk, None, shared_args=1), compiler_options=FAST_COMPILE)
    metrics = []
    for c in range(train.sizes.num_chunks):
        rs, m = chunk(rs, jnp.int32(c * train.sizes.iters_per_chunk))
        metrics.append(m)
    # the same math compiled into different programs (fusion, reduction order): float32 noise, which
    # the per-minibatch advantage and observation normalisation amplify a little
    for a, b in zip(jax.tree_util.tree_leaves(rs.params), jax.tree_util.tree_leaves(whole["train_state"].params)):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-5)
    np.testing.assert_allclose(np.stack([m["reward"] for m in metrics], 1), whole["metrics"]["reward"], rtol=1e-4)
    for name in ("actor_loss", "value_loss", "entropy", "approx_kl", "delay"):
        assert np.all(np.isfinite(whole["metrics"][name])), name
    # the two seeds really differ, and the deterministic policy acts for one env
    kernel = jax.tree_util.tree_leaves(whole["train_state"].params["actor"])[-1]
    assert not np.allclose(kernel[0], kernel[1])
    obs, _ = env.reset(jax.random.PRNGKey(1), env.default_params)
    action = train.act(jax.tree_util.tree_map(lambda x: x[0], whole["train_state"]), obs)
    assert action.shape == (1,) and action.dtype == jnp.int32


def test_separate_parameters_per_agent_on_a_hybrid_space():
    env, train = _tiny(share=False, total_env_steps=4 * 6 * 2, chunk_size=2)
    out = jax.jit(train, compiler_options=FAST_COMPILE)(jax.random.PRNGKey(0))
    p = out["train_state"].params
    assert p["log_std"].shape == (2, 4)  # [agents, continuous entries: 2 tasks x 2 shares]
    kernel = jax.tree_util.tree_leaves(p["actor"])[-1]
    assert kernel.shape[0] == 2 and not np.allclose(kernel[0], kernel[1])
    assert np.all(np.isfinite(out["metrics"]["actor_loss"]))
    obs, _ = env.reset(jax.random.PRNGKey(1), env.default_params)
    action = train.act(out["train_state"], obs)
    assert action.discrete.shape == (2, 2) and action.continuous.shape == (2, 2, 2)


@pytest.mark.slow  # ~30 s; ippo's update is covered by the fast tests here
def test_ippo_beats_random_on_slicing():
    """Slicing (coarse actions: 100 per AP, 4 APs) is a contextual bandit whose random allocation
    starves slices: 3 vmapped seeds of ~20k env steps each must beat random's reward on every seed."""
    env = jaxedge.make("slicing", action_mode="coarse")
    params = env.default_params
    cfg = ippo.Config(total_env_steps=20_480, num_envs=16, rollout_len=32, hidden=(32, 32), chunk_size=40)
    train = ippo.make_train(cfg, env, params)
    out = jax.jit(jax.vmap(train), compiler_options=FAST_COMPILE)(jax.random.split(jax.random.PRNGKey(0), 3))
    key = jax.random.PRNGKey(7)
    learned = np.asarray(rollout_stats_runs(env, params, train.act, out["train_state"], key, 32, 50)["reward"]).mean(-1)
    random = float(np.mean(rollout_stats(env, params, make_heuristic(env, "random"), key, 32, 50)["reward"]))
    assert np.all(learned > random + 0.05), (learned, random)
