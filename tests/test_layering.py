"""Layering rules that keep facts in one place: no transform module imports another transform module."""

from __future__ import annotations

import ast
from pathlib import Path

TRANSFORMS = Path(__file__).resolve().parents[1] / "dockerfix" / "transforms"
SHARED = {"base", "registry", "__init__"}
"""Modules every transform may import besides private ``_name`` ones."""


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            if node.module == "dockerfix.transforms":
                out.update(f"dockerfix.transforms.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def transform_modules() -> list[Path]:
    return sorted(p for p in TRANSFORMS.glob("*.py") if not p.stem.startswith("_") and p.stem not in SHARED)


def test_no_transform_imports_another():
    names = {p.stem for p in transform_modules()}
    bad = []
    for p in transform_modules():
        for mod in _imports(p):
            if mod.startswith("dockerfix.transforms."):
                other = mod.rsplit(".", 1)[-1]
                if other in names and other != p.stem:
                    bad.append(f"{p.name} imports {mod}")
    assert not bad, "transforms must share code through private modules or the model:\n" + "\n".join(bad)


def test_the_check_sees_imports(tmp_path):
    # the detector itself: a module importing another transform is caught
    f = tmp_path / "x.py"
    f.write_text("from dockerfix.transforms.merge_runs import MergeRuns\nimport dockerfix.transforms.copy_chown\n")
    assert {"dockerfix.transforms.merge_runs", "dockerfix.transforms.copy_chown"} <= _imports(f)


def test_private_modules_import_no_transform():
    names = {p.stem for p in transform_modules()}
    bad = [f"{p.name} imports {m}" for p in TRANSFORMS.glob("_*.py") if p.stem != "__init__"
           for m in _imports(p) if m.rsplit(".", 1)[-1] in names and m.startswith("dockerfix.transforms.")]
    assert not bad, bad
