"""DT-MADDPG and its DDPG baseline on `v2x` (seed 002), the certified cost lower bound and the
full-information oracle that brackets the slot optimum from above."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import algos
import jaxedge
from algos import ddpg, dt_maddpg, heuristics
from algos.common.evaluation import evaluate, evaluate_runs
from algos.heuristics import v2x_bound, v2x_oracle
from jaxedge import spaces
from jaxedge.envs import v2x

TINY = dict(total_env_steps=32, num_envs=2, chunk_size=8, warmup_steps=4, batch_size=8, buffer_size=64)


def tiny_trainer(env, module=dt_maddpg, **over):
    cfg = dataclasses.replace(module.Config(), **{**TINY, **over})
    return module.make_train(cfg, env, env.default_params)


def critic_actions(action, n_servers):
    return jnp.concatenate([jax.nn.one_hot(action.discrete, n_servers + 1), action.continuous], -1)


def test_policy_acts_in_turn_order_on_the_live_twin():
    """The learner's policy from the slot-start observations alone decodes exactly as the env's own
    turn-order scan from the state (S4/S5 via `decode_action`), and the observations its vehicles act
    on are the env's ``twin_observation`` of that step."""
    env = jaxedge.make("v2x", n_vehicles=4, n_servers=3)
    params = env.default_params
    trainer = tiny_trainer(env)
    rs = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    obs, state = env.reset(jax.random.PRNGKey(1), params)
    core_actor = dt_maddpg.maddpg.Core.build(dataclasses.replace(dt_maddpg.Config(), critic_arch="mlp"), env, params)
    spec = core_actor.spec

    def agent(i, obs_i):  # vehicle i's actor, deterministic head: argmax target, that target's fractions
        out = core_actor.actor.apply(jax.tree_util.tree_map(lambda p: p[i], rs.actor),
                                     dt_maddpg.network_input(env, obs_i))  # log h for the fades h
        one_hot, cont = spec.deterministic(out)
        return jnp.argmax(one_hot[0]), cont

    from_obs = jax.jit(trainer.act)(rs, obs)
    from_state, obs_seq = jax.jit(lambda s: env.act_sequential(s, params, agent))(state)
    np.testing.assert_array_equal(from_obs.discrete, from_state.discrete)
    np.testing.assert_allclose(from_obs.continuous, from_state.continuous, rtol=1e-5, atol=1e-6)
    assert from_obs.continuous.min() >= spec.floor - 1e-6 and from_obs.continuous.max() <= 1.0
    info = env.step(jax.random.PRNGKey(2), state, from_obs, params)[-1]
    np.testing.assert_allclose(info["twin_observation"], obs_seq, rtol=1e-5, atol=1e-6)


def test_later_vehicle_sees_what_earlier_ones_left_hand_case():
    """Hand case: one ES at the centre, three vehicles in range that all offload and ask for half the
    CPU and a quarter of the bandwidth: the twin critic's replay (`twin_turns`, the critic's and the
    actors' view) gives vehicle k the slot-start CPU x 0.5^k and bandwidth x 0.75^k, exactly the env's
    twin observations; a local vehicle leaves the twin untouched."""
    env = jaxedge.make("v2x", n_vehicles=3, n_servers=1)
    params = env.default_params
    state = env.initial_state(
        v2x.EpisodeDraws(pos=jnp.array([[500.0, 400.0], [600.0, 500.0], [450.0, 450.0]]),
                         heading=jnp.tile(jnp.array([[1.0, 0.0]]), (3, 1)), speed=jnp.full((3,), 5.0)),
        env.sample_step(jax.random.PRNGKey(0), params), params)
    obs = env.observations(state, params)
    at, radius = dict(dt_maddpg.twin_offsets(env)), dt_maddpg.obs_radius(params)
    @jax.jit
    def both(targets):
        action = spaces.HybridAction(targets, jnp.tile(jnp.array([[1.0, 0.5, 0.25]]), (3, 1)))
        live, f, _ = dt_maddpg.twin_turns(obs, critic_actions(action, 1), 1, at, radius)
        return live, f, env.step(jax.random.PRNGKey(1), state, action, params)[-1]["twin_observation"]

    for targets, expect_cpu, expect_bw in (([1, 1, 1], [1, 0.5, 0.25], [1, 0.75, 0.5625]),
                                           ([1, 0, 1], [1, 0.5, 0.5], [1, 0.75, 0.75])):
        live, f, env_obs = both(jnp.array(targets))
        np.testing.assert_allclose(live, env_obs, rtol=1e-6)
        seen = env.physical_observation(live, params)
        np.testing.assert_allclose(seen["cpu"][:, 0], float(state.cpu[0]) * np.array(expect_cpu), rtol=1e-5)
        np.testing.assert_allclose(seen["bw"][:, 0], params.es_bw * np.array(expect_bw), rtol=1e-5)
        np.testing.assert_allclose(f[:, 0] * params.es_cpu_high,
                                   0.5 * seen["cpu"][:, 0] * (np.array(targets) > 0), rtol=1e-5)


