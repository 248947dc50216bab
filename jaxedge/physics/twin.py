"""Digital-twin deviation model (seed 000 eqs. 4-7, resolution A11).

The twin sees every physical quantity q through a zero-mean multiplicative deviation
``q_hat = q (1 + sigma eps)``; its delay/energy estimates are the same formulas evaluated on the
deviated inputs. sigma = 0 gives an exact twin.
"""

import jax.numpy as jnp


def deviate(value, sigma, eps):
    """q_hat = q + Delta q with Delta q = q sigma eps, floored at 1e-3 q (seed 000 eqs. 4-5, A11)."""
    return value * jnp.maximum(1.0 + sigma * eps, 1e-3)


def relative_error(estimate, truth):
    """Mapping error |q_hat - q| / q that eqs. 6-7 ask the twin to drive to zero in expectation."""
    return jnp.abs(estimate - truth) / jnp.maximum(jnp.abs(truth), 1e-30)


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
