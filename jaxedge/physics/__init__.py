"""Pure physics kernels in SI units; each function cites the seed equation it implements."""

from jaxedge.physics import channel, compute, tasks, twin

__all__ = ["channel", "compute", "tasks", "twin"]
