#!/usr/bin/env python
"""Seed 000's headroom: the greedies, a full-information best response and the trained main job against the
certified lower bound on cost.

    python benchmarks/dt_inference_bound.py                  # default sizes, 128 and 64 eval envs x 100 steps
    python benchmarks/dt_inference_bound.py --envs 16 --tiny-envs 4

The bound (`algos/heuristics/dt_inference_bound.py`) is the least per-step mean eq.-8 cost ANY policy
can reach on `evaluate`'s envs and keys (the exogenous state never depends on the actions), so every
row is paired with it env by env. 128 envs are `scripts/train.py`'s evaluation (the default main job's
summary.json), 64 envs the reproduction's (benchmarks/results/reproduce_000_64k); the learners' rows are
read from those files, not retrained. A tiny-instance check (2 users, 2 servers, 2 tasks) puts the bound
beside the exhaustive per-step oracle, to show how tight it is where the optimum is computable.
Writes benchmarks/results/dt_inference_bound.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxedge  # noqa: E402
from algos import heuristics  # noqa: E402
from algos.common import stats  # noqa: E402
from algos.common.evaluation import evaluate, rollout  # noqa: E402
from algos.heuristics import dt_inference_bound  # noqa: E402
from jaxedge import spaces  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
POLICIES = ("greedy_paper", "greedy", "local", "greedy_home", "greedy_joint", "home_joint", "best_response")
METRICS = ("cost", "delay", "energy", "reward")
# (convention, what one selfish user plays instead): is the convention an equilibrium of the individual rewards?
DEVIATIONS = (("greedy_home", "greedy"), ("home_joint", "greedy_joint"))
# trained learners evaluated on the same keys, by eval env count: (label, file, how to find the run)
LEARNERS = {128: [("MADDPG-CGAN main job (seed 0, 64k steps)", "maddpg_cgan_default_summary.json", None),
                  ("MADDPG-CGAN, the paper's actor update (seeds 1-2, 64k steps)", "maddpg_cgan_default_seeds12_summary.json", None),
                  ("MADDPG (seed 0, 64k steps)", "maddpg_default_summary.json", None)],
            64: [("MADDPG-CGAN, the paper's actor update (5 seeds, 64k steps)", "reproduce_000_64k/reproduce_000.json", "maddpg_cgan@u8m6"),
                 ("MADDPG (5 seeds, 64k steps)", "reproduce_000_64k/reproduce_000.json", "maddpg@u8m6")]}


def learner_rows(num_envs: int, steps: int) -> list[tuple[str, dict]]:
    rows = []
    for label, name, run in LEARNERS.get(num_envs, []):
        path = RESULTS / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        if run is None:  # a train.py summary
            ev = data.get("eval", {})
            if (ev.get("num_envs"), ev.get("steps"), data.get("sizes")) != (num_envs, steps, []):
                continue
            rows.append((label, data["final"]))
        else:  # a reproduction JSON
            meta, rec = data.get("meta", {}), data.get("runs", {}).get(run, {})
            if (meta.get("eval_envs"), meta.get("eval_steps"), rec.get("status")) == (num_envs, steps, "done"):
                rows.append((label, rec["final"]))
    return rows


def default_sizes(num_envs: int, steps: int, seed: int, iters: int) -> dict:
    env = jaxedge.make("dt_inference")
    params = env.default_params
    key = jax.random.PRNGKey(seed)
    t0 = time.perf_counter()
    out = {"envs": num_envs, "steps": steps, "eval_seed": seed, "dual_iters": iters,
           "bound": dt_inference_bound.expected_bound(env, params, key, num_envs, steps, iters)["cost"]}
    out["bound_s"] = round(time.perf_counter() - t0, 1)
    out["policies"] = {name: {m: evaluate(env, params, heuristics.make_heuristic(env, name), key, num_envs, steps)[m]
                              for m in METRICS} for name in POLICIES}
    out["learners"] = {label: {m: final[m] for m in METRICS if m in final}
                       for label, final in learner_rows(num_envs, steps)}
    return out


def tiny(num_envs: int, steps: int, seed: int) -> dict:
    env = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
    params = env.default_params
    key = jax.random.PRNGKey(seed)
    out = {"sizes": {"n_users": 2, "n_servers": 2, "n_tasks": 2}, "envs": num_envs, "steps": steps,
           "bound": dt_inference_bound.expected_bound(env, params, key, num_envs, steps)["cost"]}
    for name in ("oracle",) + POLICIES:
        out[name] = evaluate(env, params, heuristics.make_heuristic(env, name), key, num_envs, steps)["cost"]
    return out


def one_user_deviates(num_envs: int, steps: int, seed: int, convention: str, deviation: str) -> dict:
    """Is ``convention`` stable for selfish users? Each user's own cost per step (-eq. 12 reward) when all
    play it, and that user's own cost when it alone plays ``deviation`` instead (the others keep to it)."""
    env = jaxedge.make("dt_inference")
    params, key = env.default_params, jax.random.PRNGKey(seed)
    home, free = (heuristics.make_heuristic(env, name) for name in (convention, deviation))

    def own_costs(deviator):  # -1: nobody deviates
        def policy(k, obs, state, p):
            a, b = home(k, obs, state, p), free(k, obs, state, p)
            dev = (jnp.arange(env.n_users) == deviator)[:, None]
            return spaces.HybridAction(jnp.where(dev, b.discrete, a.discrete),
                                       jnp.where(dev[..., None], b.continuous, a.continuous))
        rewards = rollout(env, params, policy, key, num_envs, steps, lambda state, action, reward, info: reward)
        return -rewards.mean((0, 1))

    run = jax.jit(own_costs)
    stay = np.asarray(run(-1))
    alone = np.array([np.asarray(run(u))[u] for u in range(env.n_users)])
    return {"convention": convention, "deviation": deviation, "envs": num_envs, "steps": steps,
            "all_keep": stay.tolist(), "deviator": alone.tolist()}


