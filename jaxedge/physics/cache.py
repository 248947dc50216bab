"""Fixed-capacity result caches on edge servers, LRU and LFU, as arrays (seed 004 §2.6, (U1), A18).

A cache is ``S`` slots (a static size). Slot ``s`` holds a task type (``-1`` = empty), its result
size in kbit and its access count since insertion. The capacity constraint (U1)
``sum_m c^k(m) S_o^m <= S^k`` is enforced in integer kbit, and a cache also never holds more than
``S`` results (the array capacity).

An *access* of task type ``m`` (an offloaded task, x in {1, 2}) is a hit when ``m`` is cached: its
recency and count are refreshed. On a miss the result is inserted, evicting victims in priority
order until it fits: LRU evicts the least recently accessed first; LFU the least frequently accessed
(count since insertion), ties broken by least recent. Results larger than the whole capacity are
skipped; with ``insert_if_fits`` (the paper's literal "only when the current cache capacity is
sufficient") nothing is evicted and a result is cached only if it fits as is.

The slots are kept sorted by eviction priority: occupied slots first, the next victim in slot 0
(LRU: least recent first; LFU: by (count, recency)), empty slots last, so the position itself
encodes recency and no clock is stored. An access is O(S) with no data-dependent loop: a miss
evicts the shortest prefix whose freed kbit (and slot) make room — exactly the reference's "evict
the next victim while it does not fit" loop — and the accessed result is written at its sorted
position with one gather. (A pairwise-rank version was O(S^2) per access and dominated the step.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

LRU = 0
LFU = 1
KBIT = 1000.0  # cache sizes are accounted in whole kbit (int32), exact in float32 and float64


@struct.dataclass
class Cache:
    """One int32 array ``data[..., 3, S]``: rows item (-1 = empty), size (kbit), count."""

    data: jax.Array

    @property
    def item(self):  # cached task type, -1 = empty slot
        return self.data[..., 0, :]

    @property
    def size(self):  # result size S_o in kbit (0 when empty)
        return self.data[..., 1, :]

    @property
    def count(self):  # accesses since insertion (LFU frequency)
        return self.data[..., 2, :]

    @property
    def slots(self) -> int:
        return self.data.shape[-1]


EMPTY_SLOT = (-1, 0, 0)


def empty(shape, slots: int) -> Cache:
    """An empty cache (or an array of them with leading ``shape``)."""
    col = jnp.asarray(EMPTY_SLOT, jnp.int32)[:, None]
    return Cache(data=jnp.broadcast_to(col, tuple(shape) + (3, slots)))


def to_kbit(bits):
    """Result size in whole kbit (int32), the unit of the capacity accounting (U1)."""
    return jnp.round(jnp.asarray(bits, jnp.float32) / KBIT).astype(jnp.int32)


def capacity_kbit(capacity_bits):
    """Capacity S^k in whole kbit, rounded down (U1)."""
    return jnp.floor(jnp.asarray(capacity_bits, jnp.float32) / KBIT + 1e-6).astype(jnp.int32)


def lookup(cache: Cache, m) -> jax.Array:
    """c^k(m): whether task type ``m`` is cached in one cache (eq. 2's cache factor)."""
    return jnp.any(cache.item == m, axis=-1)


def lookup_many(cache: Cache, items) -> jax.Array:
    """c^k(m_j) for caches ``[..., S]`` and task types ``[..., J]``: bool ``[..., J]`` (eq. 2)."""
    return jnp.any(cache.item[..., None, :] == jnp.asarray(items)[..., None], axis=-1)


def used_kbit(cache: Cache) -> jax.Array:
    """Occupied capacity sum_m c^k(m) S_o^m in kbit (U1)."""
    return jnp.sum(jnp.where(cache.item >= 0, cache.size, 0), axis=-1)


def _prefix_sum(x):
    """Inclusive prefix sum over the last axis by log-steps (XLA's CPU cumsum is ~4x slower here)."""
    shift = 1
    while shift < x.shape[-1]:
        x = x + jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(shift, 0)])[..., :-shift]
        shift *= 2
    return x


