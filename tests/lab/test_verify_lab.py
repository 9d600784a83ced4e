"""`dockerfix verify` with real builds on the lab apps, on every builder (buildah in the lab storage, docker with
BuildKit in the lab's private dockerd): every safe transform keeps the image equal apart from its declared purpose,
a deliberately wrong (unsafe) rewrite is caught for the right reason, and both builders reach the same verdict on
every case."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dockerfix.verify.builders import DockerBuilder
from dockerfix.verify.run import verify

APPS = Path(__file__).resolve().parents[2] / "fixtures" / "apps"
pytestmark = pytest.mark.lab


def _key(v: dict[str, Any]) -> tuple[str, str]:
    return ("config", v["field"]) if "field" in v else (v["kind"], v["path"])


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """What a verify run concluded (from its JSON report), in a form two builders can be compared on."""
    comp = report["comparison"] or {}
    return {
        "equal": report["equal"],
        "changes": sorted({c["code"] for c in report["changes"]}),
        "violations": sorted(_key(v) for part in ("only_a", "only_b", "changed", "config") for v in comp.get(part, [])),
        "allowed": sorted(_key(v) for v in comp.get("allowed", [])),
    }


def record(verdicts, lab, case: str, builder, report: dict[str, Any], seconds: float) -> dict[str, Any]:
    v = verdict(report)
    verdicts.setdefault(case, {})[builder.name] = v
    lab.timings.append({"what": f"verify {case} on {builder.name}", "seconds": round(seconds, 1),
                        "equal": v["equal"], "violations": len(v["violations"])})
    return v


def run_verify(lab, verdicts, case: str, builder, dockerfile: Path, **kwargs):
    t0 = time.monotonic()
    rep = verify(dockerfile, builder, **kwargs)
    record(verdicts, lab, case, builder, rep.to_dict(), time.monotonic() - t0)
    return rep


def _why(rep) -> str:
    return rep.comparison.summary() + "\n" + "\n".join(json.dumps(v.to_dict()) for v in rep.comparison.violations[:20])


def test_safe_transforms_keep_python_flask_equal(lab, verdicts, verify_builder, tmp_path):
    rep = run_verify(lab, verdicts, "python-flask safe", verify_builder, APPS / "python-flask" / "Dockerfile",
                     workdir=tmp_path)
    codes = {c["code"] for c in rep.changes}
    assert rep.rewritten and {"DFX101", "DFX103", "DFX107"} <= codes
    assert rep.equal, _why(rep)
    assert rep.after.file_bytes < rep.before.file_bytes, "the apt lists are gone"
    assert rep.before.rebuild is not None and rep.after.rebuild is not None
    # the edit of app.py is seen, and the rewrite (manifest copied first) keeps the pip install cached
    assert rep.after.rebuild.step("pip install").cached, rep.after.rebuild.to_dict()
    assert not rep.before.rebuild.step("pip install").cached, rep.before.rebuild.to_dict()


def test_wrong_rewrite_is_caught(lab, verdicts, verify_builder, tmp_path):
    rep = run_verify(lab, verdicts, "python-flask no-install-recommends", verify_builder,
                     APPS / "python-flask" / "Dockerfile", select=["apt-no-install-recommends"], unsafe=True,
                     rebuild=False, workdir=tmp_path)
    assert [c["code"] for c in rep.changes] == ["DFX113"]
    assert not rep.equal
    removed = [v.path for v in rep.comparison.violations if v.kind == "only_a"]
    assert any(p.startswith("usr/share/doc/") or p.startswith("usr/lib/") for p in removed), removed[:20]
    assert any(v.path == "var/lib/dpkg/status" for v in rep.comparison.violations)


def test_cli_json_for_the_bot(lab, verdicts, verify_builder, tmp_path):
    out = tmp_path / "report.json"
    argv = [sys.executable, "-m", "dockerfix", "verify", str(APPS / "go-http" / "Dockerfile"),
            "--builder", verify_builder.name, "--json", str(out), "--color", "never", "--no-rebuild"]
    env = dict(os.environ)
    if isinstance(verify_builder, DockerBuilder):
        env["DOCKER_HOST"] = verify_builder.host  # as a user points the CLI at a daemon
    else:
        argv += ["--lab", str(lab.root)]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stdout + p.stderr  # the safe rewrite of go-http keeps the image equal
    d = json.loads(out.read_text())
    record(verdicts, lab, "go-http safe (CLI)", verify_builder, d, time.monotonic() - t0)
    assert d["builder"] == verify_builder.name and d["before"]["layers"] >= 1 and d["equal"] is True
    assert {c["code"] for c in d["changes"]} >= {"DFX101", "DFX103"}
    assert "image size" in p.stdout


@pytest.mark.parametrize("app", ["node-express", "python-chown"])
def test_safe_transforms_keep_other_apps_equal(lab, verdicts, verify_builder, tmp_path, app):
    rep = run_verify(lab, verdicts, f"{app} safe", verify_builder, APPS / app / "Dockerfile", rebuild=False,
                     workdir=tmp_path)
    assert rep.rewritten
    assert rep.equal, _why(rep)


CACHE_MOUNT_APP = """FROM python:3.11-slim
WORKDIR /app
RUN --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \\
    pip install -r /tmp/requirements.txt
