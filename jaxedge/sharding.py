"""Shard the env axis or the seed / run axis over devices with `jax.sharding`.

A batch of envs (``VecEnv``), of keys, or of training runs (``jax.vmap(trainer.train_chunk)``) has a
leading axis whose rows never interact, so splitting it over devices needs no change to the computed
function: put the inputs on a ``NamedSharding`` over a 1-D mesh and ``jax.jit`` propagates the
sharding through ``vmap`` / ``scan`` (reductions over the axis become collectives). Results equal the
single-device run up to the order of those reductions (tests/test_sharding.py checks it on 8 forced
CPU devices).

    import jax
    from jaxedge import sharding

    mesh = sharding.make_mesh(jax.device_count())               # 1-D mesh, axis "batch"
    keys = sharding.shard(jax.random.split(key, 4096), mesh)    # one row per env, split over devices
    obs, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)   # sharded like keys

Sharding the run axis of a vmapped trainer (the `algos` Trainer contract; `scripts/train.py` is not
changed by this module):

    trainer = algos.ALGOS["maddpg"].make_train(cfg, env, params)
    keys = sharding.shard(jax.random.split(key, n_runs), mesh)          # n_runs % n_devices == 0
    rs = jax.jit(jax.vmap(trainer.init, in_axes=(0, None)))(keys, hp)   # (or trainer.init's own args)
    chunk = jax.jit(jax.vmap(trainer.train_chunk, in_axes=(0, None)))
    for start in range(0, n_iters, chunk_iters):
        rs, metrics = chunk(rs, start)                                  # each device runs its runs

Several hosts: call `initialize_distributed()` first on every host (it wraps
``jax.distributed.initialize``; arguments default to the cluster's environment variables), then
build the mesh over ``jax.devices()`` (all hosts' devices) and feed each host's rows with
``jax.make_array_from_process_local_data``.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

AXIS = "batch"


def make_mesh(n_devices: int | None = None, axis_name: str = AXIS) -> Mesh:
    """A 1-D mesh over the first ``n_devices`` devices (default: all)."""
    available = jax.device_count()
    n = available if n_devices is None else int(n_devices)
    if not 1 <= n <= available:
        raise ValueError(
            f"n_devices must be in 1..{available} (the devices JAX sees), got {n_devices}; on CPU set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count=N before importing jax"
        )
    # Auto axes: jit propagates the input sharding through unchanged (single-device) code.
    return jax.make_mesh((n,), (axis_name,), axis_types=(AxisType.Auto,), devices=jax.devices()[:n])


def batch_sharding(mesh: Mesh, axis: int = 0, axis_name: str = AXIS) -> NamedSharding:
    """Split array axis ``axis`` over the mesh axis; the other axes are replicated."""
    return NamedSharding(mesh, PartitionSpec(*([None] * axis), axis_name))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def shard(tree, mesh: Mesh, axis: int = 0, axis_name: str = AXIS):
    """``device_put`` every leaf of ``tree`` split along ``axis`` over the mesh (a clear error when the
    axis length is not a multiple of the device count)."""
    n = mesh.shape[axis_name]

    def put(x):
        x = jax.numpy.asarray(x)
        if x.ndim <= axis or x.shape[axis] % n:
            raise ValueError(
                f"cannot shard an array of shape {x.shape} along axis {axis} over {n} devices: "
                f"that axis must exist and be a multiple of {n}"
            )
        return jax.device_put(x, batch_sharding(mesh, axis, axis_name))

    return jax.tree.map(put, tree)


def replicate(tree, mesh: Mesh):
    """``device_put`` every leaf whole on every device of the mesh (e.g. shared params)."""
    return jax.tree.map(lambda x: jax.device_put(x, replicated(mesh)), tree)


def devices_of(x) -> int:
    """How many devices hold a piece of array ``x``."""
    return len(x.sharding.device_set)


def shard_map_batch(fn, mesh: Mesh, axis_name: str = AXIS):
    """``jit(fn)`` whose every input and output is split along axis 0 (rows never interact)."""
    spec = batch_sharding(mesh, 0, axis_name)
    return jax.jit(fn, in_shardings=spec, out_shardings=spec)


def initialize_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None, **kwargs) -> None:
    """Multi-host start-up: ``jax.distributed.initialize`` (call once per host, before any other JAX
    call). With no arguments JAX reads them from the cluster (SLURM, Open MPI, Kubernetes...)."""
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, **kwargs)


def local_rows(n_rows: int) -> np.ndarray:
    """Indices of the rows of a ``n_rows`` batch that this host feeds (``process_index`` slice)."""
    per = n_rows // jax.process_count()
    start = jax.process_index() * per
    return np.arange(start, start + per)
