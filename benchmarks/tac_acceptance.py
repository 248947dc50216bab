#!/usr/bin/env python
"""Issue 23's acceptance numbers from two `scripts/train.py` summaries (a TAC run and the DTAC run
transferred from it), on the weighted-reward cost (eq. 27 = -cost): TAC vs greedy_decollide (Student-t
95 % CIs over seeds vs over eval envs, `algos.common.stats`), and the share of TAC's improvement over
random that DTAC keeps ((random - dtac) / (random - tac), on the same evaluation keys).

    python benchmarks/tac_acceptance.py runs/tac_default_seeds5 runs/dtac_default_seeds5 \\
        --out benchmarks/results/tac_dtac_default_acceptance.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algos.common import stats  # noqa: E402


def acceptance(tac: dict, dtac: dict) -> dict:
    tac_cost = tac["final"]["cost"]
    greedy = tac["baselines"]["greedy_decollide"]["cost"]
    rand = tac["baselines"]["random"]["cost"]["mean"]
    dtac_cost = dtac["final"]["cost"]
    tac_high = tac_cost["mean"] + (tac_cost["ci95"] or 0.0)
    greedy_low = greedy["mean"] - (greedy["ci95"] or 0.0)
    kept = (rand - dtac_cost["mean"]) / (rand - tac_cost["mean"])
    return {
        "metric": "cost = w1 T_t + w2 sum_n E_n per round (weighted reward eq. 27 = -cost); lower is better",
        "tac_cost": tac_cost, "dtac_cost": dtac_cost, "greedy_decollide_cost": greedy, "random_cost_mean": rand,
        "tac_beats_greedy_decollide_ci_apart": bool(tac_high < greedy_low),
        "tac_vs_greedy_decollide_rel": (tac_cost["mean"] - greedy["mean"]) / greedy["mean"],
        "dtac_share_of_tac_improvement_over_random": kept,
        "dtac_keeps_90pct": bool(kept >= 0.9),
        "tac_seeds": tac["seeds"], "dtac_seeds": dtac["seeds"], "tac_wall_s": tac["wall_s"], "dtac_wall_s": dtac["wall_s"],
        "ci": "tac/dtac: Student-t 95 % over seeds; baselines: over eval envs (same keys)",
        "stats_fmt": {"tac": stats.fmt(tac_cost), "dtac": stats.fmt(dtac_cost), "greedy_decollide": stats.fmt(greedy)},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tac_dir", type=Path)
    ap.add_argument("dtac_dir", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    load = lambda d: json.loads((d / "summary.json").read_text())  # noqa: E731
    result = acceptance(load(args.tac_dir), load(args.dtac_dir))
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
