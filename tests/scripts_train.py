"""Import shim: `from scripts_train import main` loads scripts/train.py in-process for tests."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_train_script", Path(__file__).resolve().parents[1] / "scripts" / "train.py")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
main = _mod.main
run_group = _mod.run_group
run = _mod.run
build_parser = _mod.build_parser
gap_closed = _mod.gap_closed
