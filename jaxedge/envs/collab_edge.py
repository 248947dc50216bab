"""Seed 003: collaborative edge scheduling with FCFS processing queues (FDEdge, Xu et al., TMC 2025).

B edge servers (ESs) with fixed CPU capacities f_b and fixed uplink rates v_b sit behind one master
node whose central scheduler (the single agent) assigns every arriving task to one ES. Time runs in
slots of Delta = 1 s; slot t brings N_t ~ U{n_min..n_max} tasks of d ~ U[d_min, d_max] bits each, and
the n-th task of every slot has computation density rho_n (cycles/bit), so its workload is
g = rho_n d. A task's service delay (eq. 2) is transmission d/v_b + compute g/f_b + FCFS wait
(Q_b + Qbef_b)/f_b (eq. 4), where Q is the backlog left at the start of the slot and Qbef the work
already assigned to b earlier in the same slot (eq. U2). At each slot's end the backlogs follow
eq. (5), Q <- max(Q + Qbef - f Delta, 0) (`jaxedge.physics.queues`). An episode lasts
``Params.n_slots`` = 100 slots. Reward = -(sum of the service delays decided in the step) (eq. 10).

Two granularities (static ``per_task``), with identical physics and trajectories for the same
assignments:

* ``per_task=True`` (default, the paper's MDP, spec §4.1): one decision per task. Action
  ``int32[1]`` = the ES of the shown task. Observation ``float32[1, B + 2]`` = [d (Mbit), g (Gcycles),
  queue (Gcycles)] (eq. 7, code units, spec §4.2). Shapes are static, so every slot lasts exactly
  ``max_tasks`` steps: its first N_t steps are decisions and the remaining max_tasks - N_t are no-op
  steps (action ignored, reward 0, ``info["valid"] = False``). The step that decides a slot's last
  task also applies eq. (5) and already shows the next slot's first task, so the observation after
  any decision is the paper's next state s' (eq. 8), and the no-op steps just repeat it.
  An episode is ``n_slots * max_tasks`` steps (``Params.episode_len``).
* ``per_task=False``: one step per slot for fast vectorised learners. Action ``int32[1, max_tasks]``
  (entries past N_t are ignored); observation ``float32[1, 2 max_tasks + B]`` = [d (Mbit) per
  position (0 where no task), g (Gcycles) per position, Q (Gcycles)]. The within-slot FCFS order is
  the task order, so Qbef is an exclusive cumulative sum of the slot's assignments (eq. U2).

Action rule: server indices are clipped to {0..B-1}; float actions are floored and non-finite
entries mean server 0.

``info``: ``metrics`` (below), ``valid`` (a task was decided), ``slot_end`` (eq. 5 applied),
``t`` / ``n`` (slot and task index decided, for feedback-memory indexing, spec §11.1) and
``task_delay`` (the decided task's delay, or the slot's per-position delays, 0 where no task).
``metrics``: ``delay`` and ``wait`` are built so that their mean over the first W steps of an episode
(what `evaluate` and `LogWrapper` report; W = the episode for the latter) is exactly the summed
service delay / wait of the tasks decided in those steps divided by their actual number, the pooled
mean per task of the paper's "average service delay" (§8.1; the state keeps the episode's running
sums, spec §11.1). A single step's value is an increment of that running mean (see `_metrics`), not a
delay; a window that starts mid-episode is not a per-task mean: use ``sum(delay_step) / sum(tasks)``
there (``delay_step`` = the step's summed delay, ``tasks`` = tasks decided). ``queue`` /
``queue_max`` are the mean / largest ES backlog (cycles) after the step.

Gaps filled and deviations (seed_003_spec.md):
* Constants (§7.2): f, v and rho are the released code's NumPy legacy draws (f: seed 2,
  randint(10, f_max + 1); v: seed 5, randint(400, 501); rho: seed 1, U(0.1024, 0.3072) Gcycles/Mbit),
  in SI (Hz, bit/s, cycles/bit; rho = 102.4-307.2 cycles/bit, A14). Smaller B / max_tasks take
  prefixes, as in the code. ``f_max_mode="scaled"`` gives the f_max sweep distinct values (the
  seed-2 default draw times f_max / 50, clipped to [10, f_max] GHz) instead of the legacy draws that
  make f_max = 60 and 70 identical (A21).
* N_t and d come from JAX keys (the code's unseeded global stream cannot be reproduced, §7.2).
* Observation queue part (A4): the issue asks the per-task state to show the queues including this
  slot's earlier assignments, so ``obs_qbef=True`` (default) shows Q + Qbef; ``obs_qbef=False`` is
  eq. (7) literally (Q only, as in the paper and code). No normalisation beyond code units (A16):
  ``bits_unit`` = 1e6 and ``cycles_unit`` = 1e9 are Params.
* Next-state quirk (§5.11, A20): ``next_state_queue_quirk=True`` zeroes the queue part of the
  observation returned by the step that ends a slot (the s' that [C] stores for a slot's last task).
  When that step is also the last step of the slot (N_t = max_tasks) the agent acts on it next, so it
  is left correct. Per-task mode only; ignored in slot mode. Default False.
* Episodes (§2.2, A19): all ``n_slots`` = 100 slots are scheduled ([C] trains on slots 0..98 and uses
  slot 99 only as s'); the final observation shows slot n_slots' first task for bootstrapping.
  There is no terminal state (``terminated`` is always False; ``truncated`` ends the episode).
* The greedy "OPT" of the paper is a per-task greedy oracle (A11): `candidate_delays` gives the delay
  of the shown task on every ES.
* Not implemented: the Shannon-rate channel option (A15) and per-BS arrivals (A10), both unused in
  the paper's experiments.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxedge import prng, spaces
from jaxedge.env import WINDOW, MultiAgentEnv, check_params, check_range_pair, check_sizes, check_value
from jaxedge.physics import queues


# ------------------------------------------------------------------------------------------------
# Exact constants of the released code (spec §7.2)
# ------------------------------------------------------------------------------------------------
def server_frequencies(n_servers: int, f_max: float = 50.0, mode: str = "legacy") -> np.ndarray:
    """ES capacities f_b in Hz: NumPy ``RandomState(2).randint(10, f_max + 1, size=B)`` GHz (§7.2)."""
    if mode == "legacy":
        ghz = np.random.RandomState(2).randint(10, int(f_max) + 1, size=n_servers).astype(np.float64)
    elif mode == "scaled":  # A21: distinct f_max sweep points
        base = np.random.RandomState(2).randint(10, 51, size=n_servers).astype(np.float64)
        ghz = np.clip(np.round(base * f_max / 50.0), 10.0, f_max)
    else:
        raise ValueError(f"f_max_mode must be 'legacy' or 'scaled', got {mode!r}")
    return ghz * 1e9


def server_rates(n_servers: int) -> np.ndarray:
    """Uplink rates v_b in bit/s: ``RandomState(5).randint(400, 501, size=B)`` Mbit/s (§7.2)."""
    return np.random.RandomState(5).randint(400, 501, size=n_servers).astype(np.float64) * 1e6


def task_densities(max_tasks: int) -> np.ndarray:
    """rho_n in cycles/bit by position n: ``RandomState(1).uniform(0.1024, 0.3072)`` Gcycles/Mbit (§7.2)."""
    return np.random.RandomState(1).uniform(0.1024, 0.3072, size=max_tasks) * 1e3


@struct.dataclass
class Params:
    """Numeric scenario parameters (SI units). Build with `Params.paper` / `Params.literal`."""

    freq: jax.Array  # (B,) f_b, Hz (cycles/s)
    rate: jax.Array  # (B,) v_b, bit/s
    density: jax.Array  # (max_tasks,) rho_n, cycles/bit, by position within the slot
    slot_len: float = 1.0  # Delta, s
    n_slots: int = 100  # |T|, slots per episode
    n_min: int = 1  # N_t ~ U{n_min..n_max}
    n_max: int = 100
    bits_min: float = 10.0e6  # d ~ U[bits_min, bits_max], bit
    bits_max: float = 40.0e6
    obs_qbef: bool = True  # show Q + Qbef (True) or Q only (eq. 7 literally) (A4)
    next_state_queue_quirk: bool = False  # [C]'s zero-queue s' at a slot's end (A20)
    bits_unit: float = 1.0e6  # observation units: Mbit
    cycles_unit: float = 1.0e9  # Gcycles
    steps_per_slot: int = struct.field(pytree_node=False, default=100)  # max_tasks or 1 (static)

    @property
    def episode_len(self):
        """Env steps per episode: n_slots * steps_per_slot."""
        return self.n_slots * self.steps_per_slot

    @classmethod
    def paper(cls, n_servers: int = 10, max_tasks: int = 100, per_task: bool = True,
              f_max: float = 50.0, f_max_mode: str = "legacy", **overrides) -> "Params":
        """Table II with the released code's exact constants (§7.2); correct-behaviour flags.

        ``max_tasks`` is N_max (N_t ~ U{1..N_max}; Fig. 5(a) sweeps 60..140, §7.2) and the static
        padding of a slot (`CollabEdge.max_tasks` must match). To sweep N_max inside one compilation,
        pad to the largest value and pass ``n_max`` (traced, <= max_tasks) as an override.
        """
        values = dict(
            freq=jnp.asarray(server_frequencies(n_servers, f_max, f_max_mode), jnp.float32),
            rate=jnp.asarray(server_rates(n_servers), jnp.float32),
            density=jnp.asarray(task_densities(max_tasks), jnp.float32),
            n_max=max_tasks,  # N_max (§7.2, Fig. 5(a))
            steps_per_slot=max_tasks if per_task else 1,
        )
        values.update(overrides)
        return cls(**values)

    @classmethod
    def literal(cls, n_servers: int = 10, max_tasks: int = 100, per_task: bool = True, **overrides) -> "Params":
        """As the released code behaves: state eq. (7) without Qbef and the zero-queue s' quirk."""
        flags = dict(obs_qbef=False, next_state_queue_quirk=True)
        flags.update(overrides)
        return cls.paper(n_servers, max_tasks, per_task, **flags)


