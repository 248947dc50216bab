"""How much of greedy's headroom trained dt_inference runs capture (issue 26, item 5).

    python benchmarks/headroom_capture.py RUN_DIR [RUN_DIR ...] [--json OUT.json]

Each RUN_DIR is a `scripts/train.py` output on dt_inference (its ``summary.json``); every run in it
counts as one seed. All summaries must share the config and the evaluation (envs, steps, seed), and
therefore the greedy and bound rows. Prints each seed's cost, the mean with its Student-t 95 % CI
(`algos.common.stats.mean_ci`), greedy, the certified bound, the target
``greedy - (greedy - bound) / 2`` (half the headroom captured), delay and energy beside greedy's, and
the captured fraction ``(greedy - cost) / (greedy - bound)`` per seed and over seeds. The verdict is
computed: **met** when the mean cost is at or below the target, **met with CI** when the CI's upper
end is too, else **not met**.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from algos.common.stats import mean_ci


def load(run_dir: Path) -> dict:
    path = Path(run_dir) / "summary.json"
    if not path.exists():
        raise SystemExit(f"{path}: no summary.json (is {run_dir} a scripts/train.py output?)")
    summary = json.loads(path.read_text())
    if summary.get("env") != "dt_inference" or "bound" not in summary:
        raise SystemExit(f"{path}: not a dt_inference run with a certified bound")
    return summary


def capture(summaries: list[dict]) -> dict:
    """The per-seed costs, their mean and CI, greedy, the bound, the target and the verdict."""
    evals = {json.dumps(s["eval"], sort_keys=True) for s in summaries}
    if len(evals) != 1:
        raise SystemExit(f"the runs were evaluated differently: {sorted(evals)}")
    configs = {json.dumps(s["config"], sort_keys=True) for s in summaries}
    if len(configs) != 1:
        raise SystemExit("the runs were trained with different configs; pass the seeds of one config")
    runs = [run for s in summaries for run in s["final_per_run"]]
    greedy_row, bound = summaries[0]["baselines"]["greedy"], summaries[0]["bound"]["cost"]["mean"]
    greedy = greedy_row["cost"]["mean"]
    costs = [run["cost"]["mean"] for run in runs]
    target = greedy - (greedy - bound) / 2
    stat = mean_ci(costs)
    captured = [(greedy - c) / (greedy - bound) for c in costs]
    upper = stat["mean"] + (stat["ci95"] or float("inf"))
    verdict = "met with CI" if upper <= target else "met" if stat["mean"] <= target else "not met"
    others = {m: mean_ci([run[m]["mean"] for run in runs]) for m in ("delay", "energy")}
    return {"costs": costs, "cost": stat, **others,
            "greedy_delay_energy": {m: greedy_row[m]["mean"] for m in ("delay", "energy")}, "greedy": greedy,
            "bound": bound, "target": target, "captured": mean_ci(captured), "captured_per_seed": captured,
            "verdict": verdict, "eval": summaries[0]["eval"], "algos": sorted({s["algo"] for s in summaries})}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    res = capture([load(d) for d in args.runs])
    c, cap = res["cost"], res["captured"]
    ci = f" ± {c['ci95']:.3f}" if c["ci95"] is not None else " (one seed, no CI)"
    print(f"{', '.join(res['algos'])}: {c['n']} seeds, eval {res['eval']['num_envs']} envs x {res['eval']['steps']} steps, "
          f"seed {res['eval']['seed']}")
    print("cost per seed: " + ", ".join(f"{x:.3f}" for x in res["costs"]))
    print(f"cost {c['mean']:.3f}{ci}; greedy {res['greedy']:.3f}; bound {res['bound']:.3f}; "
          f"target (half the headroom) {res['target']:.3f}")
    g = res["greedy_delay_energy"]
    print("; ".join(f"{m} {res[m]['mean']:.4f}" + (f" ± {res[m]['ci95']:.4f}" if res[m]["ci95"] is not None else "")
                    + f" (greedy {g[m]:.4f})" for m in ("delay", "energy")))
    cap_ci = f" ± {cap['ci95']:.2f}" if cap["ci95"] is not None else ""
    print(f"captured {cap['mean']:.2f}{cap_ci} of greedy's headroom; verdict: {res['verdict']}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
