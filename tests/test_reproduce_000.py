"""benchmarks/reproduce_000.py: the pure report logic (statistics, verdicts, claim computations) on
hand-made numbers. Nothing is trained or compiled here."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("reproduce_000", ROOT / "benchmarks" / "reproduce_000.py")
rep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rep)


def S(mean, ci=0.0):
    return {"mean": float(mean), "ci95": float(ci), "std": 0.0, "n": 5}


def done(final, curve=None, warmup=0, config=None):
    rec = {"kind": "learner", "status": "done", "final": final, "warmup_env_steps": warmup, "config": config or {}}
    if curve is not None:
        rec["curve"] = curve
    return rec


def heuristic(final):
    return {"kind": "heuristic", "status": "done", "final": final}


# ---- statistics and the verdict rule -------------------------------------------------------------------
def test_stat_uses_student_t_over_seeds():
    s = rep.stat([1, 2, 3, 4, 5])
    assert s["mean"] == 3 and s["n"] == 5
    assert s["ci95"] == pytest.approx(2.776 * np.std([1, 2, 3, 4, 5], ddof=1) / math.sqrt(5))
    assert rep.stat([7.0])["ci95"] == 0.0
    assert rep.stat([])["n"] == 0


def test_verdict_clear_improvement_is_reproduced():
    # claim: lower delay; ours 0.80 ± 0.02 vs baseline 1.00 ± 0.02 -> CIs apart, right sign
    eff = rep.effect_interval(S(0.80, 0.02), S(1.00, 0.02), "reduction")
    assert eff[0] == pytest.approx(0.20)
    assert eff[1] == pytest.approx(1 - 0.82 / 0.98) and eff[1] > 0
    assert rep.verdict(eff, +1) == "reproduced"


def test_verdict_clear_regression_is_contradicted():
    eff = rep.effect_interval(S(1.30, 0.05), S(1.00, 0.05), "reduction")
    assert eff[0] == pytest.approx(-0.30)
    assert rep.verdict(eff, +1) == "contradicted"


def test_verdict_overlapping_cis_is_not_reproduced():
    # right sign (0.95 < 1.00) but the CIs overlap
    eff = rep.effect_interval(S(0.95, 0.04), S(1.00, 0.04), "reduction")
    assert eff[0] > 0 and eff[1] < 0 < eff[2]
    assert rep.verdict(eff, +1) == "not reproduced"
    # the interval-arithmetic difference excludes 0 exactly when the CIs do not overlap
    assert rep.verdict(rep.effect_interval(S(1.0, 0.1), S(1.25, 0.1)), -1) == "reproduced"
    assert rep.verdict(rep.effect_interval(S(1.0, 0.1), S(1.15, 0.1)), -1) == "not reproduced"


def test_verdict_missing_measurement_is_not_run():
    assert rep.verdict(None, +1) == "not run"
    assert rep.effect_interval(None, S(1.0)) is None
    assert rep.effect_interval(S(float("nan")), S(1.0)) is None


def test_gain_handles_negative_returns():
    # returns are negative (eq. 12): -80 is 20 % better than -100
    eff = rep.effect_interval(S(-80, 1), S(-100, 1), "gain")
    assert eff == pytest.approx((0.20, 0.18, 0.22))
    assert rep.verdict(eff, +1) == "reproduced"


def test_combine_over_sweep_points():
    assert rep.combine(["reproduced"] * 4) == "reproduced"
    assert rep.combine(["reproduced", "not reproduced"]) == "not reproduced"
    assert rep.combine(["reproduced", "contradicted"]) == "contradicted"
    assert rep.combine(["reproduced", "not run"]) == "not reproduced"
    assert rep.combine(["not run", "not run"]) == "not run"


# ---- curve measures -----------------------------------------------------------------------------------
def test_steps_to_fraction_rising_return_and_falling_loss():
    x = np.arange(1, 201) * 100.0
    y = -100 + 90 * (1 - np.exp(-x / 2000.0))  # converges to -10
    s = rep.steps_to_fraction(x, y, 0.95)
    assert 5000 < s < 8000  # ~ 2000 ln 20 = 5991, plus the smoothing lag
    loss = 50 * np.exp(-x / 2000.0) + 1
    assert rep.steps_to_fraction(x, loss, 0.95) == pytest.approx(s, rel=0.15)
    # the warm-up is skipped: a flat random phase does not count as "already converged"
    xw = np.concatenate([x, x[-1] + x])
    yw = np.concatenate([np.full(200, -100.0), y])
    assert rep.steps_to_fraction(xw, yw, 0.95, start=x[-1]) == pytest.approx(x[-1] + s)
    assert math.isnan(rep.steps_to_fraction([1.0], [1.0]))
    assert rep.steps_to_fraction([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) == 1.0


def test_last_half_std():
    x = np.arange(1.0, 11.0)
    y = np.array([9, 9, 9, 9, 9, 1, 2, 1, 2, 1], float)
    assert rep.last_half_std(x, y) == pytest.approx(np.std([1, 2, 1, 2, 1], ddof=1))
    assert rep.last_half_std(x, y, start=4.5) == pytest.approx(np.std([1, 2, 1], ddof=1))


def test_exchanged_numbers_spec_5_7():
    plain, cgan = rep.exchanged_numbers(8, 100, 9, 5)
    assert plain == 8 * 7 * (2 * 100 + 9 + 1)
    assert cgan == pytest.approx(8 * 100 / 5)
    assert rep.exchanged_numbers(8, 100, 9, 5, "r0") == (plain, float(plain))
    assert rep.exchanged_numbers(8, 100, 9, None) == (plain, None)
    assert rep.latency_ms(10e6 / 32) == pytest.approx(1000.0)


# ---- claim computations on a hand-made results file ---------------------------------------------------------
def make_data(proposed_delay=(0.8, 0.8), proposed_energy=(1.0, 1.0), with_proposed=True):
    """Two user counts; baselines: greedy delay 1.0 / energy 1.0, DQN 1.2 / 1.1, DDPG 1.1 / 1.3."""
    runs, points = {}, []
    base = {"greedy": (1.0, 1.0), "dqn_vdn": (1.2, 1.1), "ddpg_vdn": (1.1, 1.3), "maddpg": (1.05, 1.05)}
    for i, u in enumerate((3, 6)):
        ids = {}
        for algo, (d, e) in base.items():
            rid = f"{algo}@u{u}"
            runs[rid] = (heuristic if algo == "greedy" else done)({"delay": S(d, 0.02), "energy": S(e, 0.02)})
            ids[algo] = rid
        rid = f"maddpg_cgan@u{u}"
        runs[rid] = done({"delay": S(proposed_delay[i], 0.02), "energy": S(proposed_energy[i], 0.02)}) \
            if with_proposed else {"kind": "learner", "status": "not run"}
        ids["maddpg_cgan"] = rid
        points.append({"n_users": u, "n_servers": 6, "runs": ids})
    return {"meta": {"episode_len": 100}, "plan": {"users": {"points": points}}, "runs": runs}


def rows_by_id(rows):
    return {r["id"]: r for r in rows}


def test_claim1_against_best_and_each_baseline():
    rows = rows_by_id(rep.claim1_rows(make_data()))
    best = rows["1-delay"]
    assert best["verdict"] == "reproduced"
    assert best["ours"].startswith("+20.0 %")  # greedy (1.0) is the best baseline at both points
    assert "Greedy" in best["reason"]
    assert rows["1-delay-dqn_vdn"]["ours"].startswith(f"{100 * (1 - 0.8 / 1.2):+.1f} %")
    # energy: equal to greedy -> overlapping CIs; clearly better than DDPG
    assert rows["1-energy"]["verdict"] == "not reproduced"
    assert rows["1-energy-ddpg_vdn"]["verdict"] == "reproduced"
    assert "reference row" not in rows["1-energy-greedy"]["reason"]


def test_claim1_regression_contradicted_and_missing_not_run():
    rows = rows_by_id(rep.claim1_rows(make_data(proposed_delay=(1.3, 1.4))))
    assert rows["1-delay"]["verdict"] == "contradicted"
    assert rows["1-delay"]["ours"].startswith("-35.0 %")
    rows = rows_by_id(rep.claim1_rows(make_data(with_proposed=False)))
    assert rows["1-delay"]["verdict"] == "not run"
    assert "maddpg_cgan" in rows["1-delay"]["reason"]


def test_claim1_mean_over_sweep_mixes_points():
    # +20 % at one point, -20 % at the other: the sweep mean straddles 0
    rows = rows_by_id(rep.claim1_rows(make_data(proposed_delay=(0.8, 1.2))))
    assert rows["1-delay"]["verdict"] == "not reproduced"


def test_ordering_rows_every_point():
    data = make_data(proposed_delay=(0.8, 0.99))
    rows = rows_by_id(rep.ordering_rows(data))
    assert rows["F6-maddpg_cgan-vs-greedy"]["verdict"] == "not reproduced"  # 0.99 vs 1.00 overlaps
    assert rows["F6-dqn_vdn-vs-greedy"]["verdict"] == "contradicted"  # 1.2 > 1.0 at both points
    assert rows["F6-best"]["verdict"] == "not reproduced"
    assert rows["F8-best"]["verdict"] == "not run"  # no server sweep in the data
    data = make_data(proposed_delay=(0.8, 0.8))
    assert rows_by_id(rep.ordering_rows(data))["F6-best"]["verdict"] == "reproduced"


def _curve_run(final_return, tau, loss_noise, seeds=5, config=None):
    """A learner record whose training return rises to ``final_return`` with time constant ``tau``
    and whose critic loss wiggles with amplitude ``loss_noise``."""
    x = np.arange(1, 101) * 100.0
    rng = np.random.default_rng(0)
    rewards, losses = [], []
    for s in range(seeds):
        r = (-10 + (final_return / 100 + 10) * (1 - np.exp(-x / (tau * (1 + 0.02 * s)))))
        rewards.append(r.tolist())
        losses.append((1 + loss_noise * rng.standard_normal(len(x))).tolist())
    final = {"reward": S(final_return / 100, 0.01)}
    return done(final, {"env_steps": x.tolist(), "metrics": {"reward": rewards, "critic_loss": losses}},
                config=config)


def test_table3_fig5_fig10_from_curves():
    runs = {
        "maddpg": _curve_run(-300, tau=1500, loss_noise=0.5),
        "cgan": _curve_run(-200, tau=500, loss_noise=0.05, config={"k_sync": 5}),
        "greedy": heuristic({"reward": S(-2.5, 0.01)}),
        "pers": _curve_run(-150, tau=400, loss_noise=0.1),
        "fed": _curve_run(-250, tau=1200, loss_noise=0.1),
        "cen": _curve_run(-150, tau=400, loss_noise=0.1),
    }
    data = {"meta": {"episode_len": 100}, "runs": runs, "plan": {
        "convergence": {"runs": {"maddpg": "maddpg", "maddpg_cgan": "cgan", "greedy": "greedy"},
                        "scenario": {"n_users": 8, "obs_dim": 100, "act_numbers": 9}},
        "fl": {"runs": {"personalised": "pers", "fedavg": "fed", "centralised": "cen"}}}}
    t3 = rows_by_id(rep.table3_rows(data))
    assert t3["T3-episodes"]["verdict"] == "contradicted"  # the paper says CGAN takes MORE episodes
    assert t3["T3-sync"]["verdict"] == "reproduced"
    assert "11,760 -> 160.0 numbers/step" in t3["T3-sync"]["ours"]  # 8*7*(2*100+9+1) -> 8*100/5
    assert t3["T3-return"]["verdict"] == "reproduced"
    assert t3["T3-improvement"]["verdict"] == "reproduced"
    assert t3["T3-improvement"]["ours"].startswith("MADDPG -20.0 %")  # (-300 - -250) / 250
    f5 = rows_by_id(rep.fig5_rows(data))
    assert f5["F5-smooth"]["verdict"] == "reproduced"
    assert f5["F5-faster"]["verdict"] == "reproduced"
    f10 = rows_by_id(rep.fig10_rows(data))
    assert f10["F10-vs-fedavg"]["verdict"] == "reproduced"
    assert f10["F10-vs-centralised"]["verdict"] == "not reproduced"  # identical runs
    assert f10["F10-faster"]["verdict"] == "reproduced"
    # without the CGAN every CGAN row reads "not run"
    data["runs"]["cgan"] = {"kind": "learner", "status": "not run"}
    assert all(r["verdict"] == "not run" for r in rep.table3_rows(data) + rep.fig5_rows(data))


def test_markdown_report_from_hand_made_results(tmp_path):
    data = make_data()
    data["meta"].update({
        "command": "python benchmarks/reproduce_000.py", "machine": "x86_64", "cpu_count": 2, "jax": "0",
        "device": "cpu", "loadavg_start": [1.0, 1.0, 1.0], "loadavg_end": [1.0, 1.0, 1.0], "wall_s": 60.0,
        "n_tasks": 3, "episode_len": 100, "steps": 1000, "seeds": 5, "quick": False, "overrides": {},
        "eval_envs": 64, "eval_steps": 100, "eval_seed": 0,
        "sizes": {"users": [3, 6], "users_servers": 6, "servers": [], "servers_users": 8, "default": [8, 6]}})
    for rec in data["runs"].values():
        rec.update(env_steps=1000, n_seeds=5, compile_s=1.0, train_s=2.0, eval_s=0.5, wall_s=3.5)
    data["claims"] = rep.build_claims(data)
    path = tmp_path / "r.md"
    rep.write_markdown(data, path)
    text = path.read_text()
    assert "| 1-delay |" in text and "**reproduced**" in text
    assert "| delay (s) | n_users=3 | n_users=6 |" in text
