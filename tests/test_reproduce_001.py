"""benchmarks/reproduce/seed_001.py on hand-made results: the plan, computed verdicts, the gap-closed
table and the rendered report. Nothing is trained or compiled."""

from __future__ import annotations

import numpy as np

from algos.common.stats import mean_ci
from benchmarks import reproduce
from benchmarks.reproduce import Settings, report
from benchmarks.reproduce.claims import Results

REP = reproduce.load("001")


def settings(**grids):
    full = REP.profiles["full"]
    return Settings(profile="full", total_steps=full.total_steps, seeds=(0, 1, 2, 3, 4), eval_envs=8, eval_steps=5,
                    eval_seed=0, grids={**full.grids, **grids}, overrides={}, sections=REP.sections, algos=REP.algos)


def test_plan_shares_the_default_point_and_can_leave_learners_out_of_the_sweeps():
    plan = REP.plan(settings())
    ids = [j.id for j in plan.jobs]
    assert len(ids) == len(set(ids)) == 9 * (5 + 4 - 1)  # the default point is in both sweeps
    assert plan.layout["default"]["runs"]["fed_d3qn_gan"] == "fed_d3qn_gan@B4U20"
    job = next(j for j in plan.jobs if j.id == "oracle@B4U30")
    assert (job.env, dict(job.sizes)) == ("slicing", {"n_aps": 4, "max_users": 30})
    lean = REP.plan(settings(sweep_learners=(0,)))
    assert len(lean.jobs) == 4 + 5 * (5 + 4 - 1)
    assert "fed_d3qn_gan" not in lean.layout["users"]["points"][0]["runs"]


def learner(reward, sat, delay, seeds=5):
    rng = np.random.default_rng(int(reward * 1000))
    x = (np.arange(1, 9) * 800).tolist()
    curve = {"reward": [(reward - 0.3 + np.linspace(0, 0.3, 8) + 0.005 * rng.standard_normal(8)).tolist()
                        for _ in range(seeds)]}
    final = {k: mean_ci(v * (1 + 0.002 * rng.standard_normal(seeds))) for k, v in
             (("reward", reward), ("satisfaction", sat), ("delay", delay))}
    return {"kind": "learner", "status": "done", "final": final, "warmup_env_steps": 800, "num_envs": 8,
            "curve": {"env_steps": x, "metrics": curve}, "env_steps": 6400, "n_seeds": seeds, "init_s": 1.0,
            "first_chunk_s": 2.0, "train_s": 3.0, "eval_s": 0.5, "wall_s": 3.5}


def heuristic(reward, sat, delay):
    return {"kind": "heuristic", "status": "done", "wall_s": 0.1,
            "final": {k: mean_ci([v, v * 1.001, v * 0.999]) for k, v in
                      (("reward", reward), ("satisfaction", sat), ("delay", delay))}}


def test_claims_and_report_on_hand_made_results(tmp_path):
    plan = REP.plan(settings(users=(10, 20), aps=(4,))).layout
    values = {"fed_d3qn_gan": (1.30, 0.95, 4.5e-3), "id3qn_gan": (1.10, 0.80, 5.0e-3),
              "fed_d3qn": (1.15, 0.85, 5.2e-3), "id3qn": (1.0, 0.7, 6.0e-3)}
    refs = {"random": (0.9, 0.53, 6.4e-3), "equal": (1.2, 0.85, 5.3e-3), "proportional": (1.1, 0.78, 5.5e-3),
            "obs_oracle": (1.34, 0.98, 4.4e-3), "oracle": (1.35, 0.99, 4.4e-3)}
    runs = {}
    for section in ("users", "aps"):
        for p in plan[section]["points"]:
            shift = 0.0 if p["n_users"] == 10 else -0.05
            for a, rid in p["runs"].items():
                r, s, d = values.get(a) or refs[a]
                runs[rid] = (learner if a in values else heuristic)(r + shift, s + shift, d - shift * 1e-2)
    meta = {"command": "python scripts/reproduce.py --seed 001", "seed": "001", "profile": "full", "steps": 6400,
            "seeds": [0, 1, 2, 3, 4], "eval_envs": 8, "eval_steps": 100, "eval_seed": 1, "overrides": {}, "sets": [],
            "grids": {"users": [10, 20], "aps": [4], "default": [4, 20]}, "sections": list(REP.sections),
            "machine": "x86_64", "cpu_count": 2, "jax": "0", "device": "cpu", "loadavg_start": [1.0],
            "loadavg_end": [1.0], "wall_s": 60.0}
    data = {"meta": meta, "plan": plan, "runs": runs, "claims": []}
    report.write_reports(REP, data, tmp_path)
    claims = {c["id"]: c for c in data["claims"]}
    assert claims["F3-reward-vs-id3qn"]["verdict"] == "reproduced"  # +30 % > 10 %, CIs apart
    assert claims["F3-reward-vs-fed_d3qn"]["verdict"] == "reproduced"  # +13 %
    assert claims["F5-satisfaction-vs-fed_d3qn"]["verdict"] == "reproduced"  # +11.8 % at both U
    assert claims["F5-satisfaction-vs-id3qn_gan"]["verdict"] == "reproduced"
    assert claims["F4-id3qn-worst"]["verdict"] == "reproduced"
    assert claims["F4-idgan-delay"]["verdict"] == "reproduced"  # ID3QN-GAN's delay 5.0 ms < FedD3QN's 5.2
    assert claims["F4-idgan-sat"]["verdict"] == "reproduced"  # ... and its satisfaction lower (0.80 < 0.85)
    assert claims["F3-converges-500"]["verdict"] == "not run"  # 8 episodes, not 1,000
    assert "relative" in claims["F3-reward-vs-id3qn"]["reason"] and "absolute" in claims["F3-reward-vs-id3qn"]["reason"]
    text = (tmp_path / "reproduce_001.md").read_text()
    assert "Gap closed" in text and "REDUCED CPU SIZES" in text
    gap = text.split("## Gap closed")[1]
    row = next(line for line in gap.splitlines() if line.startswith("| FedD3QN-GAN | "))
    closed = float(row.split("|")[3])  # satisfaction -> obs_oracle at U = 20 (learner means carry seed noise)
    assert abs(closed - (0.90 - 0.80) / (0.93 - 0.80)) < 0.03
    assert (tmp_path / "reproduce_001_users.png").exists() and (tmp_path / "reproduce_001_convergence.png").exists()
    assert Results(data).final("fed_d3qn_gan@B4U20", "reward")["n"] == 5
