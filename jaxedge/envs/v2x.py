"""Seed 002: cloud-edge-vehicle (6G V2X) task offloading with a digital twin and sequential agents.

``n_vehicles`` connected vehicles (the agents) move in an ``area x area`` square; ``n_servers`` edge
servers (ES) with coverage radius R are linked by wires. Every slot each vehicle has one
indivisible task of D bits (zeta cycles/bit) and computes it (spec §2.6, S1-S2):

* locally (x = 0) at F_loc: T = zeta D / F_loc, E = phi_cv zeta D F_loc^2 (eqs. 3, 12);
* on a nearby ES j (d_ij <= R): OFDMA uplink to j, compute there with the allocated f_ij
  (eqs. 4-8, 13-14, 16);
* on a remote ES j (d_ij > R): uplink to the access ES a = argmin_k d_ik, a wired hop of rate
  phi / d_aj, compute at j (eqs. 9-11, 17; wired energy neglected).

The per-vehicle cost is w T + (1 - w) E (eq. 23). The digital twin (eqs. 1-2) holds every ES's
*available* CPU and bandwidth. Vehicles act one after another in ID order inside a slot: vehicle i
takes fractions of what the twin says remains, and the twin subtracts the allocation before
vehicle i + 1 acts (eqs. 25-26, S5, S6) -- a ``lax.scan`` over agents in `physics.twin`, so
sum_i f_ij <= f_hat_j and sum_i b_ij <= b_hat_j hold by construction.

Action (``Hybrid``): ``discrete: int32[M]`` target x in {0..N} (0 = local); ``continuous:
float32[M, 3]`` = (power, CPU, bandwidth) fractions in [0, 1] of p_max and of the *remaining* CPU of
the target / bandwidth of the access ES. `V2X.from_tanh` maps an actor's tanh outputs u in
[-1, 1]^4 to this action with the spec's off-by-one fix x = min(floor((u + 1) / 2 (N + 1)), N) (S4;
the paper's interval "(0, n)" would never pick ES N) and a = (u + 1) / 2 (eq. 25).

Observation (eq. 20, scaled per spec §4.2): ``[D / D_max, d_i / (area sqrt2), h_i, f_hat / F_high,
b_hat / B]`` = 1 + 4N floats. `step`/`reset` return it with the *slot-start* twin (exact for vehicle
0); `V2X.act_sequential` runs a per-vehicle actor inside the twin scan so vehicle i sees the twin
after vehicles < i, and ``info["twin_observation"]`` holds the observations each vehicle saw given
the actions actually taken.

Rules for bad input: a target outside {0..N} is clipped, a non-finite target means local; fractions
are clipped to [0, 1] and NaN counts as 0. A zero allocation (fraction 0, or a server the twin says
is exhausted) is legal but starves the task: denominators are guarded with eps (1e-12 Hz for CPU,
1e-30 bit/s for rates) and the per-vehicle cost w T + (1 - w) E is clipped at ``cost_cap`` (A15), so a
starved vehicle costs exactly ``cost_cap``; ``metrics["clip_ratio"]`` reports how often the clip
fires. ``metrics["delay"]`` / ``["energy"]`` are means of T and E each clipped at ``cost_cap`` (for
the metrics only, so one starved vehicle cannot swamp the mean).

Presets (spec §7.3), the gaps they fill and the deviations (spec section in brackets):
* ``Params.trend()`` (default, = ``calibrated``): noise -113 dBm/Hz times the allocated bandwidth,
  alpha = 2, phi_es = 1e-30 -- the only setting that reproduces the paper's qualitative trends
  (§2.10). ``Params.literal()`` (= ``paper``): -113 dBm total noise, alpha = 3, phi_es = 1e-28.
  Both: phi_cv = 1e-28, wired factor phi = 1e10 bit m/s, w = 0.5, log2 (A3, A4, A14, A29).
* ES layout (§0, §2.2, A10): (500, 62.5), (250, 562.5), (750, 562.5) m, scaled with ``area``
  (near-optimal 3-disc cover; 0.08 % of the square is out of every ES's range). For N != 3
  `default_layout` puts one ES at the centre (N = 1) or N ESs on a ring of radius area / 4.
* Coverage holes (A13): with no ES in range the nearest ES is the access ES, no extra penalty.
* Fading (§2.5, A4): h ~ Exp(1) i.i.d. per vehicle, ES and slot (block fading); path loss d^-alpha
  with d in metres floored at ``d_min`` = 1 m (a guard the paper does not need).
* Tasks (§2.3): D uniform over {20, 50, 100, 150, 200} kbit (1 kbit = 1000 bit), i.i.d. per
  vehicle and slot; ``task_probs`` can be one-hot for the task-size sweep (Fig. 6).
* Twin slot start (§2.4, A9): f_hat_j ~ U[es_cpu_low, es_cpu_high] = U[5, 25] GHz i.i.d. per ES and
  slot (set low = high for the F_max sweep, Fig. 8); b_hat_j = 20 MHz.
* Bandwidth in remote mode is taken from the access ES (A6; ``bw_from_target=True`` takes it from the
  target, the literal reading). ES compute energy uses the allocated f_ij (A8). Local computing
  uses the full F_loc (A7; ``local_dvfs=True`` runs at a^f F_loc).
* Mobility (§2.2, A11; `physics.mobility`): uniform start positions, random direction with
  p_turn = 0.1 and reflection at the borders, dt = 1 s, per-vehicle speed drawn at reset from
  {5, 10, 15, 20, 30} m/s (one-hot ``speed_probs`` for the speed sweep, Fig. 7). Headings are kept
  as unit vectors. A turn and its new heading come from one uniform u: turn iff u < p_turn, new
  angle 2 pi u / p_turn (uniform given the turn).
* Cost geometry (A12): ``staleness="none"`` only -- costs use the slot-start positions and fading
  the agents observe, so speed has no effect on expected cost (§2.9-5). The ``end_of_slot`` and
  ``obs_one_slot_stale`` modes are not implemented.
* Reward (§4.4, A1): the shared global reward R = -(1/M) sum_i c_i (lambda_i = 1/M) broadcast to
  every vehicle; ``reward_global=False`` gives each vehicle its own -c_i (eq. 23).
* Episodes last ``episode_len`` = 100 slots and end by truncation (A27); nothing but the clock
  depends on the actions (§2.9-1).
* Scalars: w and the weights are shared by all vehicles (the spec allows per-vehicle w_i).
* Agent order (A26): fixed ID order only; the spec's random-permutation ablation is not implemented.
* Numerics (§10.2): float32; the SNR is computed in linear scale, p h exp(-alpha ln d) / sigma^2,
  with log2(1 + SNR) (`channel.shannon_rate_linear`): every factor stays far inside float32 range
  for this seed, and the log-domain ``softplus`` form is ~10x slower on XLA:CPU.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxedge import ops, prng, spaces
from jaxedge.env import MultiAgentEnv, _is_concrete, check_params, check_range_pair, check_sizes
from jaxedge.physics import channel, compute, mobility, twin

EPS_HZ = 1e-12  # denominator guard for a zero CPU allocation (A15)
LAYOUT_3 = ((500.0, 62.5), (250.0, 562.5), (750.0, 562.5))  # spec §2.2 default, for area 1000 m


def dbm_to_watt(dbm: float) -> float:
    """P[W] = 10^((P[dBm] - 30) / 10) (A28)."""
    return 10.0 ** ((dbm - 30.0) / 10.0)


def default_layout(n_servers: int, area: float = 1000.0) -> np.ndarray:
    """ES positions (N, 2) in metres: spec §2.2's near-optimal cover for N = 3, else centre / ring."""
    if n_servers == 3:
        return np.asarray(LAYOUT_3, np.float32) * (area / 1000.0)
    if n_servers == 1:
        return np.full((1, 2), area / 2.0, np.float32)
    angle = 2.0 * np.pi * np.arange(n_servers) / n_servers
    ring = area / 2.0 + (area / 4.0) * np.stack([np.cos(angle), np.sin(angle)], -1)
    return ring.astype(np.float32)


