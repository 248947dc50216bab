#!/usr/bin/env python
"""Where a trained dt_inference run loses to the decentralised rules: its targets, not its shares?

    python benchmarks/dt_inference_profile.py RUN_DIR                   # run 0 of a scripts/train.py output
    python benchmarks/dt_inference_profile.py RUN_DIR --run 2 --envs 16 --heuristics gain_joint,greedy

For the run's deterministic policy, the same policy with `request_shares` in place of its own shares
(its targets priced as the joint rules price theirs) and each heuristic, on `evaluate`'s envs and keys
(eval seed 12345 by default, the reproduction's): the mean cost, the offload ratio, the share of
offloaded tasks sent to the user's best-gain server this step (`gain_joint`'s home), the most tasks on
one server and the most of one offloading user's tasks on one server, averaged over envs and steps.
Descriptive only: one run, no CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from algos import heuristics  # noqa: E402
from algos.common.evaluation import rollout  # noqa: E402
from algos.common.runner import load_policy  # noqa: E402
from algos.heuristics.dt_inference import request_shares  # noqa: E402
from jaxedge import spaces  # noqa: E402


def profile(env, params, policy, key, num_envs: int, num_steps: int) -> dict:
    """The columns of the table for ``policy(key, obs, state, params)`` on `rollout`'s envs and keys."""

    def record(state, action, reward, info):
        return action.discrete, jnp.argmax(state.gain, -1) + 1, info["metrics"]["cost"]

    trace = jax.jit(lambda k: rollout(env, params, policy, k, num_envs, num_steps, record))(key)
    target, home, cost = (np.asarray(x) for x in trace)
    offloaded = target > 0  # [E, T, U, N]
    per_server = np.stack([(target == k).sum((-1, -2)) for k in range(1, env.n_servers + 1)], -1)  # [E, T, M]
    own = np.stack([(target == k).sum(-1) for k in range(1, env.n_servers + 1)], -1).max(-1)  # [E, T, U]
    return {"cost": cost.mean(), "offload ratio": offloaded.mean(),
            "to best-gain server": (offloaded & (target == home[..., None])).sum() / max(offloaded.sum(), 1),
            "max tasks on a server": per_server.max(-1).mean(),
            "max own tasks on a server": own[offloaded.any(-1)].mean()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--run", type=int, default=0, help="which run of the output dir (its order in summary.json)")
    ap.add_argument("--heuristics", default="gain_joint,home_joint,greedy")
    ap.add_argument("--envs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args(argv)
    env, params, act = load_policy(args.run_dir, args.run, "dt_inference")
    policies = {"trained run": lambda key, obs, state, params: act(obs)}

    def with_request_shares(key, obs, state, params):
        target = act(obs).discrete
        return spaces.HybridAction(target, request_shares(env, state, target, params))

    policies["its targets + request_shares"] = with_request_shares
    policies.update({name: heuristics.make_heuristic(env, name) for name in args.heuristics.split(",") if name})
    key = jax.random.PRNGKey(args.seed)
    rows = {name: profile(env, params, policy, key, args.envs, args.steps) for name, policy in policies.items()}
    columns = list(next(iter(rows.values())))
    print(f"{args.run_dir} (run {args.run}), {args.envs} envs x {args.steps} steps, eval seed {args.seed}\n")
    print("| policy | " + " | ".join(columns) + " |\n|---|" + "---:|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
