"""scripts/reproduce.py: one-line usage errors (in process, nothing trained) and a tiny end-to-end run
(2 users, 2 servers, 2 tasks, 200 env steps, 2 seeds, dqn_vdn + greedy) that is interrupted, resumed
and then equals the uninterrupted run. The subprocesses share a JAX compilation cache and compile at
XLA optimisation level 0."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_reproduce_script", ROOT / "scripts" / "reproduce.py")
cli_reproduce = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cli_reproduce)

TINY = ["--seed", "000", "--quick", "--only", "servers", "--algos", "dqn_vdn", "greedy", "--grid", "servers=2",
        "--total-steps", "200", "--seeds", "2", "--eval-envs", "4", "--eval-steps", "10", "--quiet"]


@pytest.mark.parametrize("flags, needle", [
    (["--seed", "999"], "no reproduction for seed '999'"),
    (["--only", "nothing"], "unknown section(s) ['nothing']"),
    (["--algos", "maddpg", "grady"], "does not use ['grady']"),
    (["--set", "no_such_field=1"], "has a field 'no_such_field'"),
    (["--set", "nolearner:lr_actor=1"], "unknown learner 'nolearner'"),
    (["--set", "maddpg:batch_size=abc"], "config key batch_size expects int, got 'abc'"),
    (["--set", "batch_size"], "--set expects [ALGO:]KEY=VALUE"),
    (["--set", "maddpg:total_env_steps=5"], "use --total-steps"),
    (["--grid", "users=a"], "--grid users expects ints"),
    (["--grid", "planets=3"], "--grid expects NAME=V1,V2"),
    (["--grid", "default=8"], "grid default takes 2 value(s)"),
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--total-steps", "0"], "--total-steps must be >= 1"),
])
def test_bad_flags_are_one_line_errors(flags, needle, capsys, tmp_path):
    assert cli_reproduce.main([*flags, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
    assert not any(tmp_path.iterdir())  # nothing ran, nothing written


def test_report_only_needs_the_json(capsys, tmp_path):
    assert cli_reproduce.main(["--report-only", "--out", str(tmp_path)]) == 2
    assert "no " in capsys.readouterr().err


def _run(args, cache):
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_COMPILATION_CACHE_DIR=str(cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", XLA_FLAGS=flags)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "reproduce.py"), *args], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


RESULT_KEYS = ("status", "final", "per_seed", "curve", "config", "env_steps", "warmup_env_steps", "signature")


def test_heuristic_only_run_then_resume_keeps_it(tmp_path):
    """The CLI -> runner -> report wiring in the default suite (no learner: seconds, not minutes)."""
    args = [*TINY[:6], "greedy", *TINY[8:], "--out", str(tmp_path / "h")]
    _run(args, tmp_path / "cache")
    data = json.loads((tmp_path / "h" / "reproduce_000.json").read_text())
    assert list(data["runs"]) == ["greedy@u2m2"] and data["runs"]["greedy@u2m2"]["final"]["delay"]["n"] == 4
    assert data["meta"]["command"].startswith("python scripts/reproduce.py --seed 000 --quick")
    assert "| Greedy (ours) |" in (tmp_path / "h" / "reproduce_000.md").read_text()
    proc = _run([*args, "--resume"], tmp_path / "cache")
    assert "greedy@u2m2: kept from the previous run" in proc.stderr
    assert json.loads((tmp_path / "h" / "reproduce_000.json").read_text())["runs"] == data["runs"]

    # --merge: a job finished by another invocation (here: the same run, moved aside) comes back
    side = tmp_path / "side.json"
    side.write_text((tmp_path / "h" / "reproduce_000.json").read_text())
    (tmp_path / "h" / "reproduce_000.json").write_text(json.dumps({**data, "runs": {}}))
    _run([*args, "--merge", str(side)], tmp_path / "cache")
    merged = json.loads((tmp_path / "h" / "reproduce_000.json").read_text())
    assert merged["runs"] == data["runs"]
    assert merged["meta"]["side_runs"][0]["jobs"] == ["greedy@u2m2"]
    assert "greedy@u2m2" in (tmp_path / "h" / "reproduce_000.md").read_text().split("## Setup")[0]


@pytest.mark.slow  # ~1 min of CPU, 2-3 min wall on the shared 2-core machine
def test_interrupted_and_resumed_reproduction_equals_the_uninterrupted_one(tmp_path):
    cache, full, part = tmp_path / "cache", tmp_path / "full", tmp_path / "part"
    _run([*TINY, "--out", str(full)], cache)
    data = json.loads((full / "reproduce_000.json").read_text())
    assert set(data["runs"]) == {"dqn_vdn@u2m2", "greedy@u2m2"}
    rec = data["runs"]["dqn_vdn@u2m2"]
    assert rec["status"] == "done" and rec["final"]["cost"]["n"] == 2 and len(rec["per_seed"]["cost"]) == 2
    assert len(rec["curve"]["env_steps"]) == 25 and len(rec["curve"]["metrics"]["reward"]) == 2
    assert {c["id"] for c in data["claims"]} >= {"F8-dqn_vdn-vs-greedy", "T3-sync"}
    for name in ("reproduce_000.md", "reproduce_000_servers.png"):
        assert (full / name).stat().st_size > 0
    ckpt = full / "reproduce_000_runs" / "dqn_vdn_u2m2"
    assert (ckpt / "metrics.csv").exists() and not (ckpt / "checkpoint.msgpack").exists()  # state dropped when done

    _run([*TINY, "--out", str(part), "--max-chunks", "5"], cache)  # "killed" after chunk 5's checkpoint
    stopped = json.loads((part / "reproduce_000.json").read_text())["runs"]
    assert stopped["dqn_vdn@u2m2"]["status"] == "interrupted" and stopped["greedy@u2m2"]["status"] == "done"
    assert json.loads((part / "reproduce_000_runs" / "dqn_vdn_u2m2" / "checkpoint.json").read_text())["chunk"] == 5

    proc = _run([*TINY, "--out", str(part), "--resume"], cache)
    assert "greedy@u2m2: kept from the previous run" in proc.stderr
    assert "from chunk 5/25" in proc.stderr
    resumed = json.loads((part / "reproduce_000.json").read_text())
    for rid, rec in data["runs"].items():
        for key in RESULT_KEYS:
            assert resumed["runs"][rid].get(key) == rec.get(key), (rid, key)
    assert resumed["claims"] == data["claims"]

    proc = _run([*TINY, "--out", str(part), "--resume"], cache)  # everything finished: nothing reruns
    assert proc.stderr.count("kept from the previous run") == 2
    assert json.loads((part / "reproduce_000.json").read_text())["runs"] == resumed["runs"]
