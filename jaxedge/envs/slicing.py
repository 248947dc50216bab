"""Seed 001: bandwidth and compute slicing across access points (FedD3QN-GAN's environment).

``n_aps`` access points (the agents) each serve ``Params.n_users`` static users (padded with a mask
to the static ``max_users``) and split ``n_bw_blocks`` bandwidth blocks and ``n_cpu_blocks`` compute
blocks over ``n_slices`` slices. Every slot each user joins a slice (probabilities 0.46/0.46/0.08)
and offloads one task of its slice's size; users of one slice share its blocks equally (eqs. 1-2).
Rayleigh fading and the path loss 128.1 + 37.6 lg d[km] give the uplink/downlink rates (eqs. 3-5);
delay = upload + compute + download (D1-D4); a user is satisfied when its delay is within its
slice's tolerance (D5). The reward is the global r = alpha e^(-L) + (1 - alpha) e^phi (eq. R),
identical for every agent, with L the mean delay over APs (eq. 6) and phi the mean satisfaction
ratio (eq. 7). Actions never influence the next state (spec §2.5): the problem is a sequence of
contextual bandits, so the exhaustive per-slot search (``algos.heuristics.slicing.oracle``) is the
optimum.

Observation (spec §4.1, A12): per AP ``[M_1..M_I, N_1..N_I]``, the slice totals of task data
(x + y, kbit) and CPU demand (kMc). With ``obs_normalise`` (default) each is divided by its
per-slice maximum U (1 + beta) x_i or U s_i, i.e. both halves equal the slice user fractions n_i / U.

Action (spec §4.2, A10-A11): one ``Discrete`` index per AP, ``a = i_B * A_C + i_C``, where ``i_B``
and ``i_C`` index, in lexicographic order, the allocations of one resource (``bandwidth_table`` /
``cpu_table``, ``int32[A_r, I]`` block counts). Decoding is two table gathers after ``divmod``;
``encode_action`` inverts it. ``action_mode``:
  * ``"full"`` (default, faithful): every block allocated, each slice >= 1 block: C(17, 2) = 136
    allocations per resource, 136 x 136 = 18,496 actions;
  * ``"coarse"`` (non-faithful, for CI-sized learners): blocks handed out in chunks of
    ``coarse_unit`` (default 3): 10 x 10 = 100 actions, containing the equal split (6, 6, 6);
  * ``"leq"`` (spec A10 literal reading of 8b-8c): each slice >= 1 block, sum <= total: 816^2.
Out-of-range rule: an action is clipped into ``[0, num_actions - 1]``; float actions are floored
first, NaN counts as 0 and +inf as the last action.

Gap resolutions (seed_001_spec.md §9 / §6.3; each is a ``Params`` field):
* A1 ``bw_unit`` W_bar = 180 kHz (one LTE PRB); the eq.-2 floor uses integer Hz arithmetic.
* A2 noise delta^2 = N0 w with N0 = -174 dBm/Hz over the user's bandwidth, noise figure 0 dB.
* A3 independent Rayleigh draw for the downlink, same path loss (``reciprocal=True`` reuses h).
* A4 i.i.d. block fading per slot. The fading of slot t is drawn with its slice labels (at reset or
  at the end of slot t - 1) and kept in the state, so a full-information oracle can see it.
* A5 users area-uniform in the 40 m disc, at least ``d_min`` = 1 m from the AP (annulus), redrawn
  at each reset, static within an episode. Only the user-to-own-AP distance matters (no
  interference, A47: serving AP = generating AP), so the AP line layout is not simulated.
* A6 slice labels i.i.d. per user per slot (``resample_slices=False``: once per episode).
* A7 task sizes deterministic per slice (Table 1), one task per user per slot.
* A8 delays are seconds inside; L enters the reward in ms (``delay_scale`` = 1e3).
* A9 a user with w = 0 has delay l_cap and is unsatisfied; delays are clipped at l_cap = tau =
  10 ms in L (``clip_delay``; unclipped, a starved user's l_cap can be below the delay of a barely
  served one, the literal rule). Zero fading (probability 2^-24) likewise gives an unsatisfied user
  with a huge, capped delay; the ``delay_upload`` / ``delay_download`` metrics are clipped at l_cap
  the same way (with ``clip_delay``), so one such user cannot dominate their means.
* Hardening: ``block_bw`` / ``bw_unit`` must be >= 1 Hz (rounded to integer Hz for eq. 2, A1); an
  action table above 2^20 allocations per resource or 2^31 - 1 actions is refused (counted first).
* A37 eq. 1's indicator "k == 1" read as "k == i". A38 uplink and downlink share w. A39 per-slice
  lists index-aligned as in §6.2. A40 the same alpha in (8a) and (R).
* A12 observation normalised by per-slice maxima (``obs_normalise=False``: raw kbit / kMc).
* A13 the global reward is given to every agent. Episodes are 100-slot truncations (A32).
* Units: "kMc" = 1e9 cycles (task cycles 0.1/0.2/1 kMc, compute blocks 50 kMc/s); the total
  bandwidth/compute is ``n_*_blocks`` x block size (36 MHz and 900 kMc/s at the defaults).
``Params.paper()`` (the default) is Table 1 with these resolutions; ``Params.alternative()`` switches
every optional reading the spec names (W_bar = 100 kHz, NF 9 dB, reciprocal fading, per-episode
slices, raw observations, unclipped delays). ``default_params`` serves every user slot: ``n_users =
max_users`` (20 at the defaults), so ``jaxedge.make("slicing", max_users=U)`` is the U-user scenario.
Spec options not implemented: a fixed total noise power (A2), positions fixed for a whole run (A5),
random task sizes or Bernoulli arrivals (A7, non-faithful), per-AP local rewards (A13, an ablation)
and nearest-AP re-association (A47).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar
import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxedge import prng, spaces
from jaxedge.env import MultiAgentEnv, check_params, check_range_pair, check_sizes, check_value
from jaxedge.physics import channel
from jaxedge.physics import slicing as phys

ACTION_MODES = ("full", "coarse", "leq")
HIGHEST = jax.lax.Precision.HIGHEST
INT32_MAX = 2**31 - 1


def _array(*values):
    return struct.field(default_factory=lambda: jnp.asarray(values, jnp.float32))


@struct.dataclass
class Params:
    """Numeric scenario parameters (SI units). Defaults = seed 001 Table 1 + spec §6.3 gap defaults."""

    n_users: int = 20  # U_b users per AP (<= Env.max_users) (Table 1)
    slice_probs: jax.Array = _array(0.46, 0.46, 0.08)  # slice association probabilities (§6.2, A6)
    task_bits: jax.Array = _array(2.4e3, 12.0e3, 30.0e3)  # x per slice, bit (Table 1)
    task_cycles: jax.Array = _array(0.1e9, 0.2e9, 1.0e9)  # s per slice, cycles (0.1/0.2/1 kMc, A8)
    max_delay: jax.Array = _array(5.0e-3, 8.0e-3, 9.0e-3)  # l_max per slice, s (Table 1)
    result_ratio: float = 0.25  # beta = y / x (Table 1)
    block_bw: float = 2.0e6  # rho^B, Hz (Table 1)
    block_cpu: float = 50.0e9  # rho^C, cycles/s (50 kMc/s, Table 1)
    bw_unit: float = 180.0e3  # W_bar, Hz (A1)
    p_user_dbm: float = 23.0  # P^U (Table 1)
    p_ap_dbm: float = 46.0  # P^A (Table 1)
    noise_psd_dbm_hz: float = -174.0  # N0 (A2)
    noise_figure_db: float = 0.0  # (A2)
    pl_const_db: float = 128.1  # path loss constant, dB at 1 km (§5)
    pl_slope_db: float = 37.6  # path loss slope, dB per decade (§5)
    radius: float = 40.0  # AP coverage radius, m (§2.1)
    d_min: float = 1.0  # minimum user distance, m (A5)
    delay_cap: float = 10.0e-3  # l_cap = tau, s (A9)
    clip_delay: bool = True  # clip delays at l_cap in L (A9)
    alpha: float = 0.5  # delay weight (Table 1, A40)
    delay_scale: float = 1.0e3  # L enters the reward in ms (A8)
    reciprocal: bool = False  # downlink reuses the uplink fading (A3)
    resample_slices: bool = True  # new slice labels every slot (A6)
    obs_normalise: bool = True  # per-slice max normalisation (A12)
    episode_len: int = 100  # T slots (Table 1)

    @classmethod
    def paper(cls, **overrides) -> "Params":
        """Table 1 literally, gaps filled with spec §6.3's suggested defaults (the default)."""
        return cls(**overrides)

    @classmethod
    def alternative(cls, **overrides) -> "Params":
        """Every alternative reading spec §9 names: W_bar 100 kHz (A1), NF 9 dB (A2), reciprocal
        fading (A3), slices drawn once per episode (A6), raw observations (A12), unclipped L (A9)."""
        alt = dict(bw_unit=100.0e3, noise_figure_db=9.0, reciprocal=True, resample_slices=False,
                   obs_normalise=False, clip_delay=False)
        alt.update(overrides)
        return cls(**alt)


