"""Seed 004: cloud-edge task offloading with interference, edge result caching and queue matrices.

One cloud, ``n_cells`` edge servers (each with a BS) on a circle of radius r_c around it, and up to
``ues_per_cell`` UEs per cell, uniform in a disc of radius r_e around their edge server. Agents are
the ``n_cells * ues_per_cell`` UE slots (agent ``n`` is slot ``n % ues_per_cell`` of cell
``n // ues_per_cell``); the UEs absent this episode are padding, marked by ``State.mask`` and the
observation's mask column, ignored by the physics and given zero observations.

Each round (one step) every UE gets one task type m from the catalogue (M = 200 by default) drawn
from its UE type's distribution, and chooses x (0 local, 1 own edge, 2 cloud via the edge), an
uplink channel l of L, a transmit-power ratio a and a local CPU ratio b. Rates (4)-(5), computation
(2)-(3), communication (6)-(9), queue matrices (10)-(12) and the round time T_t = max_n tau_n; energy
(7); the edge caches (U1, A18) are the only coupling between rounds.

Action (``Hybrid``): ``discrete: int32[N, 2]`` = (x, l); ``continuous: float32[N, 2]`` = (a, b).
Rule: x is clipped to {0, 1, 2}, l to {0..L-1}; a, b: NaN -> 0, +inf -> 1, then clipped to
[min_ratio, 1] (the open interval (0, 1], spec A7). Padding UEs' actions are ignored.

Observation ``float32[N, 7 + n_cells]``: the six local features (14)/(U6) — received power
P_UE |h|^2 as (dBm + 200)/100 (positive, O(1)), then log(1 + T / 1 s) of T*_1(0), T*_1(1)
(cache-aware), T*_21(1), T*_1(2), T*_22(2) — then the active mask and the one-hot edge id (the
paper's position embedding). Fixed scaling instead of §4.2's running standardisation (which belongs
to a learner); no within-cell index (A24, faithful), so look-alike UEs cannot de-collide alone.

Reward: the shared team reward -(w1 T_t + w2 sum_n E_n) ((13), (23), (27)) for every agent slot;
``info["vector_reward"]`` is the vector reward (17) as ``float32[N, 2]`` = (-w1 tau_n, -w2 E_n)
with zeros for padding.

Gaps filled and deviations (seed_004_spec.md §9, resolutions A1-A26; [G] defaults of §6.4):
* A1/A2 presets. ``Params.small()`` = S1 (Fig. 5): K = 5 edges, r_e = 200 m, r_c = 300 m;
  ``medium()`` = S2 (Fig. 6): K = 7, 300/400 m; ``large()`` = S3 (Figs. 7, 9, 10): K = 7, 600/800 m.
  All use 4-6 UEs per edge (Fig. 5's text) instead of Table I's {3, 4, 5}, and K from the figure
  captions (5 / 7) instead of Table I's "6 or 8". ``table_i()`` is the literal Table I reading
  (K = 6, 3-5 UEs, r_e = 300 m, r_c = 400 m, F_C = F_E = 14.4 GHz). The number of edges and the UE
  range are Params (traced); the static ``n_cells`` / ``ues_per_cell`` must be at least as large
  (checked); ``env.default_params`` is ``small()`` fitted to the env's static sizes.
* A3 computation: F_E = 14.4 GHz, F_C = 3 F_E = 43.2 GHz, F_UE = 2.4 GHz, kappa = 1e-28.
* A4 channel: 3GPP path loss 128.1 + 37.6 log10(d/km) dB, d >= 10 m, for UE-edge and edge-cloud
  links (edge-cloud distance = r_c: edges are equally spaced on the circle, so only r_c matters);
  no fast fading by default (``rayleigh=True``: |h|^2 ~ Exp(1) per round, floored at 0.1, on every
  link); noise -174 dBm/Hz + 9 dB noise figure over one channel; L B = 80 MHz so B = 80 MHz / L.
  Only the UE's distance to its own edge matters (cells do not interfere), so no angles are drawn.
* A15 interference: (U2) by default: same cell, same channel, transmitting (x >= 1) UEs, with their
  gains. ``interference_gain=False`` drops the gains and ``interference_all=True`` counts every
  same-cell same-channel UE, local ones included — both together are (5) as printed.
* A16 round time: ``exec_time_fixed=False`` (default) is (12) literally: a cloud task's own UE-edge
  time T_21 is not counted; ``True`` adds it ((U4)). Every group finishes at its group total.
* A17/A18 caching: lookups use the cache at the start of the round; a hit zeroes an edge (x = 1)
  task's computation time only; after the round every offloaded (x in {1, 2}) task of a cell is an
  access, in UE order: hits refresh, misses insert with LRU (``cache_policy=0``) or LFU (``1``,
  ties by LRU) eviction; results larger than the capacity are skipped; ``insert_if_fits`` = no
  eviction. Capacity S^k = 200 Mbit in whole kbit, and at most ``cache_slots`` results (a static
  array size, 16 by default; the bit capacity usually binds first). Caches empty at each episode.
  ``cache_hit_skips_upload`` (A17 option) is not implemented.
* §2.4 tasks: S_i ~ U[5, 20] Mbit, S_o ~ U[2, 40] Mbit, C ~ U[600, 1200] cycles/bit, drawn once per
  type from a fixed seed (``Params.task_*``, replaceable); 6 UE types, each with Zipf(0.8)
  popularity over its own fixed permutation (``Params.popularity``); UE types uniform per episode.
* A19 episodes: N_k ~ U{ue_min..ue_max} per active edge, positions and types drawn at reset, static
  within the episode; episodes last 600 rounds (Table II), truncation only.
* ``rate_floor`` (bit/s, default 0 = literal) optionally bounds every rate from below (§6.4).
* The state keeps what only changes when a round's tasks and gains are drawn: the tasks' sizes and
  the interference-free rates of (4), computed with the params of that call (changing powers,
  bandwidth or the catalogue mid-episode takes effect from the next round). Channel gains are kept
  as ln |h|^2 (float32-safe, identical eager and jitted); A26's typos are
  read as the spec says (b_n^k = b_t^n, S^k = S_k). A5-A14 and A20-A23 concern the learners, not
  the env.
* w1 = 1 /s, w2 = 0.5 /J (§6.4). Metrics: ``round_time`` T_t, ``energy`` per active UE, ``cost``
  w1 T_t + w2 sum E, ``cache_hit_ratio`` = the share of edge (x = 1) tasks whose result was cached
  (the only hits that save anything, §2.6; a cloud task's "hit" saves nothing and is not counted),
  ``collision_ratio`` (transmitting UEs
  sharing their channel with another transmitting UE of the cell), offload shares, cache fill.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxedge import prng, spaces
from jaxedge.env import MultiAgentEnv, check_params, check_range_pair, check_sizes, check_value
from jaxedge.physics import cache as cache_lib
from jaxedge.physics import channel, compute, tasks

NUM_TASK_TYPES = 200
NUM_UE_TYPES = 6
_DEFAULT_SI, _DEFAULT_SO, _DEFAULT_C = tasks.uniform_catalogue(
    NUM_TASK_TYPES, (5e6, 20e6), (2e6, 40e6), (600.0, 1200.0)
)
_DEFAULT_POP = tasks.zipf_popularity(NUM_UE_TYPES, NUM_TASK_TYPES, 0.8)
NOISE_PSD = 10.0 ** ((-174.0 + 9.0 - 30.0) / 10.0)  # -174 dBm/Hz + 9 dB noise figure, in W/Hz


def _const(value):
    return struct.field(default_factory=lambda: value)


@struct.dataclass
class Params:
    """Numeric scenario parameters (SI units). Defaults = the small (S1) preset."""

    r_edge: float = 200.0  # r_e, m: UE disc around each edge server (Table I)
    r_cloud: float = 300.0  # r_c, m: circle of edge servers around the cloud (Table I)
    n_edges: int = 5  # K active edge servers (A1)
    ue_min: int = 4  # N_k range per edge (A2)
    ue_max: int = 6
    total_bandwidth: float = 80.0e6  # L B, Hz (Table I, §2.2)
    p_ue: float = 0.2455  # P_UE = 23.9 dBm, W (Table I)
    p_edge: float = 1.0  # P_E = 30 dBm
    p_cloud: float = 10.0  # P_C = 40 dBm
    noise_psd: float = NOISE_PSD  # W/Hz incl. 9 dB noise figure (§6.4)
    pl_const_db: float = 128.1  # path loss 128.1 + 37.6 log10(d/km) dB (§6.4)
    pl_slope_db: float = 37.6
    d_min: float = 10.0  # m
    rayleigh: bool = False  # per-round Rayleigh fading (A4 option)
    fading_floor: float = 0.1
    f_ue: float = 2.4e9  # F_UE, Hz (A3)
    f_edge: float = 14.4e9  # F_E (A3)
    f_cloud: float = 43.2e9  # F_C (A3)
    kappa: float = 1.0e-28  # UE effective capacitance (§6.4)
    w_time: float = 1.0  # omega_1, 1/s (§6.4)
    w_energy: float = 0.5  # omega_2, 1/J
    cache_capacity: float = 200.0e6  # S^k, bit (§6.4)
    cache_policy: int = cache_lib.LRU  # 0 LRU, 1 LFU (A18)
    insert_if_fits: bool = False  # literal "cache only when capacity is sufficient" (A18 option)
    exec_time_fixed: bool = False  # (U4) instead of literal (12) (A16)
    interference_gain: bool = True  # (U2) gains in P_I (A15)
    interference_all: bool = False  # count non-transmitting same-channel UEs as in (5) (A15)
    rate_floor: float = 0.0  # bit/s, 0 = none (§6.4)
    min_ratio: float = 1.0e-3  # smallest a, b (A7)
    episode_len: int = 600  # rounds per episode (Table II)
    task_si: np.ndarray = _const(_DEFAULT_SI)  # S_i^m, bit
    task_so: np.ndarray = _const(_DEFAULT_SO)  # S_o^m, bit
    task_c: np.ndarray = _const(_DEFAULT_C)  # C^m, cycles/bit
    popularity: np.ndarray = _const(_DEFAULT_POP)  # [UE types, M] arrival distributions

    @classmethod
    def small(cls, **overrides) -> "Params":
        """S1 (Fig. 5): 5 edges, r_e = 200 m, r_c = 300 m, 4-6 UEs per edge (A1, A2)."""
        return cls(**{**dict(r_edge=200.0, r_cloud=300.0, n_edges=5), **overrides})

    @classmethod
    def medium(cls, **overrides) -> "Params":
        """S2 (Fig. 6): 7 edges, r_e = 300 m, r_c = 400 m, 4-6 UEs per edge."""
        return cls(**{**dict(r_edge=300.0, r_cloud=400.0, n_edges=7), **overrides})

    @classmethod
    def large(cls, **overrides) -> "Params":
        """S3 (Fig. 7): 7 edges, r_e = 600 m, r_c = 800 m, 4-6 UEs per edge."""
        return cls(**{**dict(r_edge=600.0, r_cloud=800.0, n_edges=7), **overrides})

    @classmethod
    def table_i(cls, **overrides) -> "Params":
        """Table I literally: 6 edges, 3-5 UEs per edge, F_C = F_E = 86.4 GHz / 6 (A1-A3 literal)."""
        literal = dict(r_edge=300.0, r_cloud=400.0, n_edges=6, ue_min=3, ue_max=5, f_cloud=14.4e9)
        return cls(**{**literal, **overrides})


PRESETS = ("small", "medium", "large", "table_i")


@struct.dataclass
class State:
    mask: jax.Array  # (N,) bool: UE present this episode
    ue_type: jax.Array  # (N,) int32
    ln_g_ue_mean: jax.Array  # (N,) ln path gain UE <-> own edge (log domain: no float32 underflow)
    ln_g_ue: jax.Array  # (N,) this round's ln |h(k, n)|^2
    ln_g_ec: jax.Array  # (K,) this round's ln |h(k, c)|^2 (edge <-> cloud)
    r_up0: jax.Array  # (N,) interference-free uplink rate at a = 1 (eq. 4; feature T*_21)
    r_dn: jax.Array  # (N,) downlink R(k, n) (eq. 4)
    r_ec: jax.Array  # (K,) edge -> cloud R(k, c) (eq. 4)
    r_ce: jax.Array  # (K,) cloud -> edge R(c, k) (eq. 4)
    task: jax.Array  # (N,) int32 task type of this round
    task_sizes: jax.Array  # (N, 3) its S_i (bit), S_o (bit), S_i C (cycles), looked up once per round
    cache: cache_lib.Cache  # (K, S) edge result caches
    t: jax.Array  # int32 round within the episode


@struct.dataclass
class EpisodeDraws:
    """Per-episode randomness, already transformed (the reference takes these as inputs)."""

    n_ues: jax.Array  # (K,) int32 UEs per edge
    dist: jax.Array  # (N,) m, distance to the own edge server
    ue_type: jax.Array  # (N,) int32


@struct.dataclass
class StepDraws:
    """Per-round randomness: the next tasks and fading factors (ones without fading)."""

    task: jax.Array  # (N,) int32
    fade_ue: jax.Array  # (N,)
    fade_ec: jax.Array  # (K,)


LN10_OVER_10 = float(np.log(10.0) / 10.0)
LOWER_BOUND_TIMES = ("t1_local", "t1_edge", "t21", "t1_cloud", "t22")  # observed as log(1 + T / 1 s)


def log_path_gain(dist, params):
    """ln |h|^2, |h|^2 = 10^(-(128.1 + 37.6 log10(d / 1 km)) / 10), d >= d_min (§6.4, A4)."""
    return channel.log_path_gain_log_distance(jnp.maximum(dist, params.d_min), params.pl_const_db, params.pl_slope_db)


def rate(bandwidth, log_sinr, params):
    """R = B log2(1 + SINR) (eq. 4), optionally floored at ``rate_floor``."""
    return jnp.maximum(channel.shannon_rate(bandwidth, log_sinr), params.rate_floor)


def local_compute(work, b, params):
    """(T1(0), E^c) of a local task at CPU ratio b: W / (b F_UE) and kappa (b F_UE)^2 W (eqs. 2-3)."""
    f_loc = b * params.f_ue
    return work / f_loc, compute.compute_energy(work, f_loc, params.kappa)


def cloud_time(t1, t21, t22, params):
    """Finish time of a cloud task after ``t1`` of cloud computing: t1 + T22 (+ T21 with exec_time_fixed) ((12)/(U4), A16)."""
    return t1 + t22 + jnp.where(params.exec_time_fixed, t21, 0.0)


def weighted_cost(time, energy, params):
    """w1 T + w2 E (eq. 13)."""
    return params.w_time * time + params.w_energy * energy


@dataclasses.dataclass(frozen=True)
class CloudEdge(MultiAgentEnv):
    """Seed-004 env. Static sizes: edge cells, UE slots per cell, channels L, cache slots."""

    n_cells: int = 7
    ues_per_cell: int = 6
    n_channels: int = 8
    cache_slots: int = 16
    name: str = "cloud_edge"
    presets: ClassVar[tuple] = PRESETS

    def __post_init__(self):
        check_sizes(
            self, n_cells=self.n_cells, ues_per_cell=self.ues_per_cell,
            n_channels=self.n_channels, cache_slots=self.cache_slots,
        )

    # ---- contract -------------------------------------------------------------------------------
    @property
    def num_agents(self) -> int:
        return self.n_cells * self.ues_per_cell

    @property
    def default_params(self) -> Params:
        """The small (S1) preset, with edges and UEs per edge capped at the static sizes."""
        return self.preset_params("small")

    def preset_params(self, name: str) -> Params:
        """Preset ``name`` with its edges and UEs per edge capped at the static sizes."""
        p = getattr(Params, name)()
        return p.replace(
            n_edges=min(p.n_edges, self.n_cells),
            ue_min=min(p.ue_min, self.ues_per_cell),
            ue_max=min(p.ue_max, self.ues_per_cell),
        )

    @property
    def observation_parts(self) -> tuple[spaces.ObsPart, ...]:
        """(U6): received power, the five lower-bound times of `LOWER_BOUND_TIMES`; mask; edge id."""
        part = spaces.ObsPart
        return (part("rx_power"), *(part(n) for n in LOWER_BOUND_TIMES), part("mask"),
                part("edge_id", (self.n_cells,)))

    def observation_space(self, params) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (self.num_agents, self.obs_dim))

    def action_space(self, params) -> spaces.Hybrid:
        n = self.num_agents
        return spaces.Hybrid(
            spaces.MultiDiscrete([3, self.n_channels], (n, 2)), spaces.Box(0.0, 1.0, (n, 2))
        )

    def validate_params(self, params: Params) -> None:
        check_params(
            params,
            positive=(
                "r_edge", "r_cloud", "n_edges", "ue_min", "total_bandwidth", "p_ue", "p_edge",
                "p_cloud", "noise_psd", "d_min", "fading_floor", "f_ue", "f_edge", "f_cloud",
                "kappa", "min_ratio", "episode_len", "task_si", "task_so", "task_c",
            ),
            nonnegative=("w_time", "w_energy", "cache_capacity", "rate_floor", "popularity"),
            unit_interval=("min_ratio", "cache_policy"),
            limits={"pl_const_db": (0.0, 500.0), "pl_slope_db": (0.0, 100.0), "rate_floor": (0.0, 1.0e12)},
        )
        check_range_pair(params, "ue_min", "ue_max")
        check_value(params, "n_edges", f"must be <= the env's n_cells ({self.n_cells})",
                    lambda xp: xp.asarray(params.n_edges) <= self.n_cells)
        check_value(params, "ue_max", f"must be <= the env's ues_per_cell ({self.ues_per_cell})",
                    lambda xp: xp.asarray(params.ue_max) <= self.ues_per_cell)
        if not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(params)):
            cls = type(params).__name__
            m = np.shape(params.task_si)
            if np.shape(params.task_so) != m or np.shape(params.task_c) != m or len(m) != 1:
                raise ValueError(f"{cls}.task_so / task_c must have the shape of task_si {m}")
            if np.ndim(params.popularity) != 2 or np.shape(params.popularity)[1] != m[0]:
                raise ValueError(f"{cls}.popularity must be [UE types, {m[0]}]")
            if np.any(np.sum(params.popularity, axis=1) <= 0):
                raise ValueError(f"{cls}.popularity rows must have positive mass")

    def global_state(self, state: State, params: Params) -> jax.Array:
        """All UEs' observations, flattened (the centralised critic's token set)."""
        return self.observations(state, params).reshape(-1)

    # ---- helpers --------------------------------------------------------------------------------
    def cell_of(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_cells), self.ues_per_cell)

    def bandwidth(self, params):
        return params.total_bandwidth / self.n_channels  # B = 80 MHz / L (§2.2)

    def noise(self, params):
        return params.noise_psd * self.bandwidth(params)  # sigma^2 (§6.4)

    # ---- randomness -----------------------------------------------------------------------------
    @partial(jax.jit, static_argnums=0)  # eager calls hit a compiled cache (gymnax style)
    def sample_episode(self, key, params) -> EpisodeDraws:
        """N_k, distances and UE types from one uniform draw."""
        k, n = self.n_cells, self.num_agents
        u = prng.uniform(key, (k + 2 * n,))
        span = params.ue_max - params.ue_min + 1
        n_ues = jnp.minimum(params.ue_min + jnp.floor(u[:k] * span).astype(jnp.int32), params.ue_max)
        dist = params.r_edge * jnp.sqrt(u[k : k + n])  # uniform in a disc of radius r_e
        n_types = params.popularity.shape[0]
        ue_type = jnp.minimum(jnp.floor(u[k + n :] * n_types).astype(jnp.int32), n_types - 1)
        return EpisodeDraws(n_ues=n_ues, dist=dist, ue_type=ue_type)

    @partial(jax.jit, static_argnums=0)  # eager calls hit a compiled cache (gymnax style)
    def sample_step(self, key, params, ue_type) -> StepDraws:
        """Next tasks (inverse CDF of the UE type's popularity) and fading factors.

        One uniform draw: N for the tasks, plus N + K for the fading only when ``rayleigh`` (a
        ``lax.cond``, so the default no-fading round draws less than half the random numbers).
        """
        k, n = self.n_cells, self.num_agents

        def with_fading(key):
            u = prng.uniform(key, (2 * n + k,))
            fade = jnp.maximum(-jnp.log1p(-u[n:]), params.fading_floor)  # |h|^2 ~ Exp(1), floored
            return u[:n], fade

        def without_fading(key):
            return prng.uniform(key, (n,)), jnp.ones((n + k,), jnp.float32)

        u, fade = jax.lax.cond(params.rayleigh, with_fading, without_fading, key)
        cdf = jnp.cumsum(jnp.asarray(params.popularity, jnp.float32), axis=1)
        task = tasks.sample_categorical_rows(cdf, ue_type, u)
        return StepDraws(task=task, fade_ue=fade[:n], fade_ec=fade[n:])

    # ---- reset / step ---------------------------------------------------------------------------
    def reset_env(self, key, params: Params):
        k_ep, k_step = prng.split(key)
        ep = self.sample_episode(k_ep, params)
        state = self.initial_state(ep, self.sample_step(k_step, params, ep.ue_type), params)
        return self.observations(state, params), state

    def step_env(self, key, state: State, action: spaces.HybridAction, params: Params):
        return self.transition(state, action, self.sample_step(key, params, state.ue_type), params)

    @partial(jax.jit, static_argnums=0)  # eager calls hit a compiled cache (gymnax style)
    def initial_state(self, ep: EpisodeDraws, draws: StepDraws, params: Params) -> State:
        j = np.tile(np.arange(self.ues_per_cell), self.n_cells)
        cell = self.cell_of()
        mask = (cell < params.n_edges) & (j < ep.n_ues[cell])
        ln_g_ue_mean = log_path_gain(ep.dist, params)
        ln_g_ec_mean = log_path_gain(params.r_cloud, params)
        ln_g_ue = ln_g_ue_mean + jnp.log(draws.fade_ue)
        ln_g_ec = ln_g_ec_mean + jnp.log(draws.fade_ec)
        return State(
            mask=mask,
            ue_type=ep.ue_type,
            ln_g_ue_mean=ln_g_ue_mean,
            ln_g_ue=ln_g_ue,
            ln_g_ec=ln_g_ec,
            **self.link_rates(ln_g_ue, ln_g_ec, params),
            task=draws.task,
            task_sizes=self.task_sizes(draws.task, params),
            cache=cache_lib.empty((self.n_cells,), self.cache_slots),
            t=jnp.zeros((), jnp.int32),
        )

    def decode_action(self, action: spaces.HybridAction, params: Params):
        """(x, l, a, b) after the documented clipping rule."""
        disc = action.discrete.astype(jnp.int32)
        x = jnp.clip(disc[:, 0], 0, 2)
        l = jnp.clip(disc[:, 1], 0, self.n_channels - 1)  # noqa: E741
        ratios = jnp.nan_to_num(action.continuous.astype(jnp.float32), nan=0.0, posinf=1.0, neginf=0.0)
        ratios = jnp.clip(ratios, params.min_ratio, 1.0)
        return x, l, ratios[:, 0], ratios[:, 1]

    def task_sizes(self, task, params):
        """(N, 3): S_i, S_o and the cycles S_i C of each UE's task (one packed gather, §2.4)."""
        si = jnp.asarray(params.task_si, jnp.float32)
        table = jnp.stack([si, jnp.asarray(params.task_so, jnp.float32), si * jnp.asarray(params.task_c, jnp.float32)], -1)
        return table[task]

    @staticmethod
    def task_arrays(state):
        return state.task_sizes[:, 0], state.task_sizes[:, 1], state.task_sizes[:, 2]

    def link_rates(self, ln_g_ue, ln_g_ec, params: Params) -> dict:
        """Interference-free rates of (4), computed once when a round's gains are drawn (with that
        call's params) and kept in the state: the a = 1 uplink, R(k,n), R(k,c), R(c,k)."""
        bw, ln_noise = self.bandwidth(params), jnp.log(self.noise(params))
        return {
            "r_up0": rate(bw, jnp.log(params.p_ue) + ln_g_ue - ln_noise, params),
            "r_dn": rate(bw, jnp.log(params.p_edge) + ln_g_ue - ln_noise, params),
            "r_ec": rate(bw, jnp.log(params.p_edge) + ln_g_ec - ln_noise, params),
            "r_ce": rate(bw, jnp.log(params.p_cloud) + ln_g_ec - ln_noise, params),
        }

    def per_ue(self, per_cell):
        return jnp.repeat(per_cell, self.ues_per_cell, total_repeat_length=self.num_agents)

    @partial(jax.jit, static_argnums=0)  # eager calls hit a compiled cache (gymnax style)
    def transition(self, state: State, action: spaces.HybridAction, draws: StepDraws, params: Params):
        """Deterministic round given this round's draws: what the NumPy reference mirrors."""
        K, J, N = self.n_cells, self.ues_per_cell, self.num_agents
        x, l, a, b = self.decode_action(action, params)
        mask = state.mask
        loc, off1, off2 = mask & (x == 0), mask & (x == 1), mask & (x == 2)
        tx = off1 | off2
        si, so, work = self.task_arrays(state)
        hit = cache_lib.lookup_many(state.cache, state.task.reshape(K, J)).reshape(N)  # c^k(m) at round start

        # Uplink SINR with same-cell same-channel interference (eqs. 4-5 / U2, A15).
        bw, noise = self.bandwidth(params), self.noise(params)
        p_tx = a * params.p_ue
        interferer = jnp.where(params.interference_all, mask, tx)
        gain = jnp.where(params.interference_gain, jnp.exp(state.ln_g_ue), 1.0)
        contrib = jnp.where(interferer, p_tx * gain, 0.0)
        lc = l.reshape(K, J)
        same = (lc[:, :, None] == lc[:, None, :]) & ~np.eye(J, dtype=bool)  # [k, n, m]
        interference = jnp.sum(jnp.where(same, contrib.reshape(K, 1, J), 0.0), axis=-1).reshape(N)  # eq. 5
        r_up = rate(bw, jnp.log(p_tx) + state.ln_g_ue - jnp.log(noise + interference), params)  # eq. 4
        r_dn, r_ec, r_ce = state.r_dn, self.per_ue(state.r_ec), self.per_ue(state.r_ce)  # eq. 4

        # Computation (eq. 2) and energy (eqs. 3, 6, 7).
        t_loc, e_loc = local_compute(work, b, params)  # eqs. 2-3
        t1 = jnp.where(
            x == 0, t_loc, jnp.where(x == 1, (1.0 - hit) * work / params.f_edge, work / params.f_cloud)
        )  # eq. 2
        t1 = jnp.where(mask, t1, 0.0)
        t_up = compute.transmit_delay(jnp.where(tx, si, 0.0), r_up)
        t21 = jnp.where(tx, t_up + so / r_dn, 0.0)  # eq. 8
        t22 = jnp.where(off2, si / r_ec + so / r_ce, 0.0)  # eq. 9
        e_c = jnp.where(loc, e_loc, 0.0)  # eq. 3
        e_u = jnp.where(tx, compute.transmit_energy(p_tx, t_up), 0.0)  # eq. 6
        energy = e_c + e_u  # eq. 7

        # Queue matrices (10)-(12) as group sums: each edge's x=1 tasks, all x=2 tasks (U3, A16).
        edge_sum = jnp.sum(jnp.where(off1, t1 + t21, 0.0).reshape(K, J), axis=1)  # Q11 T1(1) + Q2 T21(1)
        cloud_sum = jnp.sum(jnp.where(off2, t1, 0.0))  # Q12 T1(2)
        tau = jnp.where(loc, t1, 0.0)  # T1(0)
        tau += jnp.where(off1, jnp.repeat(edge_sum, J, total_repeat_length=N), 0.0)
        tau += jnp.where(off2, cloud_time(cloud_sum, t21, t22, params), 0.0)  # (12)/(U4)
        round_time = jnp.max(jnp.where(mask, tau, 0.0))  # (12): infinity norm
        total_energy = jnp.sum(energy)
        cost = weighted_cost(round_time, total_energy, params)  # (13)
        reward = jnp.full((N,), -cost, jnp.float32)  # (23)/(27) shared
        vector_reward = jnp.stack(
            [-params.w_time * jnp.where(mask, tau, 0.0), -params.w_energy * energy], axis=-1
        )  # (17)

        # Cache update after the round: offloaded tasks in UE order per cell (A18).
        size = cache_lib.to_kbit(so).reshape(K, J)
        capacity = cache_lib.capacity_kbit(params.cache_capacity)

        new_cache = cache_lib.access_cells(state.cache, state.task.reshape(K, J), size, tx.reshape(K, J), capacity,
                                           params.cache_policy, params.insert_if_fits)

        # Metrics.
        n_active = jnp.maximum(jnp.sum(mask), 1)
        n_tx = jnp.sum(tx)
        tx_c = tx.reshape(K, J)
        collide = jnp.any(same & tx_c[:, None, :], axis=-1) & tx_c
        cell_active = np.arange(K) < params.n_edges
        fill = cache_lib.used_kbit(new_cache) / jnp.maximum(capacity, 1)
        metrics = {
            "round_time": round_time,
            "energy": total_energy / n_active,
            "cost": cost,
            "cache_hit_ratio": jnp.sum(hit & off1) / jnp.maximum(jnp.sum(off1), 1),  # hits that save (2), §2.6
            "collision_ratio": jnp.sum(collide) / jnp.maximum(n_tx, 1),
            "local_ratio": jnp.sum(loc) / n_active,
            "edge_ratio": jnp.sum(off1) / n_active,
            "cloud_ratio": jnp.sum(off2) / n_active,
            "cache_fill": jnp.sum(jnp.where(cell_active, fill, 0.0)) / jnp.maximum(jnp.sum(cell_active), 1),
        }
        metrics = {k: v.astype(jnp.float32) for k, v in metrics.items()}

        t_next = state.t + 1
        ln_g_ue = state.ln_g_ue_mean + jnp.log(draws.fade_ue)
        ln_g_ec = log_path_gain(params.r_cloud, params) + jnp.log(draws.fade_ec)
        next_state = state.replace(
            ln_g_ue=ln_g_ue,
            ln_g_ec=ln_g_ec,
            **self.link_rates(ln_g_ue, ln_g_ec, params),
            task=draws.task,
            task_sizes=self.task_sizes(draws.task, params),
            cache=new_cache,
            t=t_next,
        )
        truncated = t_next >= params.episode_len
        terminated = jnp.zeros((), bool)
        info = {"metrics": metrics, "vector_reward": vector_reward.astype(jnp.float32)}
        return self.observations(next_state, params), next_state, reward, terminated, truncated, info

    # ---- observation ----------------------------------------------------------------------------
    def lower_bounds(self, state: State, params: Params) -> dict:
        """(14)/(U6): P_UE|h|^2 and the interference- and queue-free times with a = b = 1."""
        K, J, N = self.n_cells, self.ues_per_cell, self.num_agents
        si, so, work = self.task_arrays(state)
        hit = cache_lib.lookup_many(state.cache, state.task.reshape(K, J)).reshape(N)
        ln_rx = jnp.log(params.p_ue) + state.ln_g_ue
        r_up, r_dn = state.r_up0, state.r_dn
        r_ec, r_ce = self.per_ue(state.r_ec), self.per_ue(state.r_ce)
        return {
            "ln_rx_power": ln_rx,
            "t1_local": work / params.f_ue,
            "t1_edge": (1.0 - hit) * work / params.f_edge,
            "t21": si / r_up + so / r_dn,
            "t1_cloud": work / params.f_cloud,
            "t22": si / r_ec + so / r_ce,
            "hit": hit,
            "e_local": params.kappa * work * params.f_ue**2,
            "e_up": params.p_ue * si / r_up,
        }

    @partial(jax.jit, static_argnums=0)  # eager calls hit a compiled cache (gymnax style)
    def observations(self, state: State, params: Params) -> jax.Array:
        """float32[N, 7 + K]: scaled (U6) features, mask, one-hot edge id; zeros for padding."""
        lb = self.lower_bounds(state, params)
        mask = state.mask.astype(jnp.float32)
        rx_dbm = lb["ln_rx_power"] / LN10_OVER_10 + 30.0
        values = {name: jnp.log1p(lb[name]) * mask for name in LOWER_BOUND_TIMES}
        values.update(rx_power=(rx_dbm + 200.0) / 100.0 * mask, mask=mask,
                      edge_id=np.eye(self.n_cells, dtype=np.float32)[self.cell_of()] * mask[:, None])
        return self.flatten_observation(values)
