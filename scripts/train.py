#!/usr/bin/env python
"""Train a learner: every seed and sweep value in ONE vmapped compiled call, chunk by chunk.

    python scripts/train.py --algo maddpg_cgan                         # the main job (seed 000)
    python scripts/train.py --algo ippo --env collab_edge              # any learner on any env it supports
    python scripts/train.py --algo maddpg --seeds 8 --sweep lr_actor=1e-4,3e-4 --out runs/sweep
    python scripts/train.py --algo dqn_vdn --size n_users=2 --size n_servers=2 --total-steps 4000
    python scripts/train.py --algo maddpg --out runs/x --resume          # continue from the checkpoint

Writes to --out: metrics.csv (per chunk and run), curves.png (mean and Student-t 95 % CI over
seeds), checkpoint.msgpack (whole train state + metadata + checksum after every chunk, one atomic
file; checkpoint.json is a readable copy of its metadata), summary.json
(the deterministic policy's env metrics and those of the random / greedy / equal baselines on the same
evaluation keys, each mean with a Student-t 95 % CI; one run has ``ci95: null``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import algos  # noqa: E402
from algos import heuristics  # noqa: E402
from algos.common import cli, stats  # noqa: E402
from algos.common.checkpoint import CheckpointError  # noqa: E402
from algos.common.evaluation import evaluate, evaluate_runs  # noqa: E402
from algos.common.runlog import plot_curves  # noqa: E402
from algos.common.runner import TrainingDiverged, train_runs  # noqa: E402

BASELINES = ("random", "greedy", "greedy_decollide", "equal")  # each where the env has it (equal: slicing; greedy_decollide: cloud_edge)


def build_parser() -> cli.Parser:
    ap = cli.Parser(prog="train.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algo", required=True, help=f"one of {sorted(algos.ALGOS)}")
    cli.add_env_args(ap)
    cli.add_config_args(ap)
    ap.add_argument("--out", type=Path, default=None, help="output dir (default runs/ALGO-ENV)")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="a trained run dir to start from (dtac / tl_transformer: the TAC run; sets Config.init_from)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.msgpack (an error if there is none)")
    ap.add_argument("--eval-envs", type=int, default=128, help="parallel envs of the final evaluation (>= 1)")
    ap.add_argument("--eval-steps", type=int, default=None, help="steps per evaluation env (default: one episode)")
    ap.add_argument("--eval-seed", type=int, default=12345)
    ap.add_argument("--run-group", default="auto",
                    help="runs vmapped together inside the one call: an int (1: one after the other, no vmap), "
                         "'all', or 'auto' (8 on CPU, 1 for maddpg's discrete_actor_loss=expected; all on "
                         "accelerators; see algos.common.training.map_runs)")
    ap.add_argument("--devices", type=int, default=None,
                    help="shard the runs (seeds x sweep values) over this many devices (jaxedge.sharding); "
                         "default: one device")
    ap.add_argument("--max-chunks", type=int, default=None, help="stop after this many chunks (this call)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def run_group(text: str):
    """``--run-group``: ``"auto"``, None (= every run vmapped at once) or a positive block size."""
    if text in ("auto", "all"):
        return None if text == "all" else "auto"
    try:
        group = int(text)
    except ValueError:
        group = 0
    if group < 1:
        raise cli.UsageError(f"--run-group expects a positive int, 'all' or 'auto', got {text!r}")
    return group


def run(args) -> dict:
    if args.algo not in algos.ALGOS:
        raise cli.UsageError(f"unknown algo {args.algo!r}; choose one of {sorted(algos.ALGOS)}")
    for flag in ("eval_envs", "eval_steps", "max_chunks", "devices"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise cli.UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    module = algos.ALGOS[args.algo]
    env, params = cli.make_env(args.env, args.size, args.preset)
    cfg = cli.parse_config(module.Config, args.set, args.total_steps, args.num_envs)
    if args.init_from is not None:
        if "init_from" not in {f.name for f in dataclasses.fields(cfg)}:
            raise cli.UsageError(f"--init-from: {args.algo} does not start from another run")
        cfg = dataclasses.replace(cfg, init_from=str(args.init_from))
    sweep = cli.parse_sweep(args.sweep, module.TRACED)
    runs = cli.runs_grid(cli.parse_seeds(args.seeds), sweep)
    group = run_group(args.run_group)
    out = args.out or Path("runs") / f"{args.algo}-{args.env}"
    cli.check_output_dir(out)
    try:
        trainer = algos.make_trainer(args.algo, cfg, env, params)
        if trainer.replay is not None:
            trainer.replay.check(len(runs))
    except ValueError as err:
        raise cli.UsageError(str(err)) from None

    if (out / "summary.json").exists():  # a stale summary must not outlive a run that fails
        (out / "summary.json").unlink()
    meta = {"algo": args.algo, "env": args.env, "sizes": args.size, "preset": args.preset,
            "config": json.loads(json.dumps(dataclasses.asdict(cfg))), "runs": runs}
    try:
        result = train_runs(trainer, runs, out, meta=meta, sweep_keys=list(sweep), resume=args.resume,
                            run_group=group, max_chunks=args.max_chunks, quiet=args.quiet,
                            label=f"{args.algo} on {args.env}", devices=args.devices)
    except (CheckpointError, TrainingDiverged, ValueError) as err:
        raise cli.UsageError(str(err)) from None
    if not result.finished:
        return {"finished": False, "train_state": result.runner_state}
    summary = evaluate_and_summarise(args, env, params, trainer, result, runs, sweep)
    bad = sorted(k for k, st in summary["final"].items() if not np.isfinite(st["mean"]))
    if bad:
        raise cli.UsageError(f"the trained policies' evaluation gave non-finite {', '.join(bad)}; no summary.json "
                             f"written (the checkpoint in {out} holds the trained state)")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if not args.no_plot:
        plot_curves(out / "curves.png", result.rows, runs, summary["baselines"])
    print(f"wrote {out}/summary.json ({result.wall_s:.0f}s wall)", file=sys.stderr)
    for name, st in [("trained", summary["final"])] + list(summary["baselines"].items()):
        cells = "  ".join(f"{k}={stats.fmt(st[k])}" for k in ("reward", "cost", "delay", "energy", "satisfaction")
                          if k in st)
        print(f"  {name:8s} {cells}", file=sys.stderr)
    return {"finished": True, "summary": summary, "train_state": result.runner_state}


def evaluate_and_summarise(args, env, params, trainer, result, runs, sweep) -> dict:
    """The trained runs' deterministic policies and the baselines on the same evaluation keys."""
    steps = args.eval_steps or int(getattr(params, "episode_len", 100))
    key = jax.random.PRNGKey(args.eval_seed)
    trained = evaluate_runs(env, params, trainer, result.runner_state, key, args.eval_envs, steps)
    available = heuristics.HEURISTICS.get(env.name, {})
    baselines = {name: evaluate(env, params, heuristics.make_heuristic(env, name), key, args.eval_envs, steps)
                 for name in BASELINES if name in available}
    groups = {}
    for r in runs:
        groups.setdefault(r["label"], []).append(r["run"])
    final = trained["over_runs"]
    summary = {
        "algo": args.algo, "env": args.env, "sizes": args.size, "preset": args.preset or "default",
        "env_steps": trainer.sizes.total_env_steps, "env_steps_all_runs": trainer.sizes.total_env_steps * len(runs),
        "num_runs": len(runs), "seeds": sorted({r["seed"] for r in runs}), "sweep": sweep,
        "grouping": result.grouping,  # same seed + same grouping => same bits (README "Reliability")
        "wall_s": round(result.wall_s, 2), "init_s": round(result.init_s, 2),
        "first_chunk_s_incl_compile": round(result.first_chunk_s, 2),
        "eval": {"num_envs": args.eval_envs, "steps": steps, "seed": args.eval_seed,
                 "policy": "deterministic (argmax / noiseless)",
                 "statistics": "mean and Student-t 95 % CI: over runs (final), over eval envs (per run, baselines)"},
        "final": final,
        "final_by_sweep": {label: stats.summarise({k: v[idx] for k, v in trained["run_means"].items()})
                           for label, idx in groups.items()} if sweep else None,
        "final_per_run": trained["per_run"],
        "baselines": baselines,
        "config": dataclasses.asdict(trainer.config),
        "device": str(jax.devices()[0]),
    }
    if "greedy_decollide" in baselines and "cost" in final:
        summary["beats_greedy_decollide_on_cost"] = final["cost"]["mean"] < baselines["greedy_decollide"]["cost"]["mean"]
    if "greedy" in baselines and "cost" in final:
        summary["beats_greedy_on_cost"] = final["cost"]["mean"] < baselines["greedy"]["cost"]["mean"]
    if "equal" in baselines:
        summary["beats_equal_on_reward"] = final["reward"]["mean"] > baselines["equal"]["reward"]["mean"]
    return summary


def main(argv=None) -> int:
    return cli.main(run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
