"""Wireless channel: path loss, fading, SNR and Shannon rate with FDMA bandwidth shares.

SNR is computed in the log domain, ``log g + log P - lambda log(d/d_ref) - log N``, so channel gains of
1e-14 and noise powers of 1e-13 W (or PSDs times bandwidths) never underflow or lose float32
precision; the rate then uses ``softplus(log_snr) = log(1 + snr)``, exact for tiny and huge SNRs.
"""

import jax
import jax.numpy as jnp

LN2 = 0.6931471805599453


def log_path_loss(distance, d_ref, exponent):
    """Natural log of the path-loss factor ``(d / d_ref)^-lambda`` (seed 000 eq. 1, A2)."""
    return -exponent * jnp.log(distance / d_ref)


def log_snr(gain, power, distance, d_ref, exponent, noise, bandwidth, noise_is_psd):
    """ln SNR = ln(g P (d/d_ref)^-lambda / N), N = N0 b for a PSD else N0 (seed 000 eq. 1, A2).

    ``bandwidth`` must be > 0 where ``noise_is_psd``; callers mask zero-bandwidth links.
    """
    log_noise = jnp.log(noise) + jnp.where(noise_is_psd, jnp.log(bandwidth), 0.0)
    return (
        jnp.log(gain) + jnp.log(power) + log_path_loss(distance, d_ref, exponent) - log_noise
    )


def shannon_rate(bandwidth, log_snr_value):
    """rate = b log2(1 + SNR) in bit/s, zero for zero bandwidth (seed 000 eq. 1)."""
    positive = bandwidth > 0
    rate = bandwidth * jax.nn.softplus(log_snr_value) / LN2
    return jnp.where(positive, rate, 0.0)


def snr_db(log_snr_value):
    """SNR in dB from ln SNR (reporting helper)."""
    return 10.0 * log_snr_value / jnp.log(10.0)


def rayleigh_power(x, y):
    """Rayleigh fading power |h|^2 = (x^2 + y^2) / 2 ~ Exp(1), h = (x + iy)/sqrt2, x, y ~ N(0,1) (seed 000 A14 option)."""
    return 0.5 * (x * x + y * y)


def gaussian_fluctuation(eps, sigma):
    """Multiplicative channel fluctuation max(0.1, 1 + sigma eps), eps ~ N(0,1) (seed 000 A14)."""
    return jnp.maximum(0.1, 1.0 + sigma * eps)


def shannon_rate_linear(bandwidth, gain, power, distance, exponent, noise, noise_is_psd):
    """r = b log2(1 + p h d^-alpha / sigma^2), sigma^2 = N0 b or N0, SNR in linear scale (seed 002 eqs. 5-6).

    For use where every factor stays well inside float32 range (seed 002: p h d^-alpha >= ~1e-20 W,
    sigma^2 >= ~1e-21 W). Written for XLA:CPU speed: ``exp(-alpha log d)`` instead of ``pow`` and
    ``log2(1 + snr)`` instead of ``log1p`` / ``softplus`` (both lower to slow scalar code there, about
    10-20x slower here), with the series ``log(1 + x) = x - x^2/2 + x^3/3`` below x = 1e-3 to keep
    float32 precision. Zero where ``bandwidth`` is 0.
    """
    positive = bandwidth > 0
    safe_b = jnp.where(positive, bandwidth, 1.0)
    sigma2 = noise * jnp.where(noise_is_psd, safe_b, 1.0)
    snr = gain * power * jnp.exp(-exponent * jnp.log(distance)) / sigma2
    small = snr < 1e-3
    log2_1p = jnp.where(small, snr * (1.0 - snr * (0.5 - snr / 3.0)) / LN2, jnp.log2(1.0 + jnp.where(small, 1.0, snr)))
    return jnp.where(positive, safe_b * log2_1p, 0.0)
