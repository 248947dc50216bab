"""`jaxedge.sharding` on 8 forced CPU devices: sharded results equal unsharded ones.

XLA_FLAGS must be set before JAX starts, so the check runs in a subprocess (tests/sharding_check.py).
"""

import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from jaxedge import sharding

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # ~32 s subprocess on 8 forced devices
def test_sharded_equals_unsharded_on_8_forced_cpu_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "sharding_check.py")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "SHARDING_OK" in out.stdout, out.stdout[-2000:] + out.stderr[-4000:]


def test_make_mesh_rejects_too_many_devices():
    with pytest.raises(ValueError, match="n_devices must be in 1"):
        sharding.make_mesh(jax.device_count() + 1)
    assert sharding.make_mesh(1).shape[sharding.AXIS] == 1
