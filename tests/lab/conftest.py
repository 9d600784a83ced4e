"""Real builds with buildah in the lab that ``scripts/lab-setup.sh`` sets up.

Lab tests are marked ``lab`` and skipped, with the reason, unless ``DOCKERFIX_LAB`` names a set-up lab::

    bash scripts/lab-setup.sh install && bash scripts/lab-setup.sh bases
    eval "$(bash scripts/lab-setup.sh env)"
    python -m pytest tests/lab -m lab

Builds run one after another (2 cores); each built image is exported and flattened once per session and shared
between tests. Build, export and flatten times are printed at the end of the run, and written to
``$DOCKERFIX_LAB/timings.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockerfix.verify.builders import BuildahBuilder
from labkit import BASES, Lab, why_not

_LAB: Lab | None = None


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    global _LAB
    root = os.environ.get("DOCKERFIX_LAB")
    reason = why_not(root)
    if reason:
        pytest.skip(reason)
    builder = BuildahBuilder(root)
    if not builder.available():
        pytest.skip(f"buildah cannot use the storage under {root}")
    missing = [b for b in BASES if not builder.has_image(f"docker.io/library/{b}")]
    if missing:
        pytest.skip(f"base images missing from the lab: {', '.join(missing)} (run scripts/lab-setup.sh bases)")
    _LAB = Lab(Path(root), builder, tmp_path_factory.mktemp("lab"))
    return _LAB


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _LAB is None or not _LAB.timings:
        return
    terminalreporter.section("lab timings")
    for t in _LAB.timings:
        extra = ", ".join(f"{k}={v}" for k, v in t.items() if k not in ("what", "seconds"))
        terminalreporter.write_line(f"{t['seconds']:7.1f} s  {t['what']}" + (f"  ({extra})" if extra else ""))
    try:
        (_LAB.root / "timings.json").write_text(json.dumps(_LAB.timings, indent=1))
    except OSError:
        pass
