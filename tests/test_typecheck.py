"""mypy over the package, as configured in pyproject.toml ([tool.mypy]: strict on syntax/, model/, engine.py and
transforms/base.py, mypy's defaults elsewhere), and type checkers seeing the constructors of ``_record`` records."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (pip install -e '.[dev]')")


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_mypy_passes():
    r = _mypy()
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_module_is_exempt():
    """Every module is checked: no override silences one (the temporary ignore list of issue 18 item 7 is gone)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        mypy = tomllib.load(f)["tool"]["mypy"]
    exempt = [o["module"] for o in mypy.get("overrides", []) if o.get("ignore_errors")]
    assert not mypy.get("ignore_errors") and not exempt, exempt


def test_record_constructors_are_checked(tmp_path):
    """``_record.dataclass`` carries ``typing.dataclass_transform``: a wrong argument to a record is a type error
    (without it, mypy saw ``object.__init__`` and reported every call with arguments as the wrong one)."""
    src = tmp_path / "records.py"
    src.write_text(textwrap.dedent("""\
        from dockerfix._record import dataclass, field, replace

        @dataclass(frozen=True, slots=True)
        class Point:
            x: int
            tags: tuple[str, ...] = ()
            extra: list[int] = field(default_factory=list)

        @dataclass
        class Name:
            text: str

        ok = Point(1, ("a",), [2])
        bumped: int = replace(ok, x=2).x + 1
        Point("one")
        Name()
        Name("n").missing
    """), encoding="utf-8")
    r = _mypy("--follow-imports=silent", str(src))
    # by file name: mypy's cache may name the module by the path of an earlier run's identical file
    lines = [ln.split(": ", 1)[1] for ln in r.stdout.splitlines() if ln.split(":", 1)[0].endswith("records.py")]
    assert lines == [
        'error: Argument 1 to "Point" has incompatible type "str"; expected "int"  [arg-type]',
        'error: Missing positional argument "text" in call to "Name"  [call-arg]',
        'error: "Name" has no attribute "missing"  [attr-defined]',
    ], r.stdout


def test_typing_is_not_imported_at_run_time():
    code = "import sys, dockerfix._record, dockerfix.engine; print('typing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"
