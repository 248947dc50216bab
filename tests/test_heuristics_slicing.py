"""Seed-001 heuristics (`algos.heuristics.slicing`): equal / proportional splits, the observation-only
oracle and the exact full-information oracle."""

import jax
import jax.numpy as jnp
import numpy as np

from algos import heuristics
from algos.heuristics import slicing as slh
from jaxedge.envs import slicing as sl
from jaxedge.envs.slicing import Slicing
from jit_cache import jitted

ENV = Slicing(n_aps=2, max_users=20)


def make_state(dist, labels, fade=1.0, params=None):
    fade = jnp.full(jnp.shape(dist), fade, jnp.float32)
    return sl.make_state(dist, labels, fade, fade, sl.Params.paper() if params is None else params)


def test_equal_and_proportional_allocations():
    env = ENV
    params = env.default_params
    obs, state = jitted(env, "reset")(jax.random.PRNGKey(0), params)
    eq = jax.jit(heuristics.make_heuristic(env, "equal"))(None, obs, state, params)
    f_b, f_c = env.decode_action(eq)
    np.testing.assert_array_equal(f_b, [[6, 6, 6]] * 2)
    np.testing.assert_array_equal(f_c, [[6, 6, 6]] * 2)
    prop = jax.jit(heuristics.make_heuristic(env, "proportional"))
    # counts (9, 9, 2): data 9*2.4 : 9*12 : 2*30 -> bandwidth 1 + 15 * (21.6, 108, 60) / 189.6
    labels = np.array([[0] * 9 + [1] * 9 + [2] * 2, [1] * 20])
    state = make_state(np.full((2, 20), 20.0), labels)
    action = prop(None, env.observations(state, params), state, params)
    f_b, f_c = env.decode_action(action)
    np.testing.assert_array_equal(f_b, [[3, 9, 6], [1, 16, 1]])
    np.testing.assert_array_equal(f_c, [[4, 7, 7], [1, 16, 1]])  # cycles 0.9 : 1.8 : 2


def test_largest_remainder_split_properties():
    w = jax.random.uniform(jax.random.PRNGKey(0), (200, 3)) * (jax.random.uniform(jax.random.PRNGKey(1), (200, 3)) > 0.3)
    parts = np.asarray(slh.largest_remainder(w, 18, 3))
    assert (parts >= 1).all() and (parts.sum(1) == 18).all()
    # never further than one unit from the exact proportional share of the 15 spare units
    total = np.asarray(w).sum(1, keepdims=True)
    quota = np.where(total > 0, 15 * np.asarray(w) / np.where(total > 0, total, 1), 5.0)
    assert (np.abs(parts - 1 - quota) < 1.0 + 1e-5).all()


def _slots(env, params, key, n):
    keys = jax.random.split(key, n)
    return keys, jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)


def test_oracle_is_never_beaten():
    """On every slot, no heuristic and no random action beats the oracle's global reward."""
    env = ENV
    params = env.default_params
    keys, (obs, states) = _slots(env, params, jax.random.PRNGKey(3), 16)
    draws = jax.vmap(env.sample_step, in_axes=(0, None))(keys, params)
    names = ("oracle", "equal", "proportional", "obs_oracle")
    policies = [heuristics.make_heuristic(env, name) for name in names]
    rand = jax.random.randint(jax.random.PRNGKey(9), (128, 16, env.n_aps), 0, env.num_actions)

    @jax.jit
    def rewards():
        def reward_of(action):
            return jax.vmap(env.transition, in_axes=(0, 0, 0, None))(states, action, draws, params)[2][:, 0]

        per_policy = [reward_of(jax.vmap(lambda k, o, s: pol(k, o, s, params))(keys, obs, states))
                      for pol in policies]
        return jnp.stack(per_policy), jax.vmap(reward_of)(rand)

    per_policy, many = map(np.asarray, rewards())
    best = per_policy[0]
    for name, r in zip(names[1:], per_policy[1:]):
        assert (r <= best + 1e-5).all(), name
    assert (many <= best[None] + 1e-5).all()
    assert best.mean() > many.mean() and best.mean() > per_policy[1].mean()


def test_oracle_matches_joint_brute_force():
    """Coarse mode, 2 APs: the oracle equals the max over all 100^2 joint actions (exact, not per-AP)."""
    env = Slicing(n_aps=2, max_users=10, action_mode="coarse")
    params = env.default_params.replace(n_users=10, bw_unit=300e3)
    keys, (obs, states) = _slots(env, params, jax.random.PRNGKey(5), 6)
    draws = jax.vmap(env.sample_step, in_axes=(0, None))(keys, params)
    oracle = heuristics.make_heuristic(env, "oracle")
    joint = jnp.stack(jnp.meshgrid(jnp.arange(100), jnp.arange(100), indexing="ij"), -1).reshape(-1, 2)

    @jax.jit
    def run(key, o, s, d):
        best = env.transition(s, oracle(key, o, s, params), d, params)[2][0]
        everyone = jax.vmap(lambda a: env.transition(s, a, d, params)[2][0])(joint)
        return best, everyone.max()

    best, brute = jax.vmap(run)(keys, obs, states, draws)
    np.testing.assert_allclose(best, brute, rtol=1e-6)


def test_obs_oracle_proxy_distance_is_the_median_of_the_env_draws():
    """The observation-only oracle puts every user at annulus_distance(0.5): the median of reset draws."""
    params = ENV.default_params
    _, states = jax.jit(jax.vmap(ENV.reset, in_axes=(0, None)))(jax.random.split(jax.random.PRNGKey(0), 256), params)
    median = float(sl.annulus_distance(0.5, params.d_min, params.radius))
    np.testing.assert_allclose(np.median(np.asarray(states.dist)), median, rtol=0.02)
    assert abs(median - np.sqrt(1 + 0.5 * (40.0**2 - 1))) < 1e-4