@struct.dataclass
class State:
    dist: jax.Array  # (B, U) user-to-AP distance, m (static within an episode)
    gain: jax.Array  # (B, U) path gain 10^(-PL(dist)/10), cached: static within an episode (eq. 3)
    slice: jax.Array  # (B, U) int32 slice of each user in the current slot
    fade_up: jax.Array  # (B, U) |h_up|^2 of the current slot
    fade_down: jax.Array  # (B, U) |h_down|^2 of the current slot
    t: jax.Array  # int32 slot within the episode


@struct.dataclass
class EpisodeDraws:
    radius_u: jax.Array  # (B, U) uniforms -> area-uniform distance


@struct.dataclass
class StepDraws:
    """Randomness of the next slot: its slice labels and fading."""

    slice: jax.Array  # (B, U) int32
    fade_up: jax.Array  # (B, U) |h|^2 ~ Exp(1)
    fade_down: jax.Array  # (B, U)


def path_gain(dist, params: "Params") -> jax.Array:
    """Path gain 10^(-PL/10) with PL = 128.1 + 37.6 lg d[km] (seed 001 §5, eq. 3)."""
    return jnp.exp(channel.log_path_gain_log_distance(dist, params.pl_const_db, params.pl_slope_db))


def make_state(dist, slice_labels, fade_up, fade_down, params: "Params") -> "State":
    """A slot-0 `State` from distances, slice labels and fading (the path gain is derived)."""
    dist = jnp.asarray(dist, jnp.float32)
    return State(dist=dist, gain=path_gain(dist, params), slice=jnp.asarray(slice_labels, jnp.int32),
                 fade_up=jnp.asarray(fade_up, jnp.float32), fade_down=jnp.asarray(fade_down, jnp.float32),
                 t=jnp.zeros((), jnp.int32))


