"""The seed-003 learners' shared loop: one iteration = one time slot of `collab_edge` (per-task mode).

Seed 003's schedulers decide the tasks of a slot one after another (spec §4.1) and learn once per
slot (the released code's schedule, spec §5.9). This module runs that loop for any such learner, so
FDEdge, D2SAC, SAC, SAC-F and DQN differ only in their ``Agent`` (networks, decision, update):

* **Decisions**: a ``lax.while_loop`` over the slot's N_t real tasks calls ``agent.decide`` and the
  env's deterministic ``transition`` (one uniform draw per slot for the env, one for the agent's noise).
  The per-task env pads every slot to ``max_tasks`` steps; its padded no-op steps only advance the
  env's clock, so they are skipped in one jump (the state equals stepping through them: tested), and
  they never reach the replay.
* **Feedback memory** (FDEdge §5.6, A3): ``X [R, max_tasks, B]`` per env, in the train state (never
  reset by the env): R = n_slots for ``slot_and_index`` (X[t, n], Alg. 1) or 1 for
  ``prev_slot_same_index`` (a rolling X[n]). The decision reads x_I = X[row(t), n] and writes back
  what ``decide`` returns; the transition stores copies of x_I and x'_I = X[t, n+1] or X[t+1, 0] read
  at decision time (A25 default), i.e. the previous visit's value.
* **Replay**: the slot's valid transitions are appended in order (`replay.add_masked`); updates
  (``agent.update``) are gated on the replay holding more than ``warmup_steps`` transitions; one per
  slot (``update_every="slot"``) or one per ``batch_size`` decided tasks (``"K_tasks"``, Alg. 1 l. 15).
* Episodes: the env resets when its last slot ends (all ``n_slots`` slots are decided, A19); the
  replay, the networks and the feedback memory persist.

Metrics per iteration (averaged over a chunk by `make_trainer`): ``delay_sum`` / ``tasks`` (the slot's
summed service delay and decided tasks per env: their ratio over a chunk of whole episodes is the
paper's mean service delay per task, §8.1), ``delay`` (the slot's mean per task), ``reward`` and the
agent's update metrics.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from algos.common import replay
from algos.common.training import (
    OffPolicyConfig, ReplaySpec, Trainer, gated_updates, make_optimizer, make_trainer, schedule,
)
from jaxedge.envs.collab_edge import Draws

MEMORY_INDEX = ("slot_and_index", "prev_slot_same_index")
UPDATE_EVERY = ("slot", "K_tasks")
X_INIT = ("normal", "uniform", "zeros", "ones")


@dataclasses.dataclass(frozen=True)
class SlotRunConfig(OffPolicyConfig):
    """The run sizes every seed-003 learner shares: 100 episodes of the paper's env (B = 10,
    N_max = 100: 100 slots x 100 padded per-task steps) on one env, one iteration per slot, one chunk
    per episode ([C]'s schedule); the learners' Configs add their networks and constants."""

    total_env_steps: int = 1_000_000  # 100 episodes x 100 slots x 100 per-task steps (padded)
    num_envs: int = 1  # the paper's schedule: one env, decisions in sequence
    chunk_size: int = 100  # slots per chunk: one episode at the paper's sizes
    batch_size: int = 64  # K
    buffer_size: int = 10_000  # |R|, FIFO
    warmup_steps: int = 500  # updates start once the replay holds more transitions than this
    updates_per_step: int = 1  # per slot
    max_grad_norm: float = 0.0  # 0: no clipping ([C])
    update_every: str = "slot"  # "slot" ([C]) | "K_tasks" (Alg. 1 l. 15)
    memory_index: str = "slot_and_index"  # X[t, n] (Alg. 1) | prev_slot_same_index (§IV-A.5) (A3)
    x_init: str = "normal"  # Fig. 6: normal | uniform | zeros | ones

    def __post_init__(self):
        super().__post_init__()
        for name, allowed in (("update_every", UPDATE_EVERY), ("memory_index", MEMORY_INDEX),
                              ("x_init", X_INIT)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Config.{name} must be one of {allowed}, got {getattr(self, name)!r}")


@dataclasses.dataclass(frozen=True)
class Agent:
    """What a seed-003 learner plugs into the slot loop (all pure functions).

    ``init(key, hp) -> learner`` (a pytree); ``draw_noise(key, n) -> [n, ...]`` the decision noise of n
    tasks; ``decide(learner, obs_row, x_in, noise_row, hp) -> (action int32[], x_store [B])``;
    ``update(learner, batch, key, hp) -> (learner, metrics)``; ``act(learner, obs [1, D]) -> int32[1]``
    (the deterministic policy). ``memory``: keep the feedback memory (and x_I / x'_I in the replay).
    """

    init: Callable
    draw_noise: Callable
    decide: Callable
    update: Callable
    act: Callable
    memory: bool = False


@struct.dataclass
class SlotTrainState:
    learner: Any
    buffer: replay.Buffer
    env_state: Any  # [E] env states
    obs: jax.Array  # [E, 1, obs_dim]
    memory: Any  # [E, R, max_tasks, B] feedback memory, or None
    key: jax.Array
    step: jax.Array  # iterations (slots) done, int32
    decided: jax.Array  # tasks decided so far (per env), int32: the K_tasks update clock
    hp: dict


def check_env(env, params, name: str) -> None:
    """Seed-003 learners run on `collab_edge` in its per-task mode (one decision per task)."""
    if getattr(env, "name", None) != "collab_edge" or not getattr(env, "per_task", False):
        raise ValueError(f"{name} runs on collab_edge with per_task=True (one decision per task), got {env!r}")


def adam(max_grad_norm: float = 0.0):
    """Adam with an injected (traced) learning rate; global-norm clipping only when max_grad_norm > 0
    (the released seed-003 code clips nothing)."""
    if max_grad_norm > 0:
        return make_optimizer(max_grad_norm)
    return optax.inject_hyperparams(optax.adam)


def init_memory(key, shape, how: str):
    """The feedback memory's initial value (Fig. 6 variants): N(0, 1), U(0, 1), zeros or ones."""
    if how == "normal":
        return jax.random.normal(key, shape)
    if how == "uniform":
        return jax.random.uniform(key, shape)
    return jnp.full(shape, 0.0 if how == "zeros" else 1.0)


def skip_padding(env, state, params, period0):
    """The env state after the rest of slot ``period0``'s padded no-op steps (none if the slot's
    last step already ended it): those steps only advance the clock (``pos`` -> 0, ``period`` + 1),
    so one transition from the slot's last position reaches the same state (tested against stepping)."""
    zero = jnp.zeros((), jnp.float32)
    jumped = env.transition(state.replace(pos=jnp.int32(env.max_tasks - 1)), jnp.zeros((1,), jnp.int32),
                            Draws(zero, zero), params)[1]
    pad = state.period == period0
    return jax.tree_util.tree_map(lambda a, b: jnp.where(pad, a, b), jumped, state)


def make_slot_trainer(cfg: SlotRunConfig, env, params, agent: Agent, default_hp: dict) -> Trainer:
    """A `Trainer` whose iteration is one slot of ``cfg.num_envs`` envs plus the gated updates.

    ``total_env_steps`` counts the env's padded per-task steps (``max_tasks`` per slot and env).
    """
    E, S, B = cfg.num_envs, env.max_tasks, env.n_servers
    if cfg.buffer_size < E * S:
        raise ValueError(f"Config.buffer_size ({cfg.buffer_size}) must hold one slot of every env "
                         f"(num_envs x max_tasks = {E * S})")
    if cfg.batch_size > cfg.buffer_size:
        raise ValueError(f"Config.batch_size ({cfg.batch_size}) exceeds buffer_size ({cfg.buffer_size})")
    sizes = schedule(cfg, env_steps_per_iter=E * S)
    n_slots = int(params.n_slots)
    rows = n_slots if cfg.memory_index == "slot_and_index" else 1
    obs_dim = env.obs_dim
    example = dict(obs=jax.ShapeDtypeStruct((obs_dim,), jnp.float32), action=jax.ShapeDtypeStruct((), jnp.int32),
                   reward=jax.ShapeDtypeStruct((), jnp.float32), next_obs=jax.ShapeDtypeStruct((obs_dim,), jnp.float32))
    if agent.memory:
        example.update(x=jax.ShapeDtypeStruct((B,), jnp.float32), next_x=jax.ShapeDtypeStruct((B,), jnp.float32))
    capacity = int(cfg.buffer_size)
    max_updates = 1 if cfg.update_every == "slot" else math.ceil(E * S / cfg.batch_size) + 1

    def run_slot(learner, hp, env_state, obs, memory, key):
        """One env's slot: its N_t decisions, the padding jump and the episode reset."""
        k_env, k_noise, k_reset = jax.random.split(key, 3)
        u = jax.random.uniform(k_env, (S, 2))
        noise = agent.draw_noise(k_noise, S)
        tr0 = jax.tree_util.tree_map(lambda s: jnp.zeros((S,) + s.shape, s.dtype), example)
        period0 = env_state.period

        def cond(c):
            state = c[0]
            return (state.t == state.period) & (state.period == period0)  # a real task of this slot is shown

        def body(c):
            state, obs, memory, tr = c
            j = state.task
            row = jnp.minimum(state.t, rows - 1)
            x_in = memory[row, j] if agent.memory else None
            action, x_store = agent.decide(learner, obs[0], x_in, jax.tree_util.tree_map(lambda z: z[j], noise), hp)
            obs2, state2, reward, _, _, info = env.transition(state, action[None], Draws(u[j, 0], u[j, 1]), params)
            rec = dict(obs=obs[0], action=action, reward=reward[0], next_obs=obs2[0])
            if agent.memory:
                memory = memory.at[row, j].set(x_store)  # X[t, n] <- the decision's output (Alg. 1 l. 11)
                last = info["slot_end"]
                next_row = jnp.minimum(state.t + last.astype(jnp.int32), rows - 1)
                rec.update(x=x_in, next_x=memory[next_row, jnp.where(last, 0, j + 1)])  # Alg. 1 l. 12
            tr = jax.tree_util.tree_map(lambda a, v: a.at[j].set(v), tr, rec)
            return state2, obs2, memory, tr

        state, obs, memory, tr = jax.lax.while_loop(cond, body, (env_state, obs, memory, tr0))
        n_tasks = env_state.n_tasks
        # The slot's padded no-op steps only advance the env's clock: jump over them in one transition.
        state = skip_padding(env, state, params, period0)
        done = state.period >= params.n_slots
        obs_re, state_re = env.reset_env(k_reset, params)
        episode_delay = state.delay_done / jnp.maximum(state.tasks_done, 1)
        state = jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), state_re, state)
        obs = jnp.where(done, obs_re, obs)
        mask = jnp.arange(S) < n_tasks
        delay_sum = -jnp.where(mask, tr["reward"], 0.0).sum()
        metrics = dict(delay_sum=delay_sum, tasks=n_tasks.astype(jnp.float32),
                       delay=delay_sum / jnp.maximum(n_tasks, 1), reward=-delay_sum / jnp.maximum(n_tasks, 1),
                       episode_end=done.astype(jnp.float32),
                       episode_delay=jnp.where(done, episode_delay, 0.0))
        return state, obs, memory, tr, mask, metrics

    def init(key, hp):
        k_learner, k_env, k_mem, key = jax.random.split(key, 4)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, E), params)
        memory = init_memory(k_mem, (E, rows, S, B), cfg.x_init) if agent.memory else None
        return SlotTrainState(learner=agent.init(k_learner, hp), buffer=replay.init(example, capacity),
                              env_state=env_state, obs=obs, memory=memory, key=key,
                              step=jnp.zeros((), jnp.int32), decided=jnp.zeros((), jnp.int32), hp=hp)

    def update(rs: SlotTrainState, key):
        k_batch, k_upd = jax.random.split(key)
        batch = replay.sample_distinct(rs.buffer, k_batch, cfg.batch_size)
        learner, metrics = agent.update(rs.learner, batch, k_upd, rs.hp)
        return rs.replace(learner=learner), metrics

    def iteration(rs: SlotTrainState, i):
        del i
        key, k_slot, k_upd = jax.random.split(rs.key, 3)
        run = jax.vmap(run_slot, in_axes=(None, None, 0, 0, 0 if agent.memory else None, 0))
        env_state, obs, memory, tr, mask, metrics = run(rs.learner, rs.hp, rs.env_state, rs.obs, rs.memory,
                                                        jax.random.split(k_slot, E))
        flat = jax.tree_util.tree_map(lambda x: x.reshape((E * S,) + x.shape[2:]), tr)
        buffer = replay.add_masked(rs.buffer, flat, mask.reshape(-1))
        rs = rs.replace(buffer=buffer, env_state=env_state, obs=obs, memory=memory, key=key)
        learning = buffer.size > cfg.warmup_steps
        decided = rs.decided + mask.sum().astype(jnp.int32)
        if cfg.update_every == "slot":
            n_updates = jnp.int32(cfg.updates_per_step)
            per_cond = cfg.updates_per_step
        else:  # one update per batch_size decided tasks (Alg. 1 l. 15)
            n_updates = decided // cfg.batch_size - rs.decided // cfg.batch_size
            per_cond = 1
        keys = jax.random.split(k_upd, max_updates * per_cond).reshape(max_updates, per_cond, -1)
        frozen = ("buffer", "env_state", "obs", "memory")
        losses = None
        for u_ in range(max_updates):
            rs, m = gated_updates(learning & (u_ < n_updates), update, rs, keys[u_], frozen=frozen)
            losses = m if losses is None else jax.tree_util.tree_map(jnp.add, losses, m)
        out = {k: v.mean() for k, v in metrics.items()}
        out["updates"] = jnp.where(learning, jnp.minimum(n_updates, max_updates), 0).astype(jnp.float32)
        out.update(losses)
        return rs.replace(step=rs.step + 1, decided=decided), out

    def act(rs: SlotTrainState, obs):
        return agent.act(rs.learner, obs)

    return make_trainer(init, iteration, act, cfg, default_hp, sizes, ReplaySpec(example, capacity))