COPY app.py ./
CMD ["python", "app.py"]
"""
"""A file that already needs BuildKit (a bind mount) and has no ``# syntax=`` line, so cache-mounts (DFX202) adds
a pip cache mount. dockerd 20.10's built-in frontend builds ``RUN --mount`` without a syntax line (measured), so
this is the cache-mount rewrite docker builds here: every real app with one starts with ``# syntax=``, which makes
BuildKit fetch its frontend from Docker Hub (docs/realapps.md)."""


def test_a_cache_mount_rewrite_is_equal(lab, verdicts, verify_builder, tmp_path):
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(CACHE_MOUNT_APP)
    (ctx / "requirements.txt").write_text("six==1.16.0\n")
    (ctx / "app.py").write_text("import six\nprint(six.__version__)\n")
    rep = run_verify(lab, verdicts, "pip cache mount", verify_builder, ctx / "Dockerfile", rebuild=False,
                     smoke=["python app.py"], workdir=tmp_path / "work")
    assert [c["code"] for c in rep.changes] == ["DFX202"]
    assert "--mount=type=cache,target=/root/.cache/pip" in (tmp_path / "work" / "context-after" / "Dockerfile"
                                                          ).read_text()
    assert rep.equal, _why(rep)
    assert rep.checks and rep.checks[0].before.stdout == "1.16.0\n"


def test_repeated_chowns_moved_into_their_copies_are_equal(lab, verdicts, verify_builder, tmp_path):
    """Three COPYs into /app, each followed by ``chown -R app /app`` (tests/lab/cases/chown-repeated-dir): every
    chown moves into its COPY in one pass; BuildKit and buildah give /app, the files and the copied folder the owners
    the chowns gave them."""
    ctx = tmp_path / "app"
    shutil.copytree(Path(__file__).resolve().parent / "cases" / "chown-repeated-dir", ctx)
    rep = run_verify(lab, verdicts, "repeated chown", verify_builder, ctx / "Dockerfile", rebuild=False,
                     workdir=tmp_path / "work")
    assert [c["code"] for c in rep.changes] == ["DFX301"] * 3
    assert rep.equal, _why(rep)


def test_a_chown_after_a_kept_chown_moves_into_the_later_copies_only(lab, verdicts, verify_builder, tmp_path):
    """The first ``chown -R app /app`` is kept by a pragma (``Dockerfile.kept``): it already gave a.txt to app, so
    the last chown moves into the two COPYs after it alone, and the image is the same."""
    ctx = tmp_path / "app"
    shutil.copytree(Path(__file__).resolve().parent / "cases" / "chown-repeated-dir", ctx)
    (ctx / "Dockerfile").write_text((ctx / "Dockerfile.kept").read_text())
    rep = run_verify(lab, verdicts, "chown after a kept chown", verify_builder, ctx / "Dockerfile", rebuild=False,
                     workdir=tmp_path / "work")
    assert [c["code"] for c in rep.changes] == ["DFX301"]
    after = (tmp_path / "work" / "context-after" / "Dockerfile").read_text()
    assert "COPY a.txt /app/" in after and "COPY --chown=app:0 b.txt" in after and after.count("chown -R") == 1
    assert rep.equal, _why(rep)


REDIRECTED_READ = """\
FROM debian:bookworm-slim
RUN echo data > /tmp/f.txt
RUN sha256sum < /tmp/f.txt > /f.sha256
RUN rm -f /tmp/f.txt
"""
"""A file made and read through redirections, deleted in a later layer: delete-in-later-layer moves the rm into the
RUN that reads it last (before, redirections were not read as names: the rm went into the first RUN and the read
failed)."""


def test_a_delete_moved_past_a_redirected_read_is_equal(lab, verdicts, verify_builder, tmp_path):
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(REDIRECTED_READ)
    rep = run_verify(lab, verdicts, "rm after a redirected read", verify_builder, ctx / "Dockerfile", rebuild=False,
                     workdir=tmp_path / "work", select=["DFX112"])  # (merge-runs would join all three RUNs)
    assert [c["code"] for c in rep.changes] == ["DFX112"]
    after = (tmp_path / "work" / "context-after" / "Dockerfile").read_text()
    assert "sha256sum < /tmp/f.txt > /f.sha256 && rm -f /tmp/f.txt" in after, after
    assert rep.equal, _why(rep)


REDIRECTED_WRITE = """\
FROM debian:bookworm-slim
RUN sed -n 1p /etc/os-release > /tmp/os.txt
RUN grep -c Debian /tmp/os.txt > /os-count
RUN rm /tmp/os.txt
"""
"""A file written through a redirection, read, then deleted in later layers: merge-runs joins all three RUNs (the
first names /tmp/os.txt only as its redirection's target, which merge-runs' reason did not read before round 8, so
the sed stayed in a layer of its own, the file with it)."""


def test_a_file_written_through_a_redirection_joins_the_rm_and_is_equal(lab, verdicts, verify_builder, tmp_path):
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(REDIRECTED_WRITE)
    rep = run_verify(lab, verdicts, "rm of a redirected write", verify_builder, ctx / "Dockerfile", rebuild=False,
                     workdir=tmp_path / "work", select=["DFX101"])
    assert {c["code"] for c in rep.changes} == {"DFX101"}
    after = (tmp_path / "work" / "context-after" / "Dockerfile").read_text()
    assert after.count("RUN ") == 1 and "> /tmp/os.txt && \\" in after, after
    assert rep.equal, _why(rep)


VERDICT = ("equal", "changes", "violations")


def test_builders_agree_on_every_verdict(verdicts):
    """Runs after the tests above (pytest keeps file order): every case both builders ran got the same verdict,
    the same transforms and the same violations (path and kind, or config field). The allowed differences may
    differ where the builders do (buildah whites out a cache mount's target), so they are only printed."""
    both = {case: by for case, by in verdicts.items() if len(by) > 1}
    if not both:
        pytest.skip(f"no case ran on more than one builder (recorded: {sorted(verdicts) or 'none'})")
    for case, by in sorted(both.items()):
        (first, a), *others = sorted(by.items())
        for name, b in others:
            assert {k: a[k] for k in VERDICT} == {k: b[k] for k in VERDICT}, (
                f"{case}: {first} and {name} disagree:\n{first}: {a}\n{name}: {b}")
            if a["allowed"] != b["allowed"]:
                print(f"{case}: allowed differences only on {first}: {sorted(set(a['allowed']) - set(b['allowed']))}"
                      f"; only on {name}: {sorted(set(b['allowed']) - set(a['allowed']))}")
