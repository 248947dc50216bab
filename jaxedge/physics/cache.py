"""Fixed-capacity result caches on edge servers, LRU and LFU, as arrays (seed 004 §2.6, (U1), A18).

A cache is ``S`` slots (a static size). Slot ``s`` holds a task type ``item[s]`` (``-1`` = empty),
its result size in kbit, the clock of its last access and its access count since insertion. The
capacity constraint (U1) ``sum_m c^k(m) S_o^m <= S^k`` is enforced in integer kbit, and a cache also
never holds more than ``S`` results (the array capacity).

An *access* of task type ``m`` (an offloaded task, x in {1, 2}) is a hit when ``m`` is cached: its
recency and count are refreshed. On a miss the result is inserted, evicting victims in priority
order until it fits: LRU evicts the least recently accessed first; LFU the least frequently accessed
(count since insertion), ties broken by least recent. Results larger than the whole capacity are
skipped; with ``insert_if_fits`` (the paper's literal "only when the current cache capacity is
sufficient") nothing is evicted and a result is cached only if it fits as is.

The slots are kept sorted by eviction priority: occupied slots first, the next victim in slot 0
(LRU: by last access; LFU: by (count, last access)), empty slots (``item = -1``) last. An access
is then O(S) with no data-dependent loop: a miss evicts the shortest prefix whose freed kbit (and
slot) make room — exactly the reference's "evict the next victim while it does not fit" loop — and
the accessed result is written at its sorted position with one gather. (A pairwise-rank version
was O(S^2) per access and dominated the step.)
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
    """One int32 array ``data[..., 4, S]``: rows item (-1 = empty), size (kbit), last access, count."""

    data: jax.Array

    @property
    def item(self):  # cached task type, -1 = empty slot
        return self.data[..., 0, :]

    @property
    def size(self):  # result size S_o in kbit (0 when empty)
        return self.data[..., 1, :]

    @property
    def last(self):  # clock of the last access
        return self.data[..., 2, :]

    @property
    def count(self):  # accesses since insertion (LFU frequency)
        return self.data[..., 3, :]

    @property
    def slots(self) -> int:
        return self.data.shape[-1]


EMPTY_SLOT = (-1, 0, 0, 0)


def empty(shape, slots: int) -> Cache:
    """An empty cache (or an array of them with leading ``shape``)."""
    col = jnp.asarray(EMPTY_SLOT, jnp.int32)[:, None]
    return Cache(data=jnp.broadcast_to(col, tuple(shape) + (4, slots)))


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


def access(cache: Cache, m, size_kbit, clock, capacity, policy, insert_if_fits, active):
    """One access of task type ``m`` (result ``size_kbit``) at time ``clock``: ``(cache, hit)``.

    One cache (``data[4, S]``). ``active=False`` leaves the cache unchanged (a local task).
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

    # Sorted position q of the accessed result among the n_kept results kept. LRU: last.
    # LFU: after every kept key (c, t) <= (new_count, clock), i.e. every kept c <= new_count.
    n_kept = n - e - hit.astype(jnp.int32)
    q_lfu = jnp.sum(present & (idx >= e) & (idx != p) & (count <= new_count), dtype=jnp.int32)
    q = jnp.where(policy == LFU, q_lfu, n_kept)

    # One gather: slot i takes kept result i' (i' = i, or i - 1 past q) or, at q, the new one.
    shifted = idx - (write & (idx > q)).astype(jnp.int32)
    src = shifted + e
    src = jnp.minimum(src + (src >= p).astype(jnp.int32), slots - 1)
    fields = cache.data[:, src]
    new_vals = jnp.stack([jnp.asarray(m, jnp.int32), jnp.asarray(size_kbit, jnp.int32),
                          jnp.asarray(clock, jnp.int32), new_count.astype(jnp.int32)])[:, None]
    empty_vals = jnp.asarray(EMPTY_SLOT, jnp.int32)[:, None]
    out = jnp.where(write & (idx == q), new_vals, jnp.where(shifted < n_kept, fields, empty_vals))
    return Cache(data=out), hit


def access_sequence(cache: Cache, items, sizes_kbit, clocks, active, capacity, policy, insert_if_fits):
    """Accesses ``items[j]`` in order j = 0, 1, ... (one cell's offloaded tasks in UE order, A18)."""

    def body(c, inputs):
        m, s, t, a = inputs
        return access(c, m, s, t, capacity, policy, insert_if_fits, a)

    return jax.lax.scan(body, cache, (items, sizes_kbit, clocks, active))