def _array(values):
    return struct.field(default_factory=lambda: np.asarray(values, np.float32))


@struct.dataclass
class Params:
    """Numeric scenario parameters (SI units). Defaults = the ``trend`` preset with N = 3."""

    area: float = 1000.0  # side of the square, m (§2.2)
    radius: float = 500.0  # ES coverage radius R, m (Table 1)
    es_pos: jax.Array = _array(LAYOUT_3)  # (N, 2) ES positions, m (§2.2, A10)
    d_min: float = 1.0  # distance floor in d^-alpha, m (guard)
    f_loc: float = 2.0e9  # vehicle CPU F_loc, Hz (Table 1)
    es_cpu_low: float = 5.0e9  # slot-start available ES CPU ~ U[low, high], Hz (A9)
    es_cpu_high: float = 25.0e9
    es_bw: float = 20.0e6  # ES bandwidth B_j^max, Hz (Table 1)
    p_max: float = 0.2  # max transmit power, W (Table 1)
    noise: float = dbm_to_watt(-113.0)  # sigma^2: W/Hz if noise_is_psd else W (A3)
    noise_is_psd: bool = True
    alpha: float = 2.0  # path-loss exponent (A4)
    zeta: float = 500.0  # CPU cycles per bit (Table 1)
    phi_cv: float = 1.0e-28  # vehicle effective switched capacitance (A14)
    phi_es: float = 1.0e-30  # ES effective switched capacitance (A14)
    phi_wired: float = 1.0e10  # wired distance factor: r = phi / d, bit m / s (eq. 10, A14)
    w: float = 0.5  # latency weight w_i (§2.8)
    cost_cap: float = 10.0  # clip of T [s] and E [J] per vehicle (A15)
    task_sizes: jax.Array = _array([20e3, 50e3, 100e3, 150e3, 200e3])  # D choices, bit (Table 1)
    task_probs: jax.Array = _array([0.2] * 5)
    speed_choices: jax.Array = _array([5.0, 10.0, 15.0, 20.0, 30.0])  # m/s (Table 1)
    speed_probs: jax.Array = _array([0.2] * 5)
    dt: float = 1.0  # slot duration, s (A11)
    p_turn: float = 0.1  # heading redraw probability per slot (A11)
    episode_len: int = 100  # slots per episode (§4.5)
    reward_global: bool = True  # shared R = -mean c_i (A1); False: individual -c_i
    local_dvfs: bool = False  # local CPU at a^f F_loc (A7)
    bw_from_target: bool = False  # remote mode takes bandwidth from the target ES (A6)

    @classmethod
    def trend(cls, n_servers: int = 3, **overrides) -> "Params":
        """Spec §7.3 "trend": -113 dBm/Hz x b, alpha = 2, phi_es = 1e-30 (the default)."""
        base = dict(es_pos=default_layout(n_servers, overrides.get("area", 1000.0)))
        base.update(overrides)
        return cls(**base)

    @classmethod
    def literal(cls, n_servers: int = 3, **overrides) -> "Params":
        """Spec §7.3 "literal": -113 dBm total noise, alpha = 3, phi_es = 1e-28 (Table 1 as printed)."""
        base = dict(noise=dbm_to_watt(-113.0), noise_is_psd=False, alpha=3.0, phi_es=1.0e-28)
        base.update(overrides)
        return cls.trend(n_servers, **base)

    @classmethod
    def calibrated(cls, n_servers: int = 3, **overrides) -> "Params":
        """DESIGN.md's name for the calibrated preset: `trend`."""
        return cls.trend(n_servers, **overrides)

    @classmethod
    def paper(cls, n_servers: int = 3, **overrides) -> "Params":
        """DESIGN.md's name for the literal preset: `literal`."""
        return cls.literal(n_servers, **overrides)


