"""Every Python block of the README runs (blocks in one section share a namespace)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _sections():
    text = README.read_text()
    out = []
    for section in re.split(r"\n## ", text):
        blocks = re.findall(r"```python\n(.*?)```", section, re.S)
        if blocks:
            out.append(pytest.param(blocks, id=section.splitlines()[0][:40]))
    return out


@pytest.mark.parametrize("blocks", _sections())
def test_readme_python_blocks_run(blocks):
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, str(README), "exec"), namespace)
