"""MADDPG's own options (the shared core is exercised by every maddpg-based learner's tests)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxedge
from algos import dt_maddpg, maddpg, maddpg_cgan

ENV = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
# 2 warm-up iterations of 4 envs, then exactly one update in the first chunk of 3 iterations
ONE_UPDATE = dict(total_env_steps=48, num_envs=4, warmup_steps=8, chunk_size=3, batch_size=8, buffer_size=64)


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
    replay, current = (_after_one_update(maddpg, actor_others=v) for v in ("replay", "current"))
    assert int(replay.step) == int(current.step) == 3
    assert _same(replay.critic, current.critic)
    assert not _same(replay.actor, current.actor)


def test_actor_others_is_validated_and_refused_where_unsupported():
    with pytest.raises(ValueError, match="unknown actor_others 'stale'; valid: replay, current"):
        maddpg.make_train(maddpg.Config(actor_others="stale"), ENV, ENV.default_params)
    v2x = jaxedge.make("v2x")
    with pytest.raises(ValueError, match="actor_others must be 'replay'"):
        dt_maddpg.make_train(dt_maddpg.Config(actor_others="current"), v2x, v2x.default_params)


@pytest.mark.slow  # the twin's GAN compiles for ~90 s
def test_maddpg_cgan_actor_others_current_changes_only_the_actor_step():
    small_gan = dict(gan_batch=8, syn_buffer_size=64)
    replay, current = (_after_one_update(maddpg_cgan, actor_others=v, **small_gan) for v in ("replay", "current"))
    assert _same(replay.critic, current.critic)
    assert not _same(replay.actor, current.actor)
