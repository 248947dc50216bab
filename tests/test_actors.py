"""Structured actors (``actor_arch``) and the factored critic (``critic_arch``): layout,
server-permutation equivariance, dt_inference's layout."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxedge
from algos import maddpg
from algos.common import obs_layout
from algos.common.actions import ActionSpec
from algos.common.networks import PerHeadMLP, PerOptionCritic
from jaxedge.envs.dt_inference import MAX_FLOPS

ENV = jaxedge.make("dt_inference", n_users=2, n_servers=3, n_tasks=2)
PARAMS = ENV.default_params
HEAD = obs_layout.head_obs_layout(ENV)
OPTIONS = obs_layout.option_obs_offsets(ENV)


def _spec(per_choice=True):
    return ActionSpec.from_env(ENV, PARAMS, per_choice=per_choice)


def _obs(seed=0):
    obs, _ = ENV.reset(jax.random.PRNGKey(seed), PARAMS)
    return obs[0]


def test_dt_inference_layouts_point_at_task_and_server_columns():
    obs = _obs()
    info = ENV.physical_observation(obs, PARAMS)
    offset, width = HEAD
    assert offset == 0 and ENV.n_tasks * width <= ENV.obs_dim
    blocks = obs[offset:offset + ENV.n_tasks * width].reshape(ENV.n_tasks, width)
    np.testing.assert_allclose(blocks[:, 0] * MAX_FLOPS, info["cycles"], rtol=1e-6)
    m = ENV.n_servers
    cols = {o: obs[o:o + m] for o in OPTIONS}
    o_f, o_b, o_g, o_d = OPTIONS[:4]
    np.testing.assert_allclose(cols[o_f] * PARAMS.f_server_max, info["f_server"], rtol=1e-6)
    np.testing.assert_allclose(cols[o_b] * PARAMS.b_server_max, info["b_server"], rtol=1e-6)
    np.testing.assert_allclose(cols[o_g] * PARAMS.gain_max, info["gain"], rtol=1e-6)
    np.testing.assert_allclose(cols[o_d] * PARAMS.dist_max, info["dist"], rtol=1e-6)
    s0 = OPTIONS[4]
    assert s0 + 3 * m + 1 == ENV.obs_dim  # the three per-server s' blocks, then t/L


def _hard_coded_layouts(n_servers, n_tasks, channel=True):
    """The offsets DTInference.head_obs_layout / option_obs_offsets hard-coded before the named parts."""
    m, i = n_servers, n_tasks * 14 + 2
    blocks = [i, i + m]
    i += 2 * m
    if channel:
        blocks += [i, i + m]
        i += 2 * m + 1
    return (0, 14), tuple(blocks + [i, i + m, i + 2 * m])


@pytest.mark.parametrize("sizes", [{}, dict(n_users=3, n_servers=5, n_tasks=4), dict(n_servers=2, n_tasks=1),
                                   dict(n_servers=4, obs_include_channel=False)])
def test_layouts_from_named_parts_equal_the_former_hard_coded_ones(sizes):
    env = jaxedge.make("dt_inference", **sizes)
    head, options = _hard_coded_layouts(env.n_servers, env.n_tasks, env.obs_include_channel)
    assert obs_layout.head_obs_layout(env) == head
    assert obs_layout.option_obs_offsets(env) == options
    if not sizes:  # the defaults (8 users, 6 servers, 3 tasks), literally
        assert head == (0, 14) and options == (44, 50, 56, 62, 69, 75, 81) and env.obs_dim == 88
    core = maddpg.Core.build(maddpg.Config(), env, env.default_params, (0, env.obs_dim))
    assert core.head_layout == head and core.option_offsets == options


def test_envs_without_structured_parts_give_none():
    for name in ("slicing", "collab_edge", "cloud_edge"):
        env = jaxedge.make(name)
        assert obs_layout.head_obs_layout(env) is None and obs_layout.option_obs_offsets(env) is None
    v2x = jaxedge.make("v2x", n_servers=3)
    assert obs_layout.head_obs_layout(v2x) is None and obs_layout.option_obs_offsets(v2x) == (1, 4, 7, 10)


@pytest.mark.parametrize("arch", ["per_head", "per_option"])
def test_structured_actor_emits_the_flat_layout(arch):
    spec = _spec()
    net = spec.actor((16,), arch, HEAD, OPTIONS)
    p = net.init(jax.random.PRNGKey(0), jnp.zeros(ENV.obs_dim))
    out = net.apply(p, jnp.stack([_obs(0), _obs(1)]))
    assert out.shape == (2, spec.n_logits)
    one_hot, cont = spec.deterministic(out)
    assert one_hot.shape == (2, spec.heads, spec.n_choices) and cont.shape == (2, spec.cont_dim)


def test_per_head_actor_routes_head_outputs_to_their_slots():
    spec = _spec()
    net = spec.actor((16,), "per_head", HEAD)
    p = net.init(jax.random.PRNGKey(0), jnp.zeros(ENV.obs_dim))
    obs = _obs()
    out = net.apply(p, obs)
    offset, width = HEAD
    raw = PerHeadMLP((16,), spec.heads, offset, width, spec.n_choices * 3).apply(
        {"params": p["params"]["PerHeadMLP_0"]}, obs)  # [heads, C logits + C*2 shares]
    logits, pre = spec.split(out)
    np.testing.assert_allclose(logits, raw[:, :spec.n_choices], rtol=1e-6)
    np.testing.assert_allclose(pre, raw[:, spec.n_choices:].reshape(pre.shape), rtol=1e-6)


def test_per_option_actor_is_equivariant_to_permuting_servers():
    spec = _spec()
    net = spec.actor((16, 16), "per_option", HEAD, OPTIONS)
    p = net.init(jax.random.PRNGKey(1), jnp.zeros(ENV.obs_dim))
    obs = _obs(3)
    perm = np.array([2, 0, 1])
    permuted = obs
    for o in OPTIONS:
        permuted = permuted.at[o:o + ENV.n_servers].set(obs[o:o + ENV.n_servers][perm])
    assert not np.allclose(permuted, obs)
    logits, pre = spec.split(net.apply(p, obs))
    logits_p, pre_p = spec.split(net.apply(p, permuted))
    options = np.concatenate([[0], 1 + perm])  # option c of the permuted obs is option options[c] of obs
    np.testing.assert_allclose(logits_p, logits[:, options], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pre_p, pre[:, options], rtol=1e-5, atol=1e-6)
    assert not np.allclose(logits[:, 1], logits[:, 2])  # servers with different features differ


def test_structured_actor_errors_name_what_is_missing():
    spec = _spec()
    with pytest.raises(ValueError, match="valid: 'mlp', 'per_head', 'per_option'"):
        spec.actor((16,), "transformer", HEAD)
    with pytest.raises(ValueError, match="head_obs_layout"):
        spec.actor((16,), "per_head", None)
    with pytest.raises(ValueError, match="option_obs_offsets"):
        spec.actor((16,), "per_option", HEAD, None)
    with pytest.raises(ValueError, match="per-choice shares"):
        _spec(per_choice=False).actor((16,), "per_option", HEAD, OPTIONS)


def _critic_input(obs, targets, shares, spec):
    """maddpg's critic vector without a global state: [o_owner, a_owner, a_other]."""
    one_hot = jax.nn.one_hot(jnp.asarray(targets), spec.n_choices)  # [n, heads, C]
    acts = jax.vmap(spec.critic_action)(one_hot, jnp.asarray(shares, jnp.float32).reshape(len(targets), -1))
    return jnp.concatenate([obs, acts.reshape(-1)])


