"""``ruff check`` over the repository with the rules of pyproject.toml ([tool.ruff.lint])."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ruff() -> list[str] | None:
    exe = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
    return [exe] if exe else None


@pytest.mark.skipif(_ruff() is None, reason="ruff is not installed (pip install -e '.[dev]')")
def test_ruff_check_passes():
    r = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise", "dockerfix", "tests",
                        "scripts", "bench"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