def access(cache: Cache, m, size_kbit, capacity, policy, insert_if_fits, active):
    """One access of task type ``m`` (result ``size_kbit``): ``(cache, hit)``.

    One cache (``data[3, S]``). ``active=False`` leaves the cache unchanged (a local task).
    """
    slots = cache.slots
    idx = jnp.arange(slots, dtype=jnp.int32)
    item, size, count = cache.item, cache.size, cache.count
    present = item >= 0
    n = jnp.sum(present, dtype=jnp.int32)
    match = (item == m) & active
    # One reduction for hit, its slot p and its count: at most one slot matches.
    code = jnp.sum(jnp.where(match, (count * slots + idx) * 2 + 1, 0))
    hit = code > 0
    p = jnp.where(hit, (code >> 1) % slots, slots)  # slots = no hit
    new_count = jnp.where(hit, (code >> 1) // slots + 1, 1)

    # Miss: evict the e lowest-priority results (a prefix of the sorted slots) until it fits (A18).
    inclusive = _prefix_sum(size)  # empty slots have size 0
    need_kbit = inclusive[-1] + size_kbit - capacity
    need_slots = (n >= slots).astype(jnp.int32)
    evict = present & ((inclusive - size < need_kbit) | (idx < need_slots))
    fits_as_is = (need_kbit <= 0) & (need_slots == 0)
    insert = active & ~hit & (size_kbit <= capacity) & jnp.where(insert_if_fits, fits_as_is, True)
    e = jnp.where(insert, jnp.sum(evict, dtype=jnp.int32), 0)
    write = hit | insert
    n_kept = n - e - hit.astype(jnp.int32)

    # Sorted position q of the accessed result among the n_kept kept. LRU: last (most recent).
    # LFU: after every kept result with count <= new_count (they are older). Counts ascend along
    # the slots, so with A = #{count <= new_count}: a hit moves past A - 1 others; a miss (new
    # count 1) lands after the count-1 results that survived the evicted prefix, max(A - e, 0).
    below = jnp.sum(present & (count <= new_count), dtype=jnp.int32)
    q_lfu = jnp.where(hit, below - 1, jnp.maximum(below - e, 0))
    q = jnp.where(policy == LFU, q_lfu, n_kept)

    # One gather: slot i takes kept result i' (i' = i, or i - 1 past q) or, at q, the new one.
    shifted = idx - (write & (idx > q)).astype(jnp.int32)
    src = shifted + e
    src = jnp.minimum(src + (src >= p).astype(jnp.int32), slots - 1)
    fields = cache.data[:, src]
    new_vals = jnp.stack([jnp.asarray(m, jnp.int32), jnp.asarray(size_kbit, jnp.int32),
                          new_count.astype(jnp.int32)])[:, None]
    empty_vals = jnp.asarray(EMPTY_SLOT, jnp.int32)[:, None]
    out = jnp.where(write & (idx == q), new_vals, jnp.where(shifted < n_kept, fields, empty_vals))
    return Cache(data=out), hit


def access_sequence(cache: Cache, items, sizes_kbit, active, capacity, policy, insert_if_fits):
    """Accesses ``items[j]`` in order j = 0, 1, ... (one cell's offloaded tasks in UE order, A18)."""

    def body(c, inputs):
        m, s, a = inputs
        return access(c, m, s, capacity, policy, insert_if_fits, a)

    return jax.lax.scan(body, cache, (items, sizes_kbit, active))


def access_cells(caches: Cache, items, sizes_kbit, active, capacity, policy, insert_if_fits) -> Cache:
    """`access_sequence` for every cache of ``caches [K, S]`` at once: ``items`` etc. ``[K, J]``, each
    cell's accesses in order j (seed 004: a round's offloaded tasks, UE order, A18). Returns the caches."""

    def one(c, m, s, a):
        return access_sequence(c, m, s, a, capacity, policy, insert_if_fits)[0]

    return jax.vmap(one)(caches, items, sizes_kbit, active)