def annulus_distance(u, d_min, radius):
    """Area-uniform distance in the annulus d_min <= d <= R from u ~ U[0, 1): the u-quantile (seed 001 §2.1, A5)."""
    return jnp.sqrt(d_min**2 + u * (radius**2 - d_min**2)).astype(jnp.float32)


# ------------------------------------------------------------------------------------------------
# Action enumeration (static, NumPy, cached)
# ------------------------------------------------------------------------------------------------
MAX_TABLE_ROWS = 2**20  # allocations of one resource (rows of the action table)
MAX_ENCODE_CELLS = 2**26  # entries of the dense inverse table of `encode_table`


def allocation_count(n_blocks: int, n_slices: int, mode: str, unit: int = 1) -> int:
    """Rows of `allocation_table`, counted without enumerating: compositions of ``n_blocks // step``
    into ``n_slices`` parts >= 1 (``leq``: of any total up to it)."""
    chunks = n_blocks // (unit if mode == "coarse" else 1)
    return math.comb(chunks, n_slices) if mode == "leq" else math.comb(chunks - 1, n_slices - 1)


def _compositions(chunks: int, parts: int, exact: bool) -> np.ndarray:
    """Every ``parts``-tuple of ints >= 1 with sum == chunks (``exact``) or <= chunks, lexicographic."""
    if parts == 1:
        first = [chunks] if exact else list(range(1, chunks + 1))
        return np.asarray(first, np.int32).reshape(-1, 1)
    blocks = [np.concatenate([np.full((len(rest), 1), v, np.int32), rest], axis=1)
              for v in range(1, chunks - parts + 2)
              if len(rest := _compositions(chunks - v, parts - 1, exact))]
    return np.concatenate(blocks) if blocks else np.zeros((0, parts), np.int32)