@struct.dataclass
class State:
    pos: jax.Array  # (M, 2) vehicle positions, m
    heading: jax.Array  # (M, 2) unit heading vectors
    speed: jax.Array  # (M,) m/s
    bits: jax.Array  # (M,) this slot's task sizes D_i, bit
    gain: jax.Array  # (M, N) this slot's fading h_ij
    cpu: jax.Array  # (N,) slot-start twin: available CPU f_hat_j, Hz
    bw: jax.Array  # (N,) slot-start twin: available bandwidth b_hat_j, Hz
    t: jax.Array  # int32 slot within the episode


@struct.dataclass
class EpisodeDraws:
    """Per-episode randomness, already in physical form."""

    pos: jax.Array  # (M, 2) m
    heading: jax.Array  # (M, 2) unit vectors
    speed: jax.Array  # (M,) m/s


@struct.dataclass
class StepDraws:
    """Per-slot randomness: mobility of this slot, and the next slot's tasks, fading and twin."""

    turn: jax.Array  # (M,) bool: redraw the heading
    heading: jax.Array  # (M, 2) the redrawn heading
    bits: jax.Array  # (M,) next tasks, bit
    gain: jax.Array  # (M, N) next fading, Exp(1)
    cpu: jax.Array  # (N,) next slot-start available CPU, Hz


