"""Seed 000: digital-twin-driven edge inference (users offload MedMNIST inference tasks to MEC servers).

Each of ``n_users`` agents receives ``n_tasks`` inference tasks per step, drawn uniformly from the
12 MedMNIST models of Table 2. Per task it chooses where to run it (0 = locally, k = MEC server k)
and two shares in [0, 1]: the CPU share of the executing node and the uplink bandwidth share of the
chosen server. Delay and energy follow eqs. 1-3 / U1-U2, the cost eq. 8 and the reward eq. 12.

Action (``Hybrid``): ``discrete: int32[U, N]`` target in {0..M}; ``continuous: float32[U, N, 2]`` =
(phi_f, phi_b).

Feasibility rule (spec §4.2, A18: the spec's default "request" mode; its ``alloc_mode="share"``
alternative is not implemented, there is no switch). A task asks for ``phi_f`` of its
executing node's CPU and ``phi_b`` of its server's bandwidth. Whenever the requests on one node
exceed its capacity (C2 local CPU, C3 server CPU, C4 server bandwidth) they are all scaled by the
same factor so that the sum equals the capacity. Shares are clipped to ``[min_share, 1]``;
non-finite shares count as 0 (so they get ``min_share``); targets outside {0..M} are clipped.

Constraints C5/C6 (A9, A10). The battery pays user-side energy only (local compute + transmit).
Tasks are paid in index order; a task that would overdraw the battery fails: it costs
``fail_cost`` instead of its eq.-8 cost and the battery clamps at 0 (not terminal). A task whose
delay exceeds ``deadline`` is a miss, charged ``deadline_penalty`` on top of its cost.

Deviations from the paper and gaps filled (all from seed_000_spec.md; docs/DEVIATIONS.md):
* Presets. ``Params.paper()`` is Table 1 literally: transmit power 1-2 kW, noise 1e-13 W used as a
  PSD (times b), path loss d^-2 (lambda = 2 is a gap). It makes offloading physically hopeless
  (SNR about -73 dB). ``Params.calibrated()`` (default, spec §6.3, A1-A2): power in W, total noise
  1e-16 W, path loss normalised at 300 m with lambda = 3; median SNR about 23.5 dB.
* Per-episode heterogeneity (A12-A15): F_i, P_i, F_k, B_k, d_ik and mean gains drawn uniformly from
  the Table 1 ranges at reset; per step the gain fluctuates as g_bar max(0.1, 1 + 0.1 eps)
  (``rayleigh=True``: g_bar |h|^2 with |h|^2 ~ Exp(1)). Episodes last 100 steps (truncation).
* Tasks (A6, A7): X = FLOPs cycles, D = 64 x 64 x channels x 8 bits.
* Normalisation (A8): task-relative, T / (X / F_i) and E / (kappa F_i^2 X). mu_T = mu_E = 0.5 (A46),
  T_max = 1 s (A47), kappa = 1e-27 for users and servers (A5), server compute energy charged in the
  cost (eq. 3 literally, ``charge_server_energy``), battery 0.5 L N kappa F_i^2 X_mean (A10).
* Observation (eq. 10 + A16 + A20): per task (X/X_max, D/D_max, one-hot type), battery fraction,
  F_i, all servers' F_k and B_k, own channel gains, distances and transmit power (the greedy needs
  the rate), and the partial global state s' (previous step's per-server requested CPU and
  bandwidth fractions and offloaded-task share, plus t/L), all scaled to O(1).
* Digital twin (A11): every step the twin observes g, d, f, b with multiplicative N(0, sigma^2)
  deviations (sigma = 0.05, floored at 1e-3 of the value) and estimates each task's delay and energy
  with the same formulas. ``info["metrics"]``: ``twin_delay_error`` / ``twin_energy_error`` = mean
  |T_hat - T| / T over the step's tasks (one draw's spread), and ``twin_delay_bias`` /
  ``twin_energy_bias`` = mean (T_hat - T) / T, signed: its average over steps estimates the spec's
  mapping bias (E T_hat - T) / T pooled over tasks (take |.| after averaging; it is O(sigma^2)).
  The spec's per-task |E T_hat - T| / T would need many twin draws per task and is not computed,
  nor its optional first-order bias correction.
* Spec options not implemented (only the spec's defaults exist): ``alloc_mode="share"`` (A18),
  ``power_split`` (A4), ``norm="global"`` / ``"none"`` (A8), ``mu_hetero`` (A46), per-type T_max (A47),
  background load (A15), per-user task counts N_i <= N (A13), ``reward_offset`` (A19),
  ``images_per_task`` (A7) and random-walk mobility (A14).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxedge import prng, spaces
from jaxedge.env import MultiAgentEnv, check_params, check_range_pair, check_sizes
from jaxedge.physics import channel, compute, tasks, twin

NUM_TYPES = tasks.NUM_MEDMNIST_TYPES
TASK_FEATURES = 2 + NUM_TYPES
MEAN_FLOPS = float(tasks.MEDMNIST_FLOPS.mean())
MAX_FLOPS = float(tasks.MEDMNIST_FLOPS.max())
MAX_CHANNELS = float(tasks.MEDMNIST_CHANNELS.max())


@struct.dataclass
class Params:
    """Numeric scenario parameters (SI units). Defaults = the calibrated preset."""

    f_user_min: float = 1.0e9  # F_i range, Hz (Table 1)
    f_user_max: float = 2.0e9
    p_tx_min: float = 1.0  # P_i range, W (Table 1 prints kW; A1)
    p_tx_max: float = 2.0
    f_server_min: float = 5.0e9  # F_k range, Hz (Table 1)
    f_server_max: float = 10.0e9
    b_server_min: float = 100.0e3  # B_k range, Hz (Table 1)
    b_server_max: float = 200.0e3
    dist_min: float = 200.0  # d_ik range, m (Table 1)
    dist_max: float = 400.0
    gain_min: float = 1.0e-14  # mean channel gain range (Table 1)
    gain_max: float = 2.0e-14
    noise: float = 1.0e-16  # N0: total noise power W, or PSD W/Hz if noise_is_psd (A2)
    noise_is_psd: bool = False
    pathloss_exponent: float = 3.0  # lambda (A2)
    d_ref: float = 300.0  # path loss normalised at d_ref metres (A2)
    kappa_user: float = 1.0e-27  # effective switched capacitance (A5)
    kappa_server: float = 1.0e-27
    charge_server_energy: bool = True  # eq. 3 literally (A5)
    cycles_per_flop: float = 1.0  # c_pf (A6)
    image_side: float = 64.0  # (A7)
    mu_time: float = 0.5  # mu^T (A46)
    mu_energy: float = 0.5  # mu^E (A46)
    deadline: float = 1.0  # T_max, s (A47)
    deadline_penalty: float = 0.0  # zeta_T per missed task (A9)
    battery_factor: float = 0.5  # eta_E (A10)
    fail_cost: float = 2.0  # C_fail = 2 (mu_T + mu_E) (A10)
    fading_sigma: float = 0.1  # sigma_g (A14)
    rayleigh: bool = False  # Rayleigh |h|^2 ~ Exp(1) instead of the Gaussian fluctuation (A14)
    twin_sigma: float = 0.05  # twin deviation scale (A11)
    min_share: float = 0.05  # smallest CPU / bandwidth share a task can ask for (A17)
    episode_len: int = 100  # L (A12)

    @classmethod
    def calibrated(cls, **overrides) -> "Params":
        """Spec §6.3's calibrated profile: W, total noise 1e-16 W, (d/300 m)^-3 (the default)."""
        return cls(**overrides)

    @classmethod
    def paper(cls, **overrides) -> "Params":
        """Table 1 literally: 1-2 kW, N0 = 1e-13 W/Hz times b, path loss d^-2 (spec A1-A2)."""
        literal = dict(
            p_tx_min=1.0e3,
            p_tx_max=2.0e3,
            noise=1.0e-13,
            noise_is_psd=True,
            pathloss_exponent=2.0,
            d_ref=1.0,
        )
        literal.update(overrides)
        return cls(**literal)


