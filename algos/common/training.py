"""The typed trainer contract shared by every learner (PureJaxRL style) and the pieces it is built from.

A learner module provides ``Config`` (a `RunConfig` subclass) and ``make_train(cfg, env, params) ->
Trainer``. The `Trainer` is the one object every consumer uses (the CLI, evaluation, checkpoints,
sweeps, the reproduction runner):

    trainer = algos.maddpg.make_train(cfg, env, params)
    out = jax.jit(trainer)(key)                              # {"train_state", "metrics"}
    outs = jax.jit(jax.vmap(trainer))(keys)                  # many seeds, one call
    rs = trainer.init(key, hp)                               # the chunk API the CLI drives
    rs, metrics = trainer.train_chunk(rs, start)             # sizes.iters_per_chunk iterations from
                                                             # global iteration ``start``
    action = trainer.act(rs, obs)                            # deterministic policy, one env
    action, mem = trainer.act(rs, obs, mem)                  # ... of a recurrent learner (trainer.memory
                                                             # set; mem = trainer.memory(rs) at episode start)

One *iteration* is whatever the learner needs: one vector env step plus its gradient updates
(off-policy, ``env_steps_per_iter = num_envs``) or a rollout of T vector steps plus epochs of
minibatch updates (on-policy, ``env_steps_per_iter = num_envs * T``); `schedule` turns the run
config into iteration counts either way. ``iteration(rs, i)`` always receives the global iteration
index ``i``, which is *unbatched* under a seed ``vmap``, so periodic work gated on it stays a real
``lax.cond`` instead of a select that runs and copies both branches.

Swept hyperparameters ``hp`` (a dict of float32 scalars, defaults from the ``Config``) are *traced*:
they live in the runner state, so ``jax.vmap`` over seeds x hyperparameter values is one compiled call.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax
from flax import struct

from algos.common import replay
from jaxedge.wrappers import VecEnv


def check_positive_ints(cfg, names, minimum: int = 1) -> None:
    """Raise ``ValueError`` naming the first field of ``cfg`` in ``names`` that is not an int >= minimum."""
    for name in names:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{type(cfg).__name__}.{name} must be an int >= {minimum}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The run-size fields every learner's ``Config`` extends (and may re-default)."""

    total_env_steps: int = 64_000  # transitions of every parallel env, warm-up included; rounded up to whole chunks
    num_envs: int = 16  # parallel envs per vector step
    chunk_size: int = 500  # iterations per compiled chunk (one checkpoint, one progress update each)

    def __post_init__(self):
        check_positive_ints(self, ("total_env_steps", "num_envs", "chunk_size"))


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig(RunConfig):
    """`RunConfig` plus the replay fields of the off-policy learners."""

    batch_size: int = 256
    buffer_size: int = 50_000
    warmup_steps: int = 1_000  # env steps of uniformly random actions before learning
    updates_per_step: int = 1  # gradient updates per vector env step
    max_grad_norm: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        check_positive_ints(self, ("batch_size", "buffer_size", "updates_per_step"))
        check_positive_ints(self, ("warmup_steps",), minimum=0)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Static iteration counts of a run (see `schedule`)."""

    env_steps_per_iter: int  # transitions of all parallel envs per iteration
    iters_per_chunk: int
    num_chunks: int
    warmup_iters: int  # random-action iterations without updates, inside the first chunk(s)

    @property
    def total_iters(self) -> int:
        return self.num_chunks * self.iters_per_chunk

    @property
    def learn_iters(self) -> int:
        """Iterations with updates: they drive the exploration schedules."""
        return max(1, self.total_iters - self.warmup_iters)

    def learn_progress(self, step):
        """How far iteration ``step`` is through the updating iterations: 0 at the end of the warm-up,
        1 at the last iteration (negative during the warm-up); what the exploration schedules read."""
        return (step - self.warmup_iters) / self.learn_iters

    @property
    def env_steps_per_chunk(self) -> int:
        return self.iters_per_chunk * self.env_steps_per_iter

    @property
    def warmup_env_steps(self) -> int:
        return self.warmup_iters * self.env_steps_per_iter

    @property
    def total_env_steps(self) -> int:
        return self.total_iters * self.env_steps_per_iter


def schedule(cfg: RunConfig, env_steps_per_iter: int | None = None, warmup_steps: int = 0) -> Sizes:
    """Iteration counts from the config (static ints); ``env_steps_per_iter`` defaults to
    ``cfg.num_envs`` (one vector step per iteration, the off-policy case).

    ``cfg.total_env_steps`` is rounded up to whole chunks; at least one iteration learns.
    """
    per_iter = cfg.num_envs if env_steps_per_iter is None else int(env_steps_per_iter)
    total_iters = max(1, math.ceil(cfg.total_env_steps / per_iter))
    warmup_iters = min(math.ceil(warmup_steps / per_iter), total_iters - 1)
    chunk = max(1, min(cfg.chunk_size, total_iters))
    return Sizes(env_steps_per_iter=per_iter, iters_per_chunk=chunk,
                 num_chunks=math.ceil(total_iters / chunk), warmup_iters=warmup_iters)


@dataclasses.dataclass(frozen=True)
class ReplaySpec:
    """What one run's replay holds: one example transition (a pytree of ``ShapeDtypeStruct``) and
    the capacity. `check` raises `replay.ReplayMemoryError` above the budget, before compiling."""

    example: Any
    capacity: int

    def bytes(self, runs: int = 1) -> int:
        return replay.buffer_bytes(self.capacity, self.example, runs)

    def check(self, runs: int = 1) -> int:
        return replay.check_memory(self.capacity, self.example, runs)


def replay_capacity(cfg: OffPolicyConfig, sizes: Sizes) -> int:
    """A buffer larger than every transition the run will ever collect is wasted memory."""
    return int(min(cfg.buffer_size, sizes.total_env_steps))


def hparams(cfg, names) -> dict:
    """The traced hyperparameters of ``cfg`` as float32 scalars."""
    return {n: jnp.asarray(getattr(cfg, n), jnp.float32) for n in names}


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """A learner, ready to run: pure functions plus the static facts about the run.

    Callable as ``trainer(key, hp=None) -> {"train_state", "metrics"}`` (the whole run: ``init`` then
    every chunk in ``lax.scan``), so ``jax.jit`` and ``jax.vmap`` apply to it directly.
    """

    init: Callable  # (key, hp=None) -> runner state; hp: traced hyperparameter overrides
    train_chunk: Callable  # (rs, start) -> (rs, metrics averaged over the chunk)
    act: Callable  # (rs, obs) -> the env action of the deterministic policy, one env
    config: RunConfig
    sizes: Sizes
    default_hp: Mapping[str, jax.Array]  # the traced hyperparameters and their defaults
    replay: ReplaySpec | None = None  # None: no replay (on-policy)
    memory: Callable | None = None  # recurrent policies only: (rs) -> one env's initial policy memory; then
    # act is (rs, obs, memory) -> (action, memory), and evaluation restarts the memory at episode ends

    def __call__(self, key, hp=None):
        rs = self.init(key, hp)
        starts = jnp.arange(self.sizes.num_chunks, dtype=jnp.int32) * self.sizes.iters_per_chunk
        rs, metrics = jax.lax.scan(self.train_chunk, rs, starts)
        return {"train_state": rs, "metrics": metrics}


def make_trainer(init: Callable, iteration: Callable, act: Callable, cfg: RunConfig, default_hp: dict,
                 sizes: Sizes, replay_spec: ReplaySpec | None = None, memory: Callable | None = None) -> Trainer:
    """Assemble a `Trainer` from ``init(key, hp) -> rs`` and ``iteration(rs, i) -> (rs, metrics)``."""
    default_hp = dict(default_hp)

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

    def train_chunk(runner_state, start):
        """``iters_per_chunk`` iterations from global iteration ``start`` (required: a default of 0
        would silently restart periodic work every chunk; a scalar shared by every run: keep it out
        of the seed vmap, as `map_runs` does, so periodic conds stay lazy)."""
        steps = jnp.asarray(start, jnp.int32) + jnp.arange(sizes.iters_per_chunk, dtype=jnp.int32)
        runner_state, metrics = jax.lax.scan(iteration, runner_state, steps)
        return runner_state, jax.tree_util.tree_map(lambda m: m.mean(0), metrics)

    return Trainer(init=init_fn, train_chunk=train_chunk, act=act, config=cfg, sizes=sizes,
                   default_hp=default_hp, replay=replay_spec, memory=memory)


def make_optimizer(max_grad_norm: float):
    """Adam with global-norm clipping; the learning rate is an injected (traced) hyperparameter."""

    def build(learning_rate):
        return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))

    return optax.inject_hyperparams(build)


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