def _critic(spec):
    offset, width = HEAD
    net = PerOptionCritic((16, 16), ENV.n_users, 0, ENV.obs_dim, ENV.obs_dim, spec.heads, offset, width,
                          spec.n_choices, OPTIONS, spec.per_head_cont)
    return net, net.init(jax.random.PRNGKey(2), jnp.zeros(ENV.obs_dim + ENV.n_users * spec.critic_dim))


def test_per_option_critic_is_invariant_to_permuting_servers():
    spec = _spec()
    net, p = _critic(spec)
    obs = _obs(3)
    targets = np.array([[1, 3], [2, 1]])  # owner: task 0 on server 1, task 1 on server 3
    shares = np.array([[[0.2, 0.9], [0.4, 0.5]], [[0.3, 1.0], [0.7, 0.6]]])
    perm = np.array([2, 0, 1])  # new server j is old server perm[j]
    permuted = obs
    for o in OPTIONS:
        permuted = permuted.at[o:o + ENV.n_servers].set(obs[o:o + ENV.n_servers][perm])
    relabel = np.concatenate([[0], 1 + np.argsort(perm)])  # old option -> new option
    q = net.apply(p, _critic_input(obs, targets, shares, spec))
    q_p = net.apply(p, _critic_input(permuted, relabel[targets], shares, spec))
    np.testing.assert_allclose(q_p, q, rtol=1e-5)
    assert not np.allclose(net.apply(p, _critic_input(permuted, targets, shares, spec)), q)


