"""`dockerfix verify` with real buildah builds on the lab apps: every safe transform keeps the image equal apart from
its declared purpose, and a deliberately wrong (unsafe) rewrite is caught for the right reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dockerfix.verify.run import verify

APPS = Path(__file__).resolve().parents[2] / "fixtures" / "apps"
pytestmark = pytest.mark.lab


def test_safe_transforms_keep_python_flask_equal(lab, tmp_path):
    rep = verify(APPS / "python-flask" / "Dockerfile", lab.builder, workdir=tmp_path)
    codes = {c["code"] for c in rep.changes}
    assert rep.rewritten and {"DFX101", "DFX103", "DFX107"} <= codes
    assert rep.equal, rep.comparison.summary() + "\n" + "\n".join(
        json.dumps(v.to_dict()) for v in rep.comparison.violations[:20])
    assert rep.after.file_bytes < rep.before.file_bytes, "the apt lists are gone"
    assert rep.before.rebuild is not None and rep.after.rebuild is not None


def test_wrong_rewrite_is_caught(lab, tmp_path):
    rep = verify(APPS / "python-flask" / "Dockerfile", lab.builder, select=["apt-no-install-recommends"],
                 unsafe=True, rebuild=False, workdir=tmp_path)
    assert [c["code"] for c in rep.changes] == ["DFX113"]
    assert not rep.equal
    removed = [v.path for v in rep.comparison.violations if v.kind == "only_a"]
    assert any(p.startswith("usr/share/doc/") or p.startswith("usr/lib/") for p in removed), removed[:20]
    assert any(v.path == "var/lib/dpkg/status" for v in rep.comparison.violations)


def test_cli_json_for_the_bot(lab, tmp_path):
    out = tmp_path / "report.json"
    p = subprocess.run([sys.executable, "-m", "dockerfix", "verify", str(APPS / "go-http" / "Dockerfile"),
                        "--builder", "buildah", "--lab", str(lab.root), "--json", str(out), "--color", "never"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr  # the safe rewrite of go-http keeps the image equal
    d = json.loads(out.read_text())
    assert d["builder"] == "buildah" and d["before"]["layers"] >= 1 and d["equal"] is True
    assert {c["code"] for c in d["changes"]} >= {"DFX101", "DFX103"}
    assert "image size" in p.stdout


@pytest.mark.parametrize("app", ["node-express", "python-chown"])
def test_safe_transforms_keep_other_apps_equal(lab, tmp_path, app):
    rep = verify(APPS / app / "Dockerfile", lab.builder, rebuild=False, workdir=tmp_path)
    assert rep.rewritten
    assert rep.equal, rep.comparison.summary() + "\n" + "\n".join(
        json.dumps(v.to_dict()) for v in rep.comparison.violations[:20])
