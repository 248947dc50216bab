#!/usr/bin/env python
"""Train a learner: every seed and sweep value in ONE vmapped compiled call, chunk by chunk.

    python scripts/train.py --algo maddpg_cgan                         # the main job (seed 000)
    python scripts/train.py --algo maddpg                              # plain MADDPG
    python scripts/train.py --algo maddpg --seeds 8 --sweep lr_actor=1e-4,3e-4 --out runs/sweep
    python scripts/train.py --algo dqn_vdn --size n_users=2 --size n_servers=2 --total-steps 4000
    python scripts/train.py --algo maddpg --out runs/x --resume          # continue from the checkpoint

Writes to --out: metrics.csv (per chunk and run), curves.png (mean ± 95% CI over seeds),
checkpoint.msgpack + checkpoint.json (whole train state after every chunk), summary.json (final
metrics of the deterministic policy and of the random / greedy baselines on the same eval keys).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import serialization  # noqa: E402

import jaxedge  # noqa: E402
from algos import ALGOS, heuristics  # noqa: E402
from algos.common import replay  # noqa: E402
from algos.common.evaluation import rollout_stats, rollout_stats_runs, summarise  # noqa: E402
from algos.common.training import map_runs  # noqa: E402

BASELINES = ("random", "greedy")
CPU_RUN_GROUP = 8  # runs vmapped together on a CPU (benchmarks/results/train_throughput*.md)


class UsageError(Exception):
    """A bad command line: reported as one line."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise UsageError(message)


