"""Drive a `Trainer` over many runs (seeds x sweep values) chunk by chunk: one compiled call per chunk,
a progress bar, ``metrics.csv``, a checkpoint after every chunk and a bit-exact ``--resume``.

    result = train_runs(trainer, runs, out, meta={...}, resume=True)
    result.runner_state          # every run's final state, leading run axis
    result.finished              # False when ``max_chunks`` stopped it early

Used by scripts/train.py and the reproduction framework (benchmarks/reproduce), so both resume the
same way. ``runs`` come from `algos.common.cli.runs_grid`.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from algos.common import checkpoint, runlog
from algos.common.training import Trainer, map_runs
from jaxedge import sharding

CPU_RUN_GROUP = 8  # runs vmapped together on a CPU (benchmarks/results/train_throughput*.md)
LEVEL0 = {"xla_backend_optimization_level": 0}  # init runs once: level 0 halves its compile


class TrainingDiverged(RuntimeError):
    """A run's training metrics, losses or train state became non-finite."""


def grouping(n_runs: int, group, devices: int | None) -> dict:
    """How the runs share the compiled call: part of a run's identity, since a seed's bits depend on
    it (a vmapped batch, ``lax.map`` blocks and one-run-at-a-time compile to different float
    reductions); recorded in the checkpoint and summary.json, and checked on ``--resume``."""
    if devices is not None:
        layout = f"vmapped, sharded over {devices} devices"
    elif n_runs == 1 or group == 1:
        layout = "one run at a time (no vmap)"
    elif group is None or group >= n_runs:
        layout = f"all {n_runs} vmapped"
    else:
        layout = f"lax.map over blocks of {group} vmapped runs"
    return {"runs_in_call": n_runs, "run_group": "all" if group is None else group, "devices": devices,
            "layout": layout}