def fmt(stat: dict) -> str:
    if "n" not in stat:  # older one-run summaries store no count (and a CI of 0)
        stat = {**stat, "ci95": stat.get("ci95") or None}
    return stats.fmt(stat, with_n="n" in stat)


def cut(bound: dict, ref: dict) -> float:
    return 1.0 - bound["mean"] / ref["mean"]


def markdown(rows: list[dict], small: dict, command: str, devs: list[dict]) -> list[str]:
    lines = ["# dt_inference: the certified lower bound on cost against both greedies and the trained learners", "",
             f"`{command}`. Mean per-step eq.-8 cost (and delay s, energy J, reward per agent-step) of the "
             "deterministic policies on `evaluate`'s envs and keys; Student-t 95 % CI over the eval envs "
             "(heuristics, bound) or over seeds (learners; one seed has no CI). The bound is the Lagrangian dual of "
             "problem P per step (C2 exact, C3/C4 priced; `algos/heuristics/dt_inference_bound.py`): no policy, "
             "centralised or not, has a lower mean `cost` on these states. *max cut* = (policy - bound) / policy: "
             "the most any policy could cut that row's cost. `best_response` (centralised, full information: each "
             "user in turn picks its own tasks' targets against everyone else's) is achievable, so the optimum lies "
             "between the bound and it; `greedy_home` (decentralised: user i offloads only to server i mod M) is "
             "what a fixed coordination convention buys; `greedy_joint` (decentralised: each user chooses its own tasks' "
             "targets jointly, pricing their contention exactly, ignoring the others) and `home_joint` (the same "
             "within `greedy_home`'s convention) what decentralised rules using only each user's own observation "
             "reach.", ""]
    for r in rows:
        lines += [f"## Default sizes (8 users, 6 servers, 3 tasks), {r['envs']} envs x {r['steps']} steps, "
                  f"eval seed {r['eval_seed']}", "",
                  "| row | cost | delay (s) | energy (J) | reward | max cut |", "|---|---:|---:|---:|---:|---:|",
                  f"| **lower bound** | {fmt(r['bound'])} | — | — | — | — |"]
        for label, st in [(f"Greedy (paper, `{p}`)" if p == "greedy_paper" else f"`{p}`", r["policies"][p])
                          for p in POLICIES] + list(r["learners"].items()):
            lines.append(f"| {label} | " + " | ".join(fmt(st[m]) if m in st else "—" for m in METRICS)
                         + f" | {100 * cut(r['bound'], st['cost']):.1f} % |")
        lines.append("")
    for d in devs:
        lines += [f"## Selfish users leave `{d['convention']}` for `{d['deviation']}` (one deviator at a time)", "",
                  f"{d['envs']} envs x {d['steps']} steps: each user's own cost per step (-eq. 12 reward, summed "
                  f"over its tasks) when every user plays `{d['convention']}`, and when that user alone plays "
                  f"`{d['deviation']}` while the others keep to the convention. A lower own cost means the "
                  "convention is not an equilibrium of the paper's individual rewards.", "",
                  "| user | all keep to it | it alone deviates | change |", "|---:|---:|---:|---:|"]
        for u, (a, b) in enumerate(zip(d["all_keep"], d["deviator"])):
            lines.append(f"| {u} | {a:.3f} | {b:.3f} | {100 * (b / a - 1):+.1f} % |")
        lines.append("")
    lines += ["## Tightness where the optimum is computable (2 users, 2 servers, 2 tasks)", "",
              f"{small['envs']} envs x {small['steps']} steps: the exhaustive per-step oracle (every joint target, "
              "KKT frequencies and sqrt bandwidth split) is an achievable cost, so bound <= oracle always.", "",
              "| row | cost | above the bound |", "|---|---:|---:|",
              f"| lower bound | {fmt(small['bound'])} | — |"]
    for name in ("oracle",) + POLICIES:
        above = 100 * (small[name]["mean"] / small["bound"]["mean"] - 1)
        lines.append(f"| `{name}` | {fmt(small[name])} | {above:.2f} % |")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", type=int, nargs="+", default=[128, 64])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--eval-seed", type=int, default=12345)
    ap.add_argument("--iters", type=int, default=100, help="dual ascent iterations per step")
    ap.add_argument("--tiny-envs", type=int, default=16)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--render-only", action="store_true", help="rewrite the .md from the .json, compute nothing")
    args = ap.parse_args(argv)
    if args.render_only:
        data = json.loads((args.out / "dt_inference_bound.json").read_text())
        (args.out / "dt_inference_bound.md").write_text(
            "\n".join(markdown(data["default"], data["tiny"], data["command"], data["deviations"])) + "\n")
        return
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    command = f"python benchmarks/dt_inference_bound.py {flags}".rstrip()
    rows = [default_sizes(n, args.steps, args.eval_seed, args.iters) for n in args.envs]
    small = tiny(args.tiny_envs, 20, args.eval_seed)
    devs = [one_user_deviates(min(args.envs), args.steps, args.eval_seed, convention, deviation)
            for convention, deviation in DEVIATIONS]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dt_inference_bound.json").write_text(
        json.dumps({"command": command, "default": rows, "tiny": small, "deviations": devs}, indent=1))
    lines = markdown(rows, small, command, devs)
    (args.out / "dt_inference_bound.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
