#!/usr/bin/env python
"""Run heuristic policies on an env and print a table of its physical metrics.

    python scripts/evaluate.py --env dt_inference                  # default heuristics
    python scripts/evaluate.py --env dt_inference --algo greedy --num-envs 256
    python scripts/evaluate.py --env dt_inference --preset paper --json out.json
    python scripts/evaluate.py --env v2x --algo greedy --render 30 --gif v2x.gif  # GIF of 30 steps, no table
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from algos import heuristics  # noqa: E402
from algos.common import cli, stats  # noqa: E402
from algos.common.evaluation import evaluate  # noqa: E402


def build_parser() -> cli.Parser:
    ap = cli.Parser(prog="evaluate.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_env_args(ap)
    ap.add_argument("--algo", default="default", help="heuristic name, comma list, 'default' or 'all'")
    ap.add_argument("--num-envs", type=int, default=128)
    ap.add_argument("--steps", type=int, default=None, help="steps per env (default: one episode)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the table as JSON")
    ap.add_argument("--render", type=int, default=None, metavar="N",
                    help="instead of the table, draw the first N steps of one episode of --algo as a GIF")
    ap.add_argument("--gif", type=Path, default=None, help="GIF path for --render (default runs/render_ENV_ALGO.gif)")
    ap.add_argument("--fps", type=int, default=4, help="GIF frames per second for --render")
    return ap


def run(args) -> dict:
    env, params = cli.make_env(args.env, args.size, args.preset)
    for flag in ("num_envs", "steps"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise cli.UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    if args.json is not None:
        cli.check_output_file(args.json, "--json")
    if args.gif is not None:
        cli.check_output_file(args.gif, "--gif")
    table = heuristics.HEURISTICS.get(env.name, {})
    if args.algo == "default":
        names = list(heuristics.DEFAULT_EVAL.get(env.name, table))
    elif args.algo == "all":
        names = list(table)
    else:
        names = args.algo.split(",")
    for name in names:
        if name not in table:
            raise cli.UsageError(f"unknown heuristic {name!r} for {env.name}; choose from {sorted(table)}")

    if args.render is not None:
        if args.render < 1 or len(names) != 1:
            raise cli.UsageError("--render N needs N >= 1 and one heuristic (--algo NAME)")
        from jaxedge.render import animate

        gif = args.gif or Path("runs") / f"render_{env.name}_{names[0]}.gif"
        gif.parent.mkdir(parents=True, exist_ok=True)
        frames = animate(env, params, heuristics.make_heuristic(env, names[0]), jax.random.PRNGKey(args.seed),
                         min(args.render, int(params.episode_len)), gif, fps=args.fps)
        print(f"wrote {gif} ({frames} frames of {env.name} under {names[0]})")
        return {}
    steps = args.steps or int(params.episode_len)
    key = jax.random.PRNGKey(args.seed)
    results = {}
    for name in names:
        start = time.perf_counter()
        results[name] = evaluate(env, params, heuristics.make_heuristic(env, name), key, args.num_envs, steps)
        print(f"  {name}: {time.perf_counter() - start:.1f}s", file=sys.stderr)

    first = ("reward", "cost", "delay", "energy")
    available = list(next(iter(results.values())))
    columns = [c for c in first if c in available] + [c for c in available if c not in first]
    print(f"\n{env.name}  ({args.num_envs} envs x {steps} steps, preset={args.preset or 'default'}, "
          f"mean ± Student-t 95 % CI over the {args.num_envs} envs)\n")
    print("| policy | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in results.items():
        cells = [stats.fmt(row[c], with_n=False) for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"env": env.name, "num_envs": args.num_envs, "steps": steps,
                                         "results": results}, indent=2))
    return results


def main(argv=None) -> int:
    return cli.main(run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
