#!/usr/bin/env python
"""Trained v2x runs against Greedy-DT on the same evaluation envs (issue 22's acceptance item).

    python benchmarks/v2x_acceptance.py RUN_DIR [RUN_DIR ...] [--paired] [--json OUT.json]

Each RUN_DIR is a `scripts/train.py` output on v2x (its ``summary.json``); every run in it counts as
one seed, and all must share the evaluation (envs, steps, seed), hence Greedy-DT's row. Prints each
seed's cost, the mean with its Student-t 95 % CI over seeds (`algos.common.stats.mean_ci`),
Greedy-DT's with its CI over envs, and the verdict computed from them: **beats greedy, CIs apart**
when the learner's upper end is below greedy's lower end, **beats greedy on the mean**, or **does not
beat greedy**. ``--paired`` re-evaluates every run's checkpoint on the same envs and keys and adds the
per-env difference to Greedy-DT (each env's cost averaged over the seeds, minus greedy's on that
env): its mean and CI over envs, where the spread of the envs themselves cancels.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from algos.common.stats import fmt, mean_ci  # noqa: E402


def load(run_dir: Path) -> dict:
    path = Path(run_dir) / "summary.json"
    if not path.exists():
        raise SystemExit(f"{path}: no summary.json (is {run_dir} a scripts/train.py output?)")
    summary = json.loads(path.read_text())
    if summary.get("env") != "v2x" or "greedy" not in summary.get("baselines", {}):
        raise SystemExit(f"{path}: not a v2x run evaluated beside greedy")
    return summary


def verdict(learner: dict, greedy: dict) -> str:
    """From the two intervals; one seed has no CI, so at most "on the mean"."""
    if learner["ci95"] is not None and learner["mean"] + learner["ci95"] < greedy["mean"] - greedy["ci95"]:
        return "beats greedy, CIs apart"
    return "beats greedy on the mean" if learner["mean"] < greedy["mean"] else "does not beat greedy"


def compare(summaries: list[dict]) -> dict:
    evals = {json.dumps(s["eval"], sort_keys=True) for s in summaries}
    if len(evals) != 1:
        raise SystemExit(f"the runs were evaluated differently: {sorted(evals)}")
    if len({json.dumps(s["config"], sort_keys=True) for s in summaries}) != 1:
        raise SystemExit("the runs were trained with different configs: one learner's seeds only")
    costs = [run["cost"]["mean"] for s in summaries for run in s["final_per_run"]]
    learner, greedy = mean_ci(costs), summaries[0]["baselines"]["greedy"]["cost"]
    return {"eval": summaries[0]["eval"], "seeds": [seed for s in summaries for seed in s["seeds"]], "costs": costs,
            "learner": learner, "greedy": greedy, "above_greedy": learner["mean"] / greedy["mean"] - 1.0,
            "verdict": verdict(learner, greedy)}


def paired(run_dirs: list[Path], summaries: list[dict]) -> dict:
    """Per-env costs of every run and of Greedy-DT on the summaries' evaluation keys."""
    import jax

    from algos import heuristics
    from algos.common.evaluation import rollout_stats
    from algos.common.runner import load_policy

    ev = summaries[0]["eval"]
    key, per_run = jax.random.PRNGKey(ev["seed"]), []
    for run_dir, summary in zip(run_dirs, summaries):
        for i, run in enumerate(summary["final_per_run"]):
            env, params, act = load_policy(run_dir, i, "v2x")
            cost = np.asarray(rollout_stats(env, params, lambda k, obs, s, p: act(obs), key, ev["num_envs"],
                                            ev["steps"])["cost"], np.float64)
            if not np.isclose(cost.mean(), run["cost"]["mean"], rtol=1e-4):
                raise SystemExit(f"{run_dir} run {i}: re-evaluated at {cost.mean():.6g}, the summary says "
                                 f"{run['cost']['mean']:.6g} (a checkpoint from older code?)")
            per_run.append(cost)
    greedy = np.asarray(rollout_stats(env, params, heuristics.make_heuristic(env, "greedy"), key, ev["num_envs"],
                                      ev["steps"])["cost"], np.float64)
    diff = np.mean(per_run, axis=0) - greedy
    return {"minus_greedy_per_env": mean_ci(diff), "envs_where_learner_cheaper": float(np.mean(diff < 0))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dirs", nargs="+", type=Path)
    ap.add_argument("--paired", action="store_true", help="re-evaluate the checkpoints: per-env difference to greedy")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)
    summaries = [load(d) for d in args.run_dirs]
    out = compare(summaries)
    if args.paired:
        out.update(paired(args.run_dirs, summaries))
    ev = out["eval"]
    print(f"{len(out['costs'])} seeds, {ev['num_envs']} envs x {ev['steps']} slots, eval seed {ev['seed']}")
    print("per seed: " + ", ".join(f"{c:.6f}" for c in out["costs"]))
    print(f"learner    {fmt(out['learner'], 6)}")
    print(f"Greedy-DT  {fmt(out['greedy'], 6)}")
    print(f"learner / greedy - 1: {100 * out['above_greedy']:+.2f} %")
    if args.paired:
        print(f"paired by env (seed mean - greedy): {fmt(out['minus_greedy_per_env'], 3)}, "
              f"learner cheaper on {100 * out['envs_where_learner_cheaper']:.0f} % of envs")
    print(f"verdict: {out['verdict']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
