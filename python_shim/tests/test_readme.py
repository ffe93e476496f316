"""The Python snippet of README.md runs verbatim, in a directory filled by the documented command."""
from __future__ import annotations

import re
import subprocess

import pytest
from conftest import REPO

pytestmark = pytest.mark.host_api


def test_readme_python_snippet(tmp_path, monkeypatch, capsys):
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "exactly one Python snippet"
    assert "python_shim/build_examples.sh build-py" in text and "pip install ./python_shim numpy" in text
    subprocess.run(["sh", str(REPO / "python_shim/build_examples.sh"), str(tmp_path)], check=True, timeout=300,
                   capture_output=True)
    names = set(re.findall(r'read\("([^"]+)"\)', blocks[0]))
    assert names and all((tmp_path / n).is_file() for n in names), names
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "source='explicit'" in printed and "ring_task_window" in printed