@struct.dataclass
class State:
    f_user: jax.Array  # (U,) F_i, Hz
    p_tx: jax.Array  # (U,) P_i, W
    battery: jax.Array  # (U,) remaining energy E_i^-, J
    battery_init: jax.Array  # (U,)
    f_server: jax.Array  # (M,) F_k, Hz
    b_server: jax.Array  # (M,) B_k, Hz
    dist: jax.Array  # (U, M) d_ik, m
    gain_mean: jax.Array  # (U, M) per-episode mean gain
    gain: jax.Array  # (U, M) this step's gain g_t,ik
    task_type: jax.Array  # (U, N) int32 MedMNIST type of this step's tasks
    sprime: jax.Array  # (3M + 1,) partial global state s'_t
    t: jax.Array  # int32 step within the episode


@struct.dataclass
class EpisodeDraws:
    """Per-episode randomness: uniforms in [0, 1) scaled by Params at use."""

    f_user: jax.Array  # (U,)
    p_tx: jax.Array  # (U,)
    f_server: jax.Array  # (M,)
    b_server: jax.Array  # (M,)
    dist: jax.Array  # (U, M)
    gain_mean: jax.Array  # (U, M)


@struct.dataclass
class StepDraws:
    """Per-step randomness: the next tasks and fading, and the twin's deviations for this step."""

    task_type: jax.Array  # (U, N) int32
    fading: jax.Array  # (U, M) multiplicative gain factor
    twin_eps: jax.Array  # (4, U, N) normal draws for (g, d, f, b)


