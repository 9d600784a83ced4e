"""``dockerfix verify``: build the original and the rewritten Dockerfile, compare the images and how they behave,
measure rebuilds.

The flow, for one Dockerfile:

1. rewrite it with the selected transforms (``dockerfix.fix``), companion files (``.dockerignore``) included;
2. copy the build context twice and lay each copy out as ``dockerfix --write`` would leave it: the original
   Dockerfile at its own path in the first, the rewritten one at the same path in the second, plus the rewritten or
   new companion files. A ``COPY . /app`` therefore copies exactly what a user's build would, and the Dockerfile and
   ``.dockerignore`` found in the images are reported as the declared difference they are (``declared_files``).
   A Dockerfile outside its context (``--context``) is built from outside, as the user's would be;
3. build both with the chosen builder, export, flatten (one shared layer cache), compare with the differences the
   applied transforms declare (``Transform.image_differences``) plus build noise allowed;
4. when the images differ only where builds regenerate files (:data:`~dockerfix.verify.compare.REGENERATED`:
   fontconfig caches, snakeoil keys, machine-id...) or where the same instruction ran again and wrote different
   bytes, build the original a second time without cache (the ``--baseline`` build) and judge the rewrite against
   what differs between two builds of the original: ``baseline.why`` says ``automatic``. Any other difference
   fails without that build;
5. run each ``--smoke`` command (and with ``--healthcheck`` the images' HEALTHCHECK) in both images through the
   builder's ``run`` (``/bin/sh -c``, the image's ENTRYPOINT left out, its user, working directory and environment
   applied) and compare exit status and output, volatile bits masked
   (:data:`~dockerfix.verify.compare.VOLATILE_OUTPUT`). A command still running after ``smoke_timeout`` seconds
   (``--smoke-timeout``, default :data:`~dockerfix.verify.builders.RUN_TIMEOUT`) is ended and its check fails;
6. edit one source file in both copies, rebuild both, and count the steps each had to run again.

The verdict (``equal``, ``verdict``) needs both: images equal apart from declared differences, and every smoke
check and healthcheck agreeing. ``images_equal`` is the image comparison alone.

Everything that touches processes goes through the injected :class:`~dockerfix.verify.builders.Builder`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dockerfix.verify.builders import RUN_TIMEOUT, BuildError, Builder, BuildResult
from dockerfix.verify.compare import (
    BUILD_NOISE,
    AllowedDifference,
    Comparison,
    RunCheck,
    baseline_allowances,
    compare_images,
    compare_runs,
    explain_for_baseline,
    rewritten_files,
)
from dockerfix.verify.imagefs import FlatImage, flatten_image

MANIFESTS = frozenset((
    "requirements.txt", "pyproject.toml", "poetry.lock", "uv.lock", "Pipfile", "Pipfile.lock", "setup.py",
    "setup.cfg", "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
    "go.mod", "go.sum", "Cargo.toml", "Cargo.lock", "pom.xml", "build.gradle", "settings.gradle", "Gemfile",
    "Gemfile.lock", "composer.json", "composer.lock",
))
SOURCE_SUFFIXES = (".py", ".js", ".ts", ".go", ".rb", ".php", ".java", ".rs", ".cs", ".html", ".css", ".sh")
_COMMENT = {".py": "#", ".rb": "#", ".sh": "#", ".js": "//", ".ts": "//", ".go": "//", ".java": "//", ".rs": "//",
            ".cs": "//", ".php": "//", ".css": "/*", ".html": "<!--"}
_COMMENT_END = {"/*": " */", "<!--": " -->"}


class VerifyError(Exception):
    """Verification could not run (no builder, a build failed, unsupported syntax); the message says why."""


@dataclass
class Side:
    """One of the two builds."""

    build: BuildResult | None = None
    rebuild: BuildResult | None = None
    size: int = 0
    compressed_size: int = 0
    file_bytes: int = 0
    layers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "build_seconds": round(self.build.seconds, 2) if self.build else None,
            "image_bytes": self.size,
            "compressed_bytes": self.compressed_size,
            "file_bytes": self.file_bytes,
            "layers": self.layers,
            "rebuild_seconds": round(self.rebuild.seconds, 2) if self.rebuild else None,
            "rebuild_steps": self.rebuild.built_steps if self.rebuild else None,
            "rebuild_cached_steps": self.rebuild.cached_steps if self.rebuild else None,
        }


@dataclass
class Baseline:
    """The second build of the original: whether it ran, why, and what it showed."""

    why: str | None = None
    """``requested`` (``--baseline``), ``automatic`` (the differences were all of a kind builds regenerate), or
    ``None`` (not built)."""
    explained: dict[str, str] = field(default_factory=dict)
    """For an automatic baseline: each difference that triggered it and why (a :data:`REGENERATED` row's name, or
    ``re-run step: <instruction>``)."""
    nondeterministic_paths: int = 0
    """Paths that differ between the two builds of the original."""
    regenerated: list[str] = field(default_factory=list)
    """:data:`REGENERATED` rows the second build rewrote too (their whole patterns are then allowed)."""
    error: str | None = None
    """Why an automatic baseline could not be built (the verdict then stands without it)."""

    @property
    def built(self) -> bool:
        return self.why is not None and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {"built": self.built, "why": self.why, "explained": dict(sorted(self.explained.items())),
                "nondeterministic_paths": self.nondeterministic_paths, "regenerated": list(self.regenerated),
                "error": self.error}


@dataclass
class VerifyReport:
    dockerfile: str
    builder: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    before: Side = field(default_factory=Side)
    after: Side = field(default_factory=Side)
    comparison: Comparison | None = None
    edited: str | None = None
    notes: list[str] = field(default_factory=list)
    rewritten: bool = False
    checks: list[RunCheck] = field(default_factory=list)
    """``--smoke`` commands and (with ``--healthcheck``) the HEALTHCHECK, each run in both images."""
    healthcheck: dict[str, Any] = field(default_factory=dict)
    """``before``/``after``: each image's HEALTHCHECK test (``None`` without one); ``run``: whether it was run."""
    baseline: Baseline = field(default_factory=Baseline)
    declared_files: dict[str, list[str]] = field(default_factory=dict)
    """The rewritten files (Dockerfile, ``.dockerignore``) found in the images: context path -> image paths."""
    target: str | None = None
    """The stage built and compared (``--target``); ``None``: the last stage."""
    in_context: bool = False
    """True when the Dockerfile was built at its own path inside the copied context (as ``--write`` leaves it)."""

    @property
    def images_equal(self) -> bool:
        return self.comparison is not None and self.comparison.equal

    @property
    def behaviour_equal(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def equal(self) -> bool:
        """The verdict: images equal apart from declared differences, and every smoke check and healthcheck agrees."""
        return self.images_equal and self.behaviour_equal

    def smoke_summary(self) -> dict[str, list[str]]:
        """Which checks passed and which failed (commands; the healthcheck as ``HEALTHCHECK``)."""
        out: dict[str, list[str]] = {"passed": [], "failed": []}
        for c in self.checks:
            out["passed" if c.passed else "failed"].append(c.command if c.kind == "smoke" else "HEALTHCHECK")
        return out

    def to_dict(self) -> dict[str, Any]:
        comp = self.comparison.to_dict() if self.comparison else None
        changes = self.changes
        if self.checks:
            summary = self.smoke_summary()
            changes = [{**c, "smoke": summary} if c.get("safe") is False else c for c in changes]
        return {
            "dockerfile": self.dockerfile,
            "builder": self.builder,
            "rewritten": self.rewritten,
            "equal": self.equal,
            "verdict": "EQUAL" if self.equal else "DIFFERENT",
            "images_equal": self.images_equal,
            "behaviour_equal": self.behaviour_equal,
            "changes": changes,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "edited_file": self.edited,
            "comparison": comp,
            "smoke": [c.to_dict() for c in self.checks],
            "healthcheck": dict(self.healthcheck),
            "baseline": self.baseline.to_dict(),
            "declared_files": {k: list(v) for k, v in sorted(self.declared_files.items())},
            "in_context": self.in_context,
            "target": self.target,
            "notes": self.notes,
        }


def allowed_for(codes: set[str]) -> list[AllowedDifference]:
    """The differences the applied transforms declare, one allowance per transform."""
    from dockerfix.transforms.registry import all_transforms

    out = []
    for t in all_transforms():
        if t.code in codes and t.image_differences:
            out.append(AllowedDifference(tuple(t.image_differences), t.summary, t.code))
    return out


def built_stages(text: str, target: str | None = None) -> set[int] | None:
    """The indexes of the stages a build of ``target`` (default: the last stage) runs: the target, the stages it is
    built ``FROM``, and those it copies from (``COPY --from``, ``ADD --from``, ``RUN --mount=from=``), transitively.
    ``None`` when a reference goes through a variable the file does not settle (then any stage may run).

    Raises :class:`VerifyError` when ``target`` names no stage."""
    from dockerfix.model.stages import Model, Stage
    from dockerfix.syntax import parse

    model = Model(parse(text))
    stages = model.stages
    if not stages:
        return set()
    start: Stage | None
    if target is None:
        start = stages[-1]
    else:
        start = model.stage_names.get(target.lower())
        if start is None:
            names = ", ".join(s.name for s in stages if s.name) or "none"
            raise VerifyError(f"--target {target}: the Dockerfile has no stage of that name (stages named: {names})")
    needed: set[int] = set()
    todo = [start]
    while todo:
        stage = todo.pop()
        if stage.index in needed:
            continue
        needed.add(stage.index)
        parent = model.parent_stage(stage)
        if parent is None and model.expand(stage.base, model.meta_values) is None:
            return None
        if parent is not None:
            todo.append(parent)
        for inst in stage.instructions[1:]:
            for ref in _stage_refs(inst):
                value = model.expand_at(ref, inst)
                if value is None:
                    return None
                if value.isdigit() and int(value) < stage.index:
                    todo.append(stages[int(value)])
                elif value.lower() in model.stage_names and model.stage_names[value.lower()].index < stage.index:
                    todo.append(model.stage_names[value.lower()])
    return needed


def _stage_refs(inst: Any) -> list[str]:
    """What an instruction names with ``--from`` (``COPY``/``ADD``) or ``from=`` in a ``RUN --mount``."""
    refs: list[str] = []
    if inst.keyword in ("COPY", "ADD"):
        refs += [f.value for f in inst.flags_named("from") if f.value]
    elif inst.keyword == "RUN":
        for f in inst.flags_named("mount"):
            for part in (f.value or "").split(","):
                key, _, value = part.partition("=")
                if key.strip().lower() == "from" and value.strip():
                    refs.append(value.strip())
    return refs


def unsupported(text: str, builder: Builder, target: str | None = None) -> list[str]:
    """Why ``builder`` cannot build ``text`` for ``target`` (Dockerfile features it lacks), as readable sentences.

    Heredocs are judged per stage when the builder skips them harmlessly in stages the build does not run
    (:attr:`~dockerfix.verify.builders.Capabilities.heredocs_in_skipped_stages`): buildah 1.28 reads each body
    line as an instruction, which fails loudly in a stage that runs and is never looked at in one it skips, except
    a body line starting with ``FROM``, which would start a stage of its own."""
    from dockerfix.model.stages import Model
    from dockerfix.syntax import parse

    caps = builder.capabilities
    doc = parse(text)
    needed: set[int] | None = None
    model = None
    if not caps.heredocs and caps.heredocs_in_skipped_stages and any(
            i.effective.heredocs for i in doc.iter_instructions()):
        needed = built_stages(text, target)
        model = Model(doc)
    elif target is not None:
        built_stages(text, target)  # an unknown target is an error whatever the builder
    out = []
    for inst in doc.iter_instructions():
        eff = inst.effective
        if eff.heredocs and not caps.heredocs:
            stage = model.stage_of(inst) if model is not None else None
            skipped = needed is not None and stage is not None and stage.index not in needed
            starts_stage = [h for h in eff.heredocs if any(
                ln.split(None, 1)[:1] and ln.split(None, 1)[0].upper() == "FROM" for ln in h.content.splitlines())]
            if not skipped:
                why = (f"in stage {stage.name or stage.index}, which the build runs" if model is not None and
                       stage is not None else "")
                out.append(f"line {inst.start_line}: heredocs need BuildKit (dockerd >= 23) or buildah >= 1.33; "
                           f"{builder.name} cannot build them" + (f" ({why})" if why else ""))
            elif starts_stage:
                out.append(f"line {inst.start_line}: a heredoc line starting with FROM, which {builder.name} "
                           "would read as the start of a new stage (it reads heredoc lines as instructions)")
        for m in eff.flags_named("mount"):
            if "type=cache" in (m.value or "") and not caps.cache_mounts:
                out.append(f"line {inst.start_line}: cache mounts need BuildKit or buildah")
        if eff.keyword == "COPY" and eff.flag("link") and not caps.copy_link:
            out.append(f"line {inst.start_line}: COPY --link needs BuildKit")
        if eff.keyword in ("COPY", "ADD") and eff.flag("chmod") and not caps.copy_chmod:
            out.append(f"line {inst.start_line}: --chmod needs BuildKit or buildah")
        if eff.keyword == "ADD" and eff.flag("checksum") and not caps.add_checksum:
            out.append(f"line {inst.start_line}: ADD --checksum needs a recent BuildKit")
        if eff.keyword == "RUN" and eff.flag("network") and not caps.run_network:
            out.append(f"line {inst.start_line}: RUN --network needs BuildKit")
    if doc.directive("syntax") and caps.syntax_directive == "pulls":
        out.append("the # syntax= directive makes this builder pull a frontend image, which needs a registry")
    return out


def pick_source_file(context: Path, exclude: set[str] | None = None) -> str | None:
    """A source file to edit for the rebuild measurement: the largest file with a source suffix that is not a
    dependency manifest (dot-folders, node_modules and virtualenvs skipped)."""
    best: tuple[int, str] | None = None
    skip_dirs = {".git", "node_modules", ".venv", "venv", "__pycache__", "vendor", "dist", "build", "target"}
    for dirpath, dirnames, files in os.walk(context):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs and not d.startswith("."))
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(dirpath, f), context).replace(os.sep, "/")
            if f in MANIFESTS or not f.endswith(SOURCE_SUFFIXES) or (exclude and rel in exclude):
                continue
            size = os.path.getsize(os.path.join(dirpath, f))
            if best is None or size > best[0]:
                best = (size, rel)
    return best[1] if best else None