def test_twin_replay_matches_the_env_for_random_actions():
    """3 ESs with remote offloads (bandwidth from the access ES): the replay equals the env's twin."""
    env = jaxedge.make("v2x", n_vehicles=6, n_servers=3)
    params = env.default_params
    at, radius = dict(dt_maddpg.twin_offsets(env)), dt_maddpg.obs_radius(params)
    @jax.jit
    def both(key):
        k1, k2, k3 = jax.random.split(key, 3)
        obs, state = env.reset(k1, params)
        action = spaces.HybridAction(jax.random.randint(k2, (6,), 0, 4), jax.random.uniform(k3, (6, 3)))
        live, _, _ = dt_maddpg.twin_turns(obs, critic_actions(action, 3), 3, at, radius)
        return live, env.step(k1, state, action, params)[-1]["twin_observation"]

    live, env_obs = jax.vmap(both)(jax.random.split(jax.random.PRNGKey(0), 8))
    np.testing.assert_allclose(live, env_obs, rtol=1e-5, atol=1e-6)


def test_ddpg_critic_is_local_and_both_refuse_other_envs():
    env = jaxedge.make("v2x", n_vehicles=3, n_servers=2)
    rs = jax.eval_shape(tiny_trainer(env, ddpg).init, jax.random.PRNGKey(0))
    first = rs.critic["params"]["Dense_0"]["kernel"]
    assert first.shape[:2] == (3, env.obs_dim + 3 + 3)  # one critic per vehicle on [o_i, one-hot(3), 3 fractions]
    twin = jax.eval_shape(tiny_trainer(env).init, jax.random.PRNGKey(0))
    assert {x.shape[0] for x in jax.tree_util.tree_leaves(twin.critic)} == {1}  # one twin critic for all vehicles
    other = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
    for name in ("dt_maddpg", "ddpg"):
        assert not algos.supports(name, other, other.default_params)
        with pytest.raises(ValueError, match="runs on v2x only"):
            algos.make_trainer(name, algos.ALGOS[name].Config(), other, other.default_params)


@pytest.mark.slow  # ~75 s on a loaded 2-core CPU (compiles the training chunk); the CLI matrix covers it too
def test_short_run_trains_and_evaluates():
    """A few chunks of DT-MADDPG: finite metrics and losses, deterministic evaluation through
    `evaluate_runs` (the path of the CLI and the reproduction runner)."""
    env = jaxedge.make("v2x", n_vehicles=2, n_servers=1)
    trainer = tiny_trainer(env, total_env_steps=48)
    out = jax.jit(trainer)(jax.random.PRNGKey(0))
    for name in ("cost", "critic_loss", "actor_loss"):
        assert np.all(np.isfinite(np.asarray(out["metrics"][name])))
    runs = jax.tree_util.tree_map(lambda x: x[None], out["train_state"])
    ev = evaluate_runs(env, env.default_params, trainer, runs, jax.random.PRNGKey(3), 2, 5)
    assert np.isfinite(ev["over_runs"]["cost"]["mean"])


