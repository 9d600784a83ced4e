"""One place turns configuration and flags into a run (dockerfix.request), and frontends act on data, never on codes
or reason text (issue 18, item 5)."""

from __future__ import annotations

import os

from dockerfix import request
from dockerfix.config import Config
from dockerfix.request import Overrides, resolve


def test_flags_override_the_configuration():
    cfg = Config(select=["DFX001"], ignore=["DFX101"], unsafe=True, context="/ctx", settings={"a": 1},
                 create_files=True)
    req = resolve(cfg, default_context="/here")
    assert (req.select, req.ignore, req.unsafe, req.context, req.create_files) == (("DFX001",), ["DFX101"], True,
                                                                                    "/ctx", True)
    req = resolve(cfg, Overrides(select=("DFX103",), ignore=(), unsafe=False, context="rel", add_files=False,
                                 offline=True, allow_partial=True))
    assert (req.select, req.ignore, req.unsafe, req.create_files) == (("DFX103",), (), False, False)
    assert req.context == os.path.abspath("rel")
    assert req.settings["offline"] is True and req.settings["allow-partial"] is True and req.settings["a"] == 1


def test_the_dockerfiles_folder_is_the_context_when_nothing_names_one():
    assert resolve(Config(), default_context="/here").context == "/here"
    assert resolve(Config()).context is None


def test_refresh_digests_adds_to_what_would_run():
    req = resolve(Config(), Overrides(refresh_digests=True))
    assert req.select is not None and req.select[-1] == "refresh-digests" and "DFX001" in req.select
    assert resolve(Config(select=["DFX001"]), Overrides(refresh_digests=True)).select == ("DFX001",
                                                                                          "refresh-digests")


def test_a_resolver_only_when_a_selected_transform_needs_one():
    assert request.services(None, None, {}) is None
    assert request.services(("DFX001", "DFX101"), None, {}) is None
    got = request.services(("pin-digests",), None, {"offline": True})
    assert got is not None and set(got) == {"resolver"}
    # one resolver per registry configuration, shared by the files of a run
    assert request.services(("DFX402",), None, {"offline": True})["resolver"] is got["resolver"]
    assert request.services(("DFX401",), ("pin-digests",), {}) is None


def test_needs_come_from_the_transforms_not_from_a_list_of_codes():
    from dockerfix.transforms.registry import all_transforms

    declared = {t.code for t in all_transforms() if t.needs}
    assert declared == {"DFX401", "DFX402"}
    for t in all_transforms():
        if t.needs:  # the lazy index says what the class says
            assert tuple(type(t.load()).needs) == tuple(t.needs)


def test_failure_kinds_are_data_on_the_change():
    import dockerfix

    src = "FROM alpine:3.19\n"
    (f,) = [c for c in dockerfix.fix(src, select=["pin-digests"]).findings]
    assert f.kind == "needs-network"

    class Failing:
        def resolve(self, ref):
            from dockerfix.registry.interface import RegistryError

            raise RegistryError(f"{ref}: registry says no")

    r = dockerfix.fix(src, select=["pin-digests"], unsafe=True, services={"resolver": Failing()})
    (f,) = r.findings
    assert f.kind == "service-error" and "registry says no" in (f.reason or "")


def test_a_fix_that_would_create_a_left_out_file_is_a_finding_by_its_file_not_its_code(tmp_path):
    from dockerfix._record import replace
    from dockerfix.cli_core import _without_new_files
    from dockerfix.engine import Change
    from dockerfix.transforms.base import FileChange

    new = Change("DFX999", "made-up", 1, 1, "m", True, True, "t", files=(FileChange("x.cfg", None, "a\n"),))
    other = Change("DFX203", "dockerignore", 1, 1, "m", True, True, "t", files=(FileChange("y", "", "b\n"),))
    plain = replace(new, code="DFX001", files=())
    kept, findings = _without_new_files([new, other, plain], [], [("x.cfg", True)], "existing")
    assert kept == [other, plain]
    assert [f.code for f in findings] == ["DFX999"] and not findings[0].applied
    assert new.creates_files and not other.creates_files and not plain.creates_files


def test_a_service_error_stops_an_unsafe_write_by_its_kind(tmp_path, monkeypatch):
    from dockerfix.cli_core import Task, process

    class Failing:
        def resolve(self, ref):
            from dockerfix.registry.interface import RegistryError

            raise RegistryError(f"{ref}: registry says no")

    monkeypatch.setitem(request.FACTORIES, "resolver", lambda settings: ("failing", Failing))
    p = tmp_path / "Dockerfile"
    p.write_text("FROM alpine:3.19\n")
    report = process(Task(str(p), "Dockerfile", True, ("pin-digests",), None, True, None))
    assert report.error is not None and report.error.kind == "registry"
    assert "registry says no" in report.error.message and p.read_text() == "FROM alpine:3.19\n"
    # allowed partial: the finding stays a finding
    report = process(Task(str(p), "Dockerfile", True, ("pin-digests",), None, True, None,
                          settings={"allow-partial": True}))
    assert report.error is None and [f.kind for f in report.findings] == ["service-error"]