@struct.dataclass
class State:
    queue: jax.Array  # (B,) Q: backlog at the start of the shown slot, cycles
    qbef: jax.Array  # (B,) Qbef: work assigned earlier in the shown slot, cycles (0 in slot mode)
    bits: jax.Array  # per task: () d of the shown task; per slot: (max_tasks,) d, 0 past N_t. bit
    n_tasks: jax.Array  # int32 N_t of the shown slot
    task: jax.Array  # int32 index of the shown task within its slot (0 in slot mode)
    t: jax.Array  # int32 shown slot
    period: jax.Array  # int32 slot whose steps are running (a step decides a task iff t == period)
    pos: jax.Array  # int32 step within the current period (0..steps_per_slot - 1)
    tasks_done: jax.Array  # int32 tasks decided so far this episode (round-robin pointer)
    delay_done: jax.Array  # float32 sum of their service delays, s (for the per-task mean, §8.1)
    wait_done: jax.Array  # float32 sum of their waits, s


@struct.dataclass
class Draws:
    """Uniforms in [0, 1) for the next slot's task count and the next task(s)' data sizes."""

    n_tasks: jax.Array  # ()
    bits: jax.Array  # () per task, (max_tasks,) per slot


def decode_n_tasks(u, params):
    """N_t = n_min + floor(u (n_max - n_min + 1)), i.e. U{n_min..n_max} (§2.3)."""
    span = jnp.asarray(params.n_max - params.n_min + 1, jnp.float32)
    n = params.n_min + jnp.floor(u * span).astype(jnp.int32)
    return jnp.minimum(n, params.n_max).astype(jnp.int32)


