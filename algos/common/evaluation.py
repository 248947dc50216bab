"""Evaluate a policy over many parallel envs and report the env's physical metrics."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from algos.common import stats


def rollout(env, params, policy, key, num_envs: int, num_steps: int, record):
    """Run ``policy(key, obs, state, params)`` on ``num_envs`` envs for ``num_steps`` steps and stack
    ``record(state, reward, info)`` (the pre-step state) per step: leaves ``[num_envs, num_steps, ...]``."""

    def one_env(key):
        k_reset, k_steps = jax.random.split(key)
        obs, state = env.reset(k_reset, params)

        def body(carry, key):
            obs, state = carry
            k_act, k_step = jax.random.split(key)
            action = policy(k_act, obs, state, params)
            obs2, state2, reward, _, _, info = env.step(k_step, state, action, params)
            return (obs2, state2), record(state, reward, info)

        return jax.lax.scan(body, (obs, state), jax.random.split(k_steps, num_steps))[1]

    return jax.vmap(one_env)(jax.random.split(key, num_envs))


def _rollout_stats(env, params, policy, key, num_envs: int, num_steps: int):
    """Run ``policy(key, obs, state, params)`` on ``num_envs`` envs for ``num_steps`` steps.

    Returns per-env means over the steps: ``reward`` (per agent-step) and every scalar in
    ``info["metrics"]``; each a ``float32[num_envs]`` array.
    """
    trace = rollout(env, params, policy, key, num_envs, num_steps,
                    lambda state, reward, info: {"reward": reward.mean(), **info["metrics"]})
    return jax.tree_util.tree_map(lambda x: x.astype(jnp.float32).mean(1), trace)


rollout_stats = jax.jit(_rollout_stats, static_argnums=(0, 2, 4, 5))
rollout_stats.__doc__ = _rollout_stats.__doc__


@partial(jax.jit, static_argnums=(0, 2, 5, 6))
def rollout_stats_runs(env, params, act, runs, key, num_envs: int, num_steps: int):
    """`rollout_stats` of a learned deterministic policy for a batch of trained runs in one call.

    ``act(run_state, obs) -> action`` for one env; ``runs`` has a leading run axis (seeds x sweep
    values). Every run sees exactly the envs and keys `rollout_stats` gives a heuristic for the same
    ``key``, so learned and baseline numbers are paired. Returns ``{metric: float32[runs, num_envs]}``.
    """

    def one_run(run):
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
    raw = jax.device_get(rollout_stats_runs(env, params, trainer.act, runs_state, key, num_envs, num_steps))
    n_runs = len(next(iter(raw.values())))
    run_means = {k: np.asarray(v, np.float64).mean(-1) for k, v in raw.items()}
    return {"per_run": [stats.summarise({k: v[i] for k, v in raw.items()}) for i in range(n_runs)],
            "over_runs": stats.summarise(run_means), "run_means": run_means}