def build_parser():
    ap = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algo", required=True, help=f"one of {sorted(ALGOS)}")
    ap.add_argument("--env", default="dt_inference", help=f"one of {jaxedge.list_envs()}")
    ap.add_argument("--seeds", default="1", help="number of seeds N (runs seeds 0..N-1) or a comma list")
    ap.add_argument("--total-steps", type=int, default=None, help="env steps per run (all parallel envs)")
    ap.add_argument("--num-envs", type=int, default=None, help="parallel envs per run")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Config field (repeatable)")
    ap.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                    help="traced hyperparameter values, grid over every --sweep (repeatable)")
    ap.add_argument("--size", action="append", default=[], metavar="NAME=INT", help="static env size (repeatable)")
    ap.add_argument("--preset", default=None, help="Params preset classmethod, e.g. calibrated, paper")
    ap.add_argument("--out", type=Path, default=None, help="output dir (default runs/ALGO-ENV)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.msgpack")
    ap.add_argument("--eval-envs", type=int, default=128)
    ap.add_argument("--eval-steps", type=int, default=None, help="default: one episode")
    ap.add_argument("--eval-seed", type=int, default=12345)
    ap.add_argument("--run-group", default="auto",
                    help="runs vmapped together inside the one call: an int (1: one after the other, no vmap), "
                         "'all', or 'auto' (8 on CPU, 1 for maddpg's discrete_actor_loss=expected; all on "
                         "accelerators; see algos.common.training.map_runs)")
    ap.add_argument("--max-chunks", type=int, default=None, help="stop after this many chunks (this call)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


# ---- flag parsing ---------------------------------------------------------------------------------
def _parse_value(key, text, default):
    kind = type(default)
    try:
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes"):
                return True
            if text.lower() in ("0", "false", "no"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(float(text)) if float(text).is_integer() else int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (tuple, list)):
            return tuple(int(v) if v.lstrip("-").isdigit() else float(v) for v in text.split(",") if v)
        return kind(text)
    except ValueError:
        name = "number list (e.g. 64,64)" if isinstance(default, (tuple, list)) else kind.__name__
        raise UsageError(f"config key {key} expects {name}, got {text!r}") from None


def parse_config(module, args):
    fields = {f.name: f.default for f in dataclasses.fields(module.Config)}
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in fields:
            raise UsageError(f"unknown config key {key!r} for {args.algo}; valid keys: {', '.join(sorted(fields))}")
        overrides[key] = _parse_value(key, value, fields[key])
    if args.total_steps is not None:
        overrides["total_env_steps"] = args.total_steps
    if args.num_envs is not None:
        overrides["num_envs"] = args.num_envs
    for key in ("total_env_steps", "num_envs"):
        if key in overrides and overrides[key] < 1:
            raise UsageError(f"{key} must be >= 1, got {overrides[key]}")
    sweep = {}
    for item in args.sweep:
        key, sep, values = item.partition("=")
        if not sep:
            raise UsageError(f"--sweep expects KEY=V1,V2,..., got {item!r}")
        if key not in module.TRACED:
            raise UsageError(f"cannot sweep {key!r} for {args.algo} without recompiling; sweepable keys: "
                             f"{', '.join(module.TRACED)}")
        try:
            sweep[key] = [float(v) for v in values.split(",") if v]
        except ValueError:
            raise UsageError(f"--sweep {key} expects floats, got {values!r}") from None
    return module.Config(**overrides), sweep


def parse_seeds(text):
    try:
        if "," in text:
            return [int(s) for s in text.split(",") if s]
        count = int(text)
    except ValueError:
        raise UsageError(f"--seeds expects a count or a comma list of ints, got {text!r}") from None
    if count < 1:
        raise UsageError(f"--seeds must be >= 1, got {count}")
    return list(range(count))


def run_group(text: str, cfg=None) -> int | None:
    """``--run-group``: None = vmap every run at once; G = blocks of G vmapped runs (`map_runs`).
    ``auto`` on a CPU: blocks of `CPU_RUN_GROUP`, or one run after the other for a loss that
    jaxlib 0.10.2's CPU backend crashes on under a run vmap (maddpg's ``expected``)."""
    if text == "auto":
        if jax.default_backend() != "cpu":
            return None
        return 1 if getattr(cfg, "discrete_actor_loss", None) == "expected" else CPU_RUN_GROUP
    if text == "all":
        return None
    try:
        group = int(text)
    except ValueError:
        group = 0
    if group < 1:
        raise UsageError(f"--run-group expects a positive int, 'all' or 'auto', got {text!r}")
    return group


def make_env(args):
    if args.env not in jaxedge.list_envs():
        raise UsageError(f"unknown env {args.env!r}; choose one of {jaxedge.list_envs()}")
    sizes = {}
    for item in args.size:
        name, sep, value = item.partition("=")
        try:
            sizes[name] = int(value)
        except ValueError:
            raise UsageError(f"--size expects NAME=INT, got {item!r}") from None
    try:
        env = jaxedge.make(args.env, **sizes)
    except ValueError as err:
        raise UsageError(str(err)) from None
    params = env.default_params
    if args.preset:
        factory = getattr(type(params), args.preset, None)
        if not callable(factory):
            presets = [n for n in ("calibrated", "paper") if hasattr(type(params), n)]
            raise UsageError(f"unknown preset {args.preset!r} for {args.env}; choose one of {presets}")
        params = factory()
    return env, params


# ---- output helpers -------------------------------------------------------------------------------
def _atomic_write(path: Path, data: bytes):
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_checkpoint(out: Path, rs, meta: dict):
    _atomic_write(out / "checkpoint.msgpack", serialization.to_bytes(jax.device_get(rs)))
    _atomic_write(out / "checkpoint.json", json.dumps(meta, indent=1).encode())


def load_checkpoint(out: Path, template):
    meta = json.loads((out / "checkpoint.json").read_text())
    rs = serialization.from_bytes(template, (out / "checkpoint.msgpack").read_bytes())
    return jax.tree_util.tree_map(jnp.asarray, rs), meta


def write_csv(path: Path, rows: list[dict]):
    if not rows:
        return
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_curves(path: Path, rows: list[dict], runs: list[dict], baselines: dict, metrics=("reward", "cost")):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if m in rows[0]]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    groups = {}
    for r in runs:
        groups.setdefault(r["label"], []).append(r["run"])
    for ax, metric in zip(axes[0], metrics):
        for label, members in groups.items():
            by_step = {}
            for row in rows:
                if row["run"] in members:
                    by_step.setdefault(row["env_steps"], []).append(float(row[metric]))
            steps = np.array(sorted(by_step))
            vals = [np.array(by_step[s]) for s in steps]
            mean = np.array([v.mean() for v in vals])
            half = np.array([1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0 for v in vals])
            ax.plot(steps, mean, label=label or "train")
            ax.fill_between(steps, mean - half, mean + half, alpha=0.25)
        for (name, stats), style in zip(baselines.items(), ("--", ":", "-.")):
            if metric in stats:
                ax.axhline(stats[metric]["mean"], ls=style, color="k", lw=1, label=f"{name} (eval)")
        ax.set_xlabel("env steps per run")
        ax.set_ylabel(f"{metric} (training, exploring)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"mean ± 95% CI over seeds ({len(runs)} runs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- main -----------------------------------------------------------------------------------------
def run(args) -> dict:
    if args.algo not in ALGOS:
        raise UsageError(f"unknown algo {args.algo!r}; choose one of {sorted(ALGOS)}")
    module = ALGOS[args.algo]
    env, params = make_env(args)
    cfg, sweep = parse_config(module, args)
    seeds = parse_seeds(args.seeds)
    out = args.out or Path("runs") / f"{args.algo}-{args.env}"
    out.mkdir(parents=True, exist_ok=True)

    # Runs = seeds x sweep grid; every one a row of the vmapped call.
    grid = [dict(zip(sweep, combo)) for combo in itertools.product(*sweep.values())] or [{}]
    runs = []
    for values in grid:
        for seed in seeds:
            label = ", ".join(f"{k}={v:g}" for k, v in values.items())
            runs.append({"run": len(runs), "seed": seed, "label": label, **values})
    n_runs = len(runs)

    try:
        train = module.make_train(cfg, env, params)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if getattr(train, "example_transition", None) is not None:
        try:
            mem = replay.check_memory(train.replay_capacity, train.example_transition, n_runs)
        except replay.ReplayMemoryError as err:
            raise UsageError(str(err)) from None
    else:
        mem = 0
    keys = jnp.stack([jax.random.PRNGKey(r["seed"]) for r in runs])
    hp = {k: jnp.asarray([r[k] for r in runs], jnp.float32) for k in sweep}

    # init runs once: level 0 halves its compile (maddpg_cgan's GAN init: 24 s -> 13 s on 2 cores)
    init = jax.jit(jax.vmap(train.init), compiler_options={"xla_backend_optimization_level": 0})
    chunk_fn = jax.jit(map_runs(train.train_chunk, run_group(args.run_group, cfg), shared_args=1), donate_argnums=0)
    meta_base = {"algo": args.algo, "env": args.env, "sizes": args.size, "preset": args.preset,
                 "config": json.loads(json.dumps(dataclasses.asdict(cfg))), "runs": runs}

    t_start = time.perf_counter()
    rows, start_chunk, prior_wall = [], 0, 0.0
    if args.resume and (out / "checkpoint.json").exists():
        template = jax.eval_shape(init, keys, hp)
        rs, meta = load_checkpoint(out, template)
        for key in ("algo", "env", "sizes", "preset", "config", "runs"):
            if meta.get(key) != meta_base[key]:
                raise UsageError(f"--resume: checkpoint in {out} was made with a different {key}; "
                                 f"use the same flags or another --out")
        start_chunk, prior_wall = meta["chunk"], meta["wall_s"]
        if (out / "metrics.csv").exists():
            with (out / "metrics.csv").open() as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["chunk"]) < start_chunk]
            for r in rows:
                r["run"] = int(r["run"])
                r["env_steps"] = int(r["env_steps"])
        compile_s = 0.0
        print(f"resuming {out} from chunk {start_chunk}/{train.num_chunks}", file=sys.stderr)
    else:
        t0 = time.perf_counter()
        rs = init(keys, hp)
        jax.block_until_ready(rs)
        compile_s = time.perf_counter() - t0  # compile + warm-up collection
    print(f"{args.algo} on {args.env}: {n_runs} run(s) in one call, {train.num_chunks} chunks x "
          f"{train.env_steps_per_chunk} env steps per run (first {train.warmup_env_steps} random warm-up), "
          f"replay {mem / 2**20:.0f} MiB", file=sys.stderr)

    from tqdm import tqdm

    total = train.total_env_steps
    bar = tqdm(total=total * n_runs, initial=start_chunk * train.env_steps_per_chunk * n_runs,
               unit="env-step", unit_scale=True, disable=args.quiet, dynamic_ncols=True, file=sys.stderr)
    chunks_done, first_chunk_s = 0, 0.0
    for c in range(start_chunk, train.num_chunks):
        if args.max_chunks is not None and chunks_done >= args.max_chunks:
            break
        t0 = time.perf_counter()
        rs, metrics = chunk_fn(rs, jnp.int32(c * train.chunk_size))
        metrics = jax.device_get(metrics)
        dt = time.perf_counter() - t0
        if c == start_chunk:
            first_chunk_s = dt  # includes the chunk's compile
        env_steps = (c + 1) * train.env_steps_per_chunk
        for r in runs:
            row = {"chunk": c, "env_steps": env_steps, "run": r["run"], "seed": r["seed"],
                   **{k: r[k] for k in sweep}}
            row.update({k: float(np.asarray(v)[r["run"]]) for k, v in metrics.items()})
            rows.append(row)
        wall = prior_wall + time.perf_counter() - t_start
        save_checkpoint(out, rs, {**meta_base, "chunk": c + 1, "env_steps": env_steps, "wall_s": wall})
        write_csv(out / "metrics.csv", rows)
        bar.update(train.env_steps_per_chunk * n_runs)
        shown = {k: float(np.mean(metrics[k])) for k in ("reward", "cost") if k in metrics}
        bar.set_postfix({"env-steps/s": f"{train.env_steps_per_chunk * n_runs / dt:,.0f}",
                         **{k: f"{v:.3f}" for k, v in shown.items()}})
        chunks_done += 1
    bar.close()
    finished = all(int(r["chunk"]) < train.num_chunks for r in rows) and rows and \
        max(int(r["chunk"]) for r in rows) == train.num_chunks - 1
    if not finished:
        print(f"stopped after chunk {max(int(r['chunk']) for r in rows) + 1 if rows else 0}; "
              f"continue with --resume", file=sys.stderr)
        return {"finished": False, "train_state": rs}

    # ---- evaluation: deterministic policy vs baselines on the same eval keys --------------------
    eval_steps = args.eval_steps or int(getattr(params, "episode_len", 100))
    eval_key = jax.random.PRNGKey(args.eval_seed)
    t0 = time.perf_counter()
    stats = jax.device_get(rollout_stats_runs(env, params, train.act, rs, eval_key, args.eval_envs, eval_steps))
    per_run = [summarise({k: v[i] for k, v in stats.items()}) for i in range(n_runs)]
    run_means = {k: np.asarray(v).mean(-1) for k, v in stats.items()}  # [runs]
    final = summarise(run_means)  # mean and 95% CI over runs
    baselines = {}
    available = heuristics.HEURISTICS.get(env.name, {})
    for name in BASELINES:
        if name in available:
            policy = heuristics.make_heuristic(env, name)
            baselines[name] = summarise(jax.device_get(
                rollout_stats(env, params, policy, eval_key, args.eval_envs, eval_steps)))
    eval_s = time.perf_counter() - t0
    wall = prior_wall + time.perf_counter() - t_start
    groups = {}
    for r in runs:
        groups.setdefault(r["label"], []).append(r["run"])
    summary = {
        "algo": args.algo, "env": args.env, "sizes": args.size, "preset": args.preset or "default",
        "env_steps": train.total_env_steps, "env_steps_all_runs": train.total_env_steps * n_runs,
        "num_runs": n_runs, "seeds": seeds, "sweep": sweep,
        "wall_s": round(wall, 2), "init_s": round(compile_s, 2),
        "first_chunk_s_incl_compile": round(first_chunk_s, 2), "eval_s": round(eval_s, 2),
        "eval": {"num_envs": args.eval_envs, "steps": eval_steps, "seed": args.eval_seed,
                 "policy": "deterministic (argmax / noiseless)"},
        "final": final,
        "final_by_sweep": {label: summarise({k: v[idx] for k, v in run_means.items()})
                           for label, idx in groups.items()} if sweep else None,
        "final_per_run": per_run,
        "baselines": baselines,
        "config": dataclasses.asdict(cfg),
        "device": str(jax.devices()[0]),
    }
    if "greedy" in baselines and "cost" in final:
        summary["beats_greedy_on_cost"] = final["cost"]["mean"] < baselines["greedy"]["cost"]["mean"]
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if not args.no_plot:
        plot_curves(out / "curves.png", rows, runs, baselines)
    lines = [f"wrote {out}/summary.json ({wall:.0f}s wall)"]
    for name, st in [("trained", final)] + list(baselines.items()):
        lines.append(f"  {name:8s} " + "  ".join(f"{k}={st[k]['mean']:.4g}±{st[k]['ci95']:.2g}"
                                                   for k in ("reward", "cost", "delay", "energy") if k in st))
    print("\n".join(lines), file=sys.stderr)
    return {"finished": True, "summary": summary, "train_state": rs}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        run(args)
    except UsageError as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