def categorical(u, probs, values):
    """Inverse-CDF draw: ``values[k]`` with probability ``probs[k]`` from uniforms ``u``."""
    cdf = jnp.cumsum(probs) / jnp.sum(probs)
    value = jnp.broadcast_to(values[0], u.shape)
    for k in range(1, values.shape[-1]):  # a select chain, not a one-hot (..., K) product: faster on XLA:CPU
        value = jnp.where(u >= cdf[k - 1], values[k], value)
    return value


def distances(pos, es_pos, d_min):
    """d_ij = max(||l_i - l_j||, d_min) (eq. 6), shape (M, N)."""
    diff = pos[:, None, :] - es_pos[None, :, :]
    return jnp.maximum(jnp.sqrt(ops.small_sum(diff * diff)), d_min)


def es_distances(es_pos):
    """Wired link lengths d_jj' (N, N), m (eq. 10)."""
    diff = es_pos[:, None, :] - es_pos[None, :, :]
    return jnp.sqrt(jnp.sum(diff * diff, axis=-1))


def wired_length(on_access, on_cpu, es_pos):
    """Wire length d_aj from the access ES to the target ES, 0 when they coincide (eqs. 9-10).

    An unrolled sum of one-hot products over the N x N pairs, each on the rows' own shape (...), not
    einsum, small-axis reductions or an (..., N, N) product: all three are slow on XLA:CPU.
    """
    n, wire = on_access.shape[-1], es_distances(es_pos)
    terms = [on_access[..., a] * wire[a, j] * on_cpu[..., j] for a in range(n) for j in range(n)]
    return functools.reduce(jnp.add, terms)


def routing(target, dist, params, n_servers):
    """Where a task's CPU and bandwidth come from (spec §2.6, S1, S5, A6, A13).

    ``target`` int (...,) in {0..N}, ``dist`` (..., N). Returns one-hot rows (..., N) ``on_cpu`` (the
    target ES), ``on_access`` (the access ES: the target if within R, else the nearest ES) and
    ``on_bw`` (the ES whose bandwidth is used), and bool ``remote`` (target beyond R). All rows
    are zero for a local task.
    """
    offloaded = target > 0
    on_cpu = jax.nn.one_hot(target - 1, n_servers, dtype=jnp.float32)  # zero row for x = 0
    d_target = ops.small_sum(on_cpu * dist)
    in_range = d_target <= params.radius
    access = jnp.where(in_range, target - 1, ops.small_argmin(dist))  # acc(i) (§2.6, A13)
    on_access = jax.nn.one_hot(access, n_servers, dtype=jnp.float32) * offloaded[..., None]
    on_bw = jnp.where(params.bw_from_target, on_cpu, on_access)  # A6
    return on_cpu, on_access, on_bw, offloaded & ~in_range


