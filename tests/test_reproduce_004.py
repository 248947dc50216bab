"""benchmarks/reproduce/seed_004.py on hand-made numbers: the extra-evaluation ids ("<job>|<point>"),
the KL of Table III, the convergence episode, the claims and the report. Nothing is trained."""

from __future__ import annotations

import numpy as np

from benchmarks.reproduce import load, report
from benchmarks.reproduce import seed_004 as S4
from benchmarks.reproduce.claims import Results

REP = load("004")
SEEDS = 5


def S(mean, ci=0.05, n=SEEDS):
    return {"mean": float(mean), "ci95": float(ci), "std": 0.0, "n": n}


def final(cost, time, energy, shares):
    out = {"cost": S(cost), "round_time": S(time), "energy": S(energy)}
    out.update({k: S(v, 0.01) for k, v in zip(("local_ratio", "edge_ratio", "cloud_ratio"), shares)})
    return out


def learner(cost, shares, curve, points):
    per_seed = {k: [v] * SEEDS for k, v in zip(("local_ratio", "edge_ratio", "cloud_ratio"), shares)}
    return {"kind": "learner", "status": "done", "final": final(cost, cost / 2, cost / 4, shares),
            "per_seed": per_seed, "warmup_env_steps": 0, "env_steps": 6000, "n_seeds": SEEDS, "init_s": 1.0,
            "first_chunk_s": 2.0, "train_s": 3.0, "eval_s": 0.5, "wall_s": 3.5, "cpu_s": {"train": 5.0, "eval": 0.6},
            "evals": {p: {"final": final(cost * (i + 1), cost, cost / 4, shares), "per_seed": per_seed}
                      for i, p in enumerate(points)},
            "curve": {"env_steps": [600 * (i + 1) for i in range(len(curve))],
                      "metrics": {"cost": [list(curve)] * SEEDS}}}


def test_results_resolve_extra_evaluations():
    res = Results({"runs": {"a@s1": learner(2.0, (0.2, 0.5, 0.3), [1.0], ["N20"])}})
    assert res.final("a@s1|N20", "cost")["mean"] == 2.0
    assert res.final("a@s1", "cost")["mean"] == 2.0
    assert res.final("a@s1|N99", "cost") is None and res.status("a@s1|N20") == "done"


def test_kl_and_converged_episode():
    assert S4.kl([0.2, 0.5, 0.3], [0.2, 0.5, 0.3]) < 1e-9
    assert S4.kl([0.9, 0.05, 0.05], [0.1, 0.45, 0.45]) > 1.0
    episodes = np.arange(1, 61, dtype=float)
    cost = np.concatenate([np.linspace(10.0, 1.0, 20), np.full(40, 1.0)])
    assert 20 <= S4.converged_episode(episodes, cost) <= 30


def test_claims_and_report(tmp_path):
    pts = ["N28", "N35", "N42"]
    fast, slow = [5.0, 2.0] + [1.0] * 38, list(np.linspace(9.0, 1.0, 40))
    runs = {}
    plan = {"scenarios": {}, "n_points": {}, "have_tac": True,
            "table4": {"happo actor": {"params": 20000, "flops_per_ue": 40000},
                       "dtac actor": {"params": 8000, "flops_per_ue": 16000}}}
    costs = {"tac": 1.0, "dtac": 1.05, "tl": 3.0, "tl_transformer": 2.5, "happo": 4.0}
    for sc in ("s2", "s3"):
        ids = {}
        for algo, c in costs.items():
            shares = {"happo": (0.3, 0.6, 0.1), "dtac": (0.5, 0.3, 0.2), "tl_transformer": (0.1, 0.7, 0.2)}.get(
                algo, (0.4, 0.4, 0.2))
            rid = f"{algo}@{sc}"
            runs[rid] = learner(c, shares, slow if algo in ("happo", "tl_transformer") else fast, pts)
            ids[algo] = rid
        runs[f"random@{sc}"] = {"kind": "heuristic", "status": "done", "final": final(3.0, 2.0, 1.0, (0.33,) * 3),
                                "wall_s": 1.0, "eval_s": 1.0,
                                "evals": {p: {"final": final(3.0 * (i + 1), 2.0, 1.0, (0.33,) * 3)}
                                          for i, p in enumerate(pts)}}
        ids["random"] = f"random@{sc}"
        plan["scenarios"][sc] = {"preset": sc, "edges": 7, "runs": ids, "points": pts}
        plan["n_points"][sc] = [28, 35, 42]
    data = {"meta": {"command": "python scripts/reproduce.py --seed 004", "seed": "004", "profile": "full",
                     "steps": 6000, "seeds": list(range(SEEDS)), "eval_envs": 2, "eval_steps": 200, "eval_seed": 1,
                     "overrides": {}, "sets": [], "grids": {}, "sections": ["s2", "s3"], "machine": "x86_64",
                     "cpu_count": 2, "jax": "0", "device": "cpu", "loadavg_start": [1.0], "loadavg_end": [1.0],
                     "wall_s": 60.0},
            "plan": plan, "runs": runs, "claims": []}
    claims = {c.id: c for c in REP.claims(Results(data))}
    assert claims["F6-round_time-dtac-happo"].verdict == "reproduced"
    assert claims["F7-cost-dtac-tl"].verdict == "reproduced"
    assert claims["F7-happo-random"].verdict == "reproduced"  # 12 (x3 at N42) vs 9
    assert claims["F8-happo-edge"].verdict == "reproduced"  # edge share 0.6 > 0.5
    assert claims["T3-s2"].verdict == "reproduced"  # DTAC's shares are closer to TAC's than TL transformer's
    assert claims["F10-tac-happo"].verdict == "reproduced"
    assert claims["T4-params"].verdict == "reproduced"
    assert "F5-reward-dtac-tac" not in claims  # no S1 in this plan
    written = report.write_reports(REP, data, tmp_path)
    names = {p.name for p in written}
    assert {"reproduce_004_s2.png", "reproduce_004_s3.png", "reproduce_004_fig10.png"} <= names
    text = (tmp_path / "reproduce_004.md").read_text()
    assert "Table III" in text and "Table IV" in text
