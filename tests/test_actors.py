"""Structured actors (``actor_arch``): layout, server-permutation equivariance, dt_inference's layout."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxedge
from algos.common.actions import ActionSpec
from algos.common.networks import PerHeadMLP
from jaxedge.envs.dt_inference import MAX_FLOPS

ENV = jaxedge.make("dt_inference", n_users=2, n_servers=3, n_tasks=2)
PARAMS = ENV.default_params


def _spec(per_choice=True):
    return ActionSpec.from_env(ENV, PARAMS, per_choice=per_choice)


def _obs(seed=0):
    obs, _ = ENV.reset(jax.random.PRNGKey(seed), PARAMS)
    return obs[0]


def test_dt_inference_layouts_point_at_task_and_server_columns():
    obs = _obs()
    info = ENV.decode_observation(obs, PARAMS)
    offset, width = ENV.head_obs_layout
    assert offset == 0 and ENV.n_tasks * width <= ENV.obs_dim
    blocks = obs[offset:offset + ENV.n_tasks * width].reshape(ENV.n_tasks, width)
    np.testing.assert_allclose(blocks[:, 0] * MAX_FLOPS, info["cycles"], rtol=1e-6)
    m = ENV.n_servers
    cols = {o: obs[o:o + m] for o in ENV.option_obs_offsets}
    o_f, o_b, o_g, o_d = ENV.option_obs_offsets[:4]
    np.testing.assert_allclose(cols[o_f] * PARAMS.f_server_max, info["f_server"], rtol=1e-6)
    np.testing.assert_allclose(cols[o_b] * PARAMS.b_server_max, info["b_server"], rtol=1e-6)
    np.testing.assert_allclose(cols[o_g] * PARAMS.gain_max, info["gain"], rtol=1e-6)
    np.testing.assert_allclose(cols[o_d] * PARAMS.dist_max, info["dist"], rtol=1e-6)
    s0 = ENV.option_obs_offsets[4]
    assert s0 + 3 * m + 1 == ENV.obs_dim  # the three per-server s' blocks, then t/L


@pytest.mark.parametrize("arch", ["per_head", "per_option"])
def test_structured_actor_emits_the_flat_layout(arch):
    spec = _spec()
    net = spec.actor((16,), arch, ENV.head_obs_layout, ENV.option_obs_offsets)
    p = net.init(jax.random.PRNGKey(0), jnp.zeros(ENV.obs_dim))
    out = net.apply(p, jnp.stack([_obs(0), _obs(1)]))
    assert out.shape == (2, spec.n_logits)
    one_hot, cont = spec.deterministic(out)
    assert one_hot.shape == (2, spec.heads, spec.n_choices) and cont.shape == (2, spec.cont_dim)


def test_per_head_actor_routes_head_outputs_to_their_slots():
    spec = _spec()
    net = spec.actor((16,), "per_head", ENV.head_obs_layout)
    p = net.init(jax.random.PRNGKey(0), jnp.zeros(ENV.obs_dim))
    obs = _obs()
    out = net.apply(p, obs)
    offset, width = ENV.head_obs_layout
    raw = PerHeadMLP((16,), spec.heads, offset, width, spec.n_choices * 3).apply(
        {"params": p["params"]["PerHeadMLP_0"]}, obs)  # [heads, C logits + C*2 shares]
    logits, pre = spec.split(out)
    np.testing.assert_allclose(logits, raw[:, :spec.n_choices], rtol=1e-6)
    np.testing.assert_allclose(pre, raw[:, spec.n_choices:].reshape(pre.shape), rtol=1e-6)


def test_per_option_actor_is_equivariant_to_permuting_servers():
    spec = _spec()
    net = spec.actor((16, 16), "per_option", ENV.head_obs_layout, ENV.option_obs_offsets)
    p = net.init(jax.random.PRNGKey(1), jnp.zeros(ENV.obs_dim))
    obs = _obs(3)
    perm = np.array([2, 0, 1])
    permuted = obs
    for o in ENV.option_obs_offsets:
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
        spec.actor((16,), "transformer", ENV.head_obs_layout)
    with pytest.raises(ValueError, match="head_obs_layout"):
        spec.actor((16,), "per_head", None)
    with pytest.raises(ValueError, match="option_obs_offsets"):
        spec.actor((16,), "per_option", ENV.head_obs_layout, None)
    with pytest.raises(ValueError, match="per-choice shares"):
        _spec(per_choice=False).actor((16,), "per_option", ENV.head_obs_layout, ENV.option_obs_offsets)