def delay_energy(bits, offloaded, f, b, power, gain_a, dist_a, d_wired, f_local, params):
    """(T, E) of one task per mode (S1, S2); broadcasts over any shape. Unclipped.

    ``f``/``b`` are the allocated ES CPU and bandwidth, ``gain_a``/``dist_a`` the link to the access
    ES, ``d_wired`` the access-to-target wire length (0 when they coincide), ``f_local`` the local
    CPU frequency.
    """
    cycles = params.zeta * bits
    rate = channel.shannon_rate_linear(  # r = b log2(1 + p h d^-alpha / sigma^2), sigma^2 = N0 b or N0 (eqs. 5-6, A3)
        jnp.where(offloaded, b, 0.0), jnp.where(offloaded, gain_a, 1.0), power,
        jnp.where(offloaded, dist_a, 1.0), params.alpha, params.noise, params.noise_is_psd,
    )
    t_up = compute.transmit_delay(jnp.where(offloaded, bits, 0.0), rate)  # D / r (eq. 7)
    e_up = compute.transmit_energy(power, t_up)  # p D / r (eq. 14)
    t_wired = bits * d_wired / params.phi_wired  # D / (phi / d_aj) (eqs. 9-10)
    freq = jnp.maximum(jnp.where(offloaded, f, f_local), EPS_HZ)
    kappa = jnp.where(offloaded, params.phi_es, params.phi_cv)
    t_cmp = compute.compute_delay(cycles, freq)  # zeta D / f (eqs. 3-4)
    e_cmp = compute.compute_energy(cycles, freq, kappa)  # phi zeta D f^2 (eqs. 12-13)
    delay = t_cmp + jnp.where(offloaded, t_up + t_wired, 0.0)  # eqs. 8, 11 (S1)
    energy = e_cmp + jnp.where(offloaded, e_up, 0.0)  # eqs. 15-17 (S2)
    return delay, energy


def capped_cost(delay, energy, params):
    """``(c, T, E, clipped)``: the per-vehicle cost c = w T + (1 - w) E (eq. 23) capped at ``cost_cap``
    (A15); T and E clipped at the cap for the metrics only (a starved vehicle's mean stays finite)."""
    raw_cost = params.w * delay + (1.0 - params.w) * energy  # c_i = w T + (1 - w) E (eq. 23)
    clipped = raw_cost > params.cost_cap
    cost = jnp.minimum(raw_cost, params.cost_cap)  # per-vehicle cost capped at c_cap (A15)
    return cost, jnp.minimum(delay, params.cost_cap), jnp.minimum(energy, params.cost_cap), clipped


def best_es_frequency(params):
    """f* = (w / (2 (1 - w) phi_es))^(1/3): the ES frequency minimising w T + (1 - w) E (S3)."""
    return compute.best_frequency(params.w, (1.0 - params.w) * params.phi_es, jnp.inf)


def best_local_frequency(params):
    """min(F_loc, (w / (2 (1 - w) phi_cv))^(1/3)): the local frequency minimising w T + (1 - w) E (S3, eqs. 3, 12)."""
    return compute.best_frequency(params.w, (1.0 - params.w) * params.phi_cv, params.f_loc)


