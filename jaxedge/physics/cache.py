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
    item: jax.Array  # int32[..., S] cached task type, -1 = empty slot
    size: jax.Array  # int32[..., S] result size S_o in kbit (0 when empty)
    last: jax.Array  # int32[..., S] clock of the last access
    count: jax.Array  # int32[..., S] accesses since insertion (LFU frequency)


def empty(shape, slots: int) -> Cache:
    """An empty cache (or an array of them with leading ``shape``)."""
    shape = tuple(shape) + (slots,)
    zeros = jnp.zeros(shape, jnp.int32)
    return Cache(item=jnp.full(shape, -1, jnp.int32), size=zeros, last=zeros, count=zeros)


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

    One cache (``[S]`` arrays). ``active=False`` leaves the cache unchanged (a local task).
    """
    slots = cache.item.shape[-1]
    idx = jnp.arange(slots)
    present = cache.item >= 0
    n = jnp.sum(present)
    match = (cache.item == m) & active
    hit = jnp.any(match)
    p = jnp.where(hit, jnp.argmax(match), slots)  # position of the hit (slots = none)

    # Miss: evict the e lowest-priority results (a prefix of the sorted slots) until it fits (A18).
    inclusive = _prefix_sum(cache.size)  # empty slots have size 0
    need_kbit = inclusive[-1] + size_kbit - capacity
    need_slots = (n >= slots).astype(jnp.int32)
    freed_before = inclusive - cache.size
    evict = present & ((freed_before < need_kbit) | (idx < need_slots))
    fits_as_is = (need_kbit <= 0) & (need_slots == 0)
    insert = active & ~hit & (size_kbit <= capacity) & jnp.where(insert_if_fits, fits_as_is, True)
    e = jnp.where(insert, jnp.sum(evict), 0)
    write = hit | insert

    # The accessed result's new key and its sorted position q among the n_r results kept.
    new_count = jnp.where(hit, jnp.sum(jnp.where(match, cache.count, 0)) + 1, 1)
    kept = present & (idx >= e) & (idx != p)
    n_kept = n - e - hit.astype(jnp.int32)
    q_lfu = jnp.sum(kept & (cache.count <= new_count))  # after every key (c, t) <= (new_count, clock)
    q = jnp.where(policy == LFU, q_lfu, n_kept)  # LRU: the most recent goes last

    # Gather: slot i takes kept result i' (i' = i, or i - 1 past the insertion point) or the new one.
    shifted = idx - (write & (idx > q)).astype(idx.dtype)
    src = shifted + e
    src = jnp.minimum(src + (src >= p).astype(idx.dtype), slots - 1)
    keep = shifted < n_kept
    at_q = write & (idx == q)
    fields = jnp.stack([cache.item, cache.size, cache.last, cache.count])[:, src]
    empty_vals = jnp.array([-1, 0, 0, 0], jnp.int32)[:, None]
    new_vals = jnp.stack([jnp.asarray(m, jnp.int32), jnp.asarray(size_kbit, jnp.int32),
                          jnp.asarray(clock, jnp.int32), new_count.astype(jnp.int32)])[:, None]
    out = jnp.where(at_q, new_vals, jnp.where(keep, fields, empty_vals))
    return Cache(item=out[0], size=out[1], last=out[2], count=out[3]), hit


def access_sequence(cache: Cache, items, sizes_kbit, clocks, active, capacity, policy, insert_if_fits):
    """Accesses ``items[j]`` in order j = 0, 1, ... (one cell's offloaded tasks in UE order, A18)."""

    def body(c, inputs):
        m, s, t, a = inputs
        return access(c, m, s, t, capacity, policy, insert_if_fits, a)

    return jax.lax.scan(body, cache, (items, sizes_kbit, clocks, active))
