"""The chunked training driver shared by every learner (PureJaxRL style).

An algorithm module provides ``init(key, hp) -> runner_state`` and ``iteration(runner_state) ->
(runner_state, metrics)`` (one vector env step plus its gradient updates; ``iteration(runner_state,
i)`` also gets the global iteration index, which is *unbatched* under a seed ``vmap``, so periodic
work gated on it stays a real ``lax.cond`` instead of a select that runs and copies both branches);
`build_train` turns them into the algorithm contract:

    train = make_train(cfg, env, params)
    out = jax.jit(train)(key)                                # {"train_state", "metrics"}
    outs = jax.jit(jax.vmap(train))(keys)                    # many seeds, one call
    rs = train.init(key, hp)                                 # the chunk API the CLI uses
    rs, metrics = train.train_chunk(rs, start)               # chunk_size iterations in lax.scan;
                                                             # start = chunk index x chunk_size

Swept hyperparameters ``hp`` (a dict of float32 scalars, defaults from the ``Config``) are *traced*:
they live in the runner state, so ``jax.vmap`` over seeds x hyperparameter values is one compiled call.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from algos.common import replay
from jaxedge.wrappers import VecEnv


def hparams(cfg, names) -> dict:
    """The traced hyperparameters of ``cfg`` as float32 scalars."""
    return {n: jnp.asarray(getattr(cfg, n), jnp.float32) for n in names}


def make_optimizer(max_grad_norm: float):
    """Adam with global-norm clipping; the learning rate is an injected (traced) hyperparameter."""

    def build(learning_rate):
        return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))

    return optax.inject_hyperparams(build)


def schedule_sizes(cfg) -> dict:
    """Iteration counts from the config (static ints). One iteration = one vector env step.

    ``total_env_steps`` counts transitions of every parallel env, the warm-up (random actions, no
    updates; the first ``warmup_iters`` iterations of the first chunk) included; it is rounded up to
    whole chunks. ``learn_iters`` (iterations with updates) drive the exploration schedules.
    """
    total_iters = max(1, math.ceil(cfg.total_env_steps / cfg.num_envs))
    warmup_iters = min(math.ceil(cfg.warmup_steps / cfg.num_envs), total_iters - 1)
    chunk = max(1, min(cfg.chunk_size, total_iters))
    num_chunks = math.ceil(total_iters / chunk)
    return dict(
        warmup_iters=warmup_iters,
        chunk_size=chunk,
        num_chunks=num_chunks,
        total_iters=num_chunks * chunk,
        learn_iters=max(1, num_chunks * chunk - warmup_iters),
        env_steps=num_chunks * chunk * cfg.num_envs,
    )


def gated_updates(learning, update, rs, keys, frozen=("buffer", "env_state", "obs")):
    """``lax.scan(update, rs, keys)`` (metrics averaged) when ``learning``, else ``rs`` unchanged and
    zero metrics. Keeps the warm-up inside the chunk so `init` compiles no env step.

    ``update`` must not change the ``frozen`` fields (the replay buffer above all): they enter the
    ``cond`` as read-only operands, so under ``vmap`` (where ``cond`` becomes a select of both
    branches' outputs) the buffer is never copied, only the networks and optimiser states.
    """
    fixed = {f: getattr(rs, f) for f in frozen}
    light = rs.replace(**{f: None for f in frozen})

    def body(light, key):  # the frozen fields are closed over, never carried through a loop
        full, metrics = update(light.replace(**fixed), key)
        return full.replace(**{f: None for f in frozen}), metrics

    def run(light):
        if keys.shape[0] == 1:  # the usual case: no loop at all
            light, metrics = body(light, keys[0])
            return light, metrics
        light, metrics = jax.lax.scan(body, light, keys)
        return light, jax.tree_util.tree_map(lambda v: v.mean(), metrics)

    shapes = jax.eval_shape(run, light)[1]

    def skip(light):
        return light, jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    light, metrics = jax.lax.cond(learning, run, skip, light)
    return light.replace(**fixed), metrics


@struct.dataclass
class ActorCriticState:
    """Runner state of the actor-critic learners (MADDPG, DDPG-VDN): online and target networks with
    their optimisers (parameters stacked on the agent axis), replay, env state and bookkeeping."""

    actor: dict
    critic: dict
    actor_target: dict
    critic_target: dict
    actor_opt: object
    critic_opt: object
    buffer: replay.Buffer
    env_state: object
    obs: jax.Array
    key: jax.Array
    step: jax.Array  # training iterations done (int32)
    hp: dict


def select(pred, a, b):
    """``a`` where ``pred`` else ``b``, leaf by leaf (``pred`` a scalar)."""
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def replay_capacity(cfg) -> int:
    """A buffer larger than every transition the run will ever collect is wasted memory."""
    sizes = schedule_sizes(cfg)
    return int(min(cfg.buffer_size, sizes["env_steps"]))


def step_envs(env, keys, state, action, params):
    """`jaxedge.wrappers.VecEnv.step` plus the pre-reset ``env.global_state`` of every env (the
    critic's next-state input at episode ends)."""
    out = VecEnv(env).step(keys, state, action, params)
    final_global = jax.vmap(env.global_state, in_axes=(0, None))(out[-1]["final_state"], params)
    return (*out, final_global)


def env_metrics(reward, info) -> dict:
    """Per-step training metrics: mean reward per agent-step and the env's physical metrics."""
    out = {"reward": reward.mean()}
    for name, value in info["metrics"].items():
        out[name] = jnp.asarray(value, jnp.float32).mean()
    return out


def build_train(init: Callable, iteration: Callable, act: Callable, cfg, default_hp: dict) -> Callable:
    """Assemble ``train(key, hp=None)`` with the chunk API attached as attributes."""
    sizes = schedule_sizes(cfg)
    chunk_size, num_chunks = sizes["chunk_size"], sizes["num_chunks"]

    def fill_hp(hp):
        full = dict(default_hp)
        if hp:
            unknown = set(hp) - set(full)
            if unknown:
                raise ValueError(f"unknown traced hyperparameters {sorted(unknown)}; valid: {sorted(full)}")
            full.update({k: jnp.asarray(v, jnp.float32) for k, v in hp.items()})
        return full

    def init_fn(key, hp=None):
        return init(key, fill_hp(hp))

    with_index = len(inspect.signature(iteration).parameters) == 2

    def train_chunk(runner_state, start):
        """``chunk_size`` iterations from global iteration ``start`` (required: a default of 0 would
        silently restart periodic work every chunk; a scalar shared by every run:
        keep it out of the seed vmap, as `map_runs` does, so periodic conds stay lazy)."""

        def body(rs, i):  # i: global iteration index, the same for every vmapped run (unbatched)
            return iteration(rs, i) if with_index else iteration(rs)

        steps = jnp.asarray(start, jnp.int32) + jnp.arange(chunk_size, dtype=jnp.int32)
        runner_state, metrics = jax.lax.scan(body, runner_state, steps)
        return runner_state, jax.tree_util.tree_map(lambda m: m.mean(0), metrics)

    def train(key, hp=None):
        rs = init_fn(key, hp)
        starts = jnp.arange(num_chunks, dtype=jnp.int32) * chunk_size
        rs, metrics = jax.lax.scan(train_chunk, rs, starts)
        return {"train_state": rs, "metrics": metrics}

    train.init = init_fn
    train.train_chunk = train_chunk
    train.act = act
    train.config = cfg
    train.chunk_size = chunk_size
    train.num_chunks = num_chunks
    train.env_steps_per_chunk = chunk_size * cfg.num_envs
    train.warmup_env_steps = sizes["warmup_iters"] * cfg.num_envs  # inside the first chunk(s)
    train.total_env_steps = sizes["env_steps"]
    train.default_hp = dict(default_hp)
    return train


def map_runs(fn: Callable, group: int | None = None, shared_args: int = 0) -> Callable:
    """``fn`` over the leading axis of its arguments (runs: seeds x sweep values) as ONE traceable
    function. The last ``shared_args`` positional arguments (e.g. `train_chunk`'s ``start``) are
    the same for every run and stay unbatched.

    ``group=None`` (or >= the number of runs): ``jax.vmap(fn)``, the right choice on a GPU.
    ``group=G``: ``lax.map`` over blocks of ``G`` vmapped runs (`jax.lax.map` with ``batch_size``),
    still one compiled call. ``group=1`` (and any single run): one run after the other with no
    vmap at all (`_one_after_the_other`). On a 2-core CPU a batch-256 update is already
    compute-bound, so batching runs keeps pace rather than gains: 64 runs in blocks of 8 ran at
    1.06-1.15x the per-run speed of single runs, 8 vmapped at 0.88-1.00x
    (benchmarks/results/train_throughput.md, ±10 % noise); all 64 vmapped at once fell to 0.69x
    for dqn_vdn (train_throughput_dqn_vdn_blocks.md), hence the blocks. One after the other
    sidesteps a jaxlib 0.10.2 CPU segfault of MADDPG's ``discrete_actor_loss="expected"`` under
    a run vmap (any run count).
    """

    def mapped(*args):
        cut = len(args) - shared_args
        runs, shared = args[:cut], args[cut:]
        n = jax.tree_util.tree_leaves(runs)[0].shape[0]
        if group == 1 or n == 1:  # one run at a time, no vmap at all
            return _one_after_the_other(fn, runs, shared, n)
        if group is None or group < 1 or group >= n:
            return jax.vmap(fn, in_axes=(0,) * cut + (None,) * shared_args)(*args)
        return jax.lax.map(lambda r: fn(*r, *shared), runs, batch_size=group)

    return mapped


def _one_after_the_other(fn, runs, shared, n):
    """``fn`` on each run in turn in a ``fori_loop`` whose carry is the stacked outputs, written
    run by run; a single run is called directly."""
    if n == 1:
        out = fn(*jax.tree_util.tree_map(lambda x: x[0], runs), *shared)
        return jax.tree_util.tree_map(lambda x: x[None], out)
    first = jax.eval_shape(lambda r: fn(*r, *shared), jax.tree_util.tree_map(lambda x: x[0], runs))
    outs = jax.tree_util.tree_map(lambda s: jnp.zeros((n,) + s.shape, s.dtype), first)

    def body(i, outs):
        out = fn(*jax.tree_util.tree_map(lambda x: x[i], runs), *shared)
        return jax.tree_util.tree_map(lambda o, v: o.at[i].set(v), outs, out)

    return jax.lax.fori_loop(0, n, body, outs)


def config_fields(cfg_cls) -> dict:
    """``{name: default}`` of a Config dataclass."""
    return {f.name: f.default for f in dataclasses.fields(cfg_cls)}
