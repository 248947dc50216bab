"""Helpers shared by the NumPy references' benchmark runners."""

import numpy as np


def reset_finished(state: dict, done: np.ndarray, fresh) -> dict:
    """Replace the envs whose episode ended (``done[B]``) by a fresh batch's entries.

    ``fresh()`` builds a whole new batched state; it is only called when some env is done (all envs
    of a runner share the clock, so they usually end together).
    """
    if not done.any():
        return state
    reset = fresh()
    return {k: np.where(done.reshape(done.shape + (1,) * (np.ndim(v) - 1)), reset[k], v)
            for k, v in state.items()}
