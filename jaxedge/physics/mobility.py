"""Vehicle mobility in a bounded square: random-direction model with reflection (seed 002 §2.2, A11).

Positions are metres in ``[0, L]^2``; a heading is a unit vector ``(cos theta, sin theta)``. Each slot
a vehicle keeps its heading, or with probability ``p_turn`` redraws it uniformly, then moves
``v dt`` along it and is mirrored back into the square at the borders (the matching heading
component flips). The uniform position distribution is stationary under this model, so speed does
not change the marginal state distribution (seed 002 §2.9-5).
"""

import math

import jax.numpy as jnp


QUARTER_TURN = (0.0, 0.5 * math.pi)


def heading_from_angle(theta):
    """Unit heading vector (cos theta, sin theta) = cos(theta - (0, pi/2)), shape ``theta.shape + (2,)``.

    One elementwise cos over the last axis instead of a stack of cos and sin: XLA:CPU evaluates a
    stack (concatenate) fusion element by element with a branch per operand, so the trig in it was
    not vectorised (sin theta and cos(theta - pi/2) differ by float rounding of theta - pi/2 only).
    """
    return jnp.cos(jnp.asarray(theta)[..., None] - jnp.asarray(QUARTER_TURN, jnp.float32))


def reflect(coord, length):
    """Fold a coordinate into ``[0, L]`` by mirror reflection at both borders (any number of times).

    Returns ``(folded, flipped)``: ``flipped`` is True where an odd number of reflections happened,
    i.e. where the velocity component along this axis must change sign.
    """
    period = jnp.mod(coord, 2.0 * length)  # in [0, 2L)
    flipped = jnp.mod(jnp.floor(coord / length), 2.0) == 1.0
    folded = jnp.where(period > length, 2.0 * length - period, period)
    return folded, flipped


def random_direction_step(pos, heading, speed, dt, turn, new_heading, length):
    """One slot of the random-direction model with reflection (seed 002 §2.2, A11).

    ``pos (..., 2)`` m, ``heading (..., 2)`` unit vectors, ``speed (...)`` m/s, ``turn (...)`` bool
    (redraw the heading this slot), ``new_heading (..., 2)`` the redrawn heading. Returns the new
    ``(pos, heading)``; positions stay inside ``[0, L]^2``.
    """
    heading = jnp.where(turn[..., None], new_heading, heading)
    moved = pos + (speed * dt)[..., None] * heading  # l_i <- l_i + v_i dt (cos, sin)
    folded, flipped = reflect(moved, length)
    return folded, jnp.where(flipped, -heading, heading)
