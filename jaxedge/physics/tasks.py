"""Task catalogues.

`MEDMNIST` is seed 000's Table 2 as data: one inference model per MedMNIST sub-dataset with its
parameter count, FLOPs at a 64x64 input (spec §2.7: the column is MACs at 64x64), image channels and
the paper's accuracy columns (metadata only; they never enter the cost).
"""

import jax
import jax.numpy as jnp
import numpy as np

# name, task kind, model, params (M), FLOPs (M), channels, ACC, AUC, Gen ACC   (seed 000 Table 2)
_MEDMNIST_ROWS = [
    ("PneumoniaMNIST", "binary", "CNN", 0.62, 40.37, 1, 0.851, 0.944, 0.845),
    ("BreastMNIST", "binary", "CNN", 1.14, 40.89, 1, 0.819, 0.957, 0.829),
    ("OCTMNIST", "multi-class (4)", "EfficientNet", 3.97, 31.98, 1, 0.761, 0.946, 0.736),
    ("OrganMNIST-Axial", "multi-class (11)", "EfficientNet", 3.98, 31.99, 1, 0.925, 0.996, 0.902),
    ("OrganMNIST-Coronal", "multi-class (11)", "ResNet", 11.18, 148.87, 1, 0.897, 0.993, 0.887),
    ("OrganMNIST-Sagittal", "multi-class (11)", "DenseNet", 6.88, 231.31, 1, 0.752, 0.974, 0.749),
    ("BloodMNIST", "multi-class (8)", "ResNet+NL-Attention", 11.19, 150.96, 3, 0.931, 0.997, 0.907),
    ("DermaMNIST", "multi-class (7)", "EfficientNet+SEBlock", 3.57, 30.38, 3, 0.780, 0.964, 0.764),
    ("TissueMNIST", "multi-class (8)", "ResNet", 11.18, 148.86, 1, 0.764, 0.942, 0.719),
    ("PathMNIST", "multi-class (9)", "ResNet+DenseNet", 18.15, 385.29, 3, 0.791, 0.976, 0.684),
    ("ChestMNIST", "multi-label (14)", "DenseNet+NL-Attention", 9.32, 245.06, 1, 0.945, 0.739, 0.823),
    ("RetinaMNIST", "ordinal (5)", "DenseNet+NL-Attention", 9.06, 244.81, 3, 0.548, 0.786, 0.481),
]

MEDMNIST_NAMES = tuple(row[0] for row in _MEDMNIST_ROWS)
MEDMNIST_MODELS = tuple(row[2] for row in _MEDMNIST_ROWS)
MEDMNIST_PARAMS = np.array([row[3] * 1e6 for row in _MEDMNIST_ROWS], dtype=np.float32)
MEDMNIST_FLOPS = np.array([row[4] * 1e6 for row in _MEDMNIST_ROWS], dtype=np.float32)
MEDMNIST_CHANNELS = np.array([row[5] for row in _MEDMNIST_ROWS], dtype=np.float32)
MEDMNIST_ACC = np.array([row[6] for row in _MEDMNIST_ROWS], dtype=np.float32)
MEDMNIST_AUC = np.array([row[7] for row in _MEDMNIST_ROWS], dtype=np.float32)
MEDMNIST_GEN_ACC = np.array([row[8] for row in _MEDMNIST_ROWS], dtype=np.float32)
NUM_MEDMNIST_TYPES = len(_MEDMNIST_ROWS)


def task_cycles(flops, cycles_per_flop):
    """X = c_pf * FLOPs CPU cycles (seed 000 A6)."""
    return cycles_per_flop * flops


def task_bits(channels, image_side):
    """D = H * W * C * 8 bits of a uint8 image (seed 000 A7)."""
    return image_side * image_side * channels * 8.0


def medmnist_cycles_and_bits(task_type, cycles_per_flop, image_side):
    """(X, D) for integer MedMNIST task types (seed 000 Table 2, A6-A7)."""
    flops = jnp.asarray(MEDMNIST_FLOPS)[task_type]
    channels = jnp.asarray(MEDMNIST_CHANNELS)[task_type]
    return task_cycles(flops, cycles_per_flop), task_bits(channels, image_side)


# ------------------------------------------------------------------------------------------------
# Seed 004: task-type catalogue (S_i, S_o, C) and UE-type arrival distributions (spec §2.4, §6.1)
# ------------------------------------------------------------------------------------------------
def uniform_catalogue(n_types, si_range, so_range, c_range, seed=4):
    """M task types (S_i bit, S_o bit, C cycles/bit) drawn once, uniformly, from Table I's ranges.

    Sizes are rounded to whole kbit and C to whole cycles, so every value is exact in float32 and the
    cache accounting (kbit) is identical in JAX and NumPy (seed 004 Table I, [G] uniform per type).
    """
    rng = np.random.default_rng(seed)
    s_i = np.round(rng.uniform(*si_range, n_types) / 1e3) * 1e3
    s_o = np.round(rng.uniform(*so_range, n_types) / 1e3) * 1e3
    c = np.round(rng.uniform(*c_range, n_types))
    return s_i.astype(np.float32), s_o.astype(np.float32), c.astype(np.float32)


def zipf_popularity(n_ue_types, n_types, exponent, seed=4):
    """[U, M] task-type probabilities: Zipf(exponent) over a per-UE-type random permutation (seed 004 §2.4 [G])."""
    rng = np.random.default_rng(seed + 1)
    weights = (np.arange(n_types) + 1.0) ** -float(exponent)
    rows = [weights[np.argsort(rng.permutation(n_types))] for _ in range(n_ue_types)]
    pop = np.stack(rows)
    return (pop / pop.sum(1, keepdims=True)).astype(np.float32)


def sample_categorical_rows(cdf, rows, u):
    """Inverse-CDF draw: first m with cdf[rows, m] >= u cdf[rows, -1], by an unrolled binary search.

    ``cdf`` is ``[R, M]`` (non-decreasing rows), ``rows`` and ``u`` are ``[N]``; ceil(log2(M+1))
    gathers per draw instead of an [N, M] comparison (seed 004 §2.4 task arrivals).
    """
    n_rows, m = cdf.shape
    flat = cdf.reshape(-1)
    target = u * cdf[rows, m - 1]
    base = rows * m
    lo = jnp.zeros_like(rows)
    hi = jnp.full_like(rows, m - 1)
    for _ in range(int(np.ceil(np.log2(m))) if m > 1 else 0):
        mid = jax.lax.shift_right_logical(lo + hi, 1)  # (lo + hi) // 2, both >= 0; no integer division
        go_right = flat[base + mid] < target
        lo = jnp.where(go_right, mid + 1, lo)
        hi = jnp.where(go_right, hi, mid)
    return lo