def decode_bits(u, params):
    """d = d_min + u (d_max - d_min), bit (§2.3)."""
    return params.bits_min + u * (params.bits_max - params.bits_min)


def workload(density, bits):
    """g = rho_n d: a task's CPU cycles from its density and size (seed 003 §2.3)."""
    return density * bits


def service_delays(bits, cycles, queue, before, params):
    """T^serv of one task on every ES behind backlog Q and same-slot work Qbef, float32[B] (eqs. 2, 4)."""
    wait = queues.fcfs_wait(queue, before, params.freq)
    return queues.service_delay(bits, params.rate, cycles, params.freq, wait)


@functools.lru_cache(maxsize=None)
def _array_limits() -> dict:
    """The float32-safe ranges of the per-server / per-task arrays (no class default): within
    `jaxedge.env.WINDOW` of the paper values' magnitude, as every other field (`jaxedge.env.check_params`)."""
    with jax.ensure_compile_time_eval():
        ref = Params.paper(n_servers=2, max_tasks=2)
    out = {}
    for name in ("freq", "rate", "density"):
        m = float(np.max(np.abs(np.asarray(getattr(ref, name)))))
        out[name] = (m / WINDOW, m * WINDOW)
    return out


@dataclasses.dataclass(frozen=True)
class CollabEdge(MultiAgentEnv):
    """Seed-003 env. Static sizes: ES count, padded tasks per slot, and the decision granularity."""

    n_servers: int = 10
    max_tasks: int = 100
    per_task: bool = True
    name: str = "collab_edge"
    presets: ClassVar[tuple] = ("paper", "literal")

    def __post_init__(self):
        check_sizes(self, n_servers=self.n_servers, max_tasks=self.max_tasks)
        if not isinstance(self.per_task, (bool, np.bool_)):
            raise ValueError(f"CollabEdge.per_task must be a bool (True / False), got {self.per_task!r}")
        object.__setattr__(self, "per_task", bool(self.per_task))

    # ---- contract -------------------------------------------------------------------------------
    @property
    def num_agents(self) -> int:
        return 1

    @property
    def steps_per_slot(self) -> int:
        return self.max_tasks if self.per_task else 1

    @property
    def default_params(self) -> Params:
        return Params.paper(self.n_servers, self.max_tasks, self.per_task)

    def preset_params(self, name: str) -> Params:
        return getattr(Params, name)(self.n_servers, self.max_tasks, self.per_task)  # per-server arrays

    @property
    def observation_parts(self) -> tuple[spaces.ObsPart, ...]:
        """Per task: d (Mbit), g (Gcycles), queue per ES (Gcycles) (eq. 7); per slot: d and g per task
        position (0 past N_t), then Q per ES."""
        part, shape = spaces.ObsPart, () if self.per_task else (self.max_tasks,)
        return (part("bits", shape), part("cycles", shape), part("queue", (self.n_servers,)))

    def observation_space(self, params) -> spaces.Box:
        return spaces.Box(0.0, jnp.inf, (1, self.obs_dim))

    def action_space(self, params) -> spaces.Discrete:
        shape = (1,) if self.per_task else (1, self.max_tasks)
        return spaces.Discrete(self.n_servers, shape)

    def validate_params(self, params: Params) -> None:
        for name, size in (("freq", self.n_servers), ("rate", self.n_servers), ("density", self.max_tasks)):
            shape = np.shape(getattr(params, name))
            if shape != (size,):
                raise ValueError(f"Params.{name} must have shape ({size},) for {self!r}, got shape {shape}")
        if params.steps_per_slot != self.steps_per_slot:
            raise ValueError(
                f"Params.steps_per_slot is {params.steps_per_slot} but {self!r} takes {self.steps_per_slot} "
                f"steps per slot: build params with Params.paper(n_servers, max_tasks, per_task)"
            )
        check_params(
            params,
            positive=("freq", "rate", "density", "slot_len", "n_slots", "n_min", "bits_min",
                      "bits_unit", "cycles_unit"),
            limits=_array_limits(),
        )
        check_range_pair(params, "n_min", "n_max")
        check_range_pair(params, "bits_min", "bits_max")
        check_value(params, "n_max", f"must be <= max_tasks ({self.max_tasks})",
                    lambda xp: xp.asarray(params.n_max) <= self.max_tasks)

    def global_state(self, state: State, params: Params) -> jax.Array:
        """The observation plus the hidden same-slot work Qbef and the slot clock."""
        return jnp.concatenate([
            self.observations(state, params).reshape(-1),
            state.qbef / params.cycles_unit,
            (state.t / params.n_slots)[None].astype(jnp.float32),
        ]).astype(jnp.float32)

    # ---- randomness -----------------------------------------------------------------------------
    def sample_step(self, key, params) -> Draws:
        """One uniform draw: the next slot's N_t and the next task's d (per slot: all max_tasks d's)."""
        if self.per_task:
            u = prng.uniform(key, (2,))
            return Draws(n_tasks=u[0], bits=u[1])
        u = prng.uniform(key, (self.max_tasks + 1,))
        return Draws(n_tasks=u[0], bits=u[1:])

    # ---- reset / step ---------------------------------------------------------------------------
    def reset_env(self, key, params: Params):
        state = self.initial_state(self.sample_step(key, params), params)
        return self.observations(state, params), state

    def step_env(self, key, state: State, action, params: Params):
        return self.transition(state, action, self.sample_step(key, params), params)

    def _slot_bits(self, draws: Draws, n_tasks, params):
        mask = jnp.arange(self.max_tasks) < n_tasks
        return jnp.where(mask, decode_bits(draws.bits, params), 0.0)

    def initial_state(self, draws: Draws, params: Params) -> State:
        zero = jnp.zeros((), jnp.int32)
        n_tasks = decode_n_tasks(draws.n_tasks, params)
        bits = decode_bits(draws.bits, params) if self.per_task else self._slot_bits(draws, n_tasks, params)
        return State(
            queue=jnp.zeros((self.n_servers,), jnp.float32),  # q_0 = 0 (eq. 5)
            qbef=jnp.zeros((self.n_servers,), jnp.float32),
            bits=bits.astype(jnp.float32),
            n_tasks=n_tasks,
            task=zero, t=zero, period=zero, pos=zero, tasks_done=zero,
            delay_done=jnp.zeros((), jnp.float32), wait_done=jnp.zeros((), jnp.float32),
        )

    def decode_action(self, action) -> jax.Array:
        """Server indices clipped to {0..B-1}; float actions floored, non-finite -> 0."""
        a = jnp.asarray(action)
        if jnp.issubdtype(a.dtype, jnp.floating):
            a = jnp.where(jnp.isfinite(a), jnp.floor(a), 0.0)
            a = jnp.clip(a, 0, self.n_servers - 1)
        return jnp.clip(a.astype(jnp.int32), 0, self.n_servers - 1)

    def candidate_delays(self, state: State, params: Params):
        """Per-task mode: service delay of the shown task on every ES, float32[B] (eqs. 2, 4)."""
        cycles = workload(params.density[state.task], state.bits)
        return service_delays(state.bits, cycles, state.queue, state.qbef, params)

    def transition(self, state: State, action, draws: Draws, params: Params):
        """Deterministic step given this step's draws: what the NumPy reference mirrors."""
        if self.per_task:
            return self._transition_task(state, action, draws, params)
        return self._transition_slot(state, action, draws, params)

    def _advance_clock(self, state: State, params: Params):
        pos = state.pos + 1
        wrap = pos >= self.steps_per_slot
        period = state.period + wrap.astype(jnp.int32)
        return jnp.where(wrap, 0, pos), period, wrap

    def _metrics(self, state: State, delay_sum, wait_sum, tasks, queue):
        """The step's metrics; ``delay`` / ``wait`` are increments whose running mean is the per-task mean.

        With ``m_t = D_t / K_t`` the mean delay per task over the episode's first t steps (D_t the summed
        delays, K_t the tasks decided), ``delay`` at step t is ``t m_t - (t - 1) m_(t-1)``: their sum
        over the first W steps telescopes to ``W m_W``, so the mean over an episode's first W steps
        (what `evaluate` and `LogWrapper` report) is exactly the pooled mean per task, the paper's
        "average service delay" (§8.1). Computed as ``m_t + (t - 1)(d - k m_(t-1)) / K_t`` (no
        cancellation of large terms). ``delay_step`` / ``tasks`` are the step's plain sums, for a
        ratio of sums over any window.
        """
        k = tasks.astype(jnp.int32)
        t = (state.period * self.steps_per_slot + state.pos + 1).astype(jnp.float32)  # steps this episode
        k_prev = jnp.maximum(state.tasks_done, 1).astype(jnp.float32)
        k_now = jnp.maximum(state.tasks_done + k, 1).astype(jnp.float32)

        def increment(total_prev, step_sum):
            mean_prev = total_prev / k_prev
            change = (step_sum - k.astype(jnp.float32) * mean_prev) / k_now  # m_t - m_(t-1)
            return mean_prev + change + (t - 1.0) * change

        return {
            "delay": increment(state.delay_done, delay_sum),
            "wait": increment(state.wait_done, wait_sum),
            "delay_step": delay_sum,
            "tasks": tasks.astype(jnp.float32),
            "queue": queue.mean(),
            "queue_max": queue.max(),
        }

    def _transition_task(self, state: State, action, draws: Draws, params: Params):
        b = self.decode_action(action)[0]
        valid = state.t == state.period
        f_b, v_b = params.freq[b], params.rate[b]
        cycles = workload(params.density[state.task], state.bits)  # g = rho_n d
        wait = queues.fcfs_wait(state.queue[b], state.qbef[b], f_b)  # eq. 4
        delay = jnp.where(valid, queues.service_delay(state.bits, v_b, cycles, f_b, wait), 0.0)  # eq. 2
        wait = jnp.where(valid, wait, 0.0)
        onehot = jnp.arange(self.n_servers) == b
        qbef = state.qbef + jnp.where(onehot & valid, cycles, 0.0)  # eq. U2
        last = valid & (state.task + 1 >= state.n_tasks)
        queue = jnp.where(last, queues.backlog_update(state.queue, qbef, params.freq, params.slot_len),
                          state.queue)  # eq. 5 at the slot's end
        qbef = jnp.where(last, 0.0, qbef)
        pos, period, wrap = self._advance_clock(state, params)
        next_state = State(
            queue=queue,
            qbef=qbef,
            bits=jnp.where(valid, decode_bits(draws.bits, params), state.bits).astype(jnp.float32),
            n_tasks=jnp.where(last, decode_n_tasks(draws.n_tasks, params), state.n_tasks),
            task=jnp.where(last, 0, state.task + valid.astype(jnp.int32)),
            t=state.t + last.astype(jnp.int32),
            period=period,
            pos=pos,
            tasks_done=state.tasks_done + valid.astype(jnp.int32),
            delay_done=state.delay_done + delay,
            wait_done=state.wait_done + wait,
        )
        obs = self.observations(next_state, params)
        quirk = params.next_state_queue_quirk & last & jnp.logical_not(wrap)  # A20
        obs = jnp.where(quirk & (jnp.arange(self.obs_dim) >= self.obs_offsets["queue"][0]), 0.0, obs)
        info = {
            "metrics": self._metrics(state, delay, wait, valid, queue),
            "valid": valid, "slot_end": last, "t": state.t, "n": state.task, "task_delay": delay,
        }
        truncated = period >= params.n_slots
        reward = -delay[None]  # eq. 10
        return obs, next_state, reward, jnp.zeros((), bool), truncated, info

    def _transition_slot(self, state: State, action, draws: Draws, params: Params):
        b = self.decode_action(action)[0]  # (S,)
        mask = jnp.arange(self.max_tasks) < state.n_tasks
        cycles = jnp.where(mask, workload(params.density, state.bits), 0.0)  # g_n = rho_n d_n (0 past N_t)
        before, arrived = queues.work_before_assigned(cycles, b, self.n_servers)  # eq. U2, in task order
        f_b, v_b = params.freq[b], params.rate[b]
        wait = jnp.where(mask, queues.fcfs_wait(state.queue[b], before, f_b), 0.0)  # eq. 4
        delay = jnp.where(mask, queues.service_delay(state.bits, v_b, cycles, f_b, wait), 0.0)  # eq. 2
        queue = queues.backlog_update(state.queue, arrived, params.freq, params.slot_len)  # eq. 5
        n_next = decode_n_tasks(draws.n_tasks, params)
        pos, period, _ = self._advance_clock(state, params)
        next_state = state.replace(
            queue=queue,
            bits=self._slot_bits(draws, n_next, params).astype(jnp.float32),
            n_tasks=n_next,
            t=state.t + 1,
            period=period,
            pos=pos,
            tasks_done=state.tasks_done + state.n_tasks,
            delay_done=state.delay_done + delay.sum(),
            wait_done=state.wait_done + wait.sum(),
        )
        delay_sum = delay.sum()
        info = {
            "metrics": self._metrics(state, delay_sum, wait.sum(), state.n_tasks, queue),
            "valid": jnp.ones((), bool), "slot_end": jnp.ones((), bool), "t": state.t,
            "n": jnp.zeros((), jnp.int32), "task_delay": delay,
        }
        truncated = period >= params.n_slots
        return self.observations(next_state, params), next_state, -delay_sum[None], jnp.zeros((), bool), \
            truncated, info

    # ---- observation ----------------------------------------------------------------------------
    def observations(self, state: State, params: Params) -> jax.Array:
        """Per task: [d, rho d, queue] (eq. 7); per slot: [d_1..S, g_1..S, Q]. float32[1, obs_dim]."""
        if self.per_task:
            cycles = params.density[state.task] * state.bits  # g = rho_n d
            queue = state.queue + jnp.where(params.obs_qbef, state.qbef, 0.0)  # A4
        else:
            cycles, queue = params.density * state.bits, state.queue
        return self.flatten_observation({
            "bits": state.bits / params.bits_unit,
            "cycles": cycles / params.cycles_unit,
            "queue": queue / params.cycles_unit,
        })
