"""The registry's stand-ins: their metadata is the classes' own, and their triggers never hide a finding."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from corpus import corpus_files, read_text, require_corpus
from dockerfix import parse
from dockerfix.syntax import DockerfileSyntaxError
from dockerfix.transforms import registry
from dockerfix.transforms.registry import LazyTransform, all_transforms
from dockerfix.transforms.base import Context
from fixture_format import all_fixtures

LAZY = registry.all_transforms()


@pytest.mark.parametrize("lazy", LAZY, ids=lambda t: t.code)
def test_lazy_metadata_is_the_class_metadata(lazy):
    assert isinstance(lazy, LazyTransform), f"{lazy.code} is not in the index: run python scripts/gen_docs.py"
    module = importlib.import_module(f"dockerfix.transforms.{lazy.module}")
    cls = getattr(module, lazy.cls)
    assert cls in module.TRANSFORMS
    real = cls()
    assert (lazy.code, lazy.name, lazy.default_enabled, lazy.safety, lazy.summary, tuple(lazy.after),
            frozenset(lazy.declares), tuple(lazy.triggers)) == (
        real.code, real.name, real.default_enabled, real.safety, real.summary, tuple(real.after),
        frozenset(real.declares), tuple(real.triggers))
    # everything else (docs, image_differences, answers...) is the real transform's
    assert lazy.docs == real.docs and tuple(lazy.answers) == tuple(real.answers)
    assert tuple(lazy.image_differences) == tuple(real.image_differences)


def test_a_loaded_stand_in_calls_the_real_check():
    t = LazyTransform("DFX999", "x", "zypper_clean", "ZypperClean", True, "safe", "s", triggers=("zypper",))
    real = t.load()
    assert t.check.__self__ is real and t.load() is real


def test_every_transform_is_listed_once():
    ts = registry.all_transforms()
    codes = [t.code for t in ts]
    assert len(codes) == len(set(codes))
    declared = set()
    for name in registry.module_names():
        declared |= {c.code for c in getattr(importlib.import_module(f"dockerfix.transforms.{name}"), "TRANSFORMS", ())}
    assert set(codes) == declared


@pytest.mark.parametrize("lazy", [t for t in LAZY if t.triggers], ids=lambda t: t.code)
def test_triggers_cover_the_names_the_transform_looks_for(lazy):
    real = lazy.load()
    for name in getattr(real, "hint_names", ()):  # unreadable-shell hints fire on these exact words
        assert any(t in name for t in lazy.triggers), (name, lazy.triggers)


def test_lazy_modules_are_not_imported_for_a_file_without_triggers():
    text = "FROM debian\nRUN apt-get update && apt-get install -y curl\n"
    code = (f"import sys, dockerfix; dockerfix.fix({text!r}, "
            "unsafe=True); print(sorted(m.rsplit('.', 1)[-1] for m in sys.modules if m.startswith('dockerfix.transforms.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(eval(out))  # noqa: S307 - our own repr of a list of names
    # a transform whose triggers the file lacks stays unloaded; the ones it names (apt, curl) and those without
    # triggers are loaded
    assert not loaded & {t.module for t in LAZY if t.triggers and not any(s in text for s in t.triggers)}, loaded
    assert {"apt_lists_cleanup", "merge_runs"} <= loaded, loaded


def _fixture_documents():
    for fx in all_fixtures():
        yield fx.id, fx.input


def _corpus_documents():
    for p in corpus_files():
        yield str(p), read_text(p)


def _skipped_and_silent(documents) -> dict[str, int]:
    """Run the real checks on the files each stand-in's triggers would skip and require silence; how many files
    each transform was checked on."""
    gated = [(t, t.load()) for t in all_transforms() if t.triggers]
    assert {t.code for t, _ in gated} >= {"DFX102", "DFX103", "DFX113", "DFX301"}
    seen = {t.code: 0 for t, _ in gated}
    for key, text in documents:
        try:
            doc = parse(text)
        except DockerfileSyntaxError:
            continue
        for lazy, real in gated:
            if any(s in text for s in lazy.triggers):
                continue
            seen[lazy.code] += 1
            for settings in ({}, {"strategy": "clean-layer"}):
                found = list(real.check(Context(doc, settings=settings)))
                assert not found, (key, lazy.code, found[0])
    return seen


def test_a_fixture_without_a_trigger_gets_nothing_from_the_transform():
    """Soundness of the triggers over every fixture (the fixtures of the other transforms are most of them)."""
    seen = _skipped_and_silent(_fixture_documents())
    assert all(n > 100 for n in seen.values()), seen


def test_a_corpus_file_without_a_trigger_gets_nothing_from_the_transform():
    """The same over every corpus file (skipped, with the reason, when the corpus is absent)."""
    require_corpus()
    seen = _skipped_and_silent(_corpus_documents())
    assert all(n > 100 for n in seen.values()), seen


def test_triggered_files_still_get_their_fix():
    import dockerfix

    for text, code in (("FROM alpine\nRUN apk add curl\n", "DFX104"),
                       ("FROM fedora\nRUN dnf install -y gcc\n", "DFX105"),
                       ("FROM python:3.12\nRUN pip install flask\n", "DFX107"),
                       ("FROM opensuse/leap\nRUN zypper install -y curl\n", "DFX106")):
        r = dockerfix.fix(text, unsafe=True)
        assert code in {c.code for c in r.changes}, (code, r.text)


def test_dockerfix_transforms_is_always_the_package():
    """``dockerfix.transforms`` was a function until the first ``fix`` imported the package and replaced it."""
    code = ("import types, dockerfix\n"
            "before = dockerfix.transforms\n"
            "assert isinstance(before, types.ModuleType), before\n"
            "listed = [t.code for t in dockerfix.list_transforms()]\n"
            "assert [t.code for t in dockerfix.transforms()] == listed\n"
            "dockerfix.fix('FROM debian\\nRUN apt-get install -y curl\\n')\n"
            "assert dockerfix.transforms is before\n"
            "import dockerfix.transforms.registry as r\n"
            "assert [t.code for t in r.all_transforms()] == listed and 'DFX001' in listed\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_module_the_index_does_not_list_yet_is_still_discovered(monkeypatch):
    from dockerfix.transforms import _index

    monkeypatch.setattr(_index, "INDEX", tuple(r for r in _index.INDEX if r[2] != "zypper_clean"))
    monkeypatch.setattr(registry, "_cache", None)
    (t,) = [t for t in registry.all_transforms() if t.code == "DFX106"]
    assert not isinstance(t, LazyTransform) and type(t).__name__ == "ZypperClean"
    assert [x.code for x in registry.all_transforms()] == [x.code for x in LAZY]
    monkeypatch.setattr(registry, "_cache", None)
