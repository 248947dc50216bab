#!/usr/bin/env python
"""GAN check on real data (seed 000 §6.7, Fig. 4): the four losses on scikit-learn's handwritten digits.

    python benchmarks/gan_digits.py                          # full run (~13 min, 2-core CPU)
    python benchmarks/gan_digits.py --seeds 3                # mean ± std over 3 seeds (3x longer)
    python benchmarks/gan_digits.py --quick --out /tmp/gan   # smoke run (tiny nets, ~2 min)
    python benchmarks/gan_digits.py --report-only            # .md / .png from the JSON

scikit-learn's bundled digits (1797 images, 8x8, 10 classes; the only real image set available
offline) stand in for the paper's MNIST. Pixels 0..16 are scaled to [-1, 1] (``[N, 8, 8, 1]``), the
label is the one-hot condition ``c``. A stratified 70/30 split: the GANs, the frozen auxiliary
classifier C of cwgan_gp and the scoring classifier see only the train part; the test part only
measures the scoring classifier itself.

Each variant is the conditional StyleGAN of ``algos/cgan.py`` (all four are class-conditioned and
differ only in the loss, spec A28): Minimax GAN (eq. 15), WGAN (eq. 16, clipping + RMSProp),
WGAN-GP (eqs. 17-18) and conditional WGAN-GP (eqs. 17-19: WGAN-GP plus ``rho_CE`` times the
cross-entropy of a frozen classifier C, trained first with `cgan.fit_aux`). The whole training of
one variant is jitted: ``lax.scan`` over train steps (minibatches drawn with replacement inside the
scan), called once per chunk for a progress line; after every chunk the same program also
generates the evaluation samples, so the accuracy curve costs no extra compile.

Metric (the paper's "recognition accuracy"): 100 samples per class, conditioned on that class (1000
in all), scored by an RBF SVM trained on the real train digits (scoring uses a classifier
independent of C, spec A27); accuracy = fraction assigned to the conditioning class. Also reported:
within-class diversity = mean per-pixel std of a class's samples / the same for the real train
digits of that class (1 = as varied as the data, 0 = one image per class, i.e. mode collapse).

Writes OUT/gan_digits.json (per variant: accuracy per seed, per class, curve, steps, wall seconds,
config; the scoring classifier's real-test accuracy; the machine), OUT/gan_digits.md (the table
beside the paper's numbers) and OUT/gan_digits.png (samples per class for every variant, and the
accuracy curves).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from algos import cgan  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
NAME = "gan_digits"
N_CLASSES = 10
PER_CLASS = 100  # generated samples per class for the accuracy (paper: 100 per class label)

# name -> (label, paper's mean classification accuracy (Fig. 4, spec §6.7), GANConfig overrides)
VARIANTS = {
    "minimax": ("Minimax GAN", 0.98019, dict(loss="minimax", n_critic=1)),
    "wgan": ("WGAN", 0.91989, dict(loss="wgan", n_critic=5)),
    "wgan_gp": ("WGAN-GP", 0.97910, dict(loss="wgan_gp")),
    "cwgan_gp": ("Conditional WGAN-GP", 0.98279, dict(loss="cwgan_gp")),
}
# Shared by every variant (module defaults otherwise: spec §8.9 with the CPU sizes of cgan.py).
BASE = dict(consistency="ce", n_critic=3, lr_g=2e-4, lr_d=2e-4)
QUICK = dict(z_dim=8, z_tokens=2, w_dim=16, width=16, heads=2, c_tokens=2, map_layers=1, g_layers=0, d_layers=0)
# XLA:CPU's loop emitters compile these programs ~1.3-2x faster than the MLIR fusion emitters
# and run them ~10 % faster (jax 0.10.2, measured on a 2-core CPU). Programs that run once (init,
# C's accuracy) and, with --quick, every program also compile at XLA optimisation level 0.
COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}
RUN_ONCE = COMPILER_OPTIONS | {"xla_backend_optimization_level": 0}


# ---- data and the scoring classifier -----------------------------------------------------------------


def load_data(seed: int = 0):
    """Digits as ``x [N, 8, 8, 1]`` in [-1, 1], labels ``y [N]``; stratified 70/30 train/test split."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        sys.exit("gan_digits needs scikit-learn: pip install -e \".[bench]\"")

    digits = load_digits()
    x = (digits.images[..., None] / 8.0 - 1.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, digits.target, test_size=0.3, stratify=digits.target,
                                              random_state=seed)
    return x_tr, y_tr, x_te, y_te


