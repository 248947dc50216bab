"""The certified lower bound on seed 000's cost (`algos.heuristics.dt_inference_bound`) and the paper's greedy.

bound <= exhaustive oracle <= greedy, state by state, on tiny instances; the bound's per-option
prices agree with the env's own eq.-8 cost.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxedge
from algos import heuristics
from algos.heuristics import dt_inference as dth
from algos.heuristics import dt_inference_bound as dtb
from jaxedge.envs import dt_inference as dti

TINY = dict(n_users=2, n_servers=2, n_tasks=2)


@pytest.fixture(scope="module")
def tiny_costs():
    """Per state: the step cost of oracle, greedy and greedy_paper, and the bound (12 reset states)."""
    env = jaxedge.make("dt_inference", **TINY)
    params = env.default_params
    names = ("oracle", "greedy", "greedy_paper")
    policies = [heuristics.make_heuristic(env, n) for n in names]

    @jax.jit
    def costs(key):
        obs, state = env.reset(key, params)
        draws = env.sample_step(key, params)
        actions = [pi(key, obs, state, params) for pi in policies]
        out = [env.transition(state, a, draws, params)[5]["metrics"]["cost"] for a in actions]
        return state, jnp.stack(out), actions[-1].continuous

    state, cost, paper_phi = jax.device_get(jax.vmap(costs)(jax.random.split(jax.random.PRNGKey(7), 12)))
    return dict(zip(names, np.asarray(cost, np.float64).T)), dtb.step_bound(state, params, iters=60), paper_phi, state


def test_bound_below_oracle_below_greedy_on_tiny_instances(tiny_costs):
    cost, bound, *_ = tiny_costs
    assert (bound <= cost["oracle"] * (1 + 1e-5)).all(), (bound, cost["oracle"])
    assert (cost["oracle"] <= cost["greedy"] * (1 + 1e-5)).all()
    assert (cost["oracle"] <= cost["greedy_paper"] * (1 + 1e-5)).all()
    assert bound.mean() > 0.8 * cost["oracle"].mean()  # and it is not vacuous


def test_bound_prices_an_option_as_the_env_does(tiny_costs):
    """No prices: the bound's server terms equal the env's eq.-8 cost at the optimum f, b."""
    params = dti.Params.calibrated()
    state = jax.tree_util.tree_map(lambda x: np.asarray(x)[0], tiny_costs[3])
    t = dtb.step_terms(jax.tree_util.tree_map(lambda x: x[None], state), params)
    cpu, f = dtb.cpu_term(t["a"][0, 0], t["e_srv"][0, 0], 0.0, t["f_server"][0, 0])
    up, b = dtb.uplink(t["c"][0, 0, 0], t["k"][0, 0, 0], 0.0, t["b_server"][0, 0], False)
    cycles, bits = (x[0, 0] for x in dti.tasks.medmnist_cycles_and_bits(state.task_type, 1.0, 64.0))
    env_cost = jax.jit(dth.option_cost)(cycles, bits, f, b, state.gain[0, 0], state.dist[0, 0], state.p_tx[0], True,
                               state.f_user[0], params)
    np.testing.assert_allclose(cpu + up, float(env_cost), rtol=1e-4)
    assert b == pytest.approx(float(state.b_server[0]))  # no bandwidth price: the whole B_k
    # the CPU term is the closed-form best frequency when the cap does not bind
    a, e = float(t["a"][0, 0]), float(t["e_srv"][0, 0])
    assert f == pytest.approx(min((a / (2 * e)) ** (1 / 3), float(state.f_server[0])), rel=1e-6)


def test_cpu_term_is_a_lower_bound_of_a_grid_search():
    rng = np.random.default_rng(0)
    a, e, nu = rng.uniform(0.5, 1, 50) * 1e9, rng.uniform(0.1, 1, 50) * 1e-18, rng.uniform(0, 1, 50) * 1e-9
    cap = rng.uniform(0.5, 10, 50) * 1e9
    value, f = dtb.cpu_term(a, e, nu, cap)
    grid = np.linspace(1e-3, 1, 20001)[None] * cap[:, None]
    brute = (a[:, None] / grid + e[:, None] * grid**2 + nu[:, None] * grid).min(1)
    assert (value <= brute * (1 + 1e-12)).all() and (value >= brute * (1 - 1e-6)).all()
    assert (f <= cap).all()


def test_paper_greedy_asks_for_the_whole_capacity(tiny_costs):
    np.testing.assert_allclose(tiny_costs[2], 1.0)
    assert "greedy_paper" in heuristics.DEFAULT_EVAL["dt_inference"]


def test_best_response_is_a_nash_point_above_the_oracle():
    """After enough rounds no user lowers its own cost by changing its targets alone (checked over every
    alternative), and the social cost stays achievable: oracle <= best_response."""
    env = jaxedge.make("dt_inference", **TINY)
    params = env.default_params
    policy = dth.best_response(env, rounds=4)
    oracle = dth.oracle(env)
    alternatives = jnp.asarray(np.indices((3, 3)).reshape(2, -1).T, jnp.int32)  # every target pair of one user

    @jax.jit
    def check(key):
        obs, state = env.reset(key, params)
        target = policy(key, obs, state, params).discrete

        def own_cost(t, user):
            return dth.user_costs(env, state, t, params)[user]

        gains = [own_cost(target, u) - jax.vmap(lambda a: own_cost(target.at[u].set(a), u))(alternatives).min()
                 for u in range(env.n_users)]
        draws = env.sample_step(key, params)
        cost = [env.transition(state, pi(key, obs, state, params), draws, params)[5]["metrics"]["cost"]
                for pi in (policy, oracle)]
        return jnp.stack(gains), own_cost(target, 0), jnp.stack(cost)

    gains, scale, cost = jax.device_get(jax.vmap(check)(jax.random.split(jax.random.PRNGKey(3), 12)))
    assert (gains <= 1e-5 * scale[:, None]).all(), gains
    assert (cost[:, 1] <= cost[:, 0] * (1 + 1e-5)).all(), cost


def test_greedy_home_offloads_only_to_each_users_home_server():
    env = jaxedge.make("dt_inference", n_users=5, n_servers=3, n_tasks=3)
    params = env.default_params
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    home, free = (jax.jit(heuristics.make_heuristic(env, name))(jax.random.PRNGKey(1), obs, state, params).discrete
                  for name in ("greedy_home", "greedy"))
    home, free = np.asarray(home), np.asarray(free)
    allowed = np.arange(5)[:, None] % 3 + 1
    assert ((home == 0) | (home == allowed)).all(), home
    assert (home > 0).any() and (free != allowed).any()  # it offloads, and the plain greedy would go elsewhere


@pytest.mark.parametrize("joint, myopic", [("greedy_joint", "greedy"), ("home_joint", "greedy_home"),
                                           ("gain_joint", "local")])
def test_joint_rules_read_only_each_users_own_data_and_price_its_tasks_jointly(joint, myopic):
    env = jaxedge.make("dt_inference", n_users=4, n_servers=2, n_tasks=3)
    params = env.default_params
    policy, task_by_task = (jax.jit(heuristics.make_heuristic(env, name)) for name in (joint, myopic))
    private = ("f_user", "p_tx", "battery", "battery_init", "dist", "gain_mean", "gain", "task_type")
    key = jax.random.PRNGKey(1)
    for seed in range(4):
        state = env.reset(jax.random.PRNGKey(seed), params)[1]
        other = env.reset(jax.random.PRNGKey(100 + seed), params)[1]
        # every user but 0 gets another episode's private data; the servers stay
        mixed = state.replace(**{f: getattr(state, f).at[1:].set(getattr(other, f)[1:]) for f in private})
        target, target_mixed = (np.asarray(policy(key, env.observations(s, params), s, params).discrete)
                                for s in (state, mixed))
        assert (target[0] == target_mixed[0]).all(), (target, target_mixed)
        if joint == "home_joint":
            assert ((target == 0) | (target == np.arange(4)[:, None] % 2 + 1)).all(), target
        if joint == "gain_joint":
            assert ((target == 0) | (target == np.argmax(np.asarray(state.gain), 1)[:, None] + 1)).all(), target
        # alone on the servers, each user's own cost is at most the task-by-task rule's (or all-local's),
        # one of its candidates
        myopic_target = task_by_task(key, env.observations(state, params), state, params).discrete
        for user in range(4):
            alone = [jnp.zeros_like(target).at[user].set(t[user]) for t in (target, myopic_target)]
            ours, theirs = (float(dth.user_costs(env, state, t, params)[user]) for t in alone)
            assert ours <= theirs * (1 + 1e-6), (user, ours, theirs)


def test_joint_rules_refuse_an_unknown_home_rule():
    with pytest.raises(ValueError, match="unknown home rule 'nearest'; valid: index, gain"):
        dth.greedy_joint(jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2), home="nearest")
