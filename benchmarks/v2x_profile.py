#!/usr/bin/env python
"""What a trained v2x run does at each turn of the slot, beside Greedy-DT and the blind policies.

    python benchmarks/v2x_profile.py RUN_DIR                  # run 0 of a scripts/train.py output
    python benchmarks/v2x_profile.py RUN_DIR --run 1 --envs 16

For the run's deterministic policy, Greedy-DT (`greedy`), the best greedy with an actor's
information (`greedy_blind`) and its one-step rollout (`lookahead`, ~6 min of one core at 64 x 100),
on `evaluate`'s envs and keys (eval seed 12345 by default): per turn in the vehicles' ID order, the
mean per-vehicle cost, the share of tasks offloaded and, over the offloaded tasks, the mean power
fraction (of p_max) and CPU / bandwidth fractions (of what the twin says remains); the last column is
over all turns. Descriptive only: one run, no CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from algos.common.evaluation import rollout  # noqa: E402
from algos.common.runner import load_policy  # noqa: E402
from algos.heuristics import v2x as v2x_heuristics  # noqa: E402


def profile(env, params, policy, key, num_envs: int, num_steps: int) -> dict:
    """``{row: float[M + 1]}``: per turn, then over all turns."""
    params = params.replace(reward_global=False)  # per-vehicle rewards: each vehicle's own cost

    def record(state, action, reward, info):
        target, frac = env.decode_action(action)
        return {"cost": -reward, "target": target, "frac": frac}

    trace = jax.tree_util.tree_map(np.asarray, jax.jit(
        lambda k: rollout(env, params, policy, k, num_envs, num_steps, record))(key))
    offloaded = trace["target"] > 0  # [E, T, M]

    def masked_mean(x, where):
        return x[where].mean() if where.any() else np.nan  # nan, not a warning, where nothing qualifies

    def per_turn(x, where):
        return np.array([masked_mean(x[..., i], where[..., i]) for i in range(x.shape[-1])] + [masked_mean(x, where)])

    every = np.ones_like(offloaded)
    rows = {"cost x 1e3": per_turn(trace["cost"] * 1e3, every), "offloaded": per_turn(offloaded * 1.0, every)}
    for j, name in enumerate(("power fraction", "CPU fraction", "bandwidth fraction")):
        rows[name] = per_turn(trace["frac"][..., j], offloaded)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--run", type=int, default=0, help="which run of the output dir (its order in summary.json)")
    ap.add_argument("--envs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args(argv)
    env, params, act = load_policy(args.run_dir, args.run, "v2x")
    policies = {"trained run": lambda key, obs, state, params: act(obs), "Greedy-DT": v2x_heuristics.greedy(env),
                "blind greedy": v2x_heuristics.greedy_blind(env), "blind lookahead": v2x_heuristics.lookahead(env)}
    key = jax.random.PRNGKey(args.seed)
    m = env.n_vehicles
    print(f"{args.run_dir} (run {args.run}), {args.envs} envs x {args.steps} slots, eval seed {args.seed}\n")
    turns = " | ".join(f"turn {i + 1}" for i in range(m))
    print(f"| policy | row | {turns} | all |\n|---|---|" + "---:|" * (m + 1))
    for name, policy in policies.items():
        for row, values in profile(env, params, policy, key, args.envs, args.steps).items():
            print(f"| {name} | {row} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
