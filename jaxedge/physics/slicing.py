"""Network slicing: per-user shares of a slice's resource blocks and the offloading delays (seed 001).

All users of one slice at one access point share the slice's blocks equally (seed 001 §2.2). The
bandwidth share is floored to a multiple of the unit W_bar with *integer* arithmetic in Hz (spec A1),
so exact multiples are never lost to float rounding. Functions broadcast over any leading shape.
"""

import jax.numpy as jnp

from jaxedge.physics import compute


def compute_share(blocks, block_cpu, n_in_slice):
    """c = f^C rho^C / n_i in cycles/s (seed 001 eq. 1); an empty slice counts as one user."""
    return blocks * block_cpu / jnp.maximum(n_in_slice, 1)


def bandwidth_share(blocks, block_bw_hz, unit_hz, n_in_slice):
    """w = W_bar floor(f^B rho^B / (W_bar n_i)) in Hz (seed 001 eq. 2, A1), integer arithmetic.

    ``block_bw_hz`` and ``unit_hz`` are int32 Hz; returns float32 Hz (0 when the share is below one unit).
    """
    units = floor_divide_nonnegative(blocks * block_bw_hz, unit_hz * jnp.maximum(n_in_slice, 1))
    return (units * unit_hz).astype(jnp.float32)


def floor_divide_nonnegative(num, den):
    """``num // den`` for int32 ``num >= 0``, ``den >= 1``, exact, without integer division.

    x86 has no vector integer division, so XLA:CPU divides int32 one element at a time; here a float32
    quotient is refined once by the exact int32 remainder and fixed by one step: float32 carries the
    quotient to within ~1e-7 relative error, so the refined quotient is off by at most one.
    """
    as_float = lambda x: x.astype(jnp.float32)  # noqa: E731
    quotient = jnp.floor(as_float(num) / as_float(den)).astype(jnp.int32)
    quotient = quotient + jnp.floor(as_float(num - quotient * den) / as_float(den)).astype(jnp.int32)
    remainder = num - quotient * den
    return quotient - (remainder < 0) + (remainder >= den)


def offload_delay(bits_up, bits_down, cycles, rate_up, rate_down, cpu):
    """(l_up, l_cal, l_down) = (x / r_up, s / c, y / r_down) in s (seed 001 D1-D3)."""
    return (
        compute.transmit_delay(bits_up, rate_up),
        compute.compute_delay(cycles, cpu),
        compute.transmit_delay(bits_down, rate_down),
    )


def finish_delay(l_up, l_cal, l_down, starved, max_delay, delay_cap, clip):
    """Total delay (D4), satisfaction (D5) and the delay that enters L (A9).

    A starved user (w = 0) has l_total = l_cap and mu = 0; with ``clip`` the delay in L is
    min(l_total, l_cap). Returns ``(total, satisfied, delay_in_L)``.
    """
    total = jnp.where(starved, delay_cap, l_up + l_cal + l_down)  # D4, A9
    satisfied = jnp.logical_and(jnp.logical_not(starved), total <= max_delay)  # D5
    in_l = jnp.where(clip, jnp.minimum(total, delay_cap), total)  # A9
    return total, satisfied, in_l


def slicing_reward(mean_delay, satisfaction, alpha, delay_scale):
    """r = alpha exp(-L) + (1 - alpha) exp(phi), L in units of 1/delay_scale s (seed 001 eq. R, A8)."""
    return alpha * jnp.exp(-mean_delay * delay_scale) + (1.0 - alpha) * jnp.exp(satisfaction)