@pytest.mark.slow
def test_learning_beats_rocs():
    """Spec §10.6 smoke test: M = 2, N = 1, trend, gamma = 0; after 4,000 env steps (3 seeds) the
    deterministic policy costs less than ROCS on every seed and within 25 % of Greedy-DT."""
    env = jaxedge.make("v2x", n_vehicles=2, n_servers=1)
    params = env.default_params
    cfg = dataclasses.replace(dt_maddpg.Config(), total_env_steps=4_000, num_envs=4, warmup_steps=200, chunk_size=250)
    trainer = dt_maddpg.make_train(cfg, env, params)
    run = jax.jit(trainer)  # seeds one after the other: right for every loss (`expected` segfaults under a CPU run vmap)
    states = [run(k)["train_state"] for k in jax.random.split(jax.random.PRNGKey(0), 3)]
    key = jax.random.PRNGKey(7)
    ev = evaluate_runs(env, params, trainer, jax.tree_util.tree_map(lambda *x: jnp.stack(x), *states), key, 32, 50)
    rocs = evaluate(env, params, heuristics.make_heuristic(env, "rocs"), key, 32, 50)["cost"]["mean"]
    greedy = evaluate(env, params, heuristics.make_heuristic(env, "greedy"), key, 32, 50)["cost"]["mean"]
    learned = ev["run_means"]["cost"]
    assert np.all(learned < rocs), (learned, rocs)
    assert learned.mean() < 1.25 * greedy, (learned, greedy)


# ---- the lower bound --------------------------------------------------------------------------------
def test_bound_inner_minima():
    a, b = 2.0, 1e-27
    value, f = v2x_bound.cpu_term(a, b, 0.0)
    f_star = (a / (2 * b)) ** (1 / 3)  # (S3)
    np.testing.assert_allclose(f, f_star, rtol=1e-6)
    np.testing.assert_allclose(value, a / f_star + b * f_star**2, rtol=1e-9)
    grid = np.geomspace(1.0, 1e10, 20001)
    for mu in (1e-9, 1e-7):
        low, _ = v2x_bound.uplink_term(0.5, 1e9, mu, True)
        assert low <= np.min(0.5 / (grid * np.log2(1 + 1e9 / grid)) + mu * grid) * (1 + 1e-9)
    np.testing.assert_allclose(v2x_bound.uplink_term(0.5, 1e9, 0.0, True)[0], 0.5 * np.log(2) / 1e9)


@pytest.mark.parametrize("n_servers, preset", [(1, "trend"), (2, "trend"), (2, "literal")])
def test_bound_below_brute_force_on_tiny_instances(n_servers, preset):
    """Two vehicles: every joint action on a grid (targets x CPU / bandwidth fractions, p = p_max),
    priced by the env itself, never costs less than the bound, and the best is close to it."""
    env = jaxedge.make("v2x", n_vehicles=2, n_servers=n_servers)
    params = env.make_params(preset)
    levels = jnp.linspace(0.1, 1.0, 10)
    ff, bb = jnp.meshgrid(levels, levels, indexing="ij")
    fr = jnp.stack([jnp.ones(ff.size), ff.ravel(), bb.ravel()], -1)  # [100, 3]
    t = jnp.arange(n_servers + 1)
    grid_t = jnp.stack(jnp.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)

    def slot_min(state, draws):
        def cost(targets, i, j):
            act = spaces.HybridAction(targets, jnp.stack([fr[i], fr[j]]))
            return env.transition(state, act, draws, params)[-1]["metrics"]["cost"]

        idx = jnp.arange(fr.shape[0])
        return jax.vmap(lambda tg: jax.vmap(lambda i: jax.vmap(lambda j: cost(tg, i, j))(idx))(idx))(grid_t).min()

    keys = jax.random.split(jax.random.PRNGKey(11), 6)
    states = jax.vmap(lambda k: env.reset(k, params)[1])(keys)
    draws = jax.vmap(lambda k: env.sample_step(k, params))(keys)
    best = np.asarray(jax.jit(jax.vmap(slot_min))(states, draws), np.float64)
    slot = [np.asarray(x) for x in (states.pos, states.bits, states.gain, states.cpu, states.bw)]
    lb = v2x_bound.slot_bound(*slot, params, iters=40)
    _, opt = v2x_oracle.exhaustive(v2x_oracle.Slots(*slot, params))
    opt = opt / 2
    assert np.all(lb <= opt * (1 + 1e-9)), (lb, opt)  # bound <= exact optimum <= every grid point
    assert np.all(opt <= best * (1 + 1e-5)), (opt, best)
    assert np.all(lb >= 0.9 * opt), (lb, opt)  # and tight: the power intervals leave little slack


