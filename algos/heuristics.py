"""Hand-written reference policies for every env: the baselines learners must beat.

Every policy has the signature ``policy(key, obs, state, params) -> action`` for a single env
(vmap it for a batch). Policies that only read ``obs`` are decentralised, like a learner's actor;
oracles read the privileged ``state``. ``make_heuristic(env, name)`` builds one;
``HEURISTICS[env.name]`` lists the names available for an env.
"""

from __future__ import annotations

import itertools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxedge import spaces
from jaxedge.envs import cloud_edge as ced
from jaxedge.envs import collab_edge as ce
from jaxedge.envs import dt_inference as dti
from jaxedge.envs import slicing as sl
from jaxedge.envs import v2x
from jaxedge.physics import channel, compute, queues, tasks

Policy = Callable[..., object]


def random_policy(env) -> Policy:
    """Uniform over the action space."""

    def policy(key, obs, state, params):
        return env.action_space(params).sample(key)

    return policy


# ================================================================================================
# dt_inference (seed 000)
# ================================================================================================
def dt_local(env: dti.DTInference) -> Policy:
    """All-local: every task on its own device, asking for the whole CPU (split evenly by C2)."""

    def policy(key, obs, state, params):
        shape = (env.n_users, env.n_tasks)
        return spaces.HybridAction(jnp.zeros(shape, jnp.int32), jnp.ones(shape + (2,)))

    return policy


def _dt_server_option_costs(env, info, params):
    """Myopic eq.-8 cost of running each task on each server with no contention, and its best f.

    Returns ``(cost[N, M], freq[N, M])`` for one agent from its decoded observation.
    """
    f_user, p_tx = info["f_user"], info["p_tx"]
    cycles = info["cycles"][:, None]
    bits = info["bits"][:, None]
    f_server = info["f_server"][None, :]
    b_server = info["b_server"][None, :]
    charge = jnp.where(params.charge_server_energy, 1.0, 0.0)
    # Normalised cost in f: mu_T F_i / f + mu_E (kappa_s / kappa_u) f^2 / F_i^2 (eq. 8, A8).
    time_coef = params.mu_time * f_user
    energy_coef = params.mu_energy * charge * params.kappa_server / (params.kappa_user * f_user**2)
    freq = compute.best_frequency(time_coef, jnp.maximum(energy_coef, 1e-60), f_server)
    ln_snr = channel.log_snr(
        info["gain"][None, :], p_tx, info["dist"][None, :], params.d_ref,
        params.pathloss_exponent, params.noise, b_server, params.noise_is_psd,
    )
    t_tr = bits / channel.shannon_rate(b_server, ln_snr)
    delay = t_tr + cycles / freq
    energy = p_tx * t_tr + charge * params.kappa_server * freq**2 * cycles
    cost = dti.normalised_cost(delay, energy, cycles, f_user, params)
    return cost, freq


def dt_greedy(env: dti.DTInference) -> Policy:
    """Myopic greedy from the agent's own observation (spec §6.6, made cost-aware).

    Each agent walks through its tasks in order. Keeping a task local costs its eq.-8 cost with the
    CPU split evenly over the tasks kept local so far; sending it to server k costs the eq.-8 cost
    at that server's full bandwidth and the task's cost-optimal frequency (closed form, spec §3.2),
    ignoring every other agent. It takes the cheapest option and asks for phi_f = 1 locally (the
    even split) or phi_f = f*/F_k on a server, and phi_b = 1; the env's proportional projection
    then exposes the congestion the greedy ignored.
    """
    if not env.obs_include_channel:
        raise ValueError("dt_greedy needs obs_include_channel=True (it computes rates)")

    def agent(obs_i, params):
        info = env.physical_observation(obs_i, params)
        srv_cost, srv_freq = _dt_server_option_costs(env, info, params)
        best_srv = jnp.argmin(srv_cost, axis=1)
        targets, phi_f = [], []
        n_local = jnp.zeros((), jnp.float32)
        for j in range(env.n_tasks):
            share = n_local + 1.0
            local_cost = params.mu_time * share + params.mu_energy / share**2
            go = srv_cost[j, best_srv[j]] < local_cost
            targets.append(jnp.where(go, best_srv[j] + 1, 0))
            phi_f.append(jnp.where(go, srv_freq[j, best_srv[j]] / info["f_server"][best_srv[j]], 1.0))
            n_local = n_local + jnp.where(go, 0.0, 1.0)
        phi = jnp.stack([jnp.stack(phi_f), jnp.ones(env.n_tasks)], axis=-1)
        return jnp.stack(targets).astype(jnp.int32), phi

    def policy(key, obs, state, params):
        target, phi = jax.vmap(agent, in_axes=(0, None))(obs, params)
        return spaces.HybridAction(target, phi)

    return policy


