"""Processing-queue backlogs of edge servers (seed 003, eqs. 2, 4, 5, U2), SI units (cycles, s).

Every function broadcasts over leading axes, so the same code runs on one server, one env's
``[servers]`` vector or a ``[envs, servers]`` queue matrix.
"""

import jax
import jax.numpy as jnp


def backlog_update(backlog, arrived, frequency, slot_len):
    """q_t = max(q_{t-1} + sum_n zeta g_n - f Delta, 0): end-of-slot queue recursion (seed 003 eq. 5)."""
    return jnp.maximum(backlog + arrived - frequency * slot_len, 0.0)


def fcfs_wait(backlog, before, frequency):
    """T^wait = (q_{t-1} + q^bef) / f: FCFS wait behind the backlog and same-slot work (seed 003 eq. 4)."""
    return (backlog + before) / frequency


def service_delay(bits, rate, cycles, frequency, wait):
    """T^serv = d / v + rho d / f + T^wait (seed 003 eq. 2)."""
    return bits / rate + cycles / frequency + wait


def work_before(load):
    """q^bef_n = sum_{n' < n} load_{n'}: work queued earlier in the slot (seed 003 eq. U2).

    ``load[..., n, b]`` is task n's workload on server b (zero where not assigned); the result has the
    same shape and excludes task n itself (an exclusive cumulative sum over the task axis -2).
    """
    total = jnp.cumsum(load, axis=-2)
    return jnp.concatenate([jnp.zeros_like(load[..., :1, :]), total[..., :-1, :]], axis=-2)


def work_before_assigned(cycles, server, n_servers: int, max_unroll: int = 128):
    """q^bef of each task on its own server, and each server's total, for one slot (seed 003 eq. U2).

    ``cycles[n]`` is task n's workload (0 for padding) and ``server[n]`` its server, in FCFS order.
    Returns ``(before[n] = sum_{n' < n, server[n'] = server[n]} cycles[n'], total[b])``. A scan with
    a gather and a scatter is linear in the task count, unlike XLA's quadratic CPU cumsum that the
    dense `work_before` would need over a [tasks, servers] matrix. Unrolled up to ``max_unroll``
    tasks: a rolled XLA:CPU loop copies its carry every iteration (at 100 tasks the whole collab_edge
    step was measured 1.27x faster fully unrolled than unrolled by 5).
    """
    def body(acc, task):
        g, b = task
        return acc.at[b].add(g), acc[b]

    unroll = min(cycles.shape[0], max_unroll)
    total, before = jax.lax.scan(body, jnp.zeros((n_servers,), cycles.dtype), (cycles, server), unroll=unroll)
    return before, total
