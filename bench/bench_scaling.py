#!/usr/bin/env python3
"""Issue 20, target 1: is dockerfix linear on every input? Generated worst cases at 1x, 2x, 4x, 8x and 16x size.

    python bench/bench_scaling.py [--sizes 1,2,4,8,16] [--base-lines 400] [--cases a,b] [--repeat 1] [--mb 5]

Each case is a Dockerfile generator; size k has about ``k * base-lines`` lines (the comment and LABEL cases are
scaled so that 16x is ``--mb`` megabytes, 5 MB by default, the files users reported). Every size is fixed with all
default transforms and ``--unsafe`` in a fresh child process, inside ``dockerfix.batch()`` as the CLI runs, best of
``--repeat``. Times are the child's CPU time (``time.process_time``), the corpus's too: on a shared machine wall time
swings with the load, CPU time much less.

The corpus figure is one process fixing 719 files one after the other: what a process pays once (the modules a
transform loads on first use, regular expressions compiled on first use: 3-4 ms) is spread over all of them. So each
row is measured the same way, as a running process's next file: the child fixes the file once (``cold``: the first
file after imports and a two-line warm-up, the figure rounds 1-10 printed), empties every cache keyed by text (parsed
scripts, expansions: nothing of the first run is reused), and fixes it again, timed (``s``, ``us/line``, ``xcorpus``).
``cold`` and ``xcold`` show the first-file figure beside it: at 1x, one-time costs are a quarter of it.

Printed per case and size: lines, seconds, lines/s, microseconds per line, the ratio to the corpus's lines/s measured
in the same run (the real-world files in one process), the engine's pass count, fixes, peak RSS, the time per line
against the 1x size, instructions/s against the corpus's (``xinst``), and the cold figures. Targets: every row within
2x of the corpus's lines/s (``xcorpus`` >= 0.5) and the time per line flat from 1x to 16x (``us/line vs 1x`` <= 1.25).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_perf import child, load, real_world  # noqa: E402

PY = sys.executable


# ------------------------------------------------------------------ generators: (lines) -> text
def install_blocks(n: int) -> str:
    """The report's file: RUN apt-get update / RUN apt-get install -y curl / ADD app.tar /opt/, repeated."""
    return "FROM debian:12\n" + "RUN apt-get update\nRUN apt-get install -y curl\nADD app.tar /opt/\n" * (n // 3)


def and_chain(n: int) -> str:
    """One RUN of n commands joined by ``&&`` on continuation lines (installs and cleanups among them)."""
    cmds = []
    for i in range(n):
        k = i % 4
        cmds.append(("apt-get update", f"apt-get install -y pkg{i}", f"echo step {i} > /tmp/s{i}",
                     "rm -rf /var/lib/apt/lists/*")[k])
    return "FROM debian:12\nRUN " + " \\\n    && ".join(cmds) + "\n"


def stages(n: int) -> str:
    """n/4 stages, each copying from the one before."""
    out = ["FROM alpine:3.19 AS s0\nRUN echo 0 > /f0\n"]
    for i in range(1, n // 4):
        out.append(f"FROM alpine:3.19 AS s{i}\nCOPY --from=s{i - 1} /f{i - 1} /f{i - 1}\n"
                   f"RUN apk add curl\nRUN echo {i} > /f{i}\n")
    return "".join(out)


def arg_env(n: int) -> str:
    """Thousands of ARG and ENV, each reading the one before; a RUN every 50 that uses them."""
    out = ["FROM debian:12\n"]
    for i in range(n // 2):
        out.append(f"ARG A{i}=v{i}\nENV E{i}=${{A{i}}}-$E{i - 1 if i else 0}\n")
        if i % 50 == 49:
            out.append(f'RUN echo "$E{i}" > /tmp/e{i}\n')
    return "".join(out)


def continuations(n: int) -> str:
    """One apt-get install of n packages, one per continuation line, comments and blank lines inside."""
    lines = []
    for i in range(n):
        lines.append(f"    pkg{i} \\" if i % 10 else f"# group {i}\n    pkg{i} \\")
    return ("FROM debian:12\nRUN apt-get update && apt-get install -y \\\n" + "\n".join(lines)
            + "\n    && rm -rf /var/lib/apt/lists/*\n")


def heredoc(n: int) -> str:
    """One RUN heredoc of n lines."""
    body = "".join(f"echo line {i} >> /tmp/out\n" if i % 7 else f"apt-get install -y pkg{i}\n" for i in range(n))
    return "# syntax=docker/dockerfile:1\nFROM debian:12\nRUN <<EOF\nset -e\napt-get update\n" + body + "EOF\n"


def comments(n: int) -> str:
    return "FROM debian:12\n" + "# a comment line, nothing to fix here at all\n" * n + "RUN true\n"


def labels(n: int) -> str:
    return "FROM debian:12\n" + "".join(f'LABEL org.example.key{i}="a value of some length {i}"\n' for i in range(n))


def _repeat(n: int, lines: str, per: int) -> str:
    return "FROM debian:12\n" + "".join(lines.format(k=k) for k in range(max(n // per, 1)))


# Round 5: common shapes repeated, each a pattern one transform reads per occurrence (issue 20, "linear on every input")
def update_install_runs(n: int) -> str:
    """RUNs that each update and install (no merge: every RUN is its own block)."""
    return _repeat(n, "RUN apt-get update && apt-get install -y curl\n", 1)


def cache_mount_runs(n: int) -> str:
    """The same under the cache-mount strategy (a `# syntax=` line)."""
    return "# syntax=docker/dockerfile:1\n" + update_install_runs(n)


def workdir_steps(n: int) -> str:
    """WORKDIR / COPY / RUN make, repeated."""
    return _repeat(n, "WORKDIR /w{k}\nCOPY . .\nRUN make\n", 3)


def download_unpack(n: int) -> str:
    """RUNs that download an archive and unpack it (remove-downloaded-archives reads every later RUN per download)."""
    return _repeat(n, "RUN curl -fsSL -o /tmp/a{k}.tgz https://example.com/a{k}.tgz && tar xzf /tmp/a{k}.tgz -C /opt\n", 1)


def create_delete(n: int) -> str:
    """A RUN writes a file, the next deletes it (merge-runs joins the whole file into one block)."""
    return _repeat(n, "RUN echo {k} > /tmp/f{k}\nRUN rm /tmp/f{k}\n", 2)


def npm_manifests(n: int) -> str:
    """COPY a manifest, npm ci, repeated (build-tools-in-final reads every later command per install)."""
    return _repeat(n, "COPY package{k}.json /app/\nRUN npm ci\n", 2)


def copy_chown(n: int) -> str:
    """COPY then RUN chown -R of it, repeated (copy-chown asked about every earlier step per chown until round 6)."""
    return _repeat(n, "COPY a{k} /app/a{k}\nRUN chown -R app /app/a{k}\n", 2)


def copy_chown_dir(n: int) -> str:
    """COPY into one directory then RUN chown -R of the directory, repeated: each chown's fix set --chown on every
    COPY before it (quadratic in the size of the fixes) until round 6, when a chown after an earlier chown -R of the
    same directory took only the COPYs after it."""
    return _repeat(n, "COPY a{k} /app/\nRUN chown -R app /app\n", 2)


def rm_users(n: int) -> str:
    """A RUN deleting base-image files, then a USER switch, repeated: no merge joins them, so delete-in-later-layer
    walked back over every earlier RUN per rm until round 6."""
    return _repeat(n, "RUN rm -rf /usr/share/doc/p{k}\nUSER u{k}\n", 2)


def from_chain(n: int) -> str:
    """Each stage FROM the one before (a chain as deep as the file), each with an install, a COPY + chown -R and an
    rm: until round 7 a stage's questions read its whole chain (copy-chown replayed the parent stages, contents(),
    the shell, user, working directory and scope walked every stage of the chain), so the work grew with the square
    of the depth (docs/performance.md, round 7)."""
    return "FROM debian:12 AS s0\n" + "".join(
        f"FROM s{k} AS s{k + 1}\nRUN apt-get install -y x{k}\nCOPY a{k} /app/a{k}\nRUN chown -R app /app/a{k}\n"
        f"RUN rm -rf /usr/share/doc/x{k}\n" for k in range(max(n // 5, 1)))


def cache_chain(n: int) -> str:
    """The same chain under the cache-mount strategy: every stage ships (others build FROM it), so cache-mounts asked
    every later RUN of the chain whether it reads a cache back, for every RUN (quadratic until round 7)."""
    return "# syntax=docker/dockerfile:1\nFROM debian:12 AS s0\n" + "".join(
        f"FROM s{k} AS s{k + 1}\nRUN apt-get update && apt-get install -y x{k}\n" for k in range(max(n // 2, 1)))


def offline_npm(n: int) -> str:
    """COPY a manifest, then npm ci --offline, repeated under the cache-mount strategy: each RUN reads the npm cache
    back, and cache-mounts asked every earlier instruction what filled it, for every such RUN (quadratic until round
    7)."""
    return "# syntax=docker/dockerfile:1\nFROM node:20\n" + "".join(
        f"COPY p{k}/package.json p{k}/\nRUN cd p{k} && npm ci --offline\n" for k in range(max(n // 2, 1)))


def go_reads_back(n: int) -> str:
    """`go mod download` then `go build` in a build stage, repeated under the cache-mount strategy: each build reads
    back the module cache the RUNs above filled. Each mount waited for the one above (a pass per RUN, the 12-pass
    bound from 12 RUNs: "fixes did not settle") until issue 20's Fix.requires; the case prints the passes."""
    return "# syntax=docker/dockerfile:1\nFROM golang:1.22 AS build\n" + "".join(
        f"COPY m{k}/go.mod m{k}/\nRUN cd m{k} && go mod download\nRUN cd m{k} && go build -o /out/a{k} .\n"
        for k in range(max(n // 3, 1))) + "FROM scratch\nCOPY --from=build /out /out\n"


CASES = {
    "install-blocks": install_blocks, "and-chain": and_chain, "stages": stages, "arg-env": arg_env,
    "continuations": continuations, "heredoc": heredoc, "comments": comments, "labels": labels,
    "update-install": update_install_runs, "cache-mount-runs": cache_mount_runs, "workdir-steps": workdir_steps,
    "download-unpack": download_unpack, "create-delete": create_delete, "npm-manifests": npm_manifests,
    "copy-chown": copy_chown, "copy-chown-dir": copy_chown_dir, "rm-users": rm_users,
    "from-chain": from_chain, "cache-chain": cache_chain, "offline-npm": offline_npm, "go-reads-back": go_reads_back,
}
BIG = {"comments", "labels"}  # scaled to --mb at 16x
SUPERLINEAR: set[str] = set()
"""Cases known to grow faster than the file: run up to 4x unless ``--all-sizes`` (at 16x each would take minutes).
None since round 7 (``from-chain`` was one, docs/performance.md)."""


CLEAR_CACHES = textwrap.dedent("""
    def clear_caches():  # every memo keyed by text (parsed scripts, expansions...): the next fix hits none
        import functools, sys
        for name, mod in list(sys.modules.items()):
            if name.startswith("dockerfix"):
                for v in list(vars(mod).values()):
                    if isinstance(v, functools._lru_cache_wrapper):
                        v.cache_clear()
        from dockerfix.model import shell
        shell._cache_clear()
""")
"""A child's ``clear_caches()``: a row is a running process's next file, with nothing of the first fix reused (also
``bench_fix_phases.py``'s, so its fixes are this script's rows)."""


RUN_ONE = CLEAR_CACHES + textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    import dockerfix
    text = open(sys.argv[2], encoding="utf-8").read()
    dockerfix.fix("FROM scratch\\nRUN apt-get update\\n", unsafe=True)

    with dockerfix.batch():
        t0 = time.process_time(); r = dockerfix.fix(text, unsafe=True); t1 = time.process_time()
        clear_caches()
        t2 = time.process_time(); dockerfix.fix(text, unsafe=True); t3 = time.process_time()
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"s": t3 - t2, "cold_s": t1 - t0, "lines": text.count("\\n"), "passes": r.passes,
                      "changes": len(r.changes), "errors": r.errors, "rss_mb": rss,
                      "insts": len(dockerfix.parse(text).instructions)}))
""")


CORPUS = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    import dockerfix
    texts = [open(p, "rb").read().decode("utf-8") for p in json.loads(sys.argv[2])]
    dockerfix.fix("FROM scratch\\nRUN apt-get update\\n", unsafe=True)
    with dockerfix.batch():
        t0 = time.process_time()
        for t in texts:
            try:
                dockerfix.fix(t, unsafe=True)
            except Exception:
                pass
        t1 = time.process_time()
    insts = 0
    for t in texts:
        try:
            insts += len(dockerfix.parse(t).instructions)
        except Exception:
            pass
    print(json.dumps({"loop_s": t1 - t0, "insts": insts}))
""")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,2,4,8,16")
    ap.add_argument("--base-lines", type=int, default=400)
    ap.add_argument("--mb", type=float, default=5.0, help="size of the comment and LABEL cases at the largest size")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--tree", default=str(ROOT), help="the source tree to measure (a worktree of another commit)")
    ap.add_argument("--all-sizes", action="store_true", help="every size for the known super-linear cases too")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    subprocess.run([PY, "-m", "compileall", "-q", str(Path(a.tree) / "dockerfix")], check=True)
    print(f"dockerfix scaling bench: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load()}")
    rw = real_world(Path(a.corpus))
    runs = [child(CORPUS, a.tree, json.dumps([str(p) for p in rw])) for _ in range(max(a.repeat, 2))]
    best = min(runs, key=lambda r: r["loop_s"])
    corpus_lines = sum(p.read_bytes().count(b"\n") for p in rw)
    corpus_lps = corpus_lines / best["loop_s"]
    corpus_ips = best["insts"] / best["loop_s"]
    print(f"corpus: {len(rw)} real-world files, {corpus_lines} lines, {corpus_lps:,.0f} lines/s "
          f"({1e6 / corpus_lps:.1f} us/line)   target per row: >= "
          f"{corpus_lps / 2:,.0f} lines/s (0.5x), us/line flat (last column <= 1.25)")
    print(f"        {best['insts']} instructions ({corpus_lines / best['insts']:.1f} lines each), "
          f"{1e6 / corpus_ips:.1f} us/instruction (xinst: a row's instructions/s against the corpus's; not the target, "
          "which is per line: see docs/performance.md)")
    tmp = Path(os.environ.get("TMPDIR", "/tmp"), f"dockerfix-scaling-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"{'case':16s} {'size':>4s} {'lines':>8s} {'MB':>6s} {'s':>8s} {'lines/s':>9s} {'us/line':>8s} "
          f"{'xcorpus':>7s} {'passes':>6s} {'fixes':>6s} {'RSS MB':>6s} {'us/line vs 1x':>13s} {'xinst':>6s} "
          f"{'cold':>6s} {'xcold':>5s}")
    worst = {}
    for case in a.cases.split(","):
        gen = CASES[case]
        first = None
        for k in sizes:
            if case in SUPERLINEAR and k > 4 and not a.all_sizes:
                print(f"{case:16s} {k:>3d}x  skipped: known super-linear (--all-sizes runs it)")
                continue
            if case in BIG:
                line_bytes = len(gen(100)) / 100
                n = int(a.mb * 1e6 / line_bytes * k / max(sizes))
            else:
                n = a.base_lines * k
            text = gen(n)
            f = tmp / f"{case}-{k}.Dockerfile"
            f.write_text(text, encoding="utf-8")
            runs = [child(RUN_ONE, a.tree, str(f)) for _ in range(a.repeat)]
            r = min(runs, key=lambda r: r["s"])
            cold = min(x["cold_s"] for x in runs) / r["lines"] * 1e6
            us = r["s"] / r["lines"] * 1e6
            first = first or us
            lps = r["lines"] / r["s"]
            worst[case] = max(worst.get(case, 0), us / first)
            print(f"{case:16s} {k:>3d}x {r['lines']:8d} {len(text) / 1e6:6.2f} {r['s']:8.3f} {lps:9,.0f} {us:8.1f} "
                  f"{lps / corpus_lps:7.2f} {r['passes']:6d} {r['changes']:6d} {r['rss_mb']:6.0f} {us / first:13.2f}"
                  f" {r['insts'] / r['s'] / corpus_ips:6.2f} {cold:6.1f} {1e6 / cold / corpus_lps:5.2f}"
                  + (f"  errors: {r['errors']}" if r["errors"] else ""), flush=True)
            f.unlink()
    tmp.rmdir()
    print(f"load at the end: {load()}")


if __name__ == "__main__":
    main()
