"""The Python snippet of README.md runs verbatim."""
from __future__ import annotations

import re

import pytest
from conftest import REPO

pytestmark = pytest.mark.host_api


def test_readme_python_snippet(hbg_callable, tmp_path, monkeypatch, capsys):
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "exactly one Python snippet"
    orch, kernel = hbg_callable
    (tmp_path / "liborch.so").write_bytes(orch)
    (tmp_path / "libkernel_add.so").write_bytes(kernel)
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "source='explicit'" in printed and "ring_task_window" in printed
