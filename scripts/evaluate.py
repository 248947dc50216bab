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

import jaxedge  # noqa: E402
from algos import heuristics  # noqa: E402
from algos.common.evaluation import evaluate  # noqa: E402


def parse_size(text: str):
    name, _, value = text.partition("=")
    if not value:
        raise argparse.ArgumentTypeError(f"expected NAME=INT, got {text!r}")
    try:
        return name, int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {name} must be an int, got {value!r}") from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default="dt_inference", help=f"one of {jaxedge.list_envs()}")
    ap.add_argument("--algo", default="default", help="heuristic name, comma list, 'default' or 'all'")
    ap.add_argument("--preset", default=None, help="Params preset classmethod (e.g. calibrated, paper)")
    ap.add_argument("--size", action="append", type=parse_size, default=[], metavar="NAME=INT",
                    help="static env size, e.g. --size n_users=4 (repeatable)")
    ap.add_argument("--num-envs", type=int, default=128)
    ap.add_argument("--steps", type=int, default=None, help="steps per env (default: one episode)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the table as JSON")
    ap.add_argument("--render", type=int, default=None, metavar="N",
                    help="instead of the table, draw the first N steps of one episode of --algo as a GIF")
    ap.add_argument("--gif", type=Path, default=None, help="GIF path for --render (default runs/render_ENV_ALGO.gif)")
    ap.add_argument("--fps", type=int, default=4, help="GIF frames per second for --render")
    args = ap.parse_args(argv)

    if args.env not in jaxedge.list_envs():
        ap.error(f"unknown env {args.env!r}; choose one of {jaxedge.list_envs()}")
    try:
        env = jaxedge.make(args.env, **dict(args.size))
    except ValueError as err:
        ap.error(str(err))
    params = env.default_params
    if args.preset:
        factory = getattr(type(params), args.preset, None)
        if not callable(factory):
            ap.error(f"unknown preset {args.preset!r} for {args.env}")
        params = factory()
    table = heuristics.HEURISTICS.get(env.name, {})
    if args.algo == "default":
        names = list(heuristics.DEFAULT_EVAL.get(env.name, table))
    elif args.algo == "all":
        names = list(table)
    else:
        names = args.algo.split(",")
    for name in names:
        if name not in table:
            ap.error(f"unknown heuristic {name!r} for {env.name}; choose from {sorted(table)}")

    if args.render is not None:
        if args.render < 1 or len(names) != 1:
            ap.error("--render N needs N >= 1 and one heuristic (--algo NAME)")
        from jaxedge.render import animate

        gif = args.gif or Path("runs") / f"render_{env.name}_{names[0]}.gif"
        gif.parent.mkdir(parents=True, exist_ok=True)
        frames = animate(env, params, heuristics.make_heuristic(env, names[0]), jax.random.PRNGKey(args.seed),
                         min(args.render, int(params.episode_len)), gif, fps=args.fps)
        print(f"wrote {gif} ({frames} frames of {env.name} under {names[0]})")
        return 0
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
          f"mean ± 95% CI over envs)\n")
    print("| policy | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in results.items():
        cells = [f"{row[c]['mean']:.4g} ± {row[c]['ci95']:.2g}" for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"env": env.name, "num_envs": args.num_envs, "steps": steps,
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
