"""Per-env roofline: a fused JAX kernel of just the env's dominant arithmetic, the practical ceiling.

For every benchmarked env, `kernel` builds ``run(inputs) -> scalar``: a ``lax.scan`` of
``steps`` steps over ``num_envs`` envs at the env's benchmark sizes that evaluates only the physics
that makes a step (Shannon rates, delay / energy / cost terms, the resource, queue, battery, mobility
or cache recursions) on fixed random inputs, through the env's own physics functions -- no random
numbers, no action decoding, no one-hots / routing bookkeeping, no observations, no metrics, no
auto-reset. A per-step factor ``1 + 1e-7 t`` on one input keeps XLA from hoisting the work out of
the loop. ``benchmarks/env_throughput.py --impl roofline`` times it exactly like the env (env-steps/s)
and reports the env step's throughput as a percentage of it: how far the env's bookkeeping, RNG and
observation are from the arithmetic it cannot avoid.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxedge.envs import cloud_edge as ce
from jaxedge.envs import collab_edge as co
from jaxedge.envs import dt_inference as dt
from jaxedge.envs import v2x
from jaxedge.physics import cache as cache_lib
from jaxedge.physics import channel, mobility, queues, twin
from jaxedge.physics import slicing as sl


def _u(key, shape, lo=0.0, hi=1.0):
    return jax.random.uniform(key, shape, jnp.float32, lo, hi)


def _scan(step, carry, inputs, steps):
    """``run(carry, inputs)``: ``steps`` calls of ``step(carry, inputs, scale) -> (carry, out)``."""

    def run(carry, inputs):
        def body(c, t):
            return step(c, inputs, 1.0 + 1e-7 * t.astype(jnp.float32))

        carry, outs = jax.lax.scan(body, carry, jnp.arange(steps))
        return outs.sum() + sum(jnp.sum(x).astype(jnp.float32) for x in jax.tree_util.tree_leaves(carry))

    return run, (carry, inputs)


def dt_inference(env, params, e, steps, key):
    """Eqs. 1-3, 8, 12: per task rate, delay, energy and cost, the battery recursion (C5) and the twin's
    second evaluation on deviated inputs (eqs. 4-7)."""
    u, n, m = env.n_users, env.n_tasks, env.n_servers
    ks = jax.random.split(key, 12)
    shape = (e, u, n)
    off = _u(ks[0], shape) < m / (m + 1.0)
    inputs = dict(
        cycles=_u(ks[1], shape, 3e7, 4e8), bits=_u(ks[2], shape, 3e4, 1e5), freq=_u(ks[3], shape, 1e8, 1e9),
        bw=_u(ks[4], shape, 1e4, 1e5), gain=_u(ks[5], shape, 1e-14, 2e-14), dist=_u(ks[6], shape, 200.0, 400.0),
        power=_u(ks[7], (e, u, 1), 1.0, 2.0) * jnp.ones(shape), f_user=_u(ks[8], (e, u, 1), 1e9, 2e9),
        eps=jax.random.normal(ks[9], (4,) + shape), off=off,
    )

    def step(battery, x, scale):
        kappa = jnp.where(x["off"], params.kappa_server, params.kappa_user)

        def delay_energy(freq, bandwidth, gain, dist):
            return dt.task_delay_energy(x["cycles"], x["bits"], freq, bandwidth, gain, dist, x["power"], kappa,
                                        x["off"], params)

        phys = dict(freq=x["freq"], bandwidth=x["bw"] * scale, gain=x["gain"], dist=x["dist"])
        delay, energy, _, e_tr, e_c = delay_energy(**phys)  # eqs. 1-3
        cost = dt.normalised_cost(delay, energy, x["cycles"], x["f_user"], params)  # eq. 8
        e_user = e_tr + jnp.where(x["off"], 0.0, e_c)
        failed = jnp.cumsum(e_user, axis=-1) > battery[..., None]  # C5
        battery = jnp.where(failed.any(-1), 1.0, battery - e_user.sum(-1))
        task_cost = jnp.where(failed, params.fail_cost, cost) + params.deadline_penalty * (delay > params.deadline)
        eps = dict(zip(("gain", "dist", "freq", "bandwidth"), x["eps"]))
        delay_hat, energy_hat, *_ = twin.twin_estimates(delay_energy, phys, params.twin_sigma, eps)  # eqs. 4-7
        out = -task_cost.sum() + twin.relative_error(delay_hat, delay).sum() + twin.relative_error(energy_hat, energy).sum()
        return battery, out

    return _scan(step, jnp.ones((e, u), jnp.float32), inputs, steps)


def slicing(env, params, e, steps, key):
    """Eqs. 1-5, D1-D5, 6, 7, R: per user shares, up/down Shannon rates, delays, satisfaction, reward."""
    b, u, i = env.n_aps, env.max_users, env.n_slices
    ks = jax.random.split(key, 8)
    shape = (e, b, u)
    n_u = jax.random.randint(ks[0], shape, 1, u // i + 2)
    inputs = dict(
        gain=_u(ks[1], shape, 3e-8, 3e-2), fade_up=_u(ks[2], shape, 0.05, 3.0), fade_dn=_u(ks[3], shape, 0.05, 3.0),
        f_b=jax.random.randint(ks[4], shape, 1, 16), f_c=jax.random.randint(ks[5], shape, 1, 16), n_u=n_u,
        bits=jnp.take(jnp.asarray(params.task_bits, jnp.float32), jax.random.randint(ks[6], shape, 0, i)),
        cycles=_u(ks[7], shape, 1e8, 1e9),
    )
    block_bw = jnp.round(params.block_bw).astype(jnp.int32)
    unit = jnp.round(params.bw_unit).astype(jnp.int32)

    def step(acc, x, scale):
        w = sl.bandwidth_share(x["f_b"], block_bw, unit, x["n_u"])  # eq. 2
        c = sl.compute_share(x["f_c"], params.block_cpu, x["n_u"])  # eq. 1
        starved = w <= 0
        safe_w = jnp.where(starved, 1.0, w)
        rates = [channel.shannon_rate_snr(w, channel.snr_psd_dbm(x["gain"] * scale * fade, p_dbm, params.noise_psd_dbm_hz,
                                                                 params.noise_figure_db, safe_w))
                 for fade, p_dbm in ((x["fade_up"], params.p_user_dbm), (x["fade_dn"], params.p_ap_dbm))]  # eqs. 3-5
        l_up, l_cal, l_dn = sl.offload_delay(x["bits"], x["bits"] * params.result_ratio, x["cycles"], *rates, c)  # D1-D3
        _, sat, in_l = sl.finish_delay(l_up, l_cal, l_dn, starved, 0.01, params.delay_cap, params.clip_delay)  # D4-D5
        reward = sl.slicing_reward(in_l.mean((-2, -1)), sat.mean((-2, -1)), params.alpha, params.delay_scale)  # eq. R
        return acc + reward, reward.sum()

    return _scan(step, jnp.zeros((e,), jnp.float32), inputs, steps)


def v2x_kernel(env, params, e, steps, key):
    """Eqs. 3-17, 23, 25-26, §2.2: the twin's sequential CPU / bandwidth recursion over vehicles, rates,
    delays, energies and capped costs, distances to the access ES and the mobility step."""
    m, n = env.n_vehicles, env.n_servers
    ks = jax.random.split(key, 10)
    target = jax.random.randint(ks[0], (e, m), 0, n + 1)
    on_cpu = jax.nn.one_hot(target - 1, n, dtype=jnp.float32)
    inputs = dict(
        bits=_u(ks[1], (e, m), 1e5, 1e6), frac=_u(ks[2], (e, m, 3)), gain=_u(ks[3], (e, m), 0.5, 2.0),
        on_cpu=on_cpu, d_wired=_u(ks[4], (e, m), 0.0, 500.0) * (target > 0), off=target > 0,
        cpu0=_u(ks[5], (e, n), params.es_cpu_low, params.es_cpu_high), heading=_u(ks[6], (e, m, 2), -1.0, 1.0),
        speed=_u(ks[7], (e, m), 10.0, 30.0),
    )
    bw0 = jnp.full((e, n), params.es_bw, jnp.float32)
    alloc = jax.vmap(twin.sequential_allocation)

    def step(pos, x, scale):
        f, b, *_ = alloc(x["cpu0"] * scale, bw0, x["on_cpu"], x["on_cpu"], x["frac"][..., 1], x["frac"][..., 2])  # eqs. 25-26
        dist = jax.vmap(v2x.distances, in_axes=(0, None, None))(pos, params.es_pos, params.d_min)  # eq. 6
        delay, energy = v2x.delay_energy(x["bits"], x["off"], f, b, x["frac"][..., 0] * params.p_max, x["gain"],
                                         jnp.sum(x["on_cpu"] * dist, -1), x["d_wired"], params.f_loc, params)
        cost, *_ = v2x.capped_cost(delay, energy, params)  # eq. 23
        pos, _ = mobility.random_direction_step(pos, x["heading"], x["speed"], params.dt, x["off"], x["heading"],
                                                params.area)  # §2.2
        return pos, -cost.sum()

    return _scan(step, _u(ks[8], (e, m, 2), 0.0, params.area), inputs, steps)


def collab_edge(env, params, e, steps, key):
    """Eqs. 2, 4, 5, U2: per task FCFS wait behind the backlog and same-slot work, service delay, and
    the end-of-slot backlog recursion (per-slot mode: one step = one slot of ``max_tasks``)."""
    s, b = env.max_tasks, env.n_servers
    ks = jax.random.split(key, 3)
    inputs = dict(bits=_u(ks[0], (e, s), params.bits_min, params.bits_max), server=jax.random.randint(ks[1], (e, s), 0, b),
                  mask=jnp.arange(s) < jax.random.randint(ks[2], (e, 1), params.n_min, params.n_max + 1))
    freq, rate_b = jnp.asarray(params.freq, jnp.float32), jnp.asarray(params.rate, jnp.float32)

    def one(queue, bits, server, mask, scale):
        cycles = jnp.where(mask, co.workload(params.density, bits * scale), 0.0)
        before, arrived = queues.work_before_assigned(cycles, server, b)  # eq. U2
        f_b, v_b = freq[server], rate_b[server]
        wait = jnp.where(mask, queues.fcfs_wait(queue[server], before, f_b), 0.0)  # eq. 4
        delay = jnp.where(mask, queues.service_delay(bits, v_b, cycles, f_b, wait), 0.0)  # eq. 2
        return queues.backlog_update(queue, arrived, freq, params.slot_len), -delay.sum()  # eq. 5

    def step(queue, x, scale):
        queue, reward = jax.vmap(one, in_axes=(0, 0, 0, 0, None))(queue, x["bits"], x["server"], x["mask"], scale)
        return queue, reward.sum()

    return _scan(step, jnp.zeros((e, b), jnp.float32), inputs, steps)


def cloud_edge(env, params, e, steps, key):
    """Eqs. 2-9, 12-13 and the cache update: per UE the same-cell same-channel interference, uplink
    SINR rate, local / edge / cloud times and energies, the round time and cost, and each cell's
    LRU / LFU cache accesses in UE order (A18)."""
    k, j, n = env.n_cells, env.ues_per_cell, env.num_agents
    ks = jax.random.split(key, 8)
    x_mode = jax.random.randint(ks[0], (e, n), 0, 3)
    n_types = len(np.asarray(params.task_si))
    inputs = dict(
        x=x_mode, l=jax.random.randint(ks[1], (e, n), 0, env.n_channels), a=_u(ks[2], (e, n), 0.1, 1.0),
        b=_u(ks[3], (e, n), 0.1, 1.0), ln_g=_u(ks[4], (e, n), -30.0, -20.0), task=jax.random.randint(ks[5], (e, n), 0, n_types),
        r_dn=_u(ks[6], (e, n), 1e6, 1e8), r_ec=_u(ks[7], (e, n), 1e7, 1e8),
    )
    si, so = jnp.asarray(params.task_si, jnp.float32), jnp.asarray(params.task_so, jnp.float32)
    work_tab = si * jnp.asarray(params.task_c, jnp.float32)
    bw, noise = env.bandwidth(params), env.noise(params)
    capacity = cache_lib.capacity_kbit(params.cache_capacity)
    not_self = ~np.eye(j, dtype=bool)

    def one(cache, x, scale):
        loc, off1, off2 = x["x"] == 0, x["x"] == 1, x["x"] == 2
        tx = off1 | off2
        s_in, s_out, work = si[x["task"]], so[x["task"]], work_tab[x["task"]] * scale
        hit = cache_lib.lookup_many(cache, x["task"].reshape(k, j)).reshape(n)
        p_tx = x["a"] * params.p_ue
        contrib = jnp.where(tx, p_tx * jnp.exp(x["ln_g"]), 0.0)
        lc = x["l"].reshape(k, j)
        same = (lc[:, :, None] == lc[:, None, :]) & not_self
        interference = jnp.sum(jnp.where(same, contrib.reshape(k, 1, j), 0.0), axis=-1).reshape(n)  # eq. 5
        r_up = ce.rate(bw, jnp.log(p_tx) + x["ln_g"] - jnp.log(noise + interference), params)  # eq. 4
        t_loc, e_loc = ce.local_compute(work, x["b"], params)  # eqs. 2-3
        t1 = jnp.where(loc, t_loc, jnp.where(off1, (1.0 - hit) * work / params.f_edge, work / params.f_cloud))  # eq. 2
        t_up = s_in / r_up
        t21 = jnp.where(tx, t_up + s_out / x["r_dn"], 0.0)  # eq. 8
        t22 = jnp.where(off2, s_in / x["r_ec"] + s_out / x["r_ec"], 0.0)  # eq. 9
        energy = jnp.where(loc, e_loc, 0.0) + jnp.where(tx, p_tx * t_up, 0.0)  # eqs. 3, 6, 7
        edge_sum = jnp.sum(jnp.where(off1, t1 + t21, 0.0).reshape(k, j), axis=1)
        tau = jnp.where(loc, t1, 0.0) + jnp.where(off1, jnp.repeat(edge_sum, j, total_repeat_length=n), 0.0)
        tau += jnp.where(off2, ce.cloud_time(jnp.sum(jnp.where(off2, t1, 0.0)), t21, t22, params), 0.0)  # eq. 12
        cost = ce.weighted_cost(jnp.max(tau), jnp.sum(energy), params)  # eq. 13
        cache = cache_lib.access_cells(cache, x["task"].reshape(k, j), cache_lib.to_kbit(s_out).reshape(k, j),
                                       tx.reshape(k, j), capacity, params.cache_policy, params.insert_if_fits)
        return cache, -cost

    def step(cache, x, scale):
        cache, reward = jax.vmap(one, in_axes=(0, 0, None))(cache, x, scale)
        return cache, reward.sum()

    caches = jax.vmap(lambda _: cache_lib.empty((k,), env.cache_slots))(jnp.arange(e))
    return _scan(step, caches, inputs, steps)


KERNELS = {"dt_inference": dt_inference, "slicing": slicing, "v2x": v2x_kernel, "collab_edge": collab_edge,
           "cloud_edge": cloud_edge}


def kernel(env_name: str, env, params, num_envs: int, steps: int, seed: int = 0):
    """``(jitted run, args)`` of the roofline kernel of registered env ``env_name`` (`KERNELS`)."""
    run, args = KERNELS[env_name](env, params, num_envs, steps, jax.random.PRNGKey(seed))
    return jax.jit(run), args
