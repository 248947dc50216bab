#!/usr/bin/env python
"""Reproduce a seed paper's claims: train its learners, evaluate them beside its heuristics, and write
the results JSON, a Markdown report with computed verdicts and the figures.

    python scripts/reproduce.py --seed 000                              # full run (~3 h, idle 2-core CPU)
    python scripts/reproduce.py --seed 000 --resume                     # continue a killed run
    python scripts/reproduce.py --seed 000 --only users --algos maddpg greedy --seeds 3
    python scripts/reproduce.py --seed 000 --grid users=3,12 --grid servers=6 --total-steps 64000
    python scripts/reproduce.py --seed 000 --set lr_actor=3e-4 --set maddpg:batch_size=128
    python scripts/reproduce.py --seed 000 --quick --out /tmp/repro     # smoke run, tiny sizes
    python scripts/reproduce.py --seed 000 --report-only                # .md / .png from the JSON
    python scripts/reproduce.py --seed 000 --merge other/reproduce_000.json  # + jobs run elsewhere

``--set [ALGO:]KEY=VALUE``: a Config field; without ``ALGO:`` it applies to every learner whose Config
has the field (at least one must), with it to that learner only. Values use the syntax of
scripts/train.py (comma lists, none, true/false). ``--grid NAME=V1,V2`` replaces one of the seed's
grids (for seed 000: users, servers, users_servers, servers_users, default, n_tasks).

Every learner job trains all its seeds chunk by chunk with a checkpoint after every chunk under
OUT/reproduce_NNN_runs/JOB/; ``--resume`` keeps the finished jobs of OUT/reproduce_NNN.json made with
the same settings and continues an interrupted job from its checkpoint, bit-exactly. ``--merge
OTHER.json ...`` (with the same flags as the run it completes) copies into OUT's JSON the finished
jobs of other invocations whose signatures match these settings -- e.g. two processes on disjoint
``--only`` / ``--algos`` subsets, one pinned per core with ``--out`` elsewhere -- records their
commands in the report, and rewrites it; nothing runs. See benchmarks/reproduce/ for the framework
and the seed modules.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from algos.common import cli  # noqa: E402
from benchmarks import reproduce  # noqa: E402
from benchmarks.reproduce import Settings  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def build_parser() -> cli.Parser:
    ap = cli.Parser(prog="reproduce.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", default="000", help=f"seed paper, one of {', '.join(sorted(reproduce.SEEDS))}")
    ap.add_argument("--quick", action="store_true", help="the seed's tiny smoke profile (not a result)")
    ap.add_argument("--only", nargs="+", default=None, metavar="SECTION", help="sections to run (default: all)")
    ap.add_argument("--algos", nargs="+", default=None, metavar="NAME",
                    help="learners and heuristics to include (default: the seed's)")
    ap.add_argument("--total-steps", type=int, default=None, help="env steps per learner run and seed")
    ap.add_argument("--seeds", default=None, help="number of seeds N (seeds 0..N-1) or a comma list")
    ap.add_argument("--set", action="append", default=[], metavar="[ALGO:]KEY=VALUE", help="Config field (repeatable)")
    ap.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2", help="replace a grid (repeatable)")
    ap.add_argument("--eval-envs", type=int, default=None)
    ap.add_argument("--eval-steps", type=int, default=None)
    ap.add_argument("--eval-seed", type=int, default=12345)
    ap.add_argument("--out", type=Path, default=RESULTS, help="output directory (default benchmarks/results)")
    ap.add_argument("--resume", action="store_true", help="keep finished jobs, continue interrupted ones")
    ap.add_argument("--max-chunks", type=int, default=None,
                    help="stop every learner job after this many chunks of this call (then --resume)")
    ap.add_argument("--keep-checkpoints", action="store_true", help="keep finished jobs' train states")
    ap.add_argument("--report-only", action="store_true", help="rewrite the .md / .png from the JSON, run nothing")
    ap.add_argument("--merge", nargs="+", type=Path, metavar="JSON", default=None,
                    help="add the matching finished jobs of these results JSONs to OUT's, rewrite the report")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def parse_sets(items, learners) -> tuple:
    """``((algo or None, key, text), ...)``; each value is checked against the field's type now."""
    import algos

    out = []
    for item in items:
        lhs, sep, text = item.partition("=")
        algo, colon, key = lhs.rpartition(":")
        if not sep or not key:
            raise cli.UsageError(f"--set expects [ALGO:]KEY=VALUE, got {item!r}")
        if key in ("total_env_steps", "chunk_size"):
            raise cli.UsageError(f"--set {key}: set by the framework (use --total-steps; chunks give the curve points)")
        targets = [algo] if colon else list(learners)
        if colon and algo not in algos.ALGOS:
            raise cli.UsageError(f"--set {item}: unknown learner {algo!r}; choose one of {sorted(algos.ALGOS)}")
        having = [a for a in targets if key in {f.name for f in dataclasses.fields(algos.ALGOS[a].Config)}]
        if not having:
            raise cli.UsageError(f"--set {item}: no Config of {', '.join(targets) or 'no learner'} has a field {key!r}")
        for a in having:
            cli.parse_value(key, text, typing.get_type_hints(algos.ALGOS[a].Config)[key])
        out.append((algo if colon else None, key, text))
    return tuple(out)


