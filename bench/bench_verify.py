#!/usr/bin/env python3
"""Run `dockerfix verify` over every lab app, with the safe transforms and then with --unsafe, and print per app:
image bytes before/after, layers, rebuild steps and seconds after a source edit, and whether the images are equal
apart from declared differences.

    eval "$(bash scripts/lab-setup.sh env)"; python bench/bench_verify.py [--apps python-flask,go-http] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dockerfix.verify.builders import BuildahBuilder  # noqa: E402
from dockerfix.verify.run import VerifyError, verify  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", help="comma-separated app names (default: all in fixtures/apps)")
    ap.add_argument("--json", help="write all reports here")
    a = ap.parse_args()
    lab = os.environ.get("DOCKERFIX_LAB")
    if not lab:
        sys.exit("set up the lab first: eval \"$(bash scripts/lab-setup.sh env)\"")
    builder = BuildahBuilder(lab)
    apps = a.apps.split(",") if a.apps else sorted(p.name for p in (ROOT / "fixtures" / "apps").iterdir())
    rows, reports = [], {}
    for app in apps:
        for unsafe in (False, True):
            label = f"{app} ({'unsafe' if unsafe else 'safe'})"
            sys.stderr.write(f"verifying {label}\n")
            try:
                with tempfile.TemporaryDirectory(dir=os.path.join(lab, "work")) as work:
                    rep = verify(ROOT / "fixtures" / "apps" / app / "Dockerfile", builder, unsafe=unsafe,
                                 baseline=True, workdir=work)
            except VerifyError as exc:
                rows.append((label, "error", str(exc)[:80]))
                continue
            d = rep.to_dict()
            reports[label] = d
            b, n = d["before"], d["after"]
            rows.append((label, f"{b['compressed_bytes'] / 1e6:.1f} → {n['compressed_bytes'] / 1e6:.1f} MB",
                         f"{b['layers']} → {n['layers']}",
                         f"{b['rebuild_steps']} → {n['rebuild_steps']}",
                         f"{b['rebuild_seconds']} → {n['rebuild_seconds']} s",
                         "equal" if d["equal"] else f"DIFFERENT ({len(rep.comparison.violations)})",
                         ",".join(sorted({c['code'] for c in d['changes']})) or "-"))
    print("| app | image (tar bytes) | layers | steps rebuilt after edit | rebuild time | verdict | transforms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if a.json:
        Path(a.json).write_text(json.dumps(reports, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
