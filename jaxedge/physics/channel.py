"""Wireless channel: path loss, fading, SNR and Shannon rate with FDMA bandwidth shares.

SNR is computed in the log domain, ``log g + log P - lambda log(d/d_ref) - log N``, so channel gains of
1e-14 and noise powers of 1e-13 W (or PSDs times bandwidths) never underflow or lose float32
precision in the products; the rate then takes ``log2(1 + snr)`` with a series for tiny SNRs.
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


def log2_one_plus(snr):
    """log2(1 + snr), float32-accurate for tiny snr (series x - x^2/2 + x^3/3 below 1e-3).

    Avoids ``log1p`` / ``softplus``, which lower to slow scalar code on XLA:CPU.
    """
    small = snr < 1e-3
    series = snr * (1.0 - snr * (0.5 - snr / 3.0)) / LN2
    return jnp.where(small, series, jnp.log2(1.0 + jnp.where(small, 1.0, snr)))


def shannon_rate(bandwidth, log_snr_value):
    """rate = b log2(1 + SNR) in bit/s from ln SNR, zero for zero bandwidth (seed 000 eq. 1)."""
    return shannon_rate_snr(bandwidth, jnp.exp(log_snr_value))


def shannon_rate_snr(bandwidth, snr):
    """rate = b log2(1 + SNR) in bit/s from the linear SNR, zero for zero bandwidth (seed 001 eqs. 4-5)."""
    return jnp.where(bandwidth > 0, bandwidth * log2_one_plus(snr), 0.0)


def rayleigh_power(x, y):
    """Rayleigh fading power |h|^2 = (x^2 + y^2) / 2 ~ Exp(1), h = (x + iy)/sqrt2, x, y ~ N(0,1) (seed 000 A14 option)."""
    return 0.5 * (x * x + y * y)


def gaussian_fluctuation(eps, sigma):
    """Multiplicative channel fluctuation max(0.1, 1 + sigma eps), eps ~ N(0,1) (seed 000 A14)."""
    return jnp.maximum(0.1, 1.0 + sigma * eps)


LN10 = 2.302585092994046


def db_to_ln(value_db):
    """Natural log of the linear ratio of a dB value: ln(10^(x/10)) (seed 001 §6 units)."""
    return value_db * (LN10 / 10.0)


def log_path_gain_log_distance(distance_m, const_db, slope_db):
    """ln g with g = 10^(-PL/10), PL = const + slope log10(d / 1 km) dB (seed 001 §5: 128.1 + 37.6 lg d)."""
    pl_db = const_db + slope_db * jnp.log10(distance_m / 1000.0)
    return -db_to_ln(pl_db)


def log_snr_psd_dbm(ln_gain, power_dbm, noise_psd_dbm_hz, noise_figure_db, bandwidth):
    """ln SNR = ln(G P / (N0 NF w)) with P in dBm and N0 in dBm/Hz (seed 001 eqs. 4-5, A2).

    ``bandwidth`` must be > 0; callers mask zero-bandwidth links.
    """
    return ln_gain + db_to_ln(power_dbm - noise_psd_dbm_hz - noise_figure_db) - jnp.log(bandwidth)


def snr_psd_dbm(gain, power_dbm, noise_psd_dbm_hz, noise_figure_db, bandwidth):
    """SNR = G P / (N0 NF w), linear, with P in dBm and N0 in dBm/Hz (seed 001 eqs. 4-5, A2).

    Float32-safe where G P / (N0 NF) / w stays within ~1e-30..1e30 (seed 001: G >= ~1e-9 for a
    fading draw above 2^-24, P / (N0 NF w) <= ~1e22). ``bandwidth`` must be > 0.
    """
    return gain * jnp.exp(db_to_ln(power_dbm - noise_psd_dbm_hz - noise_figure_db)) / bandwidth


def exponential_power(u):
    """Rayleigh fading power |h|^2 ~ Exp(1) from u ~ U[0, 1): -ln(1 - u) (seed 001 eq. 3, A4).

    ``log(1 - u)``, not ``log1p(-u)``, which lowers to slow code on XLA:CPU: ``1 - u`` is exact for
    jax's uniforms (multiples of 2^-23) and the draw is within 1.3e-5 relative of ``-log1p(-u)`` (the
    worst case, at the smallest u; measured over u = k 2^-23), immaterial for a random fading draw.
    """
    return -jnp.log(1.0 - u)


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
    return jnp.where(positive, safe_b * log2_one_plus(snr), 0.0)
