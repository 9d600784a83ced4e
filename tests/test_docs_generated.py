"""What restates the transforms' metadata is generated from the classes, and up to date.

``scripts/gen_docs.py`` writes the registry's index (``dockerfix/transforms/_index.py``), the README's transform table
and ``docs/transforms.md``; this test fails when any of them is not what the classes say now, and when a transform
lacks what every transform must have (its docs sections included: ``DOC_SECTIONS``, for every transform).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "gen_docs.py")


def _gen():
    spec = importlib.util.spec_from_file_location("gen_docs", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _gen()
CLASSES = gen.transform_classes()


@pytest.mark.parametrize("path", [gen.INDEX, gen.README, gen.DOCS], ids=os.path.basename)
def test_generated_file_is_up_to_date(path):
    with open(path, encoding="utf-8") as f:
        current = f.read()
    assert current == gen.outputs()[path], f"{os.path.relpath(path, ROOT)} is out of date: run python scripts/gen_docs.py"


def test_check_mode_fails_on_a_stale_file(tmp_path, monkeypatch):
    for attr in ("INDEX", "README", "DOCS"):  # work on copies: the test never writes the real files
        copy = tmp_path / os.path.basename(getattr(gen, attr))
        with open(getattr(gen, attr), encoding="utf-8") as f:
            copy.write_text(f.read(), encoding="utf-8")
        monkeypatch.setattr(gen, attr, str(copy))
    assert gen.main(["--check"]) == 0
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("| [DFX502]", "| [DFX599]"), encoding="utf-8")
    (tmp_path / "transforms.md").unlink()
    assert gen.main(["--check"]) == 1
    assert "DFX599" in readme.read_text(encoding="utf-8")  # --check writes nothing
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
    assert "| [DFX502](docs/transforms.md#dfx502-build-tools-in-final-stage) |" in readme.read_text(encoding="utf-8")
    assert (tmp_path / "transforms.md").exists()


def test_check_mode_as_a_program():
    r = subprocess.run([sys.executable, SCRIPT, "--check"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.code)
def test_every_transform_is_complete(cls):
    where = f"{cls.__module__}.{cls.__qualname__}:"
    assert [p for p in gen.problems(CLASSES) if p.startswith(where)] == []


def test_incomplete_metadata_is_named():
    class Bad:
        __module__ = "dockerfix.transforms.bad"
        __qualname__ = "Bad"
        code, name, safety, summary, after = "DFX998", "bad", "maybe", "Two\nlines.", ("nothing",)
        docs = "## What it does\nx\n"

    found = gen.problems([Bad])
    assert any("safety 'maybe'" in p for p in found)
    assert any("summary" in p for p in found)
    assert any("'## Why'" in p for p in found) and any("'## Fix safety'" in p for p in found)
    assert any("'nothing'" in p for p in found)


def test_readme_table_matches_the_classes():
    """The README's fix column comes from each class (it once called DFX502 "mixed"; the class says unsafe)."""
    with open(gen.README, encoding="utf-8") as f:
        readme = f.read()
    for c in CLASSES:
        fix = c.safety if c.default_enabled else f"{c.safety}, opt-in"
        assert f" | {c.name} | {fix} | " in readme, c.code
