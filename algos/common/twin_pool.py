"""The digital-twin experience pool D'_i of seed 000 §5.6 (eq. 23) and its epsilon-greedy selection.

At every real step ``t0`` the twin rolls the real state forward ``H = n + n'`` steps (the learner's
job); the pool keeps the last ``n' + 1`` such rollouts in a ring. Row ``p`` of eq. (23) is the rollout
started ``p`` steps ago (age ``p``), restricted to the target times ``t0+1 .. t0+n``; column ``q``
holds the ``n' + 1`` candidate predictions ``delta^{t0+q}_{t0-p}`` for the *same* target time. The
rollout of age ``p`` predicts time ``t0+q`` at its step ``p + q`` (1-based), i.e. step index
``p + q - 1`` (0-based), which is why every rollout must run ``n + n'`` steps (A31).

Shapes (one agent; ``vmap`` everything over agents and envs):

* ``TwinPool.data``: any pytree of arrays with leading axes ``[n'+1, H, ...]`` (slot, step);
  ``ptr`` (int32, next slot to write) and ``count`` (int32, filled slots, <= n'+1).
* ``push_rollout(pool, rollout)``: ``rollout`` leaves ``[H, ...]``.
* ``candidates(pool) -> (cands [n'+1, n, ...], valid bool[n'+1, n])``.
* ``interval_weights(n, n') -> float32[n'+1, n]``, ``epsilon_schedule(n, eps_max) -> float32[n]``.
* ``select(key, q_scores [n'+1, n], weights, eps, valid, mode) -> (p_idx, q_idx, ok)``, each
  ``[n]`` (``"column"``) or ``[1]`` (``"global"``); ``take(cands, p_idx, q_idx)`` gathers the chosen
  transitions (leaves ``[k, ...]``) for insertion into the synthetic buffer, masked by ``ok``.

``n`` and ``n'`` are static: they are read off the array shapes (``n' = slots - 1``, ``n = H - n'``).

Gap choices (spec §5.6, §8.5; the learner reports n, n', eps_max and the mode):

* **A31** rollouts of ``H = n + n'`` steps, ring of ``n' + 1``; age 0 = the most recently pushed.
* **A32** selection per column ``q`` over the <= n'+1 candidates (``mode="column"``, default), or one
  pick from the whole matrix per real step (``mode="global"``; it uses a scalar epsilon: ``eps`` if
  scalar, else ``max(eps)`` = ``eps_1 = eps_max`` for the default schedule).
* **A33** ``eps_q = eps_max (1 - (q-1)/n)`` (default ``eps_max = 0.5``, §8.9).
* Weights ``w[p, q-1] = 1 - (p+q)/(n+n')``, in ``[0, 1)``, 0 at ``(n', n)``: that candidate is never
  drawn by the weighted branch. If a column has no valid candidate with positive weight (possible
  only when ``n' = 0``) the weighted branch draws uniformly among its valid candidates.
* Greedy branch: argmax of ``q_scores`` over the *valid* candidates; ties go to the lowest ``p``
  (the freshest rollout); a NaN/inf score of a valid candidate ranks as the lowest finite value, so
  an invalid candidate is never chosen. A column with no valid candidate at all (empty pool) returns
  ``ok = False`` (and index 0); the caller must not insert it.
* `insert` runs the whole eq. 23 step of a learner for every agent (push, candidates, joint rows
  with the other agents' snapshot, scores, selection, insertion into a synthetic `replay.Buffer`);
  `sample_synthetic` and `mix` put each agent's synthetic share into its minibatch.
* Which Q scores the candidates (the online centralised critic, others' features from the platform
  snapshot, §5.7/§8.5) and whether the pool is cleared at episode boundaries (``reset``) are the
  learner's choices; the pool itself only stores and indexes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from algos.common import replay

SELECT_MODES = ("column", "global")


@struct.dataclass
class TwinPool:
    data: dict  # pytree, leaves [n'+1, H, ...]: slot, rollout step
    ptr: jax.Array  # int32: slot the next rollout is written to
    count: jax.Array  # int32: number of filled slots (<= n'+1)


def sizes(pool: TwinPool) -> tuple[int, int]:
    """Static ``(n, n_prime)`` from the data shapes."""
    leaf = jax.tree_util.tree_leaves(pool.data)[0]
    slots, horizon = leaf.shape[0], leaf.shape[1]
    return horizon - (slots - 1), slots - 1


def init(example, n: int, n_prime: int) -> TwinPool:
    """An empty pool whose leaves have the shapes/dtypes of ``example`` (one transition)."""
    if n < 1 or n_prime < 0:
        raise ValueError(f"twin pool needs n >= 1 and n_prime >= 0, got n={n}, n_prime={n_prime}")
    shape = (n_prime + 1, n + n_prime)
    data = jax.tree_util.tree_map(lambda x: jnp.zeros(shape + tuple(x.shape), x.dtype), example)
    return TwinPool(data=data, ptr=jnp.zeros((), jnp.int32), count=jnp.zeros((), jnp.int32))


def push_rollout(pool: TwinPool, rollout) -> TwinPool:
    """Store one rollout (leaves ``[H, ...]``) in the oldest slot; it becomes age 0."""
    # eq. (23): a new row p = 0; the other rows age by one
    slots = jax.tree_util.tree_leaves(pool.data)[0].shape[0]
    data = jax.tree_util.tree_map(lambda d, x: d.at[pool.ptr].set(x.astype(d.dtype)), pool.data, rollout)
    return TwinPool(data=data, ptr=(pool.ptr + 1) % slots, count=jnp.minimum(pool.count + 1, slots))


def reset(pool: TwinPool, done=True) -> TwinPool:
    """Mark every slot empty where ``done`` (e.g. at an episode boundary); the data are kept."""
    return pool.replace(count=jnp.where(done, 0, pool.count).astype(jnp.int32))


def interval_weights(n: int, n_prime: int):
    """``w[p, q-1] = 1 - (p+q)/(n+n')`` for ``p = 0..n'`` (rows), ``q = 1..n`` (columns)."""
    # §5.6: time-interval weight of delta^{t0+q}_{t0-p}
    p = np.arange(n_prime + 1)[:, None]
    q = np.arange(1, n + 1)[None, :]
    return jnp.asarray(1.0 - (p + q) / (n + n_prime), jnp.float32)


def epsilon_schedule(n: int, eps_max=0.5):
    """``eps_q = eps_max (1 - (q-1)/n)`` for ``q = 1..n`` (``eps_max`` may be traced)."""
    # A33
    return jnp.asarray(eps_max, jnp.float32) * (1.0 - jnp.arange(n, dtype=jnp.float32) / n)


def candidates(pool: TwinPool):
    """The eq. (23) matrix: ``(cands, valid)``, cands leaves ``[n'+1, n, ...]``, valid ``bool[n'+1, n]``.

    Entry ``[p, q-1]`` is step ``p + q - 1`` (0-based) of the rollout of age ``p``; rows of slots that
    were never filled (``p >= count``) are invalid.
    """
    # eq. (23): delta^{t0+q}_{t0-p}
    n, n_prime = sizes(pool)
    slots = n_prime + 1
    p = jnp.arange(slots)
    slot = (pool.ptr - 1 - p) % slots  # [n'+1]
    step = p[:, None] + jnp.arange(n)[None, :]  # [n'+1, n]: p + q - 1
    cands = jax.tree_util.tree_map(lambda d: d[slot[:, None], step], pool.data)
    valid = jnp.broadcast_to((p < pool.count)[:, None], (slots, n))
    return cands, valid


def _greedy(scores, valid, axis):
    fin = jnp.finfo(jnp.float32)
    s = jnp.nan_to_num(jnp.asarray(scores, jnp.float32), nan=fin.min, posinf=fin.max, neginf=fin.min)
    return jnp.argmax(jnp.where(valid, s, -jnp.inf), axis=axis)


def _weighted(key, weights, valid, axis):
    w = jnp.maximum(jnp.asarray(weights, jnp.float32), 0.0)
    pos = valid & (w > 0)
    has_pos = jnp.any(pos, axis=axis, keepdims=True)
    logits = jnp.where(has_pos, jnp.where(pos, jnp.log(jnp.where(pos, w, 1.0)), -jnp.inf),
                       jnp.where(valid, 0.0, -jnp.inf))
    return jax.random.categorical(key, logits, axis=axis)


def select(key, q_scores, weights, eps, valid, mode: str = "column"):
    """Epsilon-greedy choice among the candidates: ``(p_idx, q_idx, ok)``.

    ``q_scores``, ``weights``, ``valid``: ``[n'+1, n]``; ``eps``: ``[n]`` (per column) or a scalar.
    ``"column"``: for each column independently, with probability ``eps_q`` the valid candidate of
    largest Q, else a valid candidate drawn with probability ``w / sum(valid w)``; outputs ``[n]``,
    ``q_idx = arange(n)`` (0-based column, target time ``t0 + q_idx + 1``). ``"global"``: one draw
    over the whole matrix with a scalar epsilon; outputs ``[1]``. ``ok``: the column (matrix) had a
    valid candidate. ``mode`` is static; pure and vmappable over agents.
    """
    # §5.6 selection rule (A32, A33)
    if mode not in SELECT_MODES:
        raise ValueError(f"unknown twin-pool select mode {mode!r}; valid modes: {', '.join(SELECT_MODES)}")
    valid = jnp.asarray(valid, bool)
    slots, n = valid.shape
    k_u, k_w = jax.random.split(key)
    eps = jnp.asarray(eps, jnp.float32)
    if mode == "column":
        greedy = jax.random.uniform(k_u, (n,)) < jnp.broadcast_to(eps, (n,))
        p_idx = jnp.where(greedy, _greedy(q_scores, valid, 0), _weighted(k_w, weights, valid, 0))
        return p_idx.astype(jnp.int32), jnp.arange(n, dtype=jnp.int32), jnp.any(valid, axis=0)
    greedy = jax.random.uniform(k_u, ()) < jnp.max(eps)
    flat = jnp.where(greedy, _greedy(jnp.ravel(q_scores), valid.ravel(), 0),
                     _weighted(k_w, jnp.ravel(weights), valid.ravel(), 0))
    p_idx, q_idx = flat // n, flat % n
    return (p_idx[None].astype(jnp.int32), q_idx[None].astype(jnp.int32), jnp.any(valid)[None])


def take(cands, p_idx, q_idx):
    """Gather the chosen candidates: leaves ``[n'+1, n, ...]`` -> ``[k, ...]`` for ``k = len(p_idx)``."""
    return jax.tree_util.tree_map(lambda c: c[p_idx, q_idx], cands)


# ----------------------------------------------------------------------------------------------
# The eq. 23 step of a learner: every agent's rollout in, one pick per column into its synthetic buffer
# ----------------------------------------------------------------------------------------------


def joint_rows(cands, snapshot):
    """Each owner's candidates as joint rows. ``cands``: leaves ``[n(owner), K, ...]``, owner i's
    own values; ``snapshot``: leaves ``[n(agent), ...]``, every agent's features (e.g. the platform's
    twin features, §5.7). A field in both becomes ``[n, K, n, ...]`` with the owner's candidate at
    agent slot i and the snapshot elsewhere; a field only in ``cands`` (the owner's reward) stays
    ``[n, K, ...]``; a field only in ``snapshot`` is broadcast to ``[n, K, n, ...]``."""
    n, K = jax.tree_util.tree_leaves(cands)[0].shape[:2]

    def of(i):
        rows = {}
        for k, v in cands.items():
            if k in snapshot:
                rows[k] = jnp.broadcast_to(snapshot[k], (K,) + snapshot[k].shape).at[:, i].set(v[i])
            else:
                rows[k] = v[i]
        for k, v in snapshot.items():
            if k not in cands:
                rows[k] = jnp.broadcast_to(v, (K,) + v.shape)
        return rows

    return jax.vmap(of)(jnp.arange(n))


def insert(pool: TwinPool, syn, key, rollouts, snapshot, score, weights, eps, mode: str = "column"):
    """Eq. 23 for every agent at one real step: push each agent's rollout (``rollouts`` leaves
    ``[n, H, ...]``; ``pool`` and ``syn`` are stacked on the agent axis), build the candidate matrix,
    turn owner i's candidates into joint rows with the others' ``snapshot`` (`joint_rows`), score
    them with ``score(rows) -> [n, (n'+1) n]`` (e.g. the owner's online critic), pick per column
    (`select`: epsilon-greedy on the score, else the interval ``weights``) and add the picks to each
    agent's synthetic `replay.Buffer`. Returns ``(pool, syn)``.

    Every column has a candidate (this step's rollout, age 0, was just pushed), so ``ok`` is not needed."""
    n = jax.tree_util.tree_leaves(rollouts)[0].shape[0]
    pool = jax.vmap(push_rollout)(pool, rollouts)
    cands, valid = jax.vmap(candidates)(pool)  # leaves [n, n'+1, dt_n, ...]
    rows = joint_rows(jax.tree_util.tree_map(lambda v: v.reshape((n, -1) + v.shape[3:]), cands), snapshot)
    q = score(rows)
    p_idx, q_idx, _ = jax.vmap(functools.partial(select, mode=mode), in_axes=(0, 0, None, None, 0))(
        jax.random.split(key, n), q.reshape(valid.shape), weights, eps, valid)
    picked = jax.vmap(lambda r, p, qq: jax.tree_util.tree_map(
        lambda v: v.reshape(valid.shape[1:] + v.shape[1:])[p, qq], r))(rows, p_idx, q_idx)
    return pool, jax.vmap(replay.add)(syn, picked)


def sample_synthetic(syn, key, batch_size: int, n_syn: int, on=True):
    """Each agent's share of a minibatch from its synthetic buffer (``syn`` stacked on the agent axis):
    ``(rows, use)``, rows leaves ``[n, n_syn, ...]``; ``use bool[n, batch_size]`` marks the last
    ``n_syn`` rows of agent i's minibatch, where its buffer holds data and ``on`` (e.g. once the twin
    is on and ``rho_syn > 0``). Pass the real minibatch and the rows to `mix`."""
    n = syn.size.shape[0]
    rows = jax.vmap(lambda buf, k: replay.sample(buf, k, n_syn))(syn, jax.random.split(key, n))
    use = (syn.size > 0)[:, None] & (jnp.arange(batch_size)[None, :] >= batch_size - n_syn)
    return rows, use & on


def mix(use, real, synthetic):
    """``real [n, B, ...]`` with its last ``k`` rows replaced by ``synthetic [n, k, ...]`` where ``use [n, B]``."""
    n, batch = use.shape
    pad = jnp.concatenate([jnp.zeros((n, batch - synthetic.shape[1]) + synthetic.shape[2:], synthetic.dtype), synthetic], 1)
    return jnp.where(use.reshape(use.shape + (1,) * (real.ndim - 2)), pad, real)