def _scale(u, low, high):
    return low + u * (high - low)


def task_delay_energy(cycles, bits, freq, bandwidth, gain, dist, power, kappa, offloaded, params):
    """Per-task (T, E, T_tr, E_tr, E_c): eqs. 1, U1, U2, 2, 3 (offloaded tasks pay the uplink)."""
    safe_b = jnp.where(offloaded, bandwidth, 1.0)
    ln_snr = channel.log_snr(
        gain, power, dist, params.d_ref, params.pathloss_exponent, params.noise, safe_b,
        params.noise_is_psd,
    )
    rate = channel.shannon_rate(jnp.where(offloaded, bandwidth, 0.0), ln_snr)  # eq. 1
    t_tr = compute.transmit_delay(jnp.where(offloaded, bits, 0.0), rate)  # eq. U2
    e_tr = compute.transmit_energy(power, t_tr)  # eq. U2
    t_c = compute.compute_delay(cycles, freq)  # eq. U1
    e_c = compute.compute_energy(cycles, freq, kappa)  # eq. U1
    e_c_charged = jnp.where(offloaded & jnp.logical_not(params.charge_server_energy), 0.0, e_c)  # eq. 3, A5
    return t_tr + t_c, e_tr + e_c_charged, t_tr, e_tr, e_c  # eqs. 2-3


def normalised_cost(delay, energy, cycles, f_user, params):
    """C = mu_T T/(X/F_i) + mu_E E/(kappa F_i^2 X) (eq. 8 with A8's task-relative normalisation)."""
    t_ref = cycles / f_user
    e_ref = params.kappa_user * f_user**2 * cycles
    return params.mu_time * delay / t_ref + params.mu_energy * energy / e_ref


