"""Shared network pieces of `algos.common.networks`: the per-agent parameter stack and the
attention blocks' optional key-padding masks."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from algos.common import networks as nets


def test_per_agent_equals_a_loop_over_agents():
    """Agent i's copy on agent i's column, for 1 or 2 batch axes and an output of rank 2."""
    net = nets.DuelingMLP((8,), heads=2, n_actions=3)
    params = nets.init_per_agent(net, jax.random.split(jax.random.PRNGKey(0), 3), jnp.zeros(4))
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 2, 3, 4))  # [B1, B2, n, d]
    out = nets.per_agent(net, params, x)
    assert out.shape == (5, 2, 3, 2, 3)
    for i in range(3):
        p_i = jax.tree_util.tree_map(lambda v: v[i], params)
        np.testing.assert_allclose(out[:, :, i], net.apply(p_i, x[:, :, i]), rtol=1e-5, atol=1e-6)
    # identical keys give identical copies
    same = nets.init_per_agent(net, jnp.broadcast_to(jax.random.PRNGKey(2), (3, 2)), jnp.zeros(4))
    leaf = jax.tree_util.tree_leaves(same)[0]
    np.testing.assert_array_equal(leaf[0], leaf[2])


def test_masked_positions_are_never_attended_to():
    """With a key-padding mask, changing the padded tokens leaves the real tokens' outputs unchanged;
    without one they change. Same for the cross-attention context."""
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 8))
    mask = jnp.array([[True, True, True, False, False], [True] * 5])
    x2 = x.at[0, 3:].set(100.0)

    stack = nets.SelfAttentionStack(layers=2, heads=2)
    p = stack.init(jax.random.PRNGKey(1), x)
    a, b = stack.apply(p, x, mask), stack.apply(p, x2, mask)
    np.testing.assert_allclose(a[0, :3], b[0, :3], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-5)
    assert not np.allclose(stack.apply(p, x)[0, :3], stack.apply(p, x2)[0, :3])

    block = nets.CrossAttentionBlock(heads=2)
    q = jax.random.normal(jax.random.PRNGKey(2), (2, 3, 8))
    pc = block.init(jax.random.PRNGKey(3), q, x)
    np.testing.assert_allclose(block.apply(pc, q, x, mask), block.apply(pc, q, x2, mask), rtol=1e-5, atol=1e-5)
    # no mask = all-True mask
    np.testing.assert_allclose(block.apply(pc, q, x), block.apply(pc, q, x, jnp.ones((2, 5), bool)), rtol=1e-6)


def test_attention_blocks_keep_their_parameter_names():
    """The twin's parameter paths (hence their initial values and old checkpoints) do not depend on
    where the blocks are defined: flax names submodules by class name."""

    class Probe(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nets.ConditionTokens(2, 8)(x)
            return nets.TransformerLayer(2)(nets.CrossAttentionBlock(2)(x, x))

    names = set(Probe().init(jax.random.PRNGKey(0), jnp.zeros((1, 4)))["params"])
    assert names == {"ConditionTokens_0", "CrossAttentionBlock_0", "TransformerLayer_0"}
