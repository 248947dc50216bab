"""Computation and transmission delay/energy, and the closed-form best CPU frequency."""

import jax
import jax.numpy as jnp


def compute_delay(cycles, frequency):
    """T^c = X / f (seed 000 eq. U1)."""
    return cycles / frequency


def compute_energy(cycles, frequency, kappa):
    """E^c = kappa f^2 X (seed 000 eq. U1)."""
    return kappa * frequency**2 * cycles


def transmit_delay(bits, rate):
    """T^tr = D / rate (seed 000 eq. U2); zero where nothing is sent."""
    return jnp.where(bits > 0, bits / jnp.maximum(rate, 1e-30), 0.0)


def transmit_energy(power, delay):
    """E^tr = P T^tr (seed 000 eq. U2)."""
    return power * delay


def best_frequency(time_coef, energy_coef, f_max):
    """argmin_f a/f + e f^2 = (a / (2e))^(1/3), clipped to (0, f_max] (seed 000 §3.2).

    With task-relative normalisation a = mu_T F_i and e = mu_E / F_i^2, so
    f* = F_i (mu_T / (2 mu_E))^(1/3) (= 0.794 F_i for mu_T = mu_E).
    """
    return jnp.minimum(jnp.cbrt(time_coef / (2.0 * energy_coef)), f_max)


def kkt_frequencies(time_coef, energy_coef, capacity, mask, iters=60):
    """Minimise sum_j a_j/f_j + e_j f_j^2 subject to sum_j f_j <= F over masked tasks (seed 000 §3.2).

    Unconstrained optimum when it fits; else each f_j solves 2 e_j f^3 + nu f^2 = a_j with the
    multiplier nu found by bisection so that sum_j f_j = F. Returns 0 where ``mask`` is False.
    """
    a = jnp.where(mask, time_coef, 1.0)
    e = jnp.where(mask, energy_coef, 1.0)
    f_free = jnp.cbrt(a / (2.0 * e))

    def f_of_nu(nu):
        # Root of 2 e f^3 + nu f^2 - a = 0 in (0, f_free] by bisection (monotone in f).
        def body(_, lohi):
            lo, hi = lohi
            mid = 0.5 * (lo + hi)
            too_big = 2.0 * e * mid**3 + nu * mid**2 - a > 0
            return jnp.where(too_big, lo, mid), jnp.where(too_big, mid, hi)

        lo, hi = jax.lax.fori_loop(0, iters, body, (jnp.zeros_like(a), f_free))
        return 0.5 * (lo + hi)

    def total(nu):
        return jnp.sum(jnp.where(mask, f_of_nu(nu), 0.0))

    # At nu, f_j <= sqrt(a_j / nu), so the sum fits once nu >= (sum_j sqrt(a_j) / F)^2.
    nu_hi = (jnp.sum(jnp.where(mask, jnp.sqrt(a), 0.0)) / capacity) ** 2

    def outer(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        over = total(mid) > capacity
        return jnp.where(over, mid, lo), jnp.where(over, hi, mid)

    _, nu = jax.lax.fori_loop(0, iters, outer, (0.0, nu_hi))
    binds = jnp.sum(jnp.where(mask, f_free, 0.0)) > capacity
    f = jnp.where(binds, f_of_nu(nu), f_free)
    return jnp.where(mask, f, 0.0)


def sqrt_bandwidth_split(weights, capacity, mask):
    """Minimise sum_j w_j / b_j subject to sum_j b_j = B: b_j = B sqrt(w_j) / sum sqrt(w) (Cauchy-Schwarz).

    Exact for the transmit cost under total-noise SNR, where rate = b log2(1+SNR) is linear in b.
    """
    root = jnp.where(mask, jnp.sqrt(jnp.maximum(weights, 0.0)), 0.0)
    return capacity * root / jnp.maximum(jnp.sum(root), 1e-30)