def parse_grids(items, grids: dict) -> dict:
    grids = dict(grids)
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in grids:
            raise cli.UsageError(f"--grid expects NAME=V1,V2 with NAME one of {', '.join(grids)}, got {item!r}")
        try:
            values = tuple(int(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise cli.UsageError(f"--grid {name} expects ints, got {text!r}") from None
        if not values:
            raise cli.UsageError(f"--grid {name} needs at least one value")
        grids[name] = values
    return grids


def settings_from(args, rep) -> Settings:
    import algos

    profile = rep.profiles["quick" if args.quick else "full"]
    sections = tuple(args.only or rep.sections)
    bad = [s for s in sections if s not in rep.sections]
    if bad:
        raise cli.UsageError(f"unknown section(s) {bad}; choose among {', '.join(rep.sections)}")
    chosen = tuple(args.algos or rep.algos)
    unknown = [a for a in chosen if a not in rep.algos]
    if unknown:
        raise cli.UsageError(f"--algos: seed {rep.seed} does not use {unknown}; choose among {', '.join(rep.algos)}")
    for flag in ("total_steps", "eval_envs", "eval_steps", "max_chunks"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise cli.UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    seeds = cli.parse_seeds(args.seeds) if args.seeds else list(range(profile.seeds))
    return Settings(profile="quick" if args.quick else "full", total_steps=args.total_steps or profile.total_steps,
                    seeds=tuple(seeds), eval_envs=args.eval_envs or profile.eval_envs,
                    eval_steps=args.eval_steps or profile.eval_steps, eval_seed=args.eval_seed,
                    grids=parse_grids(args.grid, profile.grids), overrides=dict(profile.overrides),
                    sets=parse_sets(args.set, [a for a in chosen if a in algos.ALGOS]), sections=sections,
                    algos=chosen, curve_points=profile.curve_points, out=str(args.out))


def run(args) -> dict:
    try:
        rep = reproduce.load(args.seed)
    except ValueError as err:
        raise cli.UsageError(str(err)) from None
    from benchmarks.reproduce import report

    cli.check_output_dir(args.out)
    json_path = args.out / f"{rep.name}.json"
    if args.report_only:
        if not json_path.exists():
            raise cli.UsageError(f"--report-only: no {json_path}")
        data = report.read_json(json_path)
        report.write_reports(rep, data, args.out)
        print(f"rewrote {args.out}/{rep.name}.md and figures", file=sys.stderr)
        return data
    settings = settings_from(args, rep)
    try:
        rep.plan(settings)  # a bad grid is a usage error, before anything runs
    except ValueError as err:
        raise cli.UsageError(str(err)) from None
    flags = os.environ.get("XLA_FLAGS", "")
    if rep.profiles[settings.profile].fast_compile and "xla_backend_optimization_level" not in flags:
        # read when the backend starts (first computation): a compile-bound smoke run compiles ~2.5x faster
        os.environ["XLA_FLAGS"] = (flags + " --xla_backend_optimization_level=0").strip()
    if args.merge:
        from benchmarks.reproduce.runner import merge

        missing = [p for p in [json_path, *args.merge] if not p.exists()]
        if missing:
            raise cli.UsageError(f"--merge: no {missing[0]}")
        return merge(rep, settings, args.out, args.merge)
    from benchmarks.reproduce.runner import reproduce as run_plan

    command = "python scripts/reproduce.py " + " ".join(args.argv)
    return run_plan(rep, settings, args.out, command=command.strip(), resume=args.resume,
                    max_chunks=args.max_chunks, quiet=args.quiet, keep_checkpoints=args.keep_checkpoints)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()

    def go(args):
        args.argv = argv
        return run(args)

    return cli.main(go, parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
