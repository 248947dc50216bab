"""benchmarks/reproduce/report.py (JSON, Markdown, figures) and the pure parts of runner.py on
hand-made results. Nothing is trained or compiled."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from algos.common.stats import mean_ci
from benchmarks import reproduce
from benchmarks.reproduce import Settings, report, runner
from benchmarks.reproduce.claims import Results, measured

REP = reproduce.load("000")


def learner(delay, energy, reward, seeds=5, chunks=12):
    rng = np.random.default_rng(int(delay * 100))
    x = (np.arange(1, chunks + 1) * 100).tolist()
    curve = {"reward": [(-5 + np.linspace(0, 3, chunks) + 0.1 * rng.standard_normal(chunks)).tolist()
                        for _ in range(seeds)],
             "critic_loss": [(1 + 0.1 * rng.standard_normal(chunks)).tolist() for _ in range(seeds)]}
    final = {k: mean_ci(v + 0.01 * rng.standard_normal(seeds)) for k, v in
             (("delay", delay), ("energy", energy), ("reward", reward))}
    return {"kind": "learner", "status": "done", "final": final, "warmup_env_steps": 100, "config": {"k_sync": 5},
            "curve": {"env_steps": x, "metrics": curve}, "env_steps": 1200, "n_seeds": seeds, "init_s": 1.0,
            "first_chunk_s": 2.0, "train_s": 3.0, "eval_s": 0.5, "wall_s": 3.5, "cpu_s": {"train": 5.0, "eval": 0.6}}


def greedy():
    return {"kind": "heuristic", "status": "done", "wall_s": 0.2,
            "final": {"delay": mean_ci([1.0, 1.02, 0.98]), "energy": mean_ci([1.0, 1.1, 0.9]),
                      "reward": mean_ci([-2.5, -2.4, -2.6])}}


def hand_made() -> dict:
    runs = {"maddpg_cgan@u3m6": learner(0.8, 0.7, -2.0), "maddpg@u3m6": learner(0.9, 0.9, -2.2),
            "greedy@u3m6": greedy(), "maddpg_cgan@u6m6": learner(0.85, 0.75, -2.1),
            "maddpg@u6m6": {"kind": "learner", "status": "interrupted", "reason": "stopped after chunk 3/12"},
            "greedy@u6m6": greedy()}
    points = [{"n_users": u, "n_servers": 6, "runs": {a: f"{a}@u{u}m6" for a in ("maddpg_cgan", "maddpg", "greedy")}}
              for u in (3, 6)]
    plan = {"users": {"points": points}, "scenario": {"env": "dt_inference", "preset": "calibrated", "n_tasks": 3,
                                                      "episode_len": 100},
            "convergence": {"runs": {"maddpg": "maddpg@u3m6", "maddpg_cgan": "maddpg_cgan@u3m6",
                                     "greedy": "greedy@u3m6"},
                            "scenario": {"n_users": 3, "n_servers": 6, "obs_dim": 40, "act_numbers": 9}}}
    meta = {"command": "python scripts/reproduce.py --seed 000", "seed": "000", "profile": "full", "steps": 1200,
            "seeds": [0, 1, 2, 3, 4], "eval_envs": 8, "eval_steps": 20, "eval_seed": 1, "overrides": {}, "sets": [],
            "grids": {"users": [3, 6], "users_servers": [6], "servers": [], "servers_users": [8], "default": [3, 6]},
            "sections": ["users", "convergence"], "machine": "x86_64", "cpu_count": 2, "jax": "0", "device": "cpu",
            "loadavg_start": [1.0], "loadavg_end": [1.0], "wall_s": 60.0}
    return {"meta": meta, "plan": plan, "runs": runs, "claims": []}


def test_write_reports_renders_claims_tables_and_figures(tmp_path):
    data = hand_made()
    written = report.write_reports(REP, data, tmp_path)
    names = sorted(p.name for p in written)
    assert names == ["reproduce_000.json", "reproduce_000.md", "reproduce_000_convergence.png",
                     "reproduce_000_users.png"]
    for p in written:
        assert p.stat().st_size > 0
    assert (tmp_path / "reproduce_000_users.png").read_bytes()[:4] == b"\x89PNG"
    text = (tmp_path / "reproduce_000.md").read_text()
    claims = {c["id"]: c for c in data["claims"]}
    assert claims["T3-sync"]["verdict"] == "reproduced"
    # the best baseline per point among the runs that finished: greedy at both points (MADDPG at 6 users
    # was interrupted), clearly above the CGAN's delay
    assert claims["1-delay"]["verdict"] == "reproduced" and "N^u=6: Greedy" in claims["1-delay"]["reason"]
    row = next(line for line in text.splitlines() if line.startswith("| T3-sync |"))
    assert "**reproduced**" in row and "exact" in row
    assert "| delay (s) | n_users=3 | n_users=6 |" in text
    assert "| MADDPG | " in text and "interrupted" in text  # the interrupted cell and run-times row
    assert "## Convergence (Fig. 5, Table 3; Fig. 10)" in text
    stored = report.read_json(tmp_path / "reproduce_000.json")
    assert [c["verdict"] for c in stored["claims"]] == [c["verdict"] for c in data["claims"]]


def test_claim1_verdict_with_an_interrupted_baseline(tmp_path):
    data = hand_made()
    report.write_reports(REP, data, tmp_path)
    claims = {c["id"]: c for c in data["claims"]}
    assert claims["1-delay-greedy"]["verdict"] == "reproduced"  # 0.8, 0.85 vs greedy 1.0 ± 0.05
    assert claims["1-delay-maddpg"]["verdict"] == "not run"  # maddpg@u6m6 was interrupted
    assert claims["1-delay-maddpg"]["reason"] == "missing runs: maddpg"


def test_one_seed_shows_no_ci(tmp_path):
    data = hand_made()
    data["runs"]["maddpg_cgan@u3m6"]["final"]["delay"] = mean_ci([0.8])
    report.write_reports(REP, data, tmp_path)
    text = (tmp_path / "reproduce_000.md").read_text()
    assert "0.8 (n=1, no CI)" in text
    stored = json.loads((tmp_path / "reproduce_000.json").read_text())
    assert stored["runs"]["maddpg_cgan@u3m6"]["final"]["delay"]["ci95"] is None  # null, never 0


def test_json_is_clean_and_compact(tmp_path):
    path = tmp_path / "x.json"
    report.write_json({"a": [1.0, float("nan"), np.float32(0.1234567891)], "b": {"c": math.inf}}, path)
    text = path.read_text()
    assert "[1.0,null,0.123457]" in text
    assert report.read_json(path) == {"a": [1.0, None, 0.123457], "b": {"c": None}}
    stored = Results({"runs": {"r": {"status": "done", "final": {"d": {"mean": None}}}}})
    assert stored.final("r", "d") == {"mean": None} and not measured(stored.final("r", "d"))


def test_learning_curve_from_chunk_rows():
    rows = [{"chunk": c, "env_steps": 8 * (c + 1), "run": r, "seed": r, "reward": str(c + 10 * r), "q": 1.0}
            for c in range(3) for r in range(2)]
    curve = runner.learning_curve(rows, 2, ("reward", "absent"))
    assert curve == {"env_steps": [8, 16, 24], "metrics": {"reward": [[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]]}}


def test_learner_config_layers_overrides_sets_and_variant():
    import algos

    job = reproduce.Job("maddpg_cgan[fl_mode=fedavg]@u2m2", "maddpg_cgan", "dt_inference",
                        {"n_users": 2, "n_servers": 2, "n_tasks": 2}, "calibrated", {"fl_mode": "fedavg"})
    settings = Settings(profile="quick", total_steps=800, seeds=(0, 1), eval_envs=4, eval_steps=5, eval_seed=0,
                        grids={}, overrides={"num_envs": 4, "no_such_field": 1},
                        sets=((None, "batch_size", "16"), ("maddpg", "lr_actor", "0.5"),
                              ("maddpg_cgan", "k_sync", "2")))
    cfg = runner.learner_config(algos.ALGOS["maddpg_cgan"], job, settings)
    assert (cfg.num_envs, cfg.batch_size, cfg.k_sync, cfg.fl_mode, cfg.total_env_steps) == (4, 16, 2, "fedavg", 800)
    assert cfg.lr_actor == algos.ALGOS["maddpg_cgan"].Config().lr_actor  # scoped to maddpg only
    assert cfg.chunk_size == math.ceil(800 / 4 / runner.CURVE_POINTS)
    plain = reproduce.Job("dqn_vdn@u2m2", "dqn_vdn", "dt_inference", job.sizes, "calibrated", {"fl_mode": "fedavg"})
    with pytest.raises(runner.JobSkipped, match="fl_mode"):  # a variant field the Config lacks skips the job
        runner.learner_config(algos.ALGOS["dqn_vdn"], plain, settings)


def test_a_config_field_added_after_a_run_at_its_default_does_not_stale_it():
    import algos

    job = reproduce.Job("maddpg@u2m2", "maddpg", "dt_inference", {"n_users": 2, "n_servers": 2, "n_tasks": 2},
                        "calibrated", {})
    settings = Settings(profile="quick", total_steps=800, seeds=(0, 1), eval_envs=4, eval_steps=5, eval_seed=0,
                        grids={}, overrides={})
    cfg = runner.learner_config(algos.ALGOS["maddpg"], job, settings)
    now = report.clean(runner.signature(job, settings, cfg))
    old = {"signature": {**now, "config": {k: v for k, v in now["config"].items() if k != "search_weight"}}}
    assert runner.without_fields_added_since(now, old, cfg) == old["signature"]  # reused by --resume / --merge
    moved = dataclasses.replace(cfg, search_weight=2.0)
    now_moved = report.clean(runner.signature(job, settings, moved))
    assert runner.without_fields_added_since(now_moved, old, moved) != old["signature"]  # away from its default: rerun
    assert runner.without_fields_added_since(now, {"signature": now}, cfg) == now
    # a field whose default is not what the stored runs did: matched at its value before the field existed
    cgan = dataclasses.replace(cfg, actor_others="replay")
    now = report.clean(runner.signature(job, settings, cgan))
    old = {"signature": {**now, "config": {k: v for k, v in now["config"].items() if k != "actor_others"}}}
    assert runner.without_fields_added_since(now, old, cgan) == old["signature"]
    current = dataclasses.replace(cfg, actor_others="current")
    assert runner.without_fields_added_since(report.clean(runner.signature(job, settings, current)), old, current) != old["signature"]


def test_seed_000_plan_shares_jobs_and_folds_the_default_fl_variant():
    full = REP.profiles["full"]
    settings = Settings(profile="full", total_steps=full.total_steps, seeds=(0, 1, 2, 3, 4), eval_envs=8,
                        eval_steps=5, eval_seed=0, grids=dict(full.grids), overrides=dict(full.overrides),
                        sections=REP.sections, algos=REP.algos)
    plan = REP.plan(settings)
    ids = [j.id for j in plan.jobs]
    # the profile pins the paper's DT-pool share (0.25), so the "no DT-pool data" arm (rho_syn=0, now
    # maddpg_cgan's default) is a job of its own, not the plain run
    assert plan.layout["ablation"]["runs"]["no DT-pool data"] == "maddpg_cgan[rho_syn=0.0]@u8m6"
    # two sweeps x (4 learners + 5 heuristic rows incl. the bound), + FedAvg and centralised, + 5 ablation arms
    # (the full arm is the plain run, "no FL" the centralised FL run)
    assert len(ids) == len(set(ids)) == 4 * 9 + 4 * 9 + 2 + 5
    assert [j.algo in REP.algos[:4] for j in plan.jobs] == sorted(j.algo in REP.algos[:4] for j in plan.jobs)
    assert plan.layout["ablation"]["runs"]["no FL (centralised)"] == "maddpg_cgan[fl_mode=none]@u8m6"
    narrow = REP.plan(dataclasses.replace(settings, grids={**full.grids, "learner_users": (3,), "learner_servers": ()}))
    users = narrow.layout["users"]["points"]
    assert "maddpg" in users[0]["runs"] and "maddpg" not in users[1]["runs"] and "bound" in users[1]["runs"]
    assert plan.layout["convergence"]["runs"]["maddpg"] == "maddpg@u8m6"  # shared with the server sweep
    fl = plan.layout["fl"]["runs"]
    assert fl["personalised"] == "maddpg_cgan@u8m6"  # the Config default: the plain run
    assert fl["fedavg"] == "maddpg_cgan[fl_mode=fedavg]@u8m6" and fl["centralised"] == "maddpg_cgan[fl_mode=none]@u8m6"
    job = next(j for j in plan.jobs if j.id == fl["fedavg"])
    assert (job.env, job.preset, dict(job.sizes), dict(job.variant)) == (
        "dt_inference", "calibrated", {"n_users": 8, "n_servers": 6, "n_tasks": 3}, {"fl_mode": "fedavg"})
    assert plan.layout["convergence"]["scenario"]["act_numbers"] == 9
    with pytest.raises(ValueError, match="profiles lack"):
        dataclasses.replace(REP, profiles={"full": full})