def _nan_leaves(rs):
    """``bool[leaves, runs]``: where a float leaf of the runner state holds a NaN (NaN only: some states
    start at +-inf legitimately, e.g. the twin's empty [min, max] range, `algos.common.twin.init_stats`)."""
    leaves = jax.tree_util.tree_leaves(rs)
    flags = [jnp.any(jnp.isnan(x).reshape(x.shape[0], -1), axis=1) for x in leaves
             if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.stack(flags)


def check_finite(chunk: int, runs: list[dict], metrics: dict, bad_leaves, rs_paths, out: Path) -> None:
    """Raise `TrainingDiverged` (one line) naming the first non-finite metric or NaN state leaf of a chunk."""
    what, bad = None, []
    for name, value in metrics.items():
        bad = [r["run"] for r in runs if not np.isfinite(np.asarray(value)[r["run"]])]
        if bad:
            what = f"non-finite {name}"
            break
    if not bad:
        for path, flags in zip(rs_paths, np.asarray(bad_leaves)):
            bad = [r["run"] for r in runs if flags[r["run"]]]
            if bad:
                what = f"NaN in the train state ({path})"
                break
    if bad:
        kept = f"keeps the {chunk} chunk(s) before it" if chunk else "was not written"
        raise TrainingDiverged(f"training stopped: run(s) {bad} gave {what} in chunk {chunk}; the checkpoint "
                               f"in {out} {kept}")


@dataclasses.dataclass
class RunResult:
    runner_state: object  # leading run axis
    rows: list  # metrics.csv rows of every chunk so far
    finished: bool
    init_s: float  # init compile + run (0 on resume)
    first_chunk_s: float  # first chunk of this call, compile included
    wall_s: float  # this run's wall time, earlier calls of a resumed run included
    grouping: dict = dataclasses.field(default_factory=dict)  # `grouping`: how the runs shared the call


def default_run_group(cfg) -> int | None:
    """Runs vmapped together: all at once on an accelerator; on a CPU blocks of `CPU_RUN_GROUP`, or
    one after the other for maddpg's ``discrete_actor_loss="expected"``, which jaxlib 0.10.2's CPU
    backend crashes on under a run vmap (see `algos.common.training.map_runs`), and for a Config
    with ``sequential_runs=True`` (seed 001's D3QN learners: their vmapped lazy-Adam scatters ran
    ~10x slower per run than single runs on a 2-core CPU)."""
    if jax.default_backend() != "cpu":
        return None
    if getattr(cfg, "discrete_actor_loss", None) == "expected" or getattr(cfg, "sequential_runs", False):
        return 1
    return CPU_RUN_GROUP


def run_keys_hp(runs: list[dict], sweep_keys) -> tuple:
    keys = jnp.stack([jax.random.PRNGKey(r["seed"]) for r in runs])
    hp = {k: jnp.asarray([r[k] for r in runs], jnp.float32) for k in sweep_keys}
    return keys, hp


def load_policy(run_dir: Path, run: int = 0, env_name: str | None = None):
    """``(env, params, act)`` of run ``run`` in a ``scripts/train.py`` output dir; ``act(obs)`` is its
    deterministic policy. ``env_name``: refuse (SystemExit) a run trained on another env."""
    import algos  # the registry imports every learner, and they import this module
    from algos.common import cli

    run_dir = Path(run_dir)
    meta = checkpoint.read(run_dir)[0]
    if env_name is not None and meta.get("env") != env_name:
        raise SystemExit(f"{run_dir} holds a run on {meta.get('env')!r}; this needs a run on {env_name}")
    module = algos.ALGOS[meta["algo"]]
    cfg = checkpoint.config_from_meta(meta["config"], module.Config)
    env, params = cli.make_env(meta["env"], meta.get("sizes") or (), meta.get("preset"))
    trainer = algos.make_trainer(meta["algo"], cfg, env, params)
    sweep = [k for k in meta["runs"][0] if k in module.TRACED]
    template = jax.eval_shape(jax.vmap(trainer.init), *run_keys_hp(meta["runs"], sweep))
    one = jax.tree_util.tree_map(lambda x: x[run], checkpoint.load(run_dir, template)[0])
    return env, params, lambda obs: trainer.act(one, obs)


def train_runs(trainer: Trainer, runs: list[dict], out: Path, *, meta: dict, sweep_keys=(), resume: bool = False,
               run_group: int | None | str = "auto", max_chunks: int | None = None, quiet: bool = False,
               label: str = "train", devices: int | None = None) -> RunResult:
    """Train every run in ``runs`` in one compiled call per chunk, checkpointing into ``out``.

    ``meta`` identifies the run (algo, env, sizes, config, runs, ...): it is saved with every
    checkpoint and must match on ``resume``. Raises `TrainingDiverged` when a run's chunk metrics
    are non-finite (the last good checkpoint is kept). ``devices``: shard the run axis over that many
    devices (`jaxedge.sharding`; every run vmapped at once, the runs a multiple of the devices).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = trainer.sizes
    n = len(runs)
    keys, hp = run_keys_hp(runs, sweep_keys)
    group = default_run_group(trainer.config) if run_group == "auto" else run_group
    mesh = None
    if devices is not None:
        mesh = sharding.make_mesh(devices)
        if n % devices:
            raise ValueError(f"{n} run(s) cannot be split over {devices} devices; use a multiple of {devices} runs")
        keys, hp, group = sharding.shard(keys, mesh), sharding.shard(hp, mesh), None
    init = jax.jit(jax.vmap(trainer.init), compiler_options=LEVEL0)
    chunk_fn = jax.jit(map_runs(trainer.train_chunk, group, shared_args=1), donate_argnums=0)

    meta = {**meta, "grouping": grouping(n, group, devices)}
    find_nan = jax.jit(_nan_leaves)
    t_start = time.perf_counter()
    rows, start_chunk, prior_wall, init_s = [], 0, 0.0, 0.0
    if resume:  # a missing, torn, corrupt or foreign checkpoint is a one-line CheckpointError
        rs, saved = checkpoint.load(out, jax.eval_shape(init, keys, hp), expect=meta)
        rs = rs if mesh is None else sharding.shard(rs, mesh)
        start_chunk, prior_wall = saved["chunk"], saved["wall_s"]
        rows = saved["rows"]
        runlog.write_csv(out / "metrics.csv", rows)  # from the checkpointed history: no lost / doubled rows
        print(f"resuming {out} from chunk {start_chunk}/{sizes.num_chunks}", file=sys.stderr)
    else:
        rs = jax.block_until_ready(init(keys, hp))
        init_s = time.perf_counter() - t_start
    paths = [jax.tree_util.keystr(p) for p, x in jax.tree_util.tree_flatten_with_path(rs)[0]
             if jnp.issubdtype(x.dtype, jnp.inexact)]
    replay_mib = trainer.replay.bytes(n) / 2**20 if trainer.replay else 0.0
    print(f"{label}: {n} run(s) in one call, {sizes.num_chunks} chunks x {sizes.env_steps_per_chunk} env steps "
          f"per run (first {sizes.warmup_env_steps} random warm-up), replay {replay_mib:.0f} MiB", file=sys.stderr)

    from tqdm import tqdm

    bar = tqdm(total=sizes.total_env_steps * n, initial=start_chunk * sizes.env_steps_per_chunk * n,
               unit="env-step", unit_scale=True, disable=quiet, dynamic_ncols=True, file=sys.stderr)
    first_chunk_s, done = 0.0, start_chunk
    stop = sizes.num_chunks if max_chunks is None else min(sizes.num_chunks, start_chunk + max_chunks)
    for chunk in range(start_chunk, stop):
        t0 = time.perf_counter()
        rs, metrics = chunk_fn(rs, jnp.int32(chunk * sizes.iters_per_chunk))
        metrics = jax.device_get(metrics)
        dt = time.perf_counter() - t0
        first_chunk_s = first_chunk_s or dt
        if not all(np.all(np.isfinite(np.asarray(v))) for v in metrics.values()) or np.any(find_nan(rs)):
            bar.close()
            check_finite(chunk, runs, metrics, jax.device_get(find_nan(rs)), paths, out)
        env_steps = (chunk + 1) * sizes.env_steps_per_chunk
        rows += runlog.chunk_rows(chunk, env_steps, runs, sweep_keys, metrics)
        wall = prior_wall + time.perf_counter() - t_start
        checkpoint.save(out, rs, {**meta, "chunk": chunk + 1, "env_steps": env_steps, "wall_s": wall}, rows=rows)
        runlog.write_csv(out / "metrics.csv", rows)
        bar.update(sizes.env_steps_per_chunk * n)
        shown = {k: f"{float(np.mean(metrics[k])):.3f}" for k in ("reward", "cost") if k in metrics}
        bar.set_postfix({"env-steps/s": f"{sizes.env_steps_per_chunk * n / dt:,.0f}", **shown})
        done = chunk + 1
    bar.close()
    finished = done >= sizes.num_chunks
    if not finished:
        print(f"stopped after chunk {done}/{sizes.num_chunks}; continue with --resume", file=sys.stderr)
    return RunResult(runner_state=rs, rows=rows, finished=finished, init_s=init_s, first_chunk_s=first_chunk_s,
                     wall_s=prior_wall + time.perf_counter() - t_start, grouping=meta["grouping"])