@pytest.mark.parametrize("preset", ["trend", "literal"])
def test_oracle_matches_exhaustive_and_the_env_prices_it(preset):
    """Three vehicles, two ESs: the local search finds the exhaustive optimum, the env's own
    transition prices its allocation (turn-order fractions) at exactly that cost, and the certified
    bound sits just below it."""
    env = jaxedge.make("v2x", n_vehicles=3, n_servers=2)
    params = env.make_params(preset)
    keys = jax.random.split(jax.random.PRNGKey(5), 4)
    states = jax.vmap(lambda k: env.reset(k, params)[1])(keys)
    draws = jax.vmap(lambda k: env.sample_step(k, params))(keys)
    slot = [np.asarray(x) for x in (states.pos, states.bits, states.gain, states.cpu, states.bw)]
    sl = v2x_oracle.Slots(*slot, params)
    _, exact = v2x_oracle.exhaustive(sl)
    oracle, x = v2x_oracle.slot_oracle(*slot, params)
    np.testing.assert_allclose(oracle, exact / 3, rtol=1e-9)
    total, target, frac = v2x_oracle.realise(sl, x)
    priced = jax.jit(jax.vmap(lambda s, t, f, d: env.transition(s, spaces.HybridAction(t, f), d, params)[-1]
                              ["metrics"]["cost"]))(states, jnp.asarray(target, jnp.int32),
                                                    jnp.asarray(frac, jnp.float32), draws)
    np.testing.assert_allclose(np.asarray(priced), total / 3, rtol=2e-4)
    lb = v2x_bound.slot_bound(*slot, params, iters=40)
    assert np.all((lb <= oracle * (1 + 1e-9)) & (lb >= 0.9 * oracle)), (lb, oracle)


def test_networks_read_log_fades():
    """`network_input` replaces only the fades h by log max(h, 1e-6): a deep fade stands far from a mild one."""
    env = jaxedge.make("v2x", n_vehicles=2, n_servers=3)
    obs, _ = env.reset(jax.random.PRNGKey(0), env.default_params)
    obs = obs.at[0, env.obs_offsets["gain"][0]].set(1e-5)
    seen = dt_maddpg.network_input(env, obs)
    at, size = env.obs_offsets["gain"]
    np.testing.assert_allclose(seen[:, at:at + size], np.log(np.maximum(obs[:, at:at + size], 1e-6)), rtol=1e-6)
    np.testing.assert_array_equal(np.delete(seen, np.s_[at:at + size], 1), np.delete(obs, np.s_[at:at + size], 1))
    assert seen[0, at] < np.log(0.05) - 7  # 1e-5 against a mild 0.05: ~8.5 apart, not 0.05
    np.testing.assert_array_equal(dt_maddpg.network_input(env, obs, log_gain=False), obs)
