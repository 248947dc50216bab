"""Per-chunk training logs: ``metrics.csv`` rows (one per chunk and run) and ``curves.png`` (mean and
Student-t 95 % band over the runs of each sweep value; one run draws no band)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from algos.common import stats


def chunk_rows(chunk: int, env_steps: int, runs: list[dict], sweep_keys, metrics: dict) -> list[dict]:
    """One CSV row per run for a chunk's metrics (``{name: [runs]}``)."""
    rows = []
    for r in runs:
        row = {"chunk": chunk, "env_steps": env_steps, "run": r["run"], "seed": r["seed"], **{k: r[k] for k in sweep_keys}}
        row.update({k: float(np.asarray(v)[r["run"]]) for k, v in metrics.items()})
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    """All ``rows`` (the checkpointed history), written to a temporary file renamed into place."""
    if not rows:
        return
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def read_csv(path: Path, before_chunk: int) -> list[dict]:
    """The rows of chunks ``< before_chunk`` (a resumed run rewrites the rest)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open() as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["chunk"]) < before_chunk]
    for r in rows:
        for key in ("chunk", "run", "seed", "env_steps"):
            r[key] = int(r[key])
    return rows


def plot_curves(path: Path, rows: list[dict], runs: list[dict], baselines: dict, metrics=("reward", "cost")) -> None:
    """Training curves per sweep label with the baselines' evaluation means as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if rows and m in rows[0]]
    if not metrics:
        return
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    groups = {}
    for r in runs:
        groups.setdefault(r["label"], []).append(r["run"])
    for ax, metric in zip(axes[0], metrics):
        for label, members in groups.items():
            by_step = {}
            for row in rows:
                if row["run"] in members:
                    by_step.setdefault(int(row["env_steps"]), []).append(float(row[metric]))
            steps = np.array(sorted(by_step))
            mean, low, high = np.array([stats.band(by_step[s]) for s in steps]).T
            ax.plot(steps, mean, label=f"{label or 'train'} (n={len(members)})")
            if len(members) > 1:
                ax.fill_between(steps, low, high, alpha=0.25)
        for (name, st), style in zip(baselines.items(), ("--", ":", "-.")):
            if metric in st:
                ax.axhline(st[metric]["mean"], ls=style, color="k", lw=1, label=f"{name} (eval)")
        ax.set_xlabel("env steps per run")
        ax.set_ylabel(f"{metric} (training, exploring)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"mean and Student-t 95 % CI over seeds ({len(runs)} runs)" if len(runs) > 1 else "one run (no CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