def _dt_allocation(env, state, target, params):
    """Cost-optimal shares for fixed targets: KKT frequencies per node, sqrt bandwidth split.

    Frequencies are exact (spec §3.2); the bandwidth split is exact when the SNR does not depend on
    b (total-noise presets) and evaluated at an even split otherwise.
    """
    u, n, m = env.n_users, env.n_tasks, env.n_servers
    cycles, bits = tasks.medmnist_cycles_and_bits(state.task_type, params.cycles_per_flop, params.image_side)
    f_user = jnp.broadcast_to(state.f_user[:, None], (u, n))
    charge = jnp.where(params.charge_server_energy, 1.0, 0.0)
    time_coef = params.mu_time * f_user
    local_e = params.mu_energy / f_user**2
    server_e = jnp.maximum(params.mu_energy * charge * params.kappa_server / (params.kappa_user * f_user**2), 1e-60)

    def node_freqs(capacity, mask, energy_coef):
        return compute.kkt_frequencies(time_coef.ravel(), energy_coef.ravel(), capacity, mask.ravel()).reshape(u, n)

    local_f = jax.vmap(lambda cap, a, e, mk: compute.kkt_frequencies(a, e, cap, mk))(
        state.f_user, time_coef, local_e, target == 0
    )
    servers = jnp.arange(1, m + 1)
    server_f = jax.vmap(lambda cap, k: node_freqs(cap, target == k, server_e))(state.f_server, servers)
    freq = jnp.where(target == 0, local_f, server_f.sum(0))
    phi_f = jnp.where(target == 0, freq / state.f_user[:, None], freq / jnp.take(state.f_server, jnp.maximum(target - 1, 0)))

    def server_bw(k, capacity):
        mask = target == k
        count = jnp.maximum(mask.sum(), 1)
        gain = state.gain[:, k - 1][:, None]
        dist = state.dist[:, k - 1][:, None]
        ln_snr = channel.log_snr(
            gain, state.p_tx[:, None], dist, params.d_ref, params.pathloss_exponent,
            params.noise, capacity / count, params.noise_is_psd,
        )
        spectral = channel.log2_one_plus(jnp.exp(ln_snr))  # bit/s/Hz
        per_bit = params.mu_time / (cycles / f_user) + params.mu_energy * state.p_tx[:, None] / (
            params.kappa_user * f_user**2 * cycles
        )
        weights = bits * per_bit / spectral
        return compute.sqrt_bandwidth_split(weights.ravel(), capacity, mask.ravel()).reshape(u, n)

    bw = jax.vmap(server_bw)(servers, state.b_server).sum(0)
    phi_b = jnp.where(target == 0, 1.0, bw / jnp.take(state.b_server, jnp.maximum(target - 1, 0)))
    return jnp.stack([phi_f, phi_b], axis=-1)


def dt_oracle(env: dti.DTInference, max_assignments: int = 200_000) -> Policy:
    """Per-step exhaustive oracle for tiny instances (spec §6.6): every joint target assignment,
    each with its cost-optimal allocation, scored by the env's own transition; returns the best."""
    count = (env.n_servers + 1) ** (env.n_users * env.n_tasks)
    if count > max_assignments:
        raise ValueError(
            f"dt_oracle enumerates (n_servers+1)^(n_users*n_tasks) = {count} assignments; "
            f"limit {max_assignments}: use a tiny instance"
        )
    grid = np.array(list(itertools.product(range(env.n_servers + 1), repeat=env.n_users * env.n_tasks)))
    all_targets = jnp.asarray(grid.reshape(-1, env.n_users, env.n_tasks), jnp.int32)

    def policy(key, obs, state, params):
        draws = dti.StepDraws(
            task_type=state.task_type,
            fading=jnp.ones_like(state.gain),
            twin_eps=jnp.zeros((4, env.n_users, env.n_tasks)),
        )

        def score(target):
            shares = _dt_allocation(env, state, target, params)
            action = spaces.HybridAction(target, shares)
            _, _, reward, _, _, _ = env.transition(state, action, draws, params)
            return reward.sum(), shares

        totals, shares = jax.lax.map(score, all_targets, batch_size=256)
        best = jnp.argmax(totals)
        return spaces.HybridAction(all_targets[best], shares[best])

    return policy


