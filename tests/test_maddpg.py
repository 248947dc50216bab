"""MADDPG's own options (the shared core is exercised by every maddpg-based learner's tests)."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

import jaxedge
from algos import dt_maddpg, maddpg, maddpg_cgan

ENV = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
# 2 warm-up iterations of 4 envs, then exactly one update in the first chunk of 3 iterations
ONE_UPDATE = dict(total_env_steps=48, num_envs=4, warmup_steps=8, chunk_size=3, batch_size=8, buffer_size=64)


@functools.cache
def _after_one_update(module, **overrides):
    trainer = module.make_train(module.Config(**ONE_UPDATE, **overrides), ENV, ENV.default_params)
    rs = trainer.init(jax.random.PRNGKey(0), trainer.default_hp)
    rs, _ = jax.jit(trainer.train_chunk)(rs, 0)
    return rs


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def test_actor_others_current_changes_only_the_actor_step():
    """With ``actor_others="current"`` the actor loss reads the other agents' current deterministic
    actions instead of the replayed ones: from the same seed, the first update leaves the critic
    (fit on replayed actions) bit-identical and moves the actors differently."""
    replay, current = _after_one_update(maddpg), _after_one_update(maddpg, actor_others="current")
    assert int(replay.step) == int(current.step) == 3
    assert _same(replay.critic, current.critic)
    assert not _same(replay.actor, current.actor)


def test_options_are_validated_and_actor_others_refused_where_unsupported():
    with pytest.raises(ValueError, match="unknown actor_others 'stale'; valid: replay, current"):
        maddpg.make_train(maddpg.Config(actor_others="stale"), ENV, ENV.default_params)
    with pytest.raises(ValueError, match="unknown discrete_actor_loss 'greedy'; valid: straight_through, expected, search"):
        maddpg.make_train(maddpg.Config(discrete_actor_loss="greedy"), ENV, ENV.default_params)
    v2x = jaxedge.make("v2x")
    with pytest.raises(ValueError, match="actor_others must be 'replay'"):
        dt_maddpg.make_train(dt_maddpg.Config(actor_others="current"), v2x, v2x.default_params)


@pytest.mark.slow  # the twin's GAN compiles for ~90 s
def test_maddpg_cgan_actor_others_current_changes_only_the_actor_step():
    small_gan = dict(gan_batch=8, syn_buffer_size=64)
    replay, current = (_after_one_update(maddpg_cgan, actor_others=v, **small_gan) for v in ("replay", "current"))
    assert _same(replay.critic, current.critic)
    assert not _same(replay.actor, current.actor)


def test_search_loss_is_the_cross_entropy_toward_each_heads_best_option_by_brute_force():
    """``discrete_actor_loss="search"``: each head's target is the option whose critic value, with the
    agent's other heads at their argmax options and shares, is the highest; checked by rebuilding
    every alternative critic input by hand."""
    cfg = maddpg.Config(discrete_actor_loss="search", search_batch=3)
    s_dim = 0
    obs_dim = ENV.observation_space(ENV.default_params).shape[-1]
    core = maddpg.Core.build(cfg, ENV, ENV.default_params, critic_layout=(s_dim, obs_dim))
    spec, n = core.spec, core.n
    k_net, k_obs, k_act = jax.random.split(jax.random.PRNGKey(3), 3)
    nets = core.init_networks(k_net, maddpg.hparams(cfg, maddpg.TRACED), obs_dim + n * spec.critic_dim)
    actor0 = jax.tree_util.tree_map(lambda p: p[0], nets["actor"])
    critic0 = jax.tree_util.tree_map(lambda p: p[0], nets["critic"])
    obs = jax.random.normal(k_obs, (3, obs_dim))
    out = core.actor.apply(actor0, obs) * 300.0  # spread the logits and shares away from their init
    others = jax.random.uniform(k_act, (3, (n - 1) * spec.critic_dim))
    own_slot = slice(obs_dim, obs_dim + spec.critic_dim)
    mode, cont = spec.deterministic(out)
    x = jax.numpy.concatenate([obs, spec.critic_action(mode, cont), others], -1)

    logits, pre = spec.split(out)
    values = spec.squash(pre)  # [B, H, C, k]
    best, critic = np.zeros((3, spec.heads), int), jax.jit(core.critic.apply)
    for b in range(3):
        for h in range(spec.heads):
            q = []
            for c in range(spec.n_choices):
                one_hot = np.array(mode[b])
                one_hot[h] = np.eye(spec.n_choices)[c]
                shares = np.array(spec.chosen(mode[b], values[b])).reshape(spec.heads, -1)
                shares[h] = values[b, h, c]
                row = np.array(x[b])
                row[own_slot] = spec.critic_action(one_hot, shares.reshape(-1))
                q.append(float(critic(critic0, row)[0]))
            best[b, h] = int(np.argmax(q))
    want = -np.take_along_axis(np.asarray(jax.nn.log_softmax(logits, -1)), best[..., None], -1).mean()
    np.testing.assert_allclose(core.search_loss(critic0, x, own_slot, out), want, rtol=1e-5)
    assert len(set(best.reshape(-1))) > 1  # the hand case does not pick one option everywhere


@pytest.mark.slow  # another trainer compile (~20 s); the loss itself is checked above
def test_search_changes_only_the_actor_step():
    straight, search = _after_one_update(maddpg), _after_one_update(maddpg, discrete_actor_loss="search")
    assert _same(straight.critic, search.critic)
    assert not _same(straight.actor, search.actor)