def fit_scorer(x_tr, y_tr, x_te, y_te):
    """RBF SVM on the flattened real train digits; returns (classifier, held-out accuracy)."""
    from sklearn.svm import SVC

    clf = SVC(C=10.0, gamma="scale").fit(x_tr.reshape(len(x_tr), -1), y_tr)
    return clf, float(clf.score(x_te.reshape(len(x_te), -1), y_te))


def score(clf, samples, labels):
    """Fraction of ``samples`` the classifier assigns to their conditioning ``labels``, and per class."""
    pred = clf.predict(np.asarray(samples).reshape(len(samples), -1))
    hit = pred == labels
    return float(hit.mean()), [float(hit[labels == k].mean()) for k in range(N_CLASSES)]


def diversity(samples, labels, x_real, y_real):
    """Mean over classes of (mean per-pixel std of the generated class) / (same for the real class)."""
    ratios = [np.asarray(samples)[labels == k].std(0).mean() / x_real[y_real == k].std(0).mean()
              for k in range(N_CLASSES)]
    return float(np.mean(ratios))


# ---- training ---------------------------------------------------------------------------------------


def make_config(name: str, overrides: dict, quick: bool) -> cgan.GANConfig:
    kw = dict(BASE) | (QUICK if quick else {}) | VARIANTS[name][2]
    for key, value in overrides.items():  # "--set k=v" (every variant) or "--set name.k=v"
        target, _, field = key.rpartition(".")
        if target in ("", name):
            kw[field] = value
    return cgan.GANConfig(**kw)


