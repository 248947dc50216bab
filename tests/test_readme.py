"""The README's Python example runs as written."""

import importlib.util
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
# Frameworks of the `interop` extra: a README block importing one that is not installed is skipped.
OPTIONAL = ("jaxmarl", "gymnasium", "pettingzoo", "gymnax")


def needs_missing_extra(block: str) -> bool:
    return any(
        re.search(rf"^\s*(import|from) (jaxedge\.interop\.)?{name}\b", block, re.M) and importlib.util.find_spec(name) is None
        for name in OPTIONAL
    )


def test_readme_python_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python example"
    for block in blocks:
        if needs_missing_extra(block):
            continue
        exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out.split()
    assert printed[0] == "(8,)"
