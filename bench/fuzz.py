"""Fuzz dockerfix for as long as asked: every property of ``tests/test_properties.py`` on generated and mutated input.

    python bench/fuzz.py --seconds 300              # all properties, round robin, random seeds
    python bench/fuzz.py --seconds 60 --only parse,bytes --seed 1

The properties (see ``tests/test_properties.py``): ``parse`` (accept and round-trip or DockerfileSyntaxError, and
agree with BuildKit's parser), ``fix`` / ``fix-unsafe`` (output parses for us and BuildKit, a second fix is a no-op,
no comment dropped, no internal error or guard trip), ``bytes`` (invalid UTF-8, NUL, foreign BOMs through the I/O
layer and the CLI's stdin path: a clear error and exit 2, else exactly the API's output). Inputs are grammar-generated
files, mutations of every corpus file, arbitrary text and byte-level corruptions.

Hypothesis runs each property in batches with fresh random seeds until the time is up. A failure is shrunk, printed,
and its input written to ``tests/regressions/<property>-<sha256[:12]>.case`` (raw bytes), which
``tests/test_regressions.py`` replays on every test run from then on. Distinct failures are told apart by property and
exception type and message shape, so one bug is written once per run, and not at all when a
regression case still fails the same way (a known bug, marked ``.xfail``). Exit status: 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
REGRESSIONS = os.path.join(ROOT, "tests", "regressions")


def _signature(name: str, exc: BaseException) -> str:
    """What makes two failures "the same bug": property, exception type, first message line without the data."""
    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "_", first)[:80]
    return f"{name}:{type(exc).__name__}:{first}"


def write_regression(name: str, data: bytes, directory: str = REGRESSIONS) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}-{hashlib.sha256(data).hexdigest()[:12]}.case")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return path


def known_failures(directory: str = REGRESSIONS) -> dict[str, str]:
    """Failure signatures of the regression cases that still fail (known bugs), to find new bugs, not old ones."""
    from tests.test_properties import PROPERTIES

    out: dict[str, str] = {}
    if not os.path.isdir(directory):
        return out
    for f in sorted(os.listdir(directory)):
        name = next((n for n in sorted(PROPERTIES, key=len, reverse=True) if f.startswith(n + "-")), None)
        if not f.endswith(".case") or name is None:
            continue
        with open(os.path.join(directory, f), "rb") as fh:
            data = fh.read()
        try:
            PROPERTIES[name][0](PROPERTIES[name][3](data))
        except Exception as exc:  # noqa: BLE001
            out.setdefault(_signature(name, exc), f)
    return out


def run_batch(name: str, strategy, seed: int, examples: int):
    """Run ``examples`` examples of one property; return (examples run, None or (failing case, exception))."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    from tests.test_properties import PROPERTIES

    check = PROPERTIES[name][0]
    state = {"n": 0, "case": None}

    @hseed(seed)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False, report_multiple_bugs=False,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck), print_blob=False)
    @given(strategy)
    def prop(case):
        state["n"] += 1
        try:
            check(case)
        except BaseException:
            state["case"] = case  # the last failing call is the shrunk example hypothesis reports
            raise

    try:
        prop()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure of a property is a finding
        if state["case"] is None:
            raise
        return state["n"], (state["case"], exc)
    return state["n"], None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    ap.add_argument("--only", default="", help="comma-separated properties (default: all)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the seed sequence (default: random)")
    ap.add_argument("--batch", type=int, default=40, help="examples per hypothesis run (default 40)")
    ap.add_argument("--no-write", action="store_true", help="report failures without writing regression fixtures")
    ap.add_argument("--regressions", default=REGRESSIONS, help="where failing inputs go")
    args = ap.parse_args(argv)

    warnings.simplefilter("ignore")
    from tests.test_properties import PROPERTIES

    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(PROPERTIES)
    unknown = [n for n in names if n not in PROPERTIES]
    if unknown:
        ap.error(f"unknown properties: {', '.join(unknown)} (choose from {', '.join(PROPERTIES)})")
    known = known_failures(args.regressions)
    if known:
        print(f"{len(known)} known failing regression case(s) (marked .xfail): their failures are not written again")
    strategies = {n: PROPERTIES[n][1]() for n in names}
    rng = random.Random(args.seed)
    start = time.monotonic()
    deadline = start + args.seconds
    counts = dict.fromkeys(names, 0)
    busy = dict.fromkeys(names, 0.0)
    seen: set[str] = set()
    failures: list[tuple[str, str, str]] = []
    i = 0
    while time.monotonic() < deadline:
        name = names[i % len(names)]
        i += 1
        seed = rng.getrandbits(64)
        t0 = time.monotonic()
        n, failure = run_batch(name, strategies[name], seed, args.batch)
        busy[name] += time.monotonic() - t0
        counts[name] += n
        if failure is None:
            continue
        case, exc = failure
        sig = _signature(name, exc)
        if sig in seen:
            continue
        seen.add(sig)
        if sig in known:
            print(f"known {name} seed={seed}: {sig} (see {known[sig]})", flush=True)
            continue
        data = PROPERTIES[name][2](case)
        where = "(not written)" if args.no_write else write_regression(name, data, args.regressions)
        msg = str(exc).strip().splitlines()
        print(f"FAIL {name} seed={seed}: {type(exc).__name__}: {msg[0] if msg else ''}", flush=True)
        print(f"     input {data[:200]!r}{'...' if len(data) > 200 else ''}", flush=True)
        print(f"     written to {where}", flush=True)
        failures.append((name, sig, where))
    elapsed = time.monotonic() - start
    total = sum(counts.values())
    print(f"\n{total} examples in {elapsed:.0f} s: {total / elapsed:.1f} examples/s")
    for name in names:
        rate = counts[name] / busy[name] if busy[name] else 0.0
        print(f"  {name:<11} {counts[name]:>7} examples  {rate:8.1f}/s")
    print(f"{len(failures)} distinct failure(s)")
    for name, sig, where in failures:
        print(f"  {sig}\n    {where}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