# ================================================================================================
# collab_edge (seed 003)
# ================================================================================================
def ce_round_robin(env: ce.CollabEdge) -> Policy:
    """RR (spec §6): task k of the episode goes to ES k mod B; the pointer restarts each episode."""

    def policy(key, obs, state, params):
        shape = (1,) if env.per_task else (1, env.max_tasks)
        offsets = jnp.arange(shape[-1]).reshape(shape)
        return ((state.tasks_done + offsets) % env.n_servers).astype(jnp.int32)

    return policy


def _ce_sequential(env: ce.CollabEdge, score) -> Policy:
    """Per task in arrival order, the ES minimising ``score(state, qbef, bits, cycles, params)[B]``.

    Reads the true backlog Q and this slot's earlier assignments Qbef from the state; in slot mode it
    walks the slot's tasks with a scan, adding each choice to Qbef as the env will (eq. U2).
    """

    def policy(key, obs, state, params):
        if env.per_task:
            cycles = params.density[state.task] * state.bits
            return jnp.argmin(score(state, state.qbef, state.bits, cycles, params))[None].astype(jnp.int32)

        def choose(qbef, task):
            bits, density, valid = task
            cycles = density * bits
            b = jnp.argmin(score(state, qbef, bits, cycles, params))
            qbef = qbef + jnp.where((jnp.arange(env.n_servers) == b) & valid, cycles, 0.0)
            return qbef, b

        valid = jnp.arange(env.max_tasks) < state.n_tasks
        _, choice = jax.lax.scan(choose, state.qbef, (state.bits, params.density, valid))
        return choice[None].astype(jnp.int32)

    return policy


def ce_least_loaded(env: ce.CollabEdge) -> Policy:
    """Least-loaded: the ES whose backlog (Q + Qbef) takes the least time to clear, (Q + Qbef) / f_b."""
    return _ce_sequential(
        env, lambda state, qbef, bits, cycles, params: queues.fcfs_wait(state.queue, qbef, params.freq)
    )


def ce_greedy_oracle(env: ce.CollabEdge) -> Policy:
    """The paper's "OPT" (spec §6, A11): per task, the ES with the least resulting service delay
    d/v_b + g/f_b + (Q_b + Qbef_b)/f_b given full knowledge of the queues. A greedy, not a bound."""

    def score(state, qbef, bits, cycles, params):
        wait = queues.fcfs_wait(state.queue, qbef, params.freq)
        return queues.service_delay(bits, params.rate, cycles, params.freq, wait)

    return _ce_sequential(env, score)


# ================================================================================================
# slicing (seed 001)
# ================================================================================================
def _largest_remainder(weights, n_units, n_slices):
    """Split ``n_units`` into ``n_slices`` positive integer parts ~ proportional to ``weights``.

    Every slice gets one unit; the remaining ``n_units - I`` go by the largest-remainder (Hamilton)
    method. All-zero weights give the (largest-remainder) equal split. Works on ``[..., I]``.
    """
    weights = jnp.maximum(jnp.asarray(weights, jnp.float32), 0.0)
    total = weights.sum(-1, keepdims=True)
    weights = jnp.where(total > 0, weights, 1.0)
    spare = n_units - n_slices
    quota = spare * weights / weights.sum(-1, keepdims=True)
    base = jnp.floor(quota).astype(jnp.int32)
    left = spare - base.sum(-1, keepdims=True)
    # rank of each remainder (0 = largest; ties go to the lower slice index)
    order = jnp.argsort(-(quota - base), axis=-1, stable=True)
    rank = jnp.argsort(order, axis=-1)
    return 1 + base + (rank < left).astype(jnp.int32)


