"""Run under XLA_FLAGS=--xla_force_host_platform_device_count=8 (tests/test_sharding.py does):
sharded == unsharded for a VecEnv rollout over the env axis and a vmapped toy trainer over the run axis."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxedge
from jaxedge import sharding
from jaxedge.wrappers import VecEnv

assert jax.device_count() == 8, jax.devices()
env = jaxedge.make("collab_edge", n_servers=3, max_tasks=4, per_task=False)
params = env.default_params.replace(n_slots=3)
vec, space = VecEnv(env), env.action_space(params)
N, T = 16, 7


def rollout(keys):  # keys: (N, 2) per env; returns per-env (T, N) rewards and the final state
    obs, state = vec.reset(keys, params)

    def body(state, t):
        ks = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
        act = jax.vmap(space.sample)(ks)
        obs, state, reward, *_ = vec.step(ks, state, act, params)
        return state, reward[:, 0]

    return jax.lax.scan(body, state, jnp.arange(T))


keys = jax.random.split(jax.random.PRNGKey(0), N)
ref_state, ref_r = jax.jit(rollout)(keys)
for n in (2, 4, 8):
    mesh = sharding.make_mesh(n)
    sk = sharding.shard(keys, mesh)
    assert sharding.devices_of(sk) == n
    state, r = jax.jit(rollout)(sk)
    assert sharding.devices_of(r) == n, r.sharding
    np.testing.assert_allclose(np.asarray(r), np.asarray(ref_r), rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6), state, ref_state)


# The run axis of a vmapped trainer: 8 independent regressions, one per seed.
def init(key):
    return {"w": jax.random.normal(key, (4,)), "opt": optax.adam(1e-2).init(jnp.zeros(4))}


def train_chunk(rs, start):
    def step(rs, i):
        x = jax.random.normal(jax.random.PRNGKey(start + i), (32, 4))
        y = x @ jnp.arange(4.0)
        loss, g = jax.value_and_grad(lambda w: jnp.mean((x @ w - y) ** 2))(rs["w"])
        upd, opt = optax.adam(1e-2).update(g, rs["opt"])
        return {"w": rs["w"] + upd, "opt": opt}, loss

    return jax.lax.scan(step, rs, jnp.arange(20))


seeds = jax.random.split(jax.random.PRNGKey(1), 8)
chunk = jax.jit(jax.vmap(train_chunk, in_axes=(0, None)))
ref_rs, ref_loss = chunk(jax.jit(jax.vmap(init))(seeds), 0)
mesh = sharding.make_mesh(8)
rs, loss = chunk(jax.jit(jax.vmap(init))(sharding.shard(seeds, mesh)), 0)
assert sharding.devices_of(loss) == 8
np.testing.assert_allclose(np.asarray(loss), np.asarray(ref_loss), rtol=1e-6)
np.testing.assert_allclose(np.asarray(rs["w"]), np.asarray(ref_rs["w"]), rtol=1e-6)
try:
    sharding.shard(jnp.zeros((6, 2)), mesh)
    raise AssertionError("expected ValueError")
except ValueError as err:
    assert "multiple of 8" in str(err)

# scripts/train.py --devices: the run axis of a real learner sharded over 2 devices equals the unsharded run.
import importlib.util  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import tempfile  # noqa: E402

spec = importlib.util.spec_from_file_location("train_script", pathlib.Path(__file__).parents[1] / "scripts" / "train.py")
train_script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_script)
flags = ["--algo", "dqn_vdn", "--env", "collab_edge", "--size", "n_servers=3", "--size", "max_tasks=4", "--seeds", "2",
         "--num-envs", "2", "--total-steps", "16", "--set", "chunk_size=4", "--set", "warmup_steps=4",
         "--set", "batch_size=8", "--set", "buffer_size=32", "--eval-envs", "2", "--eval-steps", "3", "--quiet", "--no-plot"]
finals = []
with tempfile.TemporaryDirectory() as tmp:
    for extra in ([], ["--devices", "2"]):
        out = pathlib.Path(tmp) / str(len(extra))
        assert train_script.main([*flags, *extra, "--out", str(out)]) == 0
        finals.append(json.loads((out / "summary.json").read_text())["final_per_run"])
for a, b in zip(*finals):
    for k in a:
        np.testing.assert_allclose(a[k]["mean"], b[k]["mean"], rtol=1e-5, err_msg=k)
print("SHARDING_OK")
