"""Test helper: ``jitted(env, name)`` is ``jax.jit(env.<name>)`` cached per (env, name) (eager JAX ops
are slow to dispatch, and a cached jit compiles once per test module)."""

import jax

_JITTED = {}


def jitted(env, name):
    if (env, name) not in _JITTED:
        _JITTED[env, name] = jax.jit(getattr(env, name))
    return _JITTED[env, name]