def test_per_option_critic_reads_other_agents_only_through_the_owners_options():
    spec = _spec()
    net, p = _critic(spec)
    obs = _obs(4)
    owner = [1, 0]  # server 1 and local
    shares = np.full((2, 2, 2), 0.5)
    q = net.apply(p, _critic_input(obs, [owner, [2, 3]], shares, spec))
    np.testing.assert_allclose(net.apply(p, _critic_input(obs, [owner, [3, 2]], shares, spec)), q, rtol=1e-6)
    other_on_owners_server = net.apply(p, _critic_input(obs, [owner, [1, 3]], shares, spec))
    assert abs(float(other_on_owners_server[0] - q[0])) > 1e-6
    x = _critic_input(obs, [owner, [2, 3]], shares, spec)
    grad = jax.grad(lambda x: net.apply(p, x)[0])(x)
    own_one_hot = grad[ENV.obs_dim:ENV.obs_dim + spec.heads * spec.n_choices]
    assert np.abs(np.asarray(own_one_hot)).max() > 0  # a straight-through sample gets a gradient


def test_per_option_critic_errors_name_what_is_missing():
    import dataclasses

    from algos import maddpg
    cfg = maddpg.Config(critic_arch="per_option", share_init=())
    with pytest.raises(ValueError, match="valid: 'mlp', 'per_option'"):
        maddpg.Core.build(dataclasses.replace(cfg, critic_arch="attention"), ENV, PARAMS, (0, ENV.obs_dim))
    v2x = jaxedge.make("v2x")  # per-ES option columns but no per-head block
    with pytest.raises(ValueError, match="head_obs_layout, option_obs_offsets"):
        maddpg.Core.build(cfg, v2x, v2x.default_params, (0, 1))


@pytest.mark.parametrize("per_choice", [True, False])
def test_share_init_sets_the_shares_of_a_zero_actor_output(per_choice):
    import dataclasses
    spec = dataclasses.replace(_spec(per_choice), cont_init=(0.2, 0.9))
    _, cont = spec.deterministic(jnp.zeros(spec.n_logits))
    np.testing.assert_allclose(cont.reshape(spec.heads, 2), np.tile([0.2, 0.9], (spec.heads, 1)), rtol=1e-5)
    _, midpoint = _spec(per_choice).deterministic(jnp.zeros(spec.n_logits))
    np.testing.assert_allclose(midpoint, 0.05 + 0.95 * 0.5, rtol=1e-6)  # () keeps the sigmoid's midpoint
    with pytest.raises(ValueError, match="one value per continuous entry"):
        dataclasses.replace(spec, cont_init=(0.2,))
    with pytest.raises(ValueError, match="strictly inside"):
        dataclasses.replace(spec, cont_init=(0.01, 0.9))
