"""Evaluate a policy over many parallel envs and report the env's physical metrics."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from algos.common import stats


def rollout(env, params, policy, key, num_envs: int, num_steps: int, record, memory=None):
    """Run ``policy(key, obs, state, params)`` on ``num_envs`` envs for ``num_steps`` steps and stack
    ``record(state, action, reward, info)`` (the pre-step state and the action taken in it) per step:
    leaves ``[num_envs, num_steps, ...]``.

    A recurrent policy passes its initial ``memory`` (a pytree): it is then called as
    ``policy(key, obs, state, params, memory) -> (action, memory)`` and its memory restarts from
    ``memory`` after every episode end."""

    def one_env(key):
        k_reset, k_steps = jax.random.split(key)
        obs, state = env.reset(k_reset, params)

        def body(carry, key):
            obs, state, mem = carry
            k_act, k_step = jax.random.split(key)
            if memory is None:
                action = policy(k_act, obs, state, params)
            else:
                action, mem = policy(k_act, obs, state, params, mem)
            obs2, state2, reward, term, trunc, info = env.step(k_step, state, action, params)
            if memory is not None:
                end = jnp.logical_or(term, trunc)
                mem = jax.tree_util.tree_map(lambda m, m0: jnp.where(end, m0, m), mem, memory)
            return (obs2, state2, mem), record(state, action, reward, info)

        return jax.lax.scan(body, (obs, state, memory), jax.random.split(k_steps, num_steps))[1]

    return jax.vmap(one_env)(jax.random.split(key, num_envs))


def _rollout_stats(env, params, policy, key, num_envs: int, num_steps: int, memory=None):
    """Run ``policy(key, obs, state, params)`` on ``num_envs`` envs for ``num_steps`` steps.

    Returns per-env means over the steps: ``reward`` (per agent-step) and every scalar in
    ``info["metrics"]``; each a ``float32[num_envs]`` array.
    """
    trace = rollout(env, params, policy, key, num_envs, num_steps,
                    lambda state, action, reward, info: {"reward": reward.mean(), **info["metrics"]}, memory)
    return jax.tree_util.tree_map(lambda x: x.astype(jnp.float32).mean(1), trace)


rollout_stats = jax.jit(_rollout_stats, static_argnums=(0, 2, 4, 5))
rollout_stats.__doc__ = _rollout_stats.__doc__


@partial(jax.jit, static_argnums=(0, 2, 5, 6, 7))
def rollout_stats_runs(env, params, act, runs, key, num_envs: int, num_steps: int, memory=None):
    """`rollout_stats` of a learned deterministic policy for a batch of trained runs in one call.

    ``act(run_state, obs) -> action`` for one env; ``runs`` has a leading run axis (seeds x sweep
    values). Every run sees exactly the envs and keys `rollout_stats` gives a heuristic for the same
    ``key``, so learned and baseline numbers are paired. Returns ``{metric: float32[runs, num_envs]}``.
    A recurrent learner passes its `Trainer.memory`: ``act(run_state, obs, mem) -> (action, mem)``.
    """

    def one_run(run):
        if memory is not None:
            return _rollout_stats(env, params, lambda k, obs, s, p, m: act(run, obs, m), key, num_envs, num_steps,
                                  memory(run))
        return _rollout_stats(env, params, lambda k, obs, s, p: act(run, obs), key, num_envs, num_steps)

    return jax.vmap(one_run)(runs)


def evaluate(env, params, policy, key, num_envs: int = 64, num_steps: int = 100) -> dict:
    """``{metric: {"mean", "ci95", "std", "n"}}`` of a heuristic over ``num_envs`` envs (Student t
    over the per-env means, `algos.common.stats`)."""
    env.validate_params(params)  # concrete here; inside the jitted rollout they are traced
    return stats.summarise(rollout_stats(env, params, policy, key, num_envs, num_steps))


def evaluate_runs(env, params, trainer, runs_state, key, num_envs: int, num_steps: int) -> dict:
    """The deterministic policy of every trained run on the same envs and keys as `evaluate`:
    ``{"per_run": [{metric: stat over envs}], "over_runs": {metric: stat over the runs' means},
    "run_means": {metric: float[runs]}}``."""
    env.validate_params(params)
    raw = jax.device_get(rollout_stats_runs(env, params, trainer.act, runs_state, key, num_envs, num_steps,
                                            trainer.memory))
    n_runs = len(next(iter(raw.values())))
    run_means = {k: np.asarray(v, np.float64).mean(-1) for k, v in raw.items()}
    return {"per_run": [stats.summarise({k: v[i] for k, v in raw.items()}) for i in range(n_runs)],
            "over_runs": stats.summarise(run_means), "run_means": run_means}