@dataclasses.dataclass(frozen=True)
class DTInference(MultiAgentEnv):
    """Seed-000 env. Static sizes: users (agents), MEC servers, tasks per user per step."""

    n_users: int = 8
    n_servers: int = 6
    n_tasks: int = 3
    obs_include_channel: bool = True  # A16; False = eq. 10 literally
    name: str = "dt_inference"
    presets: ClassVar[tuple] = ("calibrated", "paper")

    def __post_init__(self):
        check_sizes(self, n_users=self.n_users, n_servers=self.n_servers, n_tasks=self.n_tasks)

    # ---- contract -------------------------------------------------------------------------------
    @property
    def num_agents(self) -> int:
        return self.n_users

    @property
    def default_params(self) -> Params:
        return Params.calibrated()

    @property
    def sprime_dim(self) -> int:
        return 3 * self.n_servers + 1

    @property
    def observation_parts(self) -> tuple[spaces.ObsPart, ...]:
        """Eq. 10 (+ A16 channel, + A20 s'): task j's features (X/X_max, D/D_max, one-hot type) per
        head, then own battery and F_i, one column per server k for F_k, B_k, gain, distance and
        the three s' blocks (option k >= 1 = server k), own P_i and the progress t/L."""
        m, part = self.n_servers, spaces.ObsPart
        parts = [
            part("task", (self.n_tasks, TASK_FEATURES), "head"), part("battery"), part("f_user"),
            part("f_server", (m,), "option"), part("b_server", (m,), "option"),
        ]
        if self.obs_include_channel:
            parts += [part("gain", (m,), "option"), part("dist", (m,), "option"), part("p_tx")]
        parts += [part("sprime_cpu", (m,), "option"), part("sprime_bw", (m,), "option"),
                  part("sprime_offload", (m,), "option"), part("progress")]
        return tuple(parts)

    def observation_space(self, params) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (self.n_users, self.obs_dim))

    def action_space(self, params) -> spaces.Hybrid:
        shape = (self.n_users, self.n_tasks)
        return spaces.Hybrid(
            spaces.Discrete(self.n_servers + 1, shape), spaces.Box(0.0, 1.0, shape + (2,))
        )

    def validate_params(self, params: Params) -> None:
        check_params(
            params,
            positive=(
                "f_user_min", "p_tx_min", "f_server_min", "b_server_min", "dist_min", "gain_min",
                "noise", "d_ref", "kappa_user", "kappa_server", "cycles_per_flop", "image_side",
                "deadline", "battery_factor", "episode_len", "min_share",
            ),
            nonnegative=(
                "pathloss_exponent", "mu_time", "mu_energy", "deadline_penalty", "fail_cost",
                "fading_sigma", "twin_sigma",
            ),
            unit_interval=("min_share",),
        )
        for low, high in (
            ("f_user_min", "f_user_max"), ("p_tx_min", "p_tx_max"),
            ("f_server_min", "f_server_max"), ("b_server_min", "b_server_max"),
            ("dist_min", "dist_max"), ("gain_min", "gain_max"),
        ):
            check_range_pair(params, low, high)

    def global_state(self, state: State, params: Params) -> jax.Array:
        """All agents' observations, flattened (the MADDPG critic input besides actions)."""
        return self.observations(state, params).reshape(-1)

    # ---- randomness -----------------------------------------------------------------------------
    def sample_episode(self, key, params) -> EpisodeDraws:
        """One uniform draw split into the per-episode quantities (fewer RNG calls = faster)."""
        u, m = self.n_users, self.n_servers
        flat = prng.uniform(key, (2 * u + 2 * m + 2 * u * m,))
        f_user, p_tx, f_server, b_server, dist, gain = jnp.split(
            flat, np.cumsum([u, u, m, m, u * m])
        )
        return EpisodeDraws(
            f_user=f_user, p_tx=p_tx, f_server=f_server, b_server=b_server,
            dist=dist.reshape(u, m), gain_mean=gain.reshape(u, m),
        )

    def sample_step(self, key, params) -> StepDraws:
        """Next tasks (uniform types), fading (A14) and twin deviations (A11).

        One normal draw serves the Gaussian fluctuation and the twin; the second normal of the
        Rayleigh fading is drawn only when ``params.rayleigh`` (RNG dominates the step's cost).
        """
        k_type, k_normal, k_rayleigh = prng.split(key, 3)
        u, m, n = self.n_users, self.n_servers, self.n_tasks
        task_type = jnp.floor(prng.uniform(k_type, (u, n)) * NUM_TYPES).astype(jnp.int32)
        x, twin_eps = jnp.split(prng.normal(k_normal, (u * m + 4 * u * n,)), [u * m])
        y = jax.lax.cond(
            params.rayleigh,
            lambda: prng.normal(k_rayleigh, (u * m,)),
            lambda: jnp.zeros((u * m,)),
        )
        fading = jnp.where(
            params.rayleigh,
            channel.rayleigh_power(x, y),
            channel.gaussian_fluctuation(x, params.fading_sigma),
        ).reshape(u, m)
        return StepDraws(
            task_type=jnp.minimum(task_type, NUM_TYPES - 1),
            fading=fading,
            twin_eps=twin_eps.reshape(4, u, n),
        )

    # ---- reset / step ---------------------------------------------------------------------------
    def reset_env(self, key, params: Params):
        k_ep, k_step = prng.split(key)
        state = self.initial_state(self.sample_episode(k_ep, params), self.sample_step(k_step, params), params)
        return self.observations(state, params), state

    def step_env(self, key, state: State, action: spaces.HybridAction, params: Params):
        return self.transition(state, action, self.sample_step(key, params), params)

    def initial_state(self, ep: EpisodeDraws, draws: StepDraws, params: Params) -> State:
        f_user = _scale(ep.f_user, params.f_user_min, params.f_user_max)
        gain_mean = _scale(ep.gain_mean, params.gain_min, params.gain_max)
        # E_init = eta_E L N kappa F_i^2 X_mean (A10)
        battery = (
            params.battery_factor * params.episode_len * self.n_tasks * params.kappa_user
            * f_user**2 * MEAN_FLOPS * params.cycles_per_flop
        )
        return State(
            f_user=f_user,
            p_tx=_scale(ep.p_tx, params.p_tx_min, params.p_tx_max),
            battery=battery,
            battery_init=battery,
            f_server=_scale(ep.f_server, params.f_server_min, params.f_server_max),
            b_server=_scale(ep.b_server, params.b_server_min, params.b_server_max),
            dist=_scale(ep.dist, params.dist_min, params.dist_max),
            gain_mean=gain_mean,
            gain=gain_mean * draws.fading,
            task_type=draws.task_type,
            sprime=jnp.zeros((self.sprime_dim,), jnp.float32),
            t=jnp.zeros((), jnp.int32),
        )

    def decode_action(self, action: spaces.HybridAction, params: Params):
        """(target int32[U,N], phi_f, phi_b) after the documented clipping rule."""
        target = jnp.clip(action.discrete.astype(jnp.int32), 0, self.n_servers)
        shares = jnp.nan_to_num(action.continuous.astype(jnp.float32), nan=0.0, posinf=1.0, neginf=0.0)
        shares = jnp.clip(shares, params.min_share, 1.0)
        return target, shares[..., 0], shares[..., 1]

    def allocate(self, state: State, target, phi_f, phi_b):
        """Proportional projection of CPU and bandwidth requests onto capacities (C2-C4).

        Returns ``(freq, bandwidth, (share_f, share_b, count))``: each task's CPU and bandwidth and, per
        server, the summed requested shares and the number of tasks it received. Written as a short
        loop over servers of masked sums and selects on ``[U, N]`` arrays: no ``[U, N, M]`` one-hot
        tensors, whose products and non-minor reductions dominated the step on XLA:CPU.
        """
        local = target == 0
        # C2: local CPU requests of each user scaled to fit F_i.
        f_req_local = jnp.where(local, phi_f * state.f_user[:, None], 0.0)
        local_scale = jnp.minimum(1.0, state.f_user / jnp.maximum(f_req_local.sum(1), 1e-30))
        # C3 / C4: server CPU and bandwidth requests scaled to fit F_k and B_k.
        on = [target == k + 1 for k in range(self.n_servers)]
        share_f = jnp.stack([jnp.where(o, phi_f, 0.0).sum() for o in on])
        share_b = jnp.stack([jnp.where(o, phi_b, 0.0).sum() for o in on])
        count = jnp.stack([o.sum() for o in on]).astype(jnp.float32)
        f_req_srv, b_req_srv = share_f * state.f_server, share_b * state.b_server
        f_srv = state.f_server * jnp.minimum(1.0, state.f_server / jnp.maximum(f_req_srv, 1e-30))
        b_srv = state.b_server * jnp.minimum(1.0, state.b_server / jnp.maximum(b_req_srv, 1e-30))
        freq = jnp.where(local, f_req_local * local_scale[:, None], phi_f * self.at_target(f_srv, target))
        bandwidth = phi_b * self.at_target(b_srv, target)
        return freq, bandwidth, (share_f, share_b, count)

    def at_target(self, per_server, target):
        """``per_server[..., target - 1]`` per task (0 for a local task) as a select chain over servers;
        ``per_server`` is ``[M]`` or ``[U, M]`` (per user), ``target`` ``[U, N]``."""
        out = jnp.zeros(target.shape, jnp.float32)
        for k in range(self.n_servers):
            value = per_server[..., k]
            out = jnp.where(target == k + 1, value[:, None] if value.ndim else value, out)
        return out

    def transition(self, state: State, action: spaces.HybridAction, draws: StepDraws, params: Params):
        """Deterministic step given this step's draws: what the NumPy reference mirrors."""
        target, phi_f, phi_b = self.decode_action(action, params)
        offloaded = target > 0
        freq, bandwidth, (share_f, share_b, count) = self.allocate(state, target, phi_f, phi_b)
        cycles, bits = tasks.medmnist_cycles_and_bits(state.task_type, params.cycles_per_flop, params.image_side)
        gain = jnp.where(offloaded, self.at_target(state.gain, target), 1.0)  # link to the chosen server
        dist = jnp.where(offloaded, self.at_target(state.dist, target), params.d_ref)
        power = jnp.broadcast_to(state.p_tx[:, None], target.shape)
        kappa = jnp.where(offloaded, params.kappa_server, params.kappa_user)

        def delay_energy(freq, bandwidth, gain, dist):
            return task_delay_energy(cycles, bits, freq, bandwidth, gain, dist, power, kappa, offloaded, params)

        delay, energy, _, e_tr, e_c = delay_energy(freq, bandwidth, gain, dist)
        f_user = state.f_user[:, None]
        cost = normalised_cost(delay, energy, cycles, f_user, params)  # eq. 8

        # C5: battery pays user-side energy in task order; a task that would overdraw it fails (A10).
        e_user = e_tr + jnp.where(offloaded, 0.0, e_c)
        failed = jnp.cumsum(e_user, axis=1) > state.battery[:, None]
        battery = jnp.where(failed.any(1), 0.0, state.battery - e_user.sum(1))
        # C6: deadline misses (A9).
        missed = delay > params.deadline
        task_cost = jnp.where(failed, params.fail_cost, cost) + params.deadline_penalty * missed
        reward = -task_cost.sum(1)  # eq. 12

        # Digital twin estimates on deviated g, d, f, b (eqs. 4-7, A11).
        eps = dict(zip(("gain", "dist", "freq", "bandwidth"), draws.twin_eps))
        inputs = dict(freq=freq, bandwidth=bandwidth, gain=gain, dist=dist)
        delay_hat, energy_hat, *_ = twin.twin_estimates(delay_energy, inputs, params.twin_sigma, eps)

        # s'_{t+1}: per-server requested CPU / bandwidth fractions, offloaded share, progress (A20).
        t_next = state.t + 1
        sprime = jnp.concatenate([
            share_f,
            share_b,
            count / (self.n_users * self.n_tasks),
            (t_next / params.episode_len)[None].astype(jnp.float32),
        ])
        next_state = state.replace(
            battery=battery,
            gain=state.gain_mean * draws.fading,
            task_type=draws.task_type,
            sprime=sprime,
            t=t_next,
        )
        metrics = {
            "delay": delay.mean(),
            "energy": energy.mean(),
            "cost": cost.mean(),
            "deadline_miss": missed.mean(),
            "battery_fail": failed.mean(),
            "offload_ratio": offloaded.mean(),
            "twin_delay_error": twin.relative_error(delay_hat, delay).mean(),
            "twin_energy_error": twin.relative_error(energy_hat, energy).mean(),
            "twin_delay_bias": twin.signed_relative_error(delay_hat, delay).mean(),  # eqs. 6-7, A11
            "twin_energy_bias": twin.signed_relative_error(energy_hat, energy).mean(),
        }
        truncated = t_next >= params.episode_len
        terminated = jnp.zeros((), bool)
        info = {"metrics": metrics}
        return self.observations(next_state, params), next_state, reward, terminated, truncated, info

    # ---- observation ----------------------------------------------------------------------------
    def observations(self, state: State, params: Params) -> jax.Array:
        """Eq. 10 (+ own channel, A16) + s' (A20) per agent: float32[U, obs_dim], `observation_parts`."""
        m = self.n_servers
        cycles, bits = tasks.medmnist_cycles_and_bits(state.task_type, 1.0, params.image_side)
        max_bits = tasks.task_bits(MAX_CHANNELS, params.image_side)
        values = {
            "task": jnp.concatenate([
                (cycles / MAX_FLOPS)[..., None],
                (bits / max_bits)[..., None],
                jax.nn.one_hot(state.task_type, NUM_TYPES),
            ], axis=-1),
            "battery": state.battery / state.battery_init,
            "f_user": state.f_user / params.f_user_max,
            "f_server": state.f_server / params.f_server_max,
            "b_server": state.b_server / params.b_server_max,
            "sprime_cpu": state.sprime[:m],
            "sprime_bw": state.sprime[m:2 * m],
            "sprime_offload": state.sprime[2 * m:3 * m],
            "progress": state.sprime[3 * m],
        }
        if self.obs_include_channel:
            values.update(gain=state.gain / params.gain_max, dist=state.dist / params.dist_max,
                          p_tx=state.p_tx / params.p_tx_max)
        return self.flatten_observation(values)

    def physical_observation(self, obs: jax.Array, params: Params) -> dict:
        """`decode_observation` rescaled to physical units for one or more rows (used by heuristics).

        Returns task ``cycles`` and ``bits`` (per unit c_pf), ``battery_fraction``, ``f_user``,
        ``f_server``, ``b_server`` and, when the observation includes the channel, ``gain``,
        ``dist`` and ``p_tx``.
        """
        parts = self.decode_observation(obs)
        out = {
            "cycles": parts["task"][..., 0] * MAX_FLOPS * params.cycles_per_flop,
            "bits": parts["task"][..., 1] * tasks.task_bits(MAX_CHANNELS, params.image_side),
            "battery_fraction": parts["battery"],
            "f_user": parts["f_user"] * params.f_user_max,
            "f_server": parts["f_server"] * params.f_server_max,
            "b_server": parts["b_server"] * params.b_server_max,
        }
        if self.obs_include_channel:
            out["gain"] = parts["gain"] * params.gain_max
            out["dist"] = parts["dist"] * params.dist_max
            out["p_tx"] = parts["p_tx"] * params.p_tx_max
        return out
