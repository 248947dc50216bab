"""Digital-twin deviation model (seed 000 eqs. 4-7, resolution A11).

The twin sees every physical quantity q through a zero-mean multiplicative deviation
``q_hat = q (1 + sigma eps)``; its delay/energy estimates are the same formulas evaluated on the
deviated inputs. sigma = 0 gives an exact twin.

Seed 002 uses the twin as exact resource bookkeeping instead: `twin_take` / `sequential_allocation`.
"""

import jax
import jax.numpy as jnp

from jaxedge import ops


def deviate(value, sigma, eps):
    """q_hat = q + Delta q with Delta q = q sigma eps, floored at 1e-3 q (seed 000 eqs. 4-5, A11)."""
    return value * jnp.maximum(1.0 + sigma * eps, 1e-3)


def relative_error(estimate, truth):
    """Mapping error |q_hat - q| / q that eqs. 6-7 ask the twin to drive to zero in expectation."""
    return jnp.abs(estimate - truth) / jnp.maximum(jnp.abs(truth), 1e-30)


def signed_relative_error(estimate, truth):
    """(q_hat - q) / q: its mean over the twin's deviations estimates the mapping bias (E q_hat - q) / q
    of seed 000 eqs. 6-7 (A11), whose magnitude the spec asks to report (O(sigma^2))."""
    return (estimate - truth) / jnp.maximum(jnp.abs(truth), 1e-30)


def twin_estimates(delay_energy_fn, inputs, sigma, eps):
    """(T_hat, E_hat): `delay_energy_fn` evaluated on deviated inputs (seed 000 eqs. 6-7).

    ``inputs`` maps argument names to physical arrays, ``eps`` maps the same names to standard
    normal draws of matching shape; arguments not in ``eps`` are passed through exactly.
    """
    twin_inputs = {
        name: deviate(value, sigma, eps[name]) if name in eps else value
        for name, value in inputs.items()
    }
    return delay_energy_fn(**twin_inputs)


# ------------------------------------------------------------------------------------------------
# Seed 002: the twin as resource bookkeeping, updated after every agent's decision (eqs. 1-2, 25-26).
# ------------------------------------------------------------------------------------------------
def twin_take(cpu, bw, on_cpu, on_bw, frac_cpu, frac_bw):
    """One agent's turn (seed 002 eqs. 25-26, S5): take fractions of what the twin says remains.

    ``cpu``/``bw`` (N,) are the available CPU (Hz) and bandwidth (Hz) per server, ``on_cpu``/``on_bw``
    (N,) one-hot rows (all zero for a local task) of the server whose CPU / bandwidth is used, and
    ``frac_*`` in [0, 1]. Returns ``(cpu', bw', f, b)``. Since ``f = frac * cpu_j <= cpu_j`` and float
    rounding is monotone, the twin never goes negative: the coupling constraints (C2, C3) hold by
    construction.
    """
    f = frac_cpu * ops.small_sum(on_cpu * cpu)  # f_ij = a^f * f_hat_j (eq. 25)
    b = frac_bw * ops.small_sum(on_bw * bw)  # b_ia = a^b * b_hat_a (eq. 25)
    return cpu - f * on_cpu, bw - b * on_bw, f, b  # DT update (eq. 26)


def sequential_allocation(cpu0, bw0, on_cpu, on_bw, frac_cpu, frac_bw):
    """The twin recursion over agents in ID order, `twin_take` after `twin_take` (seed 002 §2.4, S6).

    ``cpu0``/``bw0`` (N,) slot-start twin; ``on_cpu``/``on_bw`` (M, N) one-hot rows; ``frac_*`` (M,).
    Returns ``f (M,)``, ``b (M,)``, the twin each agent saw at its turn ``cpu_seen``/``bw_seen``
    (M, N), and the twin left at the end of the slot ``cpu_left``/``bw_left`` (N,).

    Computed in closed form: agent k leaves ``1 - a_k`` of its server's remainder (eq. 26), so agent i
    sees ``cpu0_j prod_{k<i} (1 - a_k [j = server_k])``, a running product over the agents (the
    agent-by-agent form costs M dependent steps of several tiny kernels each on XLA:CPU; the product
    was measured 1.4x faster for the whole v2x step). Equal up to float rounding; never negative,
    every factor is in [0, 1].
    """

    def remainders(total0, on, frac):
        keep = 1.0 - frac[:, None] * on  # (M, N): the share of each server's remainder agent k leaves
        running = [jnp.ones_like(total0)]
        for k in range(keep.shape[0]):
            running.append(running[-1] * keep[k])
        running = jnp.stack(running)  # (M + 1, N): exclusive running products, then the total
        return total0 * running[:-1], total0 * running[-1]

    cpu_seen, cpu_left = remainders(cpu0, on_cpu, frac_cpu)
    bw_seen, bw_left = remainders(bw0, on_bw, frac_bw)
    f = frac_cpu * ops.small_sum(on_cpu * cpu_seen)  # f_ij = a^f * f_hat_j (eq. 25)
    b = frac_bw * ops.small_sum(on_bw * bw_seen)  # b_ia = a^b * b_hat_a (eq. 25)
    return f, b, cpu_seen, bw_seen, cpu_left, bw_left
