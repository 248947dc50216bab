"""The env contract (DESIGN.md), checked for every registered env at small sizes.

jit == no-jit; vmap == loop; same key => same trajectory; VecEnv == vmap(step); one trace of step;
finite outputs over long random rollouts; auto-reset semantics; spaces; bad input.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxedge
from jaxedge.wrappers import JaxMARLAdapter, LogWrapper, VecEnv

# Small static sizes per env for the contract checks (keeps compile times low).
SMALL_SIZES = {
    "dt_inference": dict(n_users=3, n_servers=2, n_tasks=2),
    "collab_edge": dict(n_servers=3, max_tasks=4),
    "slicing": dict(n_aps=2, max_users=6),
    "v2x": dict(n_vehicles=3, n_servers=2),
    "cloud_edge": dict(n_cells=2, ues_per_cell=3, n_channels=2, cache_slots=4),
}
# Agent-steps each env's long random rollout must cover.
LONG_ROLLOUT_AGENT_STEPS = 1_000_000

ENV_NAMES = jaxedge.list_envs()


def test_every_registered_env_has_contract_sizes():
    assert sorted(SMALL_SIZES) == ENV_NAMES


@pytest.fixture(params=ENV_NAMES)
def env_and_params(request):
    env = jaxedge.make(request.param, **SMALL_SIZES[request.param])
    return env, env.default_params


# Params overrides giving a short episode, so episode ends are reached in a few steps.
SHORT_EPISODE = {"collab_edge": dict(n_slots=2)}


def short_episodes(env, params):
    return params.replace(**SHORT_EPISODE.get(env.name, dict(episode_len=4)))


def rollout(env, params, key, steps):
    """(obs, reward, done) stacked over `steps` random-action steps of one env."""
    space = env.action_space(params)
    obs, state = env.reset(key, params)
    outs = []
    for t in range(steps):
        k_act, k_step = jax.random.split(jax.random.fold_in(key, t))
        obs, state, reward, terminated, truncated, _ = env.step(k_step, state, space.sample(k_act), params)
        outs.append((obs, reward, terminated | truncated))
    return jax.tree_util.tree_map(lambda *x: np.stack(x), *outs)


def test_jit_matches_no_jit(env_and_params):
    env, params = env_and_params
    key = jax.random.PRNGKey(0)
    obs, state = env.reset(key, params)
    action = env.action_space(params).sample(key)
    eager = env.step(key, state, action, params)
    jitted = jax.jit(env.step)(key, state, action, params)
    chex.assert_trees_all_close(eager, jitted, rtol=1e-5, atol=1e-6)
    # rtol as for the step: a path gain exp(ln g), ln g ~ -17, turns eager-vs-fused ulps in ln g into ~2e-6
    chex.assert_trees_all_close(env.reset(key, params), jax.jit(env.reset)(key, params), rtol=1e-5)


def test_vmap_matches_loop(env_and_params):
    env, params = env_and_params
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    space = env.action_space(params)
    obs, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    actions = jax.jit(jax.vmap(space.sample))(keys)
    batched = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))(keys, states, actions, params)
    step = jax.jit(env.step)
    for i in range(len(keys)):
        one = lambda x: jax.tree_util.tree_map(lambda v: v[i], x)  # noqa: E731
        single = step(keys[i], one(states), one(actions), params)
        chex.assert_trees_all_close(one(batched), single, rtol=1e-5, atol=1e-6)


def test_same_key_same_trajectory(env_and_params):
    env, params = env_and_params
    a = rollout(env, params, jax.random.PRNGKey(3), 5)
    b = rollout(env, params, jax.random.PRNGKey(3), 5)
    chex.assert_trees_all_equal(a, b)
    c = rollout(env, params, jax.random.PRNGKey(4), 5)
    assert not np.array_equal(a[0], c[0])


def test_step_traces_once(env_and_params):
    env, params = env_and_params
    space = env.action_space(params)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(key, state, action):
        return env.step(key, state, action, params)

    _, state = env.reset(jax.random.PRNGKey(0), params)
    for t in range(3):
        key = jax.random.PRNGKey(t)
        _, state, *_ = step(key, state, space.sample(key))
    chex.clear_trace_counter()


def test_vec_env_matches_vmapped_step_across_resets(env_and_params):
    env, params = env_and_params
    params = short_episodes(env, params)
    vec = VecEnv(env)
    space = env.action_space(params)
    n = 3
    keys = jax.random.split(jax.random.PRNGKey(5), n)
    obs_v, st_v = jax.jit(vec.reset)(keys, params)
    obs_m, st_m = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    vstep = jax.jit(vec.step)
    mstep = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    sample = jax.jit(lambda k: jax.vmap(space.sample)(jax.random.split(k, n)))
    horizon = int(params.episode_len) + 2  # crosses one auto-reset
    for t in range(horizon):
        k = jax.random.split(jax.random.PRNGKey(100 + t), n)
        act = sample(jax.random.PRNGKey(200 + t))
        out_v = vstep(k, st_v, act, params)
        out_m = mstep(k, st_m, act, params)
        chex.assert_trees_all_close(out_v, out_m, rtol=1e-6, atol=1e-6)
        _, st_v, *_ = out_v
        _, st_m, *_ = out_m


def test_auto_reset_and_final_observation(env_and_params):
    env, params = env_and_params
    params = short_episodes(env, params)
    space = env.action_space(params)
    key = jax.random.PRNGKey(7)
    obs, state = jax.jit(env.reset)(key, params)
    step = jax.jit(env.step)
    sample = jax.jit(space.sample)
    ends = 0
    for t in range(int(params.episode_len) + 1):
        k = jax.random.fold_in(key, t)
        new_obs, state, reward, terminated, truncated, info = step(k, state, sample(k), params)
        assert terminated.shape == () and truncated.shape == ()
        assert reward.shape == (env.num_agents,)
        assert new_obs.shape == info["final_observation"].shape
        if bool(terminated | truncated):
            ends += 1
            if bool(truncated):
                assert t + 1 == int(params.episode_len)
            assert not np.allclose(new_obs, info["final_observation"])
        else:
            np.testing.assert_array_equal(new_obs, info["final_observation"])
    assert ends >= 1


def test_long_random_rollout_is_finite(env_and_params):
    env, params = env_and_params
    vec = VecEnv(env)
    space = env.action_space(params)
    num_envs = 256
    steps = -(-LONG_ROLLOUT_AGENT_STEPS // (num_envs * env.num_agents))

    @jax.jit
    def run(key):
        obs, state = vec.reset(jax.random.split(key, num_envs), params)

        def body(carry, k):
            obs, state = carry
            ka, ks = jax.random.split(k)
            act = jax.vmap(space.sample)(jax.random.split(ka, num_envs))
            obs, state, reward, _, _, info = vec.step(jax.random.split(ks, num_envs), state, act, params)
            leaves = [obs, reward] + jax.tree_util.tree_leaves(info["metrics"])
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))
            return (obs, state), finite

        _, finite = jax.lax.scan(body, (obs, state), jax.random.split(key, steps))
        return finite

    finite = np.asarray(run(jax.random.PRNGKey(11)))
    assert finite.all(), f"non-finite output at steps {np.flatnonzero(~finite)[:5]}"
    assert steps * num_envs * env.num_agents >= LONG_ROLLOUT_AGENT_STEPS


def test_spaces_sample_is_contained(env_and_params):
    env, params = env_and_params
    key = jax.random.PRNGKey(0)
    space = env.action_space(params)
    for k in jax.random.split(key, 5):
        assert bool(space.contains(space.sample(k)))
    obs, _ = env.reset(key, params)
    assert bool(env.observation_space(params).contains(obs))
    assert obs.shape[0] == env.num_agents and obs.dtype == jnp.float32


def test_observation_parts_describe_the_flat_observation(env_and_params):
    """obs_dim is the parts' total; the generic decoder splits rows into the named parts (with any
    leading axes) and flattening the parts gives the observation back bit for bit."""
    env, params = env_and_params
    parts = env.observation_parts
    assert env.obs_dim == sum(p.size for p in parts) == env.observation_space(params).shape[-1]
    assert len({p.name for p in parts}) == len(parts)
    obs, state = env.reset(jax.random.PRNGKey(3), params)
    action = env.action_space(params).sample(jax.random.PRNGKey(4))
    obs2, *_ = env.step(jax.random.PRNGKey(5), state, action, params)
    for o in (obs, obs2, jnp.stack([obs, obs2])):
        decoded = env.decode_observation(o)
        assert list(decoded) == [p.name for p in parts]
        for p in parts:
            assert decoded[p.name].shape == o.shape[:-1] + p.shape, p.name
            i, n = env.obs_offsets[p.name]
            np.testing.assert_array_equal(np.asarray(decoded[p.name]).reshape(o.shape[:-1] + (n,)), o[..., i:i + n])
        flat = env.flatten_observation(decoded, lead=o.shape[:-1])
        np.testing.assert_array_equal(np.asarray(flat), np.asarray(o))
    np.testing.assert_array_equal(np.asarray(env.flatten_observation(env.decode_observation(obs))), np.asarray(obs))


def test_wrong_action_shape_raises(env_and_params):
    env, params = env_and_params
    key = jax.random.PRNGKey(0)
    _, state = env.reset(key, params)
    good = env.action_space(params).sample(key)
    bad = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, x], axis=0), good)
    with pytest.raises(ValueError, match="action"):
        env.step(key, state, bad, params)


def test_non_finite_params_raise_naming_the_field(env_and_params):
    env, params = env_and_params
    name = next(
        f for f in params.__dataclass_fields__
        if np.issubdtype(np.asarray(getattr(params, f)).dtype, np.floating)
    )
    with pytest.raises(ValueError, match=name):
        env.reset(jax.random.PRNGKey(0), params.replace(**{name: float("nan")}))


def test_log_wrapper_reports_episode_returns(env_and_params):
    env, params = env_and_params
    params = short_episodes(env, params)
    log_env = LogWrapper(env)
    space = env.action_space(params)
    key = jax.random.PRNGKey(2)
    obs, state = log_env.reset(key, params)
    sample = jax.jit(space.sample)
    total = np.zeros(env.num_agents)
    for t in range(int(params.episode_len)):
        k = jax.random.fold_in(key, t)
        obs, state, reward, terminated, truncated, info = log_env.step(k, state, sample(k), params)
        total += np.asarray(reward)
    assert bool(info["returned_episode"])
    np.testing.assert_allclose(info["returned_episode_returns"], total, rtol=1e-4)
    assert int(info["returned_episode_length"]) == int(params.episode_len)
    assert set(info["returned_episode_metrics"]) == set(info["metrics"])


def test_jaxmarl_adapter_round_trip(env_and_params):
    env, params = env_and_params
    marl = JaxMARLAdapter(env, params)
    key = jax.random.PRNGKey(0)
    obs, state = marl.reset(key)
    assert list(obs) == marl.agents
    action = env.action_space(params).sample(key)
    per_agent = {a: jax.tree_util.tree_map(lambda x: x[i], action) for i, a in enumerate(marl.agents)}
    obs2, _, rewards, dones, _ = marl.step(key, state, per_agent)
    ref_obs, _, ref_reward, *_ = env.step(key, state, action, params)
    # the adapter's step is jitted, env.step here is eager: equal up to float32 rounding
    np.testing.assert_allclose(np.stack([obs2[a] for a in marl.agents]), ref_obs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.stack([rewards[a] for a in marl.agents]), ref_reward, rtol=1e-5, atol=1e-6)
    assert "__all__" in dones


def test_make_rejects_unknown_env_and_zero_sizes():
    with pytest.raises(ValueError, match="unknown env"):
        jaxedge.make("no_such_env")
    for name, sizes in SMALL_SIZES.items():
        field = next(iter(sizes))
        with pytest.raises(ValueError, match=field):
            jaxedge.make(name, **{**sizes, field: 0})