@dataclasses.dataclass(frozen=True)
class V2X(MultiAgentEnv):
    """Seed-002 env. Static sizes: vehicles (agents) and edge servers."""

    n_vehicles: int = 10
    n_servers: int = 3
    name: str = "v2x"
    presets: ClassVar[tuple] = ("trend", "literal", "calibrated", "paper")

    def __post_init__(self):
        check_sizes(self, n_vehicles=self.n_vehicles, n_servers=self.n_servers)

    # ---- contract -------------------------------------------------------------------------------
    @property
    def num_agents(self) -> int:
        return self.n_vehicles

    @property
    def default_params(self) -> Params:
        return Params.trend(self.n_servers)

    def preset_params(self, name: str) -> Params:
        return getattr(Params, name)(self.n_servers)  # the ES layout has one position per server

    @property
    def observation_parts(self) -> tuple[spaces.ObsPart, ...]:
        """Eq. 20: own D / D_max, then per ES j (option j): d_ij / (area sqrt2), h_ij, f_hat_j / F_high,
        b_hat_j / B."""
        n, part = self.n_servers, spaces.ObsPart
        return (part("bits"), part("dist", (n,), "option"), part("gain", (n,), "option"),
                part("cpu", (n,), "option"), part("bw", (n,), "option"))

    def observation_space(self, params) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (self.n_vehicles, self.obs_dim))

    def action_space(self, params) -> spaces.Hybrid:
        m = self.n_vehicles
        return spaces.Hybrid(spaces.Discrete(self.n_servers + 1, (m,)), spaces.Box(0.0, 1.0, (m, 3)))

    def validate_params(self, params: Params) -> None:
        shape = tuple(np.shape(params.es_pos))
        if shape != (self.n_servers, 2):
            raise ValueError(
                f"Params.es_pos has shape {shape}, expected ({self.n_servers}, 2) for "
                f"n_servers={self.n_servers}; use Params.trend(n_servers={self.n_servers})"
            )
        check_params(
            params,
            positive=(
                "area", "radius", "d_min", "f_loc", "es_cpu_low", "es_bw", "p_max", "noise", "zeta",
                "phi_cv", "phi_es", "phi_wired", "cost_cap", "task_sizes", "dt", "episode_len",
            ),
            nonnegative=("alpha", "task_probs", "speed_choices", "speed_probs"),
            unit_interval=("w", "p_turn"),
        )
        check_range_pair(params, "es_cpu_low", "es_cpu_high")
        if _is_concrete(params):
            for name in ("task_probs", "speed_probs"):
                probs = np.asarray(getattr(params, name), np.float64)
                values = "task_sizes" if name == "task_probs" else "speed_choices"
                if probs.shape != np.shape(getattr(params, values)) or not np.isclose(probs.sum(), 1.0, atol=1e-4):
                    raise ValueError(f"Params.{name} must sum to 1 and match {values}, got {probs}")

    def global_state(self, state: State, params: Params) -> jax.Array:
        """All vehicles' slot-start observations, flattened (the MADDPG critic's state input)."""
        return self.observations(state, params).reshape(-1)

    # ---- randomness -----------------------------------------------------------------------------
    @property
    def _step_draw_size(self) -> int:
        m, n = self.n_vehicles, self.n_servers
        return 2 * m + m * n + n

    def _step_draws(self, u, params) -> StepDraws:
        m, n = self.n_vehicles, self.n_servers
        u_turn, u_task, u_gain, u_cpu = jnp.split(u, np.cumsum([m, m, m * n]))
        turn = u_turn < params.p_turn
        theta = 2.0 * jnp.pi * u_turn / jnp.maximum(params.p_turn, 1e-12)  # uniform given a turn
        return StepDraws(
            turn=turn,
            heading=mobility.heading_from_angle(theta),
            bits=categorical(u_task, params.task_probs, params.task_sizes),
            gain=-jnp.log(1.0 - u_gain).reshape(m, n),  # |g|^2 ~ Exp(1), Rayleigh (§2.5, A4); log, not log1p: faster on CPU
            cpu=params.es_cpu_low + u_cpu * (params.es_cpu_high - params.es_cpu_low),  # A9
        )

    def sample_step(self, key, params) -> StepDraws:
        """This slot's mobility draws and the next slot's tasks, fading and twin: one uniform draw."""
        return self._step_draws(prng.uniform(key, (self._step_draw_size,)), params)

    def sample_reset(self, key, params):
        """``(EpisodeDraws, StepDraws)`` for a new episode from one uniform draw."""
        m = self.n_vehicles
        u = prng.uniform(key, (4 * m + self._step_draw_size,))
        u_pos, u_head, u_speed, u_step = jnp.split(u, np.cumsum([2 * m, m, m]))
        episode = EpisodeDraws(
            pos=params.area * u_pos.reshape(m, 2),  # uniform in the square (§2.2)
            heading=mobility.heading_from_angle(2.0 * jnp.pi * u_head),
            speed=categorical(u_speed, params.speed_probs, params.speed_choices),
        )
        return episode, self._step_draws(u_step, params)

    # ---- reset / step ---------------------------------------------------------------------------
    def reset_env(self, key, params: Params):
        state = self.initial_state(*self.sample_reset(key, params), params)
        return self.observations(state, params), state

    def step_env(self, key, state: State, action: spaces.HybridAction, params: Params):
        return self.transition(state, action, self.sample_step(key, params), params)

    def initial_state(self, episode: EpisodeDraws, draws: StepDraws, params: Params) -> State:
        return State(
            pos=episode.pos,
            heading=episode.heading,
            speed=episode.speed,
            bits=draws.bits,
            gain=draws.gain,
            cpu=draws.cpu,
            bw=jnp.full((self.n_servers,), params.es_bw, jnp.float32),
            t=jnp.zeros((), jnp.int32),
        )

    # ---- actions --------------------------------------------------------------------------------
    def decode_action(self, action: spaces.HybridAction):
        """``(target int32[M], fractions float32[M, 3])`` after the documented clipping rule."""
        target = action.discrete
        if jnp.issubdtype(target.dtype, jnp.floating):
            target = jnp.where(jnp.isfinite(target), target, 0.0)  # non-finite target -> local
        target = jnp.clip(target.astype(jnp.int32), 0, self.n_servers)
        frac = jnp.nan_to_num(action.continuous.astype(jnp.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return target, jnp.clip(frac, 0.0, 1.0)

    def from_tanh(self, u) -> spaces.HybridAction:
        """Actor outputs u in [-1, 1]^(..., 4) -> action: x by (S4), fractions (u + 1) / 2 (eq. 25)."""
        u = jnp.clip(jnp.nan_to_num(jnp.asarray(u, jnp.float32), nan=0.0), -1.0, 1.0)
        n = self.n_servers
        x = jnp.minimum(jnp.floor((u[..., 0] + 1.0) / 2.0 * (n + 1)), n).astype(jnp.int32)  # (S4)
        return spaces.HybridAction(x, (u[..., 1:] + 1.0) / 2.0)

    # ---- transition -----------------------------------------------------------------------------
    def transition(self, state: State, action: spaces.HybridAction, draws: StepDraws, params: Params):
        """Deterministic slot given its draws: what the NumPy reference mirrors."""
        target, frac = self.decode_action(action)
        dist = distances(state.pos, params.es_pos, params.d_min)
        on_cpu, on_access, on_bw, remote = routing(target, dist, params, self.n_servers)
        offloaded = target > 0
        # Digital twin: vehicles take fractions of what remains, in ID order (eqs. 25-26, S6).
        f, b, cpu_seen, bw_seen, _, _ = twin.sequential_allocation(
            state.cpu, state.bw, on_cpu, on_bw, frac[:, 1], frac[:, 2]
        )
        power = frac[:, 0] * params.p_max  # p_i = a^p p_max (eq. 25)
        f_local = jnp.where(params.local_dvfs, frac[:, 1] * params.f_loc, params.f_loc)  # A7
        d_wired = wired_length(on_access, on_cpu, params.es_pos)  # d_aj, 0 when access = target
        delay, energy = delay_energy(
            state.bits, offloaded, f, b, power,
            ops.small_sum(on_access * state.gain), ops.small_sum(on_access * dist), d_wired, f_local, params,
        )
        cost, delay, energy, clipped = capped_cost(delay, energy, params)  # c_i = w T + (1 - w) E capped (eq. 23, A15)
        reward = jnp.where(  # R = sum_i lambda_i R_i, lambda_i = 1/M (eq. 24, A1)
            params.reward_global, jnp.broadcast_to(-cost.mean(), cost.shape), -cost
        )

        cpu_used = jnp.sum(f[:, None] * on_cpu, axis=0)
        bw_used = jnp.sum(b[:, None] * on_bw, axis=0)
        pos, heading = mobility.random_direction_step(
            state.pos, state.heading, state.speed, params.dt, draws.turn, draws.heading, params.area
        )
        t_next = state.t + 1
        next_state = State(
            pos=pos, heading=heading, speed=state.speed, bits=draws.bits, gain=draws.gain,
            cpu=draws.cpu, bw=jnp.full((self.n_servers,), params.es_bw, jnp.float32), t=t_next,
        )
        metrics = {
            "delay": delay.mean(),
            "energy": energy.mean(),
            "cost": cost.mean(),
            "offload_ratio": offloaded.mean(),
            "remote_ratio": remote.mean(),
            "clip_ratio": clipped.mean(),
            "cpu_used": cpu_used.sum() / state.cpu.sum(),
            "bw_used": bw_used.sum() / state.bw.sum(),
            "cpu_excess": jnp.max(jnp.maximum(cpu_used - state.cpu, 0.0) / state.cpu),
            "bw_excess": jnp.max(jnp.maximum(bw_used - state.bw, 0.0) / state.bw),
        }
        info = {
            "metrics": metrics,
            "twin_observation": self._observe(state, cpu_seen, bw_seen, params),
        }
        truncated = t_next >= params.episode_len
        terminated = jnp.zeros((), bool)
        return self.observations(next_state, params), next_state, reward, terminated, truncated, info

    # ---- observation ----------------------------------------------------------------------------
    def local_features(self, state: State, params: Params) -> dict:
        """Each vehicle's own parts of eq. 20: ``bits`` D / D_max (M,), ``dist`` d_i / (area sqrt2) and
        ``gain`` h_i (M, N)."""
        dist = distances(state.pos, params.es_pos, params.d_min)
        return {"bits": state.bits / jnp.max(params.task_sizes), "dist": dist / (params.area * math.sqrt(2.0)),
                "gain": state.gain}

    def twin_features(self, cpu, bw, params: Params) -> dict:
        """The twin parts of eq. 20: ``cpu`` f_hat / F_high and ``bw`` b_hat / B (..., N)."""
        return {"cpu": cpu / params.es_cpu_high, "bw": bw / params.es_bw}

    def _observe(self, state, cpu_seen, bw_seen, params):
        return self.flatten_observation({**self.local_features(state, params),
                                         **self.twin_features(cpu_seen, bw_seen, params)})

    def observations(self, state: State, params: Params) -> jax.Array:
        """Eq. 20 for every vehicle with the slot-start twin: float32[M, 1 + 4N]."""
        return self._observe(state, state.cpu, state.bw, params)

    def physical_observation(self, obs: jax.Array, params: Params) -> dict:
        """`decode_observation` of one or more rows in physical units: bits, dist, gain, cpu, bw."""
        parts = self.decode_observation(obs)
        return {
            "bits": parts["bits"] * jnp.max(params.task_sizes),
            "dist": parts["dist"] * (params.area * math.sqrt(2.0)),
            "gain": parts["gain"],
            "cpu": parts["cpu"] * params.es_cpu_high,
            "bw": parts["bw"] * params.es_bw,
        }

    def act_sequential(self, state: State, params: Params, agent_policy):
        """Run a per-vehicle actor in ID order against the live twin (spec §4.6, S6).

        ``agent_policy(i, obs_i) -> (target, fractions)`` is called inside a ``lax.scan`` with vehicle
        i's observation (the twin after vehicles < i took their share); ``target`` is an int scalar
        in {0..N} and ``fractions`` float (3,). Returns ``(action, obs_seq)``: the joint
        ``HybridAction`` to pass to `step` and the observation each vehicle acted on (M, obs_dim),
        which equals ``info["twin_observation"]`` of that step.
        """
        dist = distances(state.pos, params.es_pos, params.d_min)
        return self._sequential(self.local_features(state, params), dist, state.cpu, state.bw, params, agent_policy)

    def act_sequential_from_obs(self, obs: jax.Array, params: Params, agent_policy):
        """`act_sequential` from the slot-start observations ``obs`` (M, obs_dim) alone (what a
        decentralised policy gets): each row holds the vehicle's task, distances and gains, and every
        row the same slot-start twin, which is all the twin recursion needs (eq. 20, S6)."""
        parts, phys = self.decode_observation(obs), self.physical_observation(obs, params)
        local = {k: parts[k] for k in ("bits", "dist", "gain")}
        return self._sequential(local, phys["dist"], phys["cpu"][0], phys["bw"][0], params, agent_policy)

    def _sequential(self, local, dist, cpu0, bw0, params, agent_policy):
        def body(carry, x):
            cpu, bw = carry
            i, local_i, dist_i = x
            obs_i = self.flatten_observation({**local_i, **self.twin_features(cpu, bw, params)}, lead=())
            target, frac = agent_policy(i, obs_i)
            target, frac = self.decode_action(spaces.HybridAction(jnp.asarray(target), jnp.asarray(frac)))
            on_cpu, _, on_bw, _ = routing(target, dist_i, params, self.n_servers)
            cpu, bw, _, _ = twin.twin_take(cpu, bw, on_cpu, on_bw, frac[1], frac[2])  # DT update (eq. 26)
            return (cpu, bw), (target, frac, obs_i)

        xs = (jnp.arange(self.n_vehicles), local, dist)
        _, (target, frac, obs_seq) = jax.lax.scan(body, (cpu0, bw0), xs)
        return spaces.HybridAction(target, frac), obs_seq