def train_variant(name, cfg, x_tr, c_tr, seed, steps, chunk, batch, aux_steps, clf, y_eval, log, quick=False):
    """Trains one variant for ``steps`` G steps; returns (final samples, curve, timings, aux accuracy)."""
    options = RUN_ONCE if quick else COMPILER_OPTIONS
    x_all, c_all = jnp.asarray(x_tr), jnp.asarray(c_tr)
    c_eval = jax.nn.one_hot(jnp.asarray(y_eval), N_CLASSES)
    key = jax.random.PRNGKey(seed)
    k_init, k_aux, k_train, k_eval = jax.random.split(key, 4)
    t0 = time.perf_counter()
    state = jax.jit(cgan.init, static_argnums=1, compiler_options=RUN_ONCE)(k_init, cfg, x_all[0], c_all[0])
    aux_acc = None
    if cfg.loss == "cwgan_gp" and cfg.consistency == "ce":  # train C on real digits, then freeze it
        fit = jax.jit(cgan.fit_aux, static_argnums=(4, 5), compiler_options=options)
        state, aux_losses = fit(state, k_aux, x_all, c_all, aux_steps, batch)
        logits = jax.jit(cgan.predict_condition, compiler_options=RUN_ONCE)(state.params, x_all)
        aux_acc = float((np.asarray(logits).argmax(-1) == np.asarray(c_tr).argmax(-1)).mean())
        log(f"  C (frozen): {aux_steps} steps, loss {float(aux_losses[-50:].mean()):.3f}, train accuracy {aux_acc:.3f}")

    def run_chunk(state, key):
        def body(s, k):
            k_batch, k_step = jax.random.split(k)
            idx = jax.random.randint(k_batch, (batch,), 0, x_all.shape[0])
            return cgan.train_step(s, k_step, x_all[idx], c_all[idx])

        state, metrics = jax.lax.scan(body, state, jax.random.split(key, chunk))
        samples = cgan.generate(state.params, k_eval, c_eval)  # the same z every chunk
        return state, jax.tree_util.tree_map(jnp.mean, metrics), samples

    t1 = time.perf_counter()
    compiled = jax.jit(run_chunk, compiler_options=options).lower(state, k_train).compile()
    compile_s = time.perf_counter() - t1
    curve = []
    for i, k in enumerate(jax.random.split(k_train, steps // chunk)):
        state, metrics, samples = compiled(state, k)
        acc, _ = score(clf, samples, y_eval)
        done = (i + 1) * chunk
        curve.append({"step": done, "accuracy": acc} | {m: float(v) for m, v in metrics.items()})
        log(f"  {name:8s} seed {seed} step {done:5d}/{steps}  {time.perf_counter() - t0:6.0f}s  acc {acc:.3f}  "
            f"d_loss {curve[-1]['d_loss']:+.3f}  W {curve[-1]['wasserstein']:+.3f}  g_loss {curve[-1]['g_loss']:+.3f}"
            f"  CE {curve[-1]['consistency']:.3f}")
    wall = time.perf_counter() - t0
    return np.asarray(samples), curve, {"wall_s": wall, "compile_s": compile_s}, aux_acc


# ---- reports ----------------------------------------------------------------------------------------


def write_reports(data: dict, out: Path):
    meta, rows = data["meta"], data["variants"]
    seeds = f"{len(meta['seeds'])} seeds (mean ± std)" if len(meta["seeds"]) > 1 else "seed 0"
    lines = [
        "# GAN check on real data: sklearn digits (seed 000 §6.7, Fig. 4)", "",
        f"Accuracy of a classifier trained on real digits on {PER_CLASS} generated samples per class "
        f"(conditioned on that class; {N_CLASSES * PER_CLASS} in all). {meta['steps']} generator steps per variant "
        f"(batch {meta['batch']}), {seeds}, "
        f"{meta['device']}, {meta['cpu_count']} CPU cores, jax {meta['jax']}, "
        f"load average {meta['loadavg_start'][0]:.1f} -> {meta['loadavg_end'][0]:.1f}, "
        f"total {meta['total_wall_s'] / 60:.1f} min.", "",
        "| variant | ours | paper (MNIST) | diversity | n_critic | train wall s (compile s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        accs = r["accuracy_per_seed"]
        ours = f"{np.mean(accs):.3f}" + (f" ± {np.std(accs):.3f}" if len(accs) > 1 else "")
        lines.append(f"| {r['label']} | {ours} | {r['paper']:.5f} | {np.mean(r['diversity_per_seed']):.2f} | "
                     f"{r['config']['n_critic']} | {np.mean(r['wall_s']):.0f} ({np.mean(r['compile_s']):.0f}) |")
    clf = data["classifier"]
    base = meta["base"]
    lines += [
        f"| *scoring classifier on real test digits* | {clf['test_accuracy']:.3f} | — | — | — | — |", "",
        f"Scoring classifier: {clf['kind']}, fit on the {clf['n_train']} real train digits, tested on the "
        f"{clf['n_test']} held-out ones; the GANs and C see only the train digits. Diversity: per-pixel std of a "
        "class's samples / that of the real class, averaged over classes (1 = as varied as the data, 0 = one image "
        "per class).", "",
        "What differs from the paper: 8x8 scikit-learn digits (1257 train images) instead of 28x28 MNIST; the "
        "CPU-sized networks of `algos/cgan.py` (z 32, style width 64, width 32, one cross-attention block and one "
        "transformer layer in G and in D; spec: 8x256 mapping, 2 blocks, 2 layers); "
        f"{meta['steps']} generator steps per variant (minutes on a 2-core CPU) instead of full training, with "
        f"n_critic={base.get('n_critic')} and Adam({base.get('lr_g')}, b1=0, b2=0.9) instead of the spec's "
        "n_critic=5 and 1e-4 to fit that budget (minimax: n_critic=1); the scorer is an RBF SVM (the paper does not "
        "say which classifier it used). All four variants are class-conditioned (G's mapping and D cross-attend to "
        "c) and differ only in the loss; conditional WGAN-GP adds rho_CE x the cross-entropy of a frozen CNN C "
        "trained on the real digits first.",
    ]
    notes = []
    if "cwgan_gp" in rows:
        r = rows["cwgan_gp"]
        notes.append(f"C for conditional WGAN-GP: {meta['aux_steps']} `fit_aux` steps, train accuracy "
                     f"{r['aux_train_accuracy']:.3f}, rho_CE={r['config']['rho_ce']}.")
    if "wgan" in rows:
        r = rows["wgan"]
        notes.append(f"WGAN keeps the original WGAN settings (RMSProp({r['config']['lr_wgan']}) for G and D, every "
                     f"critic parameter clipped to +-{r['config']['clip']}, n_critic={r['config']['n_critic']}); "
                     "clipping also caps D's LayerNorm scales, so the critic's scores stay ~1e-3 apart and its "
                     "signal to G is weak: "
                     + (f"after {meta['steps']} steps its accuracy is still near chance"
                        if np.mean(r["accuracy_per_seed"]) < 0.3 else "it learns more slowly than the others")
                     + " (the paper's WGAN is also its weakest variant, 'slow training').")
    if "minimax" in rows and np.mean(rows["minimax"]["diversity_per_seed"]) < 0.6:
        notes.append("Minimax GAN's low diversity is visible in the figure (near-identical samples per class): the "
                     "mode-collapse risk the paper names.")
    if notes:
        lines += ["", " ".join(notes)]
    (out / f"{NAME}.md").write_text("\n".join(lines) + "\n")
    plot(data, out / f"{NAME}.png")


def encode_images(images) -> list[str]:
    """``[n, 8, 8, 1]`` in [-1, 1] -> one hex string of 64 uint8 pixels per image (compact JSON)."""
    u8 = np.round((np.clip(np.asarray(images), -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return [img.tobytes().hex() for img in u8.reshape(len(u8), -1)]


def decode_images(hexes) -> np.ndarray:
    u8 = np.stack([np.frombuffer(bytes.fromhex(h), np.uint8) for h in hexes])
    return (u8.astype(np.float32) / 127.5 - 1.0).reshape(len(hexes), 8, 8, 1)


def mosaic(images, labels, per_class):
    """``[per_class * 8, 10 * 8]`` image: column k holds the first ``per_class`` samples of class k."""
    images = np.asarray(images)[..., 0]
    rows = []
    for j in range(per_class):
        rows.append(np.concatenate([np.pad(images[labels == k][j], 1, constant_values=-0.6)  # light grey frame
                                    for k in range(N_CLASSES)], axis=1))
    return np.concatenate(rows, axis=0)


def plot(data: dict, path: Path, per_class: int = 6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("real digits", decode_images(data["real_grid"]["x"]), np.asarray(data["real_grid"]["y"]))]
    for name, r in data["variants"].items():
        accs = r["accuracy_per_seed"]
        panels.append((f"{r['label']}\nacc {np.mean(accs):.3f} (paper {r['paper']:.3f})",
                       decode_images(r["grid"]), np.asarray(data["grid_labels"])))
    fig = plt.figure(figsize=(3.1 * len(panels), 5.0))
    grid = fig.add_gridspec(2, len(panels), height_ratios=[1.6, 1.0])
    for i, (title, x, y) in enumerate(panels):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(mosaic(x, y, per_class), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(np.arange(N_CLASSES) * 10 + 4.5, [str(k) for k in range(N_CLASSES)], fontsize=7)
        ax.set_yticks([])
        ax.tick_params(length=0)
    ax = fig.add_subplot(grid[1, :])
    for name, r in data["variants"].items():
        curve = r["curve"]
        ax.plot([p["step"] for p in curve], [p["accuracy"] for p in curve], "o-", ms=3,
                label=f"{r['label']} (paper {r['paper']:.3f})")
    ax.axhline(data["classifier"]["test_accuracy"], color="k", ls=":", lw=1, label="scorer on real test digits")
    ax.axhline(0.1, color="grey", ls="--", lw=0.8, label="chance")
    ax.set_xlabel("generator steps (seed 0)")
    ax.set_ylabel("accuracy on generated")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center right", framealpha=0.9)
    fig.suptitle(f"conditional GANs on sklearn digits: columns = conditioning class, {per_class} samples each "
                 f"(seed 0)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- main -------------------------------------------------------------------------------------------


def parse_set(items):
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="generator steps per variant (default 500; quick 20)")
    ap.add_argument("--chunk", type=int, default=None, help="steps per jitted call / progress line (default steps/12)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per variant (trained one after the other)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--aux-steps", type=int, default=None, help="fit_aux steps for cwgan_gp's C (default 1500)")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="[VARIANT.]FIELD=VALUE",
                    help="GANConfig override for every variant, or one variant (e.g. cwgan_gp.rho_ce=2)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--quick", action="store_true", help="tiny nets and 20 steps: a smoke run")
    ap.add_argument("--report-only", action="store_true", help="only rewrite the .md/.png from the .json")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        write_reports(json.loads((args.out / f"{NAME}.json").read_text()), args.out)
        print(f"wrote {args.out / NAME}.{{md,png}}")
        return 0
    steps = args.steps or (20 if args.quick else 500)
    chunk = args.chunk or max(1, steps // (2 if args.quick else 10))
    steps = steps // chunk * chunk
    aux_steps = args.aux_steps or (50 if args.quick else 1500)
    overrides = parse_set(args.overrides)

    t_start = time.perf_counter()
    device = jax.devices()[0]
    meta = {
        "steps": steps, "chunk": chunk, "batch": args.batch, "aux_steps": aux_steps, "seeds": list(range(args.seeds)),
        "quick": args.quick, "base": dict(BASE) | {k: v for k, v in overrides.items() if "." not in k},
        "overrides": overrides, "device": f"{device.platform}:{getattr(device, 'device_kind', '')}",
        "cpu_count": os.cpu_count(), "jax": jax.__version__, "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(), "compiler_options": COMPILER_OPTIONS, "loadavg_start": os.getloadavg(),
    }
    x_tr, y_tr, x_te, y_te = load_data()
    c_tr = np.eye(N_CLASSES, dtype=np.float32)[y_tr]
    clf, clf_acc = fit_scorer(x_tr, y_tr, x_te, y_te)
    print(f"scoring classifier (RBF SVM, {len(x_tr)} train digits): real test accuracy {clf_acc:.4f}", flush=True)
    y_eval = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    real_idx = np.concatenate([np.flatnonzero(y_tr == k)[:8] for k in range(N_CLASSES)])
    grid_idx = np.concatenate([np.flatnonzero(y_eval == k)[:8] for k in range(N_CLASSES)])
    data = {
        "meta": meta,
        "classifier": {"kind": "sklearn SVC(C=10, gamma='scale'), RBF, flattened [-1, 1] pixels",
                       "test_accuracy": clf_acc, "n_train": len(x_tr), "n_test": len(x_te)},
        "real_grid": {"x": encode_images(x_tr[real_idx]), "y": y_tr[real_idx].tolist()},  # 8 per class
        "grid_labels": y_eval[grid_idx].tolist(),
        "variants": {},
    }
    for name in args.variants:
        cfg = make_config(name, overrides, args.quick)
        label, paper, _ = VARIANTS[name]
        row = {"label": label, "paper": paper, "config": dataclasses.asdict(cfg), "steps": steps,
               "accuracy_per_seed": [], "per_class_per_seed": [], "diversity_per_seed": [], "wall_s": [],
               "compile_s": [], "aux_train_accuracy": None}
        print(f"{label}: {steps} steps, n_critic {cfg.n_critic}", flush=True)
        for seed in meta["seeds"]:
            samples, curve, timing, aux_acc = train_variant(
                name, cfg, x_tr, c_tr, seed, steps, chunk, args.batch, aux_steps, clf, y_eval,
                lambda s: print(s, flush=True), quick=args.quick)
            acc, per_class = score(clf, samples, y_eval)
            row["accuracy_per_seed"].append(acc)
            row["per_class_per_seed"].append(per_class)
            row["diversity_per_seed"].append(diversity(samples, y_eval, x_tr, y_tr))
            row["wall_s"].append(timing["wall_s"])
            row["compile_s"].append(timing["compile_s"])
            if seed == 0:
                row["curve"] = curve
                row["grid"] = encode_images(samples[grid_idx])  # 8 per class, hex uint8 (decode_images)
                row["aux_train_accuracy"] = aux_acc
            print(f"{label} seed {seed}: accuracy {acc:.4f} (paper {paper}), diversity "
                  f"{row['diversity_per_seed'][-1]:.2f}, {timing['wall_s']:.0f} s", flush=True)
        row["accuracy"] = float(np.mean(row["accuracy_per_seed"]))
        data["variants"][name] = row
        meta["loadavg_end"] = os.getloadavg()
        meta["total_wall_s"] = time.perf_counter() - t_start
        (args.out / f"{NAME}.json").write_text(json.dumps(data, indent=1))  # after every variant
    write_reports(data, args.out)
    print("\n" + (args.out / f"{NAME}.md").read_text())
    print(f"wrote {args.out / NAME}.{{json,md,png}} in {meta['total_wall_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