def _slicing_split(env, weights_b, weights_c):
    unit = env.unit
    f_b = unit * _largest_remainder(weights_b, env.n_bw_blocks // unit, env.n_slices)
    f_c = unit * _largest_remainder(weights_c, env.n_cpu_blocks // unit, env.n_slices)
    return env.encode_action(f_b, f_c)


def slicing_equal(env: sl.Slicing) -> Policy:
    """Equal split of both resources, (6, 6, 6 | 6, 6, 6) at the defaults (spec §8)."""
    ones = np.ones(env.n_slices, np.float32)
    action = int(_slicing_split(env, ones, ones))

    def policy(key, obs, state, params):
        return jnp.full((env.n_aps,), action, jnp.int32)

    return policy


def slicing_proportional(env: sl.Slicing) -> Policy:
    """Demand-proportional split from the AP's own observation (spec §8): bandwidth blocks
    proportional to the slice data n_i x_i, compute blocks to the slice cycles n_i s_i, each
    rounded by largest remainder with every slice keeping at least one block (unit)."""

    def policy(key, obs, state, params):
        n = env.physical_observation(obs, params)["slice_users"]  # (B, I) slice user counts
        return _slicing_split(env, n * params.task_bits, n * params.task_cycles).astype(jnp.int32)

    return policy


def slicing_obs_oracle(env: sl.Slicing) -> Policy:
    """Observation-only oracle (spec §10.6.6): the exhaustive search of every action, per AP, with
    each user's channel replaced by |h|^2 = 1 at the median distance of the coverage disc. Only the
    AP's own slice counts are used, so it is a legitimate decentralised policy; it maximises the
    AP's own alpha e^(-L_b) + (1 - alpha) e^(phi_b)."""

    def policy(key, obs, state, params):
        counts = jnp.round(env.physical_observation(obs, params)["slice_users"]).astype(jnp.int32)  # (B, I)
        # users sorted by slice: user u is in slice #{i : cumsum(n)_i <= u}
        labels = jnp.sum(jnp.arange(env.max_users)[None, :, None] >= jnp.cumsum(counts, -1)[:, None, :-1], -1)
        median = jnp.sqrt(params.d_min**2 + 0.5 * (params.radius**2 - params.d_min**2))
        shape = (env.n_aps, env.max_users)
        proxy = sl.State(dist=jnp.full(shape, median, jnp.float32), slice=labels.astype(jnp.int32),
                         fade_up=jnp.ones(shape), fade_down=jnp.ones(shape), t=jnp.zeros((), jnp.int32))
        delay, sat = env.action_values(proxy, params)
        users = jnp.asarray(params.n_users, jnp.float32)
        value = sl.phys.slicing_reward(delay / users, sat / users, params.alpha, params.delay_scale)
        return jnp.argmax(value, axis=1).astype(jnp.int32)

    return policy


def slicing_oracle(env: sl.Slicing) -> Policy:
    """Full-information per-slot optimum of the global reward (spec §10.6 oracle, made exact).

    Actions do not affect the next state, so maximising each slot's reward is optimal. Every AP's
    every action (all 18,496 at the defaults) is scored in one vectorised call
    (`Slicing.action_values`: summed delay D_b(a) and satisfied users S_b(a)). The reward
    alpha e^(-L) + (1-alpha) e^(phi) only depends on sum_b D_b and sum_b S_b, so for each AP the
    frontier F_b(k) = min {D_b(a) : S_b(a) >= k} is computed, a min-plus convolution over APs gives
    G(K) = min sum_b D_b with sum_b S_b >= K, the best K is picked, and each AP plays its frontier
    action for its share k_b of K. This is the exact joint optimum (up to float32 ties).
    """
    n_users_max = env.max_users

    def policy(key, obs, state, params):
        delay, sat = env.action_values(state, params)  # (B, A)
        sat_i = jnp.round(sat).astype(jnp.int32)
        ks = jnp.arange(n_users_max + 1)
        exact = jax.vmap(lambda d, s: jax.ops.segment_min(d, s, num_segments=n_users_max + 1))(delay, sat_i)
        # empty segments hold +inf (= infeasible), which the min-plus sums keep as +inf
        frontier = jax.lax.cummin(exact, axis=1, reverse=True)  # F_b(k) = min over S_b >= k
        g = frontier[0]
        choices = []
        for b in range(1, env.n_aps):  # min-plus convolution over APs (B is a small static size)
            size = (b + 1) * n_users_max + 1
            prev = jnp.arange(size)[:, None] - ks[None, :]
            valid = (prev >= 0) & (prev < g.shape[0])
            cand = jnp.where(valid, g[jnp.clip(prev, 0, g.shape[0] - 1)] + frontier[b][None, :], jnp.inf)
            choices.append(jnp.argmin(cand, axis=1))
            g = jnp.min(cand, axis=1)
        users = jnp.asarray(params.n_users, jnp.float32) * env.n_aps
        total_k = jnp.arange(g.shape[0])
        value = sl.phys.slicing_reward(g / users, total_k / users, params.alpha, params.delay_scale)
        best = jnp.argmax(jnp.where(jnp.isfinite(g), value, -jnp.inf))
        shares = []
        for b in range(env.n_aps - 1, 0, -1):  # backtrack each AP's satisfied-user target
            k_b = choices[b - 1][best]
            shares.append(k_b)
            best = best - k_b
        shares.append(best)
        k = jnp.stack(shares[::-1])  # (B,)
        masked = jnp.where(sat_i >= k[:, None], delay, jnp.inf)
        return jnp.argmin(masked, axis=1).astype(jnp.int32)

    return policy


# ================================================================================================
# v2x (seed 002). AMCS / ROCS / greedy read vehicle positions from ``state`` (the geometry the
# observation encodes) so their routing and equal shares match the env's exactly.
# ================================================================================================
def _v2x_later_counts(onehot):
    """Per agent i and node j: how many agents k >= i use node j (rows are one-hot or zero)."""
    return jnp.cumsum(onehot[::-1], axis=0)[::-1]


def _v2x_equal_share(env: v2x.V2X, target, state, params):
    """Spec §6 AMCS allocation in the twin's remaining-fraction form: the k-th of n users of a node
    takes 1 / (n - k) of what remains, i.e. an exact equal share of the slot-start capacity; p = p_max.
    """
    dist = v2x.distances(state.pos, params.es_pos, params.d_min)
    on_cpu, _, on_bw, _ = v2x.routing(target, dist, params, env.n_servers)
    left_cpu = jnp.sum(_v2x_later_counts(on_cpu) * on_cpu, -1)
    left_bw = jnp.sum(_v2x_later_counts(on_bw) * on_bw, -1)
    frac = jnp.stack([
        jnp.ones_like(left_cpu), 1.0 / jnp.maximum(left_cpu, 1.0), 1.0 / jnp.maximum(left_bw, 1.0)
    ], axis=-1)
    return spaces.HybridAction(target.astype(jnp.int32), frac)


def v2x_alcs(env: v2x.V2X) -> Policy:
    """ALCS (spec §6): every task computed locally at F_loc."""

    def policy(key, obs, state, params):
        m = env.n_vehicles
        return spaces.HybridAction(jnp.zeros((m,), jnp.int32), jnp.ones((m, 3)))

    return policy


def v2x_amcs(env: v2x.V2X) -> Policy:
    """AMCS (spec §6): every task to its nearest ES at p_max, equal shares of CPU and bandwidth."""

    def policy(key, obs, state, params):
        dist = v2x.distances(state.pos, params.es_pos, params.d_min)
        return _v2x_equal_share(env, jnp.argmin(dist, axis=-1) + 1, state, params)

    return policy


def v2x_rocs(env: v2x.V2X) -> Policy:
    """ROCS (spec §6): target uniform over {local, ES 1..N}; AMCS's equal shares when offloading."""

    def policy(key, obs, state, params):
        target = spaces.Discrete(env.n_servers + 1, (env.n_vehicles,)).sample(key)
        return _v2x_equal_share(env, target, state, params)

    return policy


def v2x_greedy(env: v2x.V2X) -> Policy:
    """Sequential twin-aware greedy with the closed-form best ES frequency (spec §2.9-3, S3).

    Vehicles decide in ID order inside `V2X.act_sequential`, each seeing the live twin. Vehicle i
    prices every option at p_max: local at F_loc, or ES j with CPU f = min(f*, f_hat_j / n_j) and
    bandwidth b_hat_a / n_a, where f* = (w / (2 (1 - w) phi_es))^(1/3) is the cost-minimising ES
    frequency and n_j = 1 + the number of later vehicles whose nearest ES is j (a fair-share
    congestion estimate). It takes the cheapest option; CPU it leaves unused (f* < share) flows to
    later vehicles through the twin.
    """
    n = env.n_servers
    candidates = jnp.arange(1, n + 1)

    def policy(key, obs, state, params):
        dist = v2x.distances(state.pos, params.es_pos, params.d_min)
        nearest = jax.nn.one_hot(jnp.argmin(dist, -1), n)
        later = _v2x_later_counts(nearest) - nearest  # later vehicles per nearest ES, (M, N)
        es_dist = v2x.es_distances(params.es_pos)
        f_star = v2x.best_es_frequency(params)
        f_star_cv = compute.best_frequency(params.w, (1.0 - params.w) * params.phi_cv, params.f_loc)
        f_local = jnp.where(params.local_dvfs, f_star_cv, params.f_loc)

        def agent(i, obs_i):
            seen = env.physical_observation(obs_i, params)  # live twin: cpu, bw
            dist_i = jnp.broadcast_to(dist[i], (n, n))
            on_cpu, on_acc, on_bw, _ = v2x.routing(candidates, dist_i, params, n)
            crowd = 1.0 + later[i]
            f_avail = seen["cpu"]
            f = jnp.minimum(f_star, f_avail / crowd)
            b_avail = on_bw @ seen["bw"]
            b = b_avail / (on_bw @ crowd)
            bits = state.bits[i]
            d_wired = jnp.einsum("ci,ij,cj->c", on_acc, es_dist, on_cpu)
            delay, energy = v2x.delay_energy(
                bits, True, f, b, params.p_max, on_acc @ state.gain[i], on_acc @ dist[i], d_wired,
                f_local, params,
            )
            t_loc, e_loc = v2x.delay_energy(bits, False, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, f_local, params)
            delay = jnp.concatenate([t_loc[None], delay])
            energy = jnp.concatenate([e_loc[None], energy])
            cost = jnp.minimum(params.w * delay + (1.0 - params.w) * energy, params.cost_cap)  # eq. 23, A15 cap
            choice = jnp.argmin(cost)
            es = jnp.maximum(choice - 1, 0)
            frac_f = jnp.where(choice == 0, f_local / params.f_loc, f[es] / jnp.maximum(f_avail[es], 1e-30))
            frac_b = jnp.where(choice == 0, 1.0, b[es] / jnp.maximum(b_avail[es], 1e-30))
            return choice, jnp.clip(jnp.stack([1.0, frac_f, frac_b]), 0.0, 1.0)

        action, _ = env.act_sequential(state, params, agent)
        return action

    return policy


# ================================================================================================
# cloud_edge (seed 004)
# ================================================================================================
def _cld_action(env: ced.CloudEdge, x, channel, a=1.0, b=1.0) -> spaces.HybridAction:
    n = env.num_agents
    disc = jnp.stack([jnp.broadcast_to(x, (n,)), jnp.broadcast_to(channel, (n,))], -1).astype(jnp.int32)
    cont = jnp.stack([jnp.broadcast_to(a, (n,)), jnp.broadcast_to(b, (n,))], -1).astype(jnp.float32)
    return spaces.HybridAction(disc, cont)


def _cld_random_channels(env: ced.CloudEdge, key):
    return jax.random.randint(key, (env.num_agents,), 0, env.n_channels)


def _cld_distinct_channels(env: ced.CloudEdge, key, transmitting):
    """Channel de-collision: the transmitting UEs of a cell take channels offset + 0, 1, 2, ... (mod L)
    from a random per-cell offset, so no two of them share one while a cell has <= L transmitters."""
    k, j, l = env.n_cells, env.ues_per_cell, env.n_channels
    tx = transmitting.reshape(k, j).astype(jnp.int32)
    rank = jnp.cumsum(tx, axis=1) - tx
    offset = jax.random.randint(key, (k, 1), 0, l)
    return ((rank + offset) % l).reshape(-1)


def _cld_fixed(x_value: int, distinct: bool = True):
    def make(env: ced.CloudEdge) -> Policy:
        def policy(key, obs, state, params):
            x = jnp.full((env.num_agents,), x_value, jnp.int32)
            channel = _cld_distinct_channels(env, key, state.mask & (x > 0)) if distinct else (
                _cld_random_channels(env, key))
            return _cld_action(env, x, channel)

        return policy

    return make


cld_local = _cld_fixed(0)
cld_local.__doc__ = "All-local at full CPU (x = 0, b = 1)."
cld_edge = _cld_fixed(1)
cld_edge.__doc__ = "All-edge at full power with distinct channels per cell (spec §10.2)."
cld_cloud = _cld_fixed(2)
cld_cloud.__doc__ = "All-cloud at full power with distinct channels per cell (spec §10.2)."


def _cld_greedy_choice(env: ced.CloudEdge, state, params):
    """Per-UE myopic choice of x from its own lower bounds (14)/(U6) (no interference, no queues).

    Local runs at the b minimising w1 W/(b F) + w2 kappa W (b F)^2, i.e. b = (w1 / (2 w2 kappa F^3))^(1/3);
    offloading at a = 1. The cost of x is w1 (its lower-bound time) + w2 (its energy); a cloud task's
    time counts T*_21 only under ``exec_time_fixed``, as the env's round time does (A16).
    """
    lb = env.lower_bounds(state, params)
    b = jnp.clip(
        jnp.cbrt(params.w_time / jnp.maximum(2.0 * params.w_energy * params.kappa * params.f_ue**3, 1e-30)),
        params.min_ratio, 1.0,
    )
    cost_local = params.w_time * lb["t1_local"] / b + params.w_energy * lb["e_local"] * b**2
    cost_edge = params.w_time * (lb["t1_edge"] + lb["t21"]) + params.w_energy * lb["e_up"]
    cloud_time = lb["t1_cloud"] + lb["t22"] + jnp.where(params.exec_time_fixed, lb["t21"], 0.0)
    cost_cloud = params.w_time * cloud_time + params.w_energy * lb["e_up"]
    x = jnp.argmin(jnp.stack([cost_local, cost_edge, cost_cloud], -1), axis=-1).astype(jnp.int32)
    return x, b


def cld_greedy(env: ced.CloudEdge) -> Policy:
    """Greedy: each UE takes its best x by its own lower bounds, with a uniformly random channel.

    Reads the UE's own quantities from ``state`` (its observation, unscaled, plus its upload energy).
    """

    def policy(key, obs, state, params):
        x, b = _cld_greedy_choice(env, state, params)
        return _cld_action(env, x, _cld_random_channels(env, key), 1.0, b)

    return policy


def cld_greedy_decollide(env: ced.CloudEdge) -> Policy:
    """Greedy x as `cld_greedy`, then channel de-collision: distinct channels for the cell's transmitters."""

    def policy(key, obs, state, params):
        x, b = _cld_greedy_choice(env, state, params)
        channel = _cld_distinct_channels(env, key, state.mask & (x > 0))
        return _cld_action(env, x, channel, 1.0, b)

    return policy


# ================================================================================================
# Registry
# ================================================================================================
HEURISTICS: dict[str, dict[str, Callable]] = {
    "dt_inference": {
        "random": random_policy,
        "local": dt_local,
        "greedy": dt_greedy,
        "oracle": dt_oracle,
    },
    "collab_edge": {
        "random": random_policy,
        "round_robin": ce_round_robin,
        "least_loaded": ce_least_loaded,
        "greedy_oracle": ce_greedy_oracle,
    },
    "slicing": {
        "random": random_policy,
        "equal": slicing_equal,
        "proportional": slicing_proportional,
        "obs_oracle": slicing_obs_oracle,
        "oracle": slicing_oracle,
    },
    "v2x": {
        "random": random_policy,
        "alcs": v2x_alcs,
        "rocs": v2x_rocs,
        "amcs": v2x_amcs,
        "greedy": v2x_greedy,
    },
    "cloud_edge": {
        "random": random_policy,
        "local": cld_local,
        "edge": cld_edge,
        "cloud": cld_cloud,
        "greedy": cld_greedy,
        "greedy_decollide": cld_greedy_decollide,
    },
}

# Policies `scripts/evaluate.py` runs by default (oracles only on request: they are exponential).
DEFAULT_EVAL = {
    "dt_inference": ("random", "local", "greedy"),
    "collab_edge": ("random", "round_robin", "least_loaded", "greedy_oracle"),
    "slicing": ("random", "equal", "proportional", "obs_oracle", "oracle"),
    "v2x": ("alcs", "rocs", "amcs", "greedy"),
    "cloud_edge": ("random", "local", "edge", "cloud", "greedy", "greedy_decollide"),
}


def make_heuristic(env, name: str) -> Policy:
    """Build heuristic ``name`` for ``env``; raises ``ValueError`` listing the valid names."""
    table = HEURISTICS.get(env.name)
    if table is None:
        raise ValueError(f"no heuristics for env {env.name!r}; envs with heuristics: {sorted(HEURISTICS)}")
    if name not in table:
        raise ValueError(f"unknown heuristic {name!r} for {env.name}; choose one of {sorted(table)}")
    return table[name](env)
