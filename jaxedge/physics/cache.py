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

Eviction is closed form, with no data-dependent loop: with the strict total order "j is evicted
before i", slot ``i`` is evicted iff it is occupied and the bits (or slots) freed by the victims ranked
before it are still short of what the insertion needs. That is exactly the sequential
"evict the next victim while it does not fit" loop of the NumPy reference.
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


def eviction_mask(cache: Cache, need_kbit, need_slots, policy) -> jax.Array:
    """Slots the sequential policy evicts to free ``need_kbit`` kbit and ``need_slots`` slots (A18).

    One cache (``[S]`` arrays). Victim order: LRU by last access; LFU by (count, last access).
    """
    present = cache.item >= 0
    last_j, last_i = cache.last[:, None], cache.last[None, :]
    cnt_j, cnt_i = cache.count[:, None], cache.count[None, :]
    lru_before = last_j < last_i
    lfu_before = (cnt_j < cnt_i) | ((cnt_j == cnt_i) & lru_before)
    before = jnp.where(policy == LFU, lfu_before, lru_before) & present[:, None]  # [j, i]
    freed_before = jnp.sum(jnp.where(before, cache.size[:, None], 0), axis=0)
    evicted_before = jnp.sum(before, axis=0)
    return present & ((freed_before < need_kbit) | (evicted_before < need_slots))


def access(cache: Cache, m, size_kbit, clock, capacity, policy, insert_if_fits, active):
    """One access of task type ``m`` (result ``size_kbit``) at time ``clock``: ``(cache, hit)``.

    One cache (``[S]`` arrays). ``active=False`` leaves the cache unchanged (a local task).
    """
    slots = cache.item.shape[-1]
    match = (cache.item == m) & active
    hit = jnp.any(match)
    last = jnp.where(match, clock, cache.last)
    count = jnp.where(match, cache.count + 1, cache.count)
    present = cache.item >= 0
    need_kbit = used_kbit(cache) + size_kbit - capacity
    need_slots = (jnp.sum(present) >= slots).astype(jnp.int32)
    fits_as_is = (need_kbit <= 0) & (need_slots == 0)
    insert = active & ~hit & (size_kbit <= capacity) & jnp.where(insert_if_fits, fits_as_is, True)
    evict = eviction_mask(cache.replace(last=last, count=count), need_kbit, need_slots, policy) & insert
    item = jnp.where(evict, -1, cache.item)
    size = jnp.where(evict, 0, cache.size)
    last = jnp.where(evict, 0, last)
    count = jnp.where(evict, 0, count)
    slot = jnp.argmax(item < 0)  # first free slot (one exists after eviction)
    put = (jnp.arange(slots) == slot) & insert
    new = Cache(
        item=jnp.where(put, m, item),
        size=jnp.where(put, size_kbit, size),
        last=jnp.where(put, clock, last),
        count=jnp.where(put, 1, count),
    )
    return new, hit


def access_sequence(cache: Cache, items, sizes_kbit, clocks, active, capacity, policy, insert_if_fits):
    """Accesses ``items[j]`` in order j = 0, 1, ... (one cell's offloaded tasks in UE order, A18)."""

    def body(c, inputs):
        m, s, t, a = inputs
        return access(c, m, s, t, capacity, policy, insert_if_fits, a)

    return jax.lax.scan(body, cache, (items, sizes_kbit, clocks, active))
