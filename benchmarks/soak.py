#!/usr/bin/env python
"""Soak test: >= 1e8 agent-steps per env with random and extreme-valid actions, counting every
non-finite value the env produces.

Per env (its registered default sizes and default Params), ``--num-envs`` parallel envs step in
``jit(scan(vmap(env.step)))`` chunks until ``--agent-steps`` agent-steps (env steps x agents) are done.
Half of the envs act uniformly at random (``action_space.sample``), the other half with *extreme*
valid actions: every element at its lowest or highest valid value (Discrete 0 / n-1, Box low / high),
drawn per element and step. Counted over the whole run:

* non-finite values in the observations (incl. ``final_observation``), rewards, every
  ``info["metrics"]`` entry and every float leaf of the state (incl. ``final_state``);
* steps with a nonzero ``info["param_error"]`` (must stay 0: default params);
* the max (and min) of every state leaf: integer counters (slot, queue, cache counts) and the
  largest magnitude of float leaves, so drift over long runs is visible.

    nice -n 5 python benchmarks/soak.py                         # every env, 1e8 agent-steps each
    python benchmarks/soak.py --env slicing --agent-steps 1e6   # a quick look

Writes benchmarks/results/soak.{json,md} (rows of other envs already in the JSON are kept).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxedge  # noqa: E402
from jaxedge import spaces  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def extreme_action(space: spaces.Space, key):
    """Every element of an action at its lowest or highest valid value (a fair coin per element)."""
    if isinstance(space, spaces.Discrete):
        return jnp.where(jax.random.bernoulli(key, 0.5, space.shape), space.n - 1, 0).astype(jnp.int32)
    if isinstance(space, spaces.MultiDiscrete):
        high = jnp.broadcast_to(jnp.asarray(space.nvec) - 1, space.shape)
        return jnp.where(jax.random.bernoulli(key, 0.5, space.shape), high, 0).astype(jnp.int32)
    if isinstance(space, spaces.Box):
        low, high = jnp.asarray(space.low), jnp.asarray(space.high)
        high = jnp.where(jnp.isfinite(high), high, jnp.where(jnp.isfinite(low), low, 0.0))
        low = jnp.where(jnp.isfinite(low), low, high)
        return jnp.where(jax.random.bernoulli(key, 0.5, space.shape), high, low).astype(space.dtype)
    if isinstance(space, spaces.Hybrid):
        k1, k2 = jax.random.split(key)
        return spaces.HybridAction(discrete=extreme_action(space.discrete, k1),
                                   continuous=extreme_action(space.continuous, k2))
    if isinstance(space, spaces.Dict):
        keys = jax.random.split(key, len(space.spaces))
        return {name: extreme_action(sub, k) for (name, sub), k in zip(space.spaces.items(), keys)}
    raise TypeError(f"no extreme action for {space}")


def _nonfinite(tree) -> jax.Array:
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return sum((jnp.sum(~jnp.isfinite(x)).astype(jnp.int32) for x in leaves), jnp.int32(0))


def _leaf_names(tree) -> list[str]:
    return [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _extremes(state):
    """Per state leaf: (max, min) of integer leaves, (max |x|, min |x|) of float leaves (finite part)."""
    def one(x):
        if jnp.issubdtype(x.dtype, jnp.inexact):
            a = jnp.where(jnp.isfinite(x), jnp.abs(x), 0.0).astype(jnp.float32)
            return jnp.max(a), jnp.min(a)
        x = x.astype(jnp.float32)
        return jnp.max(x), jnp.min(x)
    return [one(x) for x in jax.tree_util.tree_leaves(state)]


def make_chunk(env, params, num_envs: int, steps: int):
    space = env.action_space(params)
    half = num_envs // 2  # envs [0, half): random actions; [half, num_envs): extreme actions

    def act(key, i):
        k1, k2 = jax.random.split(key)
        return jax.tree_util.tree_map(lambda r, e: jnp.where(i < half, r, e), space.sample(k1),
                                      extreme_action(space, k2))

    def one_step(carry, key):
        states, counts, ext = carry
        keys = jax.random.split(key, 2 * num_envs)
        actions = jax.vmap(act)(keys[:num_envs], jnp.arange(num_envs))
        obs, states, reward, term, trunc, info = jax.vmap(env.step, (0, 0, 0, None))(
            keys[num_envs:], states, actions, params)
        counts = {
            "obs": counts["obs"] + _nonfinite((obs, info["final_observation"])),
            "reward": counts["reward"] + _nonfinite(reward),
            "state": counts["state"] + _nonfinite((states, info["final_state"])),
            "metrics": {k: counts["metrics"][k] + _nonfinite(v) for k, v in info["metrics"].items()},
            "param_error_steps": counts["param_error_steps"] + jnp.sum(info["param_error"] != 0).astype(jnp.int32),
            "episodes": counts["episodes"] + jnp.sum(term | trunc).astype(jnp.int32),
        }
        new = _extremes(info["final_state"])
        ext = [(jnp.maximum(a, c), jnp.minimum(b, d)) for (a, b), (c, d) in zip(ext, new)]
        return (states, counts, ext), None

    @jax.jit
    def chunk(states, counts, ext, key):
        (states, counts, ext), _ = jax.lax.scan(one_step, (states, counts, ext), jax.random.split(key, steps))
        return states, counts, ext

    return chunk


def soak_env(name: str, agent_steps: float, num_envs: int, steps: int, seed: int) -> dict:
    env = jaxedge.make(name)
    params = env.default_params
    keys = jax.random.split(jax.random.PRNGKey(seed), num_envs)
    obs, states = jax.jit(jax.vmap(env.reset, (0, None)))(keys, params)
    k = jax.random.PRNGKey(seed + 1)
    _, _, _, _, _, info = jax.eval_shape(lambda: jax.vmap(env.step, (0, 0, 0, None))(
        keys, states, jax.vmap(env.action_space(params).sample)(keys), params))
    counts = {"obs": jnp.int32(0), "reward": jnp.int32(0), "state": jnp.int32(0),
              "metrics": {m: jnp.int32(0) for m in info["metrics"]}, "param_error_steps": jnp.int32(0),
              "episodes": jnp.int32(0)}
    counts["obs"] += _nonfinite(obs)
    counts["state"] += _nonfinite(states)
    ext = _extremes(states)
    chunk = make_chunk(env, params, num_envs, steps)
    per_call = num_envs * steps * env.num_agents
    calls = int(np.ceil(agent_steps / per_call))
    t0 = time.perf_counter()
    totals = None
    for c in range(calls):
        k, sub = jax.random.split(k)
        states, counts, ext = chunk(states, counts, ext, sub)
        if c == 0:
            jax.block_until_ready(counts)
            compile_s = time.perf_counter() - t0
        # int32 counters: fold them into Python ints every call so they cannot overflow
        host = jax.device_get(counts)
        totals = host if totals is None else jax.tree_util.tree_map(lambda a, b: int(a) + int(b), totals, host)
        counts = jax.tree_util.tree_map(jnp.zeros_like, counts)
        if c % 10 == 0 or c == calls - 1:
            print(f"  {name}: {(c + 1) * per_call:.3g} agent-steps, {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    wall = time.perf_counter() - t0
    ext = jax.device_get(ext)
    names = _leaf_names(states)
    totals = jax.tree_util.tree_map(int, totals)
    return {
        "env": name, "sizes": {f: getattr(env, f) for f in env.__dataclass_fields__ if f != "name"},
        "params": "default", "num_agents": env.num_agents, "num_envs": num_envs, "steps_per_env": calls * steps,
        "env_steps": calls * steps * num_envs, "agent_steps": calls * per_call,
        "agent_steps_random": calls * steps * (num_envs // 2) * env.num_agents,
        "agent_steps_extreme": calls * steps * (num_envs - num_envs // 2) * env.num_agents,
        "episodes": totals["episodes"], "wall_s": round(wall, 1), "compile_s": round(compile_s, 1),
        "nonfinite": {"obs": totals["obs"], "reward": totals["reward"], "state": totals["state"],
                      "metrics": totals["metrics"]},
        "param_error_steps": totals["param_error_steps"],
        "state_extremes": {n: {"max": float(a), "min": float(b), "kind": "int" if "int" in str(s.dtype) else "|float|"}
                           for n, (a, b), s in zip(names, ext, jax.tree_util.tree_leaves(states))},
    }


def write_md(rows: dict, path: Path) -> None:
    lines = ["# Soak test", "",
             "Generated by `nice -n 5 python benchmarks/soak.py`: per env (registered default sizes, default "
             "Params) half the parallel envs act at random, half with extreme valid actions (each element at its "
             "lowest or highest value). Counts are non-finite values summed over every step (obs incl. "
             "final_observation, state incl. final_state).", "",
             "| env | agent-steps | random / extreme | episodes | non-finite obs | reward | state | metrics | "
             "param_error steps | wall s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows.values():
        nf = r["nonfinite"]
        lines.append(f"| {r['env']} | {r['agent_steps']:.3g} | {r['agent_steps_random']:.3g} / "
                     f"{r['agent_steps_extreme']:.3g} | {r['episodes']:,} | {nf['obs']} | {nf['reward']} | "
                     f"{nf['state']} | {sum(nf['metrics'].values())} ({len(nf['metrics'])} metrics) | "
                     f"{r['param_error_steps']} | {r['wall_s']:.0f} |")
    lines += ["", "## State extremes (max / min over every step; float leaves by magnitude)", ""]
    for r in rows.values():
        cells = ", ".join(f"`{n}` {v['max']:.4g} / {v['min']:.4g}" for n, v in r["state_extremes"].items())
        lines.append(f"- **{r['env']}** ({r['num_envs']} envs x {r['steps_per_env']} steps): {cells}")
    lines += ["", "## Metrics (non-finite count each)", ""]
    for r in rows.values():
        lines.append(f"- **{r['env']}**: " + ", ".join(f"{k} {v}" for k, v in r["nonfinite"]["metrics"].items()))
    lines += ["", "Machine and load average (1, 5, 15 min) when each env finished (the wall times are on a "
              "2-core CPU shared with other jobs; agent-steps/s on an idle machine: env_throughput.md):", ""]
    lines += [f"- {r['env']}: {r['machine']}" for r in rows.values()]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", nargs="+", default=jaxedge.list_envs())
    ap.add_argument("--agent-steps", type=float, default=1e8)
    ap.add_argument("--num-envs", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=100, help="env steps per compiled call")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    args = ap.parse_args(argv)
    rows = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.env:
        row = soak_env(name, args.agent_steps, args.num_envs, args.steps, args.seed)
        row["machine"] = f"{platform.machine()}, {jax.devices()[0].platform}, load {Path('/proc/loadavg').read_text().split()[:3]}"
        rows[name] = row
        bad = row["nonfinite"]["obs"] + row["nonfinite"]["reward"] + row["nonfinite"]["state"] + \
            sum(row["nonfinite"]["metrics"].values()) + row["param_error_steps"]
        print(f"{name}: {row['agent_steps']:.3g} agent-steps in {row['wall_s']:.0f}s, {bad} non-finite / error", file=sys.stderr)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))
        write_md(rows, args.out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