@functools.lru_cache(maxsize=None)
def allocation_table(n_blocks: int, n_slices: int, mode: str, unit: int = 1) -> np.ndarray:
    """All allocations of one resource in lexicographic order: ``int32[A_r, n_slices]`` block counts.

    ``full``: sum == n_blocks, every part >= 1. ``coarse``: the same in chunks of ``unit`` blocks.
    ``leq``: every part >= 1, sum <= n_blocks. More than `MAX_TABLE_ROWS` rows is refused.
    """
    if mode not in ACTION_MODES:
        raise ValueError(f"action_mode must be one of {ACTION_MODES}, got {mode!r}")
    count = allocation_count(n_blocks, n_slices, mode, unit)
    if count > MAX_TABLE_ROWS:
        raise ValueError(f"{count} allocations of {n_blocks} blocks over {n_slices} slices ({mode}) exceed "
                         f"{MAX_TABLE_ROWS}; use fewer blocks or slices, or action_mode='coarse'")
    step = unit if mode == "coarse" else 1
    return _compositions(n_blocks // step, n_slices, mode != "leq") * step


@functools.lru_cache(maxsize=None)
def encode_table(n_blocks: int, n_slices: int, mode: str, unit: int = 1) -> np.ndarray:
    """Dense inverse of `allocation_table`: ``int32[(n_blocks+1)^I]`` row index, -1 where invalid."""
    if (n_blocks + 1) ** n_slices > MAX_ENCODE_CELLS:
        raise ValueError(f"encode_action needs a table of (n_blocks + 1)^n_slices = {(n_blocks + 1) ** n_slices} "
                         f"entries (> {MAX_ENCODE_CELLS}); not available at these sizes")
    table = allocation_table(n_blocks, n_slices, mode, unit)
    weights = (n_blocks + 1) ** np.arange(n_slices - 1, -1, -1)
    inverse = np.full((n_blocks + 1) ** n_slices, -1, np.int32)
    inverse[(table * weights).sum(-1)] = np.arange(len(table), dtype=np.int32)
    return inverse


def slot_delays(f_b, f_c, n_u, bits, cycles, lmax, gain, fade_up, fade_down, params: Params):
    """Delays of users given their slice's blocks ``f_b``/``f_c``, the slice's user count ``n_u``
    (int32), its task (``bits``, ``cycles``, ``lmax``) and their channel (``gain``, fading); all
    broadcast elementwise. Returns ``(l_up, l_cal, l_down, starved, total, satisfied, delay_in_L)``."""
    block_bw = jnp.round(params.block_bw).astype(jnp.int32)
    unit = jnp.round(params.bw_unit).astype(jnp.int32)
    w = phys.bandwidth_share(f_b, block_bw, unit, n_u)  # eq. 2
    c = phys.compute_share(f_c, params.block_cpu, n_u)  # eq. 1
    starved = w <= 0
    safe_w = jnp.where(starved, 1.0, w)
    snr_up = channel.snr_psd_dbm(gain * fade_up, params.p_user_dbm, params.noise_psd_dbm_hz,
                                 params.noise_figure_db, safe_w)  # eq. 3, A2
    snr_dn = channel.snr_psd_dbm(gain * fade_down, params.p_ap_dbm, params.noise_psd_dbm_hz,
                                 params.noise_figure_db, safe_w)  # G_down: same path loss (A3)
    rate_up = channel.shannon_rate_snr(w, snr_up)  # eq. 4
    rate_dn = channel.shannon_rate_snr(w, snr_dn)  # eq. 5
    l_up, l_cal, l_dn = phys.offload_delay(bits, bits * params.result_ratio, cycles, rate_up, rate_dn, c)  # D1-D3
    total, sat, in_l = phys.finish_delay(l_up, l_cal, l_dn, starved, lmax, params.delay_cap, params.clip_delay)  # D4-D5, A9
    return l_up, l_cal, l_dn, starved, total, sat, in_l


@dataclasses.dataclass(frozen=True)
class Slicing(MultiAgentEnv):
    """Seed-001 env. Static sizes: APs (agents), max users per AP, slices, resource blocks."""

    n_aps: int = 4
    max_users: int = 20
    n_slices: int = 3
    n_bw_blocks: int = 18
    n_cpu_blocks: int = 18
    action_mode: str = "full"
    coarse_unit: int = 3
    name: str = "slicing"
    presets: ClassVar[tuple] = ("paper", "alternative")

    def __post_init__(self):
        check_sizes(self, n_aps=self.n_aps, max_users=self.max_users, n_slices=self.n_slices,
                    n_bw_blocks=self.n_bw_blocks, n_cpu_blocks=self.n_cpu_blocks,
                    coarse_unit=self.coarse_unit)
        if self.action_mode not in ACTION_MODES:
            raise ValueError(f"Slicing.action_mode must be one of {ACTION_MODES}, got {self.action_mode!r}")
        unit = self.unit
        for field in ("n_bw_blocks", "n_cpu_blocks"):
            n = getattr(self, field)
            if n % unit or n // unit < self.n_slices:
                raise ValueError(
                    f"Slicing.{field} = {n} must be a multiple of the block unit {unit} with at least "
                    f"n_slices = {self.n_slices} units"
                )
        counts = [allocation_count(n, self.n_slices, self.action_mode, unit) for n in (self.n_bw_blocks, self.n_cpu_blocks)]
        if max(counts) > MAX_TABLE_ROWS or counts[0] * counts[1] > INT32_MAX:
            raise ValueError(
                f"Slicing with n_slices={self.n_slices}, n_bw_blocks={self.n_bw_blocks}, n_cpu_blocks="
                f"{self.n_cpu_blocks} ({self.action_mode}) has {counts[0]} x {counts[1]} actions: more than "
                f"{MAX_TABLE_ROWS} per resource or {INT32_MAX} (int32 action index) in all; use fewer blocks "
                f"or slices, or action_mode='coarse'"
            )

    # ---- contract -------------------------------------------------------------------------------
    @property
    def num_agents(self) -> int:
        return self.n_aps

    @property
    def default_params(self) -> Params:
        params = Params.paper()
        if self.n_slices != 3:
            raise ValueError("Slicing.default_params has 3 slices; pass Params with per-slice arrays "
                             f"of length n_slices = {self.n_slices}")
        return params.replace(n_users=self.max_users)

    @property
    def unit(self) -> int:
        """Blocks per allocation step: ``coarse_unit`` in coarse mode, else 1."""
        return self.coarse_unit if self.action_mode == "coarse" else 1

    @property
    def bandwidth_table(self) -> np.ndarray:
        return allocation_table(self.n_bw_blocks, self.n_slices, self.action_mode, self.unit)

    @property
    def cpu_table(self) -> np.ndarray:
        return allocation_table(self.n_cpu_blocks, self.n_slices, self.action_mode, self.unit)

    @property
    def num_actions(self) -> int:
        return len(self.bandwidth_table) * len(self.cpu_table)

    @property
    def observation_parts(self) -> tuple[spaces.ObsPart, ...]:
        """Per slice: the data ``M_i`` (kbit) then the cycles ``N_i`` (kMc), or n_i / U for both (A12)."""
        return (spaces.ObsPart("data", (self.n_slices,)), spaces.ObsPart("cycles", (self.n_slices,)))

    def observation_space(self, params) -> spaces.Box:
        return spaces.Box(0.0, jnp.inf, (self.n_aps, self.obs_dim))

    def action_space(self, params) -> spaces.Discrete:
        return spaces.Discrete(self.num_actions, (self.n_aps,))

    def validate_params(self, params: Params) -> None:
        for name in ("slice_probs", "task_bits", "task_cycles", "max_delay"):
            shape = np.shape(getattr(params, name))
            if shape != (self.n_slices,):
                raise ValueError(f"Params.{name} must have shape ({self.n_slices},) = (n_slices,), got {shape}")
        check_params(
            params,
            positive=("n_users", "task_bits", "task_cycles", "max_delay", "block_bw", "block_cpu",
                      "bw_unit", "radius", "d_min", "delay_cap", "delay_scale", "episode_len"),
            nonnegative=("slice_probs", "result_ratio"),
            unit_interval=("alpha",),
            # eq. 2 runs in int32 Hz: both round to >= 1 Hz and their products stay below 2**31 (A1)
            limits={"block_bw": (1.0, INT32_MAX / self.n_bw_blocks), "bw_unit": (1.0, INT32_MAX / self.max_users)},
        )
        check_range_pair(params, "d_min", "radius")
        check_value(params, "slice_probs", "must not all be 0", lambda xp: xp.sum(xp.asarray(params.slice_probs)) > 0)
        check_value(params, "n_users", f"must be <= Slicing.max_users = {self.max_users}",
                    lambda xp: xp.asarray(params.n_users) <= self.max_users)

    def global_state(self, state: State, params: Params) -> jax.Array:
        """All APs' observations, flattened (the centralised-critic input)."""
        return self.observations(state, params).reshape(-1)

    # ---- actions --------------------------------------------------------------------------------
    def decode_action(self, action) -> tuple[jax.Array, jax.Array]:
        """Action index per AP -> ``(f_B, f_C)``, each ``int32[..., n_slices]`` blocks (documented rule)."""
        a = jnp.asarray(action)
        last = self.num_actions - 1
        if jnp.issubdtype(a.dtype, jnp.floating):
            a = jnp.floor(jnp.nan_to_num(a, nan=0.0, posinf=last, neginf=0.0))
            a = jnp.clip(a, 0, last)
        a = jnp.clip(a.astype(jnp.int32), 0, last)
        n_cpu = len(self.cpu_table)
        i_b, i_c = a // n_cpu, a % n_cpu
        return jnp.asarray(self.bandwidth_table)[i_b], jnp.asarray(self.cpu_table)[i_c]

    def encode_action(self, f_b, f_c) -> jax.Array:
        """Inverse of `decode_action` for valid allocations (``int32[..., I]`` blocks); -1 if invalid."""
        enc_b = jnp.asarray(encode_table(self.n_bw_blocks, self.n_slices, self.action_mode, self.unit))
        enc_c = jnp.asarray(encode_table(self.n_cpu_blocks, self.n_slices, self.action_mode, self.unit))

        def row(f, n, enc):
            f = jnp.asarray(f, jnp.int32)
            ok = jnp.all((f >= 0) & (f <= n), axis=-1)
            weights = (n + 1) ** jnp.arange(self.n_slices - 1, -1, -1)
            return jnp.where(ok, enc[jnp.where(ok, (jnp.clip(f, 0, n) * weights).sum(-1), 0)], -1)

        i_b = row(f_b, self.n_bw_blocks, enc_b)
        i_c = row(f_c, self.n_cpu_blocks, enc_c)
        return jnp.where((i_b >= 0) & (i_c >= 0), i_b * len(self.cpu_table) + i_c, -1)

    # ---- randomness -----------------------------------------------------------------------------
    def sample_episode(self, key, params) -> EpisodeDraws:
        return EpisodeDraws(radius_u=prng.uniform(key, (self.n_aps, self.max_users)))

    def sample_step(self, key, params) -> StepDraws:
        """Next slot's slice labels (A6) and up/down fading (A3-A4) from one uniform draw."""
        u = prng.uniform(key, (3, self.n_aps, self.max_users))
        probs = jnp.asarray(params.slice_probs, jnp.float32)
        cum = jnp.cumsum(probs)[:-1] / jnp.sum(probs)
        label = jnp.sum(u[0][..., None] >= cum, axis=-1).astype(jnp.int32)  # Categorical(p)
        fade_up = channel.exponential_power(u[1])  # |h|^2 ~ Exp(1) (eq. 3)
        fade_down = jnp.where(params.reciprocal, fade_up, channel.exponential_power(u[2]))  # A3
        return StepDraws(slice=label, fade_up=fade_up, fade_down=fade_down)

    # ---- reset / step ---------------------------------------------------------------------------
    def reset_env(self, key, params: Params):
        k_ep, k_step = prng.split(key)
        state = self.initial_state(self.sample_episode(k_ep, params), self.sample_step(k_step, params), params)
        return self.observations(state, params), state

    def step_env(self, key, state: State, action, params: Params):
        return self.transition(state, action, self.sample_step(key, params), params)

    def initial_state(self, ep: EpisodeDraws, draws: StepDraws, params: Params) -> State:
        return make_state(annulus_distance(ep.radius_u, params.d_min, params.radius), draws.slice,
                          draws.fade_up, draws.fade_down, params)

    def user_mask(self, params) -> jax.Array:
        return jnp.arange(self.max_users) < params.n_users

    def slice_counts(self, state: State, params: Params):
        """``(onehot float[B,U,I] of real users, n float[B,I])``: users per slice and AP."""
        onehot = jax.nn.one_hot(state.slice, self.n_slices, dtype=jnp.float32)
        onehot = onehot * self.user_mask(params)[None, :, None]
        return onehot, self.slice_users(state, params)

    def slice_users(self, state: State, params: Params):
        """``n float[B,I]``: real users per slice and AP, as one masked sum over users per slice (a
        reduction over the contiguous user axis; summing a ``[B,U,I]`` one-hot over users was one of
        the step's most expensive operations on XLA:CPU)."""
        mask = self.user_mask(params)
        return jnp.stack([jnp.sum((state.slice == i) & mask, axis=-1) for i in range(self.n_slices)],
                         axis=-1).astype(jnp.float32)

    def of_own_slice(self, state: State, per_slice):
        """``per_slice[..., slice(u)]`` for every user: ``per_slice`` is ``[I]`` or ``[B, I]``; a select
        chain over the few slices (no one-hot products and small-axis reductions)."""
        per_slice = jnp.asarray(per_slice)
        col = lambda i: per_slice[..., i][:, None] if per_slice.ndim > 1 else per_slice[i]  # noqa: E731
        out = jnp.broadcast_to(col(0), state.slice.shape)
        for i in range(1, self.n_slices):
            out = jnp.where(state.slice == i, col(i), out)
        return out

    def user_delays(self, state: State, f_b, f_c, params: Params):
        """Per-user delays for the blocks of the user's own slice.

        ``f_b``, ``f_c``: block counts of the user's slice, shape ``(B, U) + extra`` (extra axes
        broadcast, e.g. a grid of candidate allocations). Returns ``(l_up, l_cal, l_down, starved,
        total, satisfied, delay_in_L)`` with that shape.
        """
        per_user = lambda v: self.of_own_slice(state, v)  # noqa: E731
        extra = (None,) * (jnp.ndim(f_b) - 2)
        expand = lambda x: x[(...,) + extra]  # noqa: E731
        n_u = per_user(self.slice_users(state, params)).astype(jnp.int32)
        per_user_inputs = (n_u, per_user(params.task_bits), per_user(params.task_cycles), per_user(params.max_delay),
                           state.gain, state.fade_up, state.fade_down)
        return slot_delays(f_b, f_c, *(expand(v) for v in per_user_inputs), params)

    def transition(self, state: State, action, draws: StepDraws, params: Params):
        """Deterministic step given the next slot's draws: what the NumPy reference mirrors."""
        f_b, f_c = self.decode_action(action)  # (B, I)
        fb_u = self.of_own_slice(state, f_b)  # blocks of the user's slice
        fc_u = self.of_own_slice(state, f_c)
        l_up, l_cal, l_dn, starved, total, sat, in_l = self.user_delays(state, fb_u, fc_u, params)
        mask = self.user_mask(params).astype(jnp.float32)[None, :]
        n_users = jnp.asarray(params.n_users, jnp.float32)
        delay_ap = (in_l * mask).sum(1) / n_users  # per-AP mean delay (eq. 6 inner)
        sat_ap = (sat * mask).sum(1) / n_users  # per-AP satisfaction ratio (eq. 7 inner)
        mean_delay = delay_ap.mean()  # L^Ave (eq. 6)
        satisfaction = sat_ap.mean()  # phi^Ave (eq. 7)
        reward = phys.slicing_reward(mean_delay, satisfaction, params.alpha, params.delay_scale)  # eq. R
        reward = jnp.broadcast_to(reward, (self.n_aps,)).astype(jnp.float32)  # global reward (A13)

        served = mask * (1.0 - starved)
        n_served = jnp.maximum(served.sum(), 1.0)
        t_next = state.t + 1
        next_state = state.replace(
            slice=jnp.where(params.resample_slices, draws.slice, state.slice),  # A6
            fade_up=draws.fade_up,
            fade_down=draws.fade_down,
            t=t_next,
        )
        clip = lambda x: jnp.where(params.clip_delay, jnp.minimum(x, params.delay_cap), x)  # noqa: E731 (A9)
        metrics = {
            "delay": mean_delay,
            "satisfaction": satisfaction,
            "delay_upload": (clip(l_up) * served).sum() / n_served,  # clipped at l_cap like L (A9)
            "delay_compute": (l_cal * served).sum() / n_served,  # bounded: c >= rho^C / max_users
            "delay_download": (clip(l_dn) * served).sum() / n_served,
            "starved": (starved * mask).sum() / (mask.sum() * self.n_aps),
        }
        truncated = t_next >= params.episode_len
        terminated = jnp.zeros((), bool)
        info = {"metrics": metrics}
        return self.observations(next_state, params), next_state, reward, terminated, truncated, info

    # ---- observation ----------------------------------------------------------------------------
    def observations(self, state: State, params: Params) -> jax.Array:
        """``[M_i (kbit), N_i (kMc)]`` per AP (spec §4.1), or n_i / U twice when normalised (A12)."""
        n = self.slice_users(state, params)
        frac = n / jnp.asarray(params.n_users, jnp.float32)
        data_kbit = n * (1.0 + params.result_ratio) * params.task_bits / 1e3  # M_i (spec §4.1)
        cycles_kmc = n * params.task_cycles / 1e9  # N_i (spec §4.1)
        return self.flatten_observation({
            "data": jnp.where(params.obs_normalise, frac, data_kbit),
            "cycles": jnp.where(params.obs_normalise, frac, cycles_kmc),
        })

    def physical_observation(self, obs: jax.Array, params: Params) -> dict:
        """``{"slice_users": n_i}`` (float, ``[..., I]``) from observation rows (used by heuristics)."""
        first = self.decode_observation(obs)["data"]
        raw = first * 1e3 / ((1.0 + params.result_ratio) * params.task_bits)
        return {"slice_users": jnp.where(params.obs_normalise, first * jnp.asarray(params.n_users, jnp.float32), raw)}

    # ---- oracle support -------------------------------------------------------------------------
    def action_values(self, state: State, params: Params):
        """Every action's outcome per AP in this slot: ``(delay_sum, n_satisfied)``, ``float32[B, A]``.

        ``delay_sum`` is the sum over the AP's users of the delay entering L, ``n_satisfied`` the
        number of satisfied users. Users of slice i depend only on (f^B_i, f^C_i), so the per-user
        delays are evaluated once on the grid of block counts and summed per slice into tables
        ``[B, I, n_bw_blocks, n_cpu_blocks]``; an action's value is the sum of its I table entries,
        computed for all actions at once as one-hot matrix products (exact: the one-hots only
        select; faster than a gather on CPU): ``V[a_B, a_C] = sum_i E^B_i T_i (E^C_i)^T``.
        """
        grid_b = jnp.arange(1, self.n_bw_blocks + 1, dtype=jnp.int32)[None, None, :, None]
        grid_c = jnp.arange(1, self.n_cpu_blocks + 1, dtype=jnp.int32)[None, None, None, :]
        *_, sat, in_l = self.user_delays(state, grid_b, grid_c, params)  # (B, U, nB, nC)
        onehot, _ = self.slice_counts(state, params)
        values = jnp.stack([in_l, sat.astype(jnp.float32)])  # (2, B, U, nB, nC)
        tables = jnp.einsum("bui,kbupq->kbipq", onehot, values, precision=HIGHEST)
        e_b = jnp.asarray(_one_hot_table(self.n_bw_blocks, self.n_slices, self.action_mode, self.unit))
        e_c = jnp.asarray(_one_hot_table(self.n_cpu_blocks, self.n_slices, self.action_mode, self.unit))
        rows = jnp.einsum("irp,kbipq->kbirq", e_b, tables, precision=HIGHEST)
        out = jnp.einsum("kbirq,isq->kbrs", rows, e_c, precision=HIGHEST)
        out = out.reshape(2, self.n_aps, self.num_actions)  # a = i_B * A_C + i_C
        return out[0], out[1]


@functools.lru_cache(maxsize=None)
def _one_hot_table(n_blocks, n_slices, mode, unit):
    """``float32[I, A_r, n_blocks]``: E[i, r, f - 1] = 1 iff allocation r gives slice i f blocks."""
    table = allocation_table(n_blocks, n_slices, mode, unit)
    return (table.T[..., None] == np.arange(1, n_blocks + 1)).astype(np.float32)