def edit_source(path: Path) -> None:
    """Append a comment that changes the file's content (unique, so no earlier build can have cached it)."""
    c = _COMMENT.get(path.suffix, "#")
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"\n{c} dockerfix verify edit {uuid.uuid4().hex}{_COMMENT_END.get(c, '')}\n")


@dataclass
class _Layout:
    """The two build contexts, laid out as ``--write`` would leave them."""

    dockerfiles: tuple[Path, Path]
    contexts: tuple[Path, Path]
    declared: dict[str, tuple[bytes | None, bytes | None]]
    """Context-relative files the rewrite changes and a build can copy: before and after bytes (None: absent)."""
    in_context: bool


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _write_over(path: Path, data: bytes) -> None:
    """Write ``data`` as ``--write`` would: in place for an existing file (its mode stays), else a new 0644 file
    (minus the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def lay_out(dockerfile: Path, context: Path, original: bytes, result: Any, work: Path) -> _Layout:
    """Copy ``context`` twice under ``work`` and put the original and the rewrite (``result``: a
    :class:`~dockerfix.engine.FixResult`) where ``--write`` would: the Dockerfile at its own path inside the
    context, and the companion files (``result.files``). A symlink leading out of the copy is never written
    through (that would change the user's own file): such a Dockerfile is built from outside the context, such a
    companion file is refused. A symlink inside the context is written through, as ``--write`` writes its target."""
    ctx_a, ctx_b = work / "context-before", work / "context-after"
    shutil.copytree(context, ctx_a, symlinks=True)
    shutil.copytree(context, ctx_b, symlinks=True)
    rewritten = result.text.encode("utf-8")
    declared: dict[str, tuple[bytes | None, bytes | None]] = {}
    rel = os.path.relpath(os.path.abspath(dockerfile), os.path.abspath(context))
    in_context = not (rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel))
    df_a, df_b = work / "Dockerfile.before", work / "Dockerfile.after"
    if in_context and _inside(ctx_b / rel, ctx_b) and _inside(ctx_a / rel, ctx_a):
        df_a, df_b = ctx_a / rel, ctx_b / rel
        if rewritten != original:
            _write_over(df_b, rewritten)  # through a symlink inside the context, as --write writes its target
            real = os.path.relpath(df_b.resolve(), ctx_b.resolve())
            declared[real.replace(os.sep, "/")] = (original, rewritten)
    else:
        in_context = False
        df_a.write_bytes(original)
        df_b.write_bytes(rewritten)
    for name, fc in sorted(result.files.items()):
        target = ctx_b / name
        if not _inside(target, ctx_b):
            raise VerifyError(f"{name} in the build context is a symlink that leads out of it; verify does not "
                              "write through it")
        before = fc.before.encode("utf-8") if fc.before is not None else None
        after = fc.after.encode("utf-8")
        if before != after:
            _write_over(target, after)
            declared[name] = (before, after)
    return _Layout((df_a, df_b), (ctx_a, ctx_b), declared, in_context)


def healthcheck_command(healthcheck: Mapping[str, Any] | None) -> str | None:
    """The shell command that runs a HEALTHCHECK's test (``CMD-SHELL`` as is, ``CMD`` exec'd), or ``None`` without
    one (or with ``HEALTHCHECK NONE``)."""
    test = [str(t) for t in (healthcheck or {}).get("Test") or ()]
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return " ".join(test[1:]) or None
    args = test[1:] if test[0] == "CMD" else test
    return "exec " + shlex.join(args) if args else None


RUNTIME_ERROR = 125
"""The exit status buildah, podman and docker give when they could not start the command at all."""

RUNNER_STATUS_LINES = re.compile(r"^(?:subprocess exited with status \d+|Error: exit status \d+)\n?\Z", re.M)
"""Lines ``buildah run`` adds to stderr after a command that exits non-zero (measured with buildah 1.28): they only
restate the exit status, which is compared on its own, so they are dropped from the output."""


def _without_status_lines(stderr: str) -> str:
    lines = stderr.splitlines(keepends=True)
    while lines and RUNNER_STATUS_LINES.match(lines[-1]):
        lines.pop()
    return "".join(lines)


def _run(builder: Builder, tag: str, command: str, what: str, timeout: float | None) -> Any:
    r = builder.run(tag, command, timeout=timeout)
    if getattr(r, "timed_out", False):
        return r
    if r.returncode not in (0, RUNTIME_ERROR):
        r = dataclasses.replace(r, stderr=_without_status_lines(r.stderr))
    if r.returncode == RUNTIME_ERROR:
        detail = (r.stderr or r.stdout).strip().splitlines()
        image = "original" if tag.endswith("before") else "rewritten"
        raise VerifyError(f"{builder.name} could not run {what} in the {image} image (exit {RUNTIME_ERROR}): "
                          f"{detail[-1] if detail else 'no output'}")
    return r


@dataclass(frozen=True)
class TimedOutCheck(RunCheck):
    """A check whose command was still running at the timeout in one image or both: it fails whatever the exit
    statuses (two timeouts do not agree), and its first difference says in which image it timed out."""

    timeout: float = RUN_TIMEOUT
    timed_out: tuple[str, ...] = ()
    """``original``, ``rewrite``: the images where the command was ended."""

    @property
    def differences(self) -> tuple[str, ...]:
        where = " and ".join(f"the {side}" for side in self.timed_out)
        return (f"timed out after {self.timeout:g} s in {where}", *super().differences)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "timed_out": list(self.timed_out), "timeout_seconds": self.timeout}


def _check(kind: str, command: str, before: Any, after: Any, timeout: float | None, **kw: Any) -> RunCheck:
    """:func:`compare_runs`, or a :class:`TimedOutCheck` when a side timed out."""
    check = compare_runs(kind, command, before, after, **kw)
    sides = tuple(side for side, r in (("original", before), ("rewrite", after)) if getattr(r, "timed_out", False))
    if not sides:
        return check
    fields = {f.name: getattr(check, f.name) for f in dataclasses.fields(check)}
    return TimedOutCheck(**fields, timeout=timeout or RUN_TIMEOUT, timed_out=sides)


def run_checks(builder: Builder, tags: tuple[str, str], flats: Sequence[FlatImage], smoke: Sequence[str],
               healthcheck: bool, ignore: Sequence[str], report: VerifyReport,
               say: Callable[[str], object], timeout: float | None = None) -> None:
    """Run every ``smoke`` command, and the HEALTHCHECKs when asked, in both images; record them in ``report``.
    A command still running after ``timeout`` seconds (default :data:`RUN_TIMEOUT`) is ended: a failed check."""
    tests = [f.config.healthcheck for f in flats]
    commands = [healthcheck_command(t) for t in tests]
    report.healthcheck = {"before": list((tests[0] or {}).get("Test") or []) or None,
                          "after": list((tests[1] or {}).get("Test") or []) or None,
                          "run": bool(healthcheck and any(commands))}
    for cmd in smoke:
        say(f"running the smoke command in both images: {cmd}")
        ra = _run(builder, tags[0], cmd, f"the smoke command {cmd!r}", timeout)
        rb = _run(builder, tags[1], cmd, f"the smoke command {cmd!r}", timeout)
        report.checks.append(_check("smoke", cmd, ra, rb, timeout, ignore=ignore))
    if not any(commands):
        if healthcheck:
            report.notes.append("--healthcheck: neither image has a HEALTHCHECK")
        return
    if not healthcheck:
        report.notes.append("the image has a HEALTHCHECK that was not run (pass --healthcheck to run it once in "
                            "both images)")
        return
    say("running the HEALTHCHECK in both images")
    results = []
    for tag, hc_cmd in zip(tags, commands):
        results.append(_run(builder, tag, hc_cmd, "the HEALTHCHECK", timeout) if hc_cmd is not None else
                       _Missing(f"no HEALTHCHECK in the {'original' if tag.endswith('before') else 'rewrite'}"))
    shown = commands[0] if commands[0] == commands[1] or commands[1] is None else \
        commands[1] if commands[0] is None else f"{commands[0]} | {commands[1]}"
    assert shown is not None  # one command at least (any(commands) above)
    report.checks.append(_check("healthcheck", shown, results[0], results[1], timeout, compare_output=False))


@dataclass(frozen=True)
class _Missing:
    """A side without a HEALTHCHECK: nothing ran (exit status -1)."""

    stderr: str
    returncode: int = -1
    stdout: str = ""


def _auto_baseline(report: VerifyReport, flats: Sequence[FlatImage]) -> bool:
    """Decide whether the differences are all of a kind a second build of the original may explain."""
    assert report.comparison is not None
    explained, rest = explain_for_baseline(report.comparison, flats[0], flats[1])
    if rest or not explained:
        return False
    report.baseline.why = "automatic"
    report.baseline.explained = explained
    return True


def verify(
    dockerfile: str | os.PathLike[str],
    builder: Builder,
    *,
    context: str | os.PathLike[str] | None = None,
    target: str | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    unsafe: bool = False,
    settings: dict[str, Any] | None = None,
    edit: str | None = None,
    rebuild: bool = True,
    baseline: bool = False,
    auto_baseline: bool = True,
    smoke: Sequence[str] = (),
    healthcheck: bool = False,
    smoke_ignore: Sequence[str] = (),
    smoke_timeout: float | None = None,
    workdir: str | os.PathLike[str] | None = None,
    progress: Callable[[str], object] | None = None,
) -> VerifyReport:
    """Build, compare, smoke-test and rebuild the original and the rewrite of ``dockerfile`` (see the module docs).

    ``target`` builds that stage of both files (``--target``; default: the last stage), and only the stages it
    needs are checked for syntax the builder lacks. ``baseline`` always builds the original a second time; ``auto_baseline`` does so only when every difference is
    one builds regenerate. ``smoke`` commands run in both images (``sh -c``); ``smoke_ignore`` regexes are masked in
    their output before comparing; ``healthcheck`` runs the images' HEALTHCHECK once in each. Each of those runs
    gets ``smoke_timeout`` seconds (default :data:`~dockerfix.verify.builders.RUN_TIMEOUT`, not the builds' timeout);
    one still running then is ended and its check fails.
    """
    import dockerfix

    for pattern in smoke_ignore:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise VerifyError(f"--smoke-ignore {pattern!r} is not a regular expression: {exc}") from None
    if smoke_timeout is not None and not smoke_timeout > 0:
        raise VerifyError(f"--smoke-timeout {smoke_timeout:g}: give a number of seconds above 0")
    say = progress or (lambda _m: None)
    dockerfile = Path(dockerfile)
    ctx = Path(context) if context else dockerfile.parent
    original = dockerfile.read_bytes()
    text = original.decode("utf-8")
    result = dockerfix.fix(text, select=select, ignore=ignore, unsafe=unsafe, path=str(dockerfile),
                           context=str(ctx), settings=settings)
    report = VerifyReport(str(dockerfile), builder.name, target=target)
    report.changes = [c.to_dict() for c in result.changes]
    report.rewritten = result.changed
    if result.errors:
        raise VerifyError("; ".join(result.errors))
    before = unsupported(text, builder, target)
    problems = before + [p for p in unsupported(result.text, builder, target) if p not in before]
    if problems:
        raise VerifyError(f"{builder.name} cannot build this pair: " + "; ".join(problems) +
                          ". Use a builder that can (--builder docker with BuildKit) or leave those transforms out.")
    own_tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="dockerfix-verify-") if workdir is None else workdir)
    tag = f"dockerfix-verify-{uuid.uuid4().hex[:10]}"
    tags = (f"{tag}-before", f"{tag}-after")
    try:
        layout = lay_out(dockerfile, ctx, original, result, work)
        report.in_context = layout.in_context
        (df_a, df_b), (ctx_a, ctx_b) = layout.dockerfiles, layout.contexts
        sides = (report.before, report.after)
        flats: list[FlatImage] = []
        cache: dict = {}
        for side, df, c, t in zip(sides, (df_a, df_b), (ctx_a, ctx_b), tags):
            say(f"building {'the original' if side is report.before else 'the rewrite'} with {builder.name}")
            try:
                side.build = builder.build(df, c, t, target=target)
            except BuildError as exc:
                raise VerifyError(f"the {'original' if side is report.before else 'rewritten'} Dockerfile does "
                                  f"not build: {exc}\n{exc.tail()}") from None
            say("exporting and reading the image")
            archive = builder.export(t, work / f"{t}.tar", fmt="docker-archive")
            flat = flatten_image(archive, layer_cache=cache)
            side.size, side.compressed_size, side.layers = flat.uncompressed_size, flat.compressed_size, \
                flat.layer_count
            side.file_bytes = flat.file_bytes
            flats.append(flat)
            os.unlink(archive)
        codes = {c["code"] for c in report.changes}
        declared, report.declared_files = rewritten_files(flats[0], flats[1], layout.declared)
        allowed = [*allowed_for(codes), *BUILD_NOISE, *declared]
        report.comparison = compare_images(flats[0], flats[1], allowed)
        if baseline:
            report.baseline.why = "requested"
        elif auto_baseline and not report.comparison.equal and _auto_baseline(report, flats):
            rows = sorted(set(report.baseline.explained.values()))
            say("the images differ only where builds regenerate files (" + ", ".join(rows) + "): building the "
                "original again without cache to see whether its own build does the same")
        if report.baseline.why is not None:
            if report.baseline.why == "requested":
                say("building the original again without cache, to learn what differs between builds anyway")
            t3 = f"{tag}-baseline"
            again: FlatImage | None = None
            try:
                builder.build(df_a, ctx_a, t3, no_cache=True, target=target)
                archive = builder.export(t3, work / f"{t3}.tar", fmt="docker-archive")
                again = flatten_image(archive, layer_cache=cache)
                os.unlink(archive)
            except BuildError as exc:
                if report.baseline.why == "requested":
                    raise VerifyError(f"the original does not build a second time: {exc}\n{exc.tail()}") from None
                report.baseline.error = f"the second build of the original failed: {exc}"
                report.notes.append(f"automatic baseline not built ({report.baseline.error}); the verdict stands "
                                    "without it")
            finally:
                try:
                    builder.remove(t3)
                except Exception:
                    pass
            if again is not None:
                base = compare_images(flats[0], again, list(BUILD_NOISE))
                noise, rows = baseline_allowances(base)
                report.baseline.nondeterministic_paths = sum(1 for v in base.violations if hasattr(v, "path"))
                report.baseline.regenerated = rows
                if report.baseline.why == "automatic":
                    report.notes.append(
                        f"the images differed only in {len(report.baseline.explained)} files builds regenerate "
                        f"({', '.join(sorted(set(report.baseline.explained.values())))}): the original was built "
                        "again without cache and the rewrite judged against that second build")
                if report.baseline.nondeterministic_paths:
                    report.notes.append(f"{report.baseline.nondeterministic_paths} paths differ between two builds "
                                        "of the original itself; they are not held against the rewrite")
                report.comparison = compare_images(flats[0], flats[1], [*allowed, *noise])
        if smoke or healthcheck or any(healthcheck_command(f.config.healthcheck) for f in flats):
            run_checks(builder, tags, flats, smoke, healthcheck, smoke_ignore, report, say, smoke_timeout)
        if rebuild:
            edited = edit or pick_source_file(ctx)
            if edited is None:
                report.notes.append("no source file found to edit: rebuild not measured (pass --edit FILE)")
            else:
                report.edited = edited
                for side, df, c, t in zip(sides, (df_a, df_b), (ctx_a, ctx_b), tags):
                    edit_source(c / edited)
                    say(f"rebuilding {'the original' if side is report.before else 'the rewrite'} after editing "
                        f"{edited}")
                    side.rebuild = builder.build(df, c, t, target=target)
        return report
    finally:
        try:
            builder.remove(*tags)
        except Exception:
            pass
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)


def choose_builder(name: str | None, lab_root: str | None, *, pull: str | None = None) -> Builder:
    """The named builder, or the first that works (buildah, docker, podman), as
    :func:`dockerfix.verify.builders.choose_builder` picks it; its errors become :class:`VerifyError`.

    ``pull`` is the base-image pull policy (``missing``, ``always``, ``never``); ``None`` leaves the builders'
    default (``never`` for buildah and podman in a lab, ``missing`` otherwise).
    """
    from dockerfix.verify import builders

    try:
        options: dict[str, Any] = {"pull": pull} if pull else {}
        return builders.choose_builder(name, lab_root, **options)
    except (ValueError, builders.NoBuilderError) as exc:
        raise VerifyError(str(exc)) from None


def pull_policies() -> tuple[str, ...]:
    """The pull policies the builders take (their ``PULL_POLICIES``)."""
    from dockerfix.verify.builders import PULL_POLICIES

    return PULL_POLICIES
