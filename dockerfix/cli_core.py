"""The run itself, shared by both frontends (the typer CLI and the fast stdin path in ``cli_fast``).

Both parse their flags into one :class:`Options` and call :func:`run`; so the stdout/stderr/exit-code behaviour is the
same by construction. This module imports neither typer nor rich nor jinja2 at import time (rich only for progress
on a TTY). The output mode is :attr:`Options.mode`, resolved once by :func:`resolve_mode`; the exit code is
computed in one place, :func:`exit_code`:

====  ======================================================================================================
0     nothing to change; or ``--write`` / ``-`` succeeded (findings without an applicable fix do not count)
1     changes due: the report, ``--diff`` or ``--check`` found at least one file the fixes would rewrite
2     error: usage (unknown option or code, bad combination), configuration, a file that cannot be read or
      parsed (``path:line:col``), a path without Dockerfiles, a write that failed, an internal error
130   interrupted (Ctrl-C)
====  ======================================================================================================
"""

from __future__ import annotations

import os
import sys
from dockerfix._record import dataclass, field
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import IO, Any, Iterable

from dockerfix.outputs import FileError, FileReport

EXIT_OK, EXIT_CHANGES, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
MODES = ("report", "diff", "check", "write", "stdin")
FORMATS = ("text", "json", "sarif", "github")
COLORS = ("auto", "always", "never")
POOL_MIN_FILES = 4
"""Below this many files a process pool costs more than it saves; ``--jobs`` then runs in-process."""
STDIN_MAX_BYTES = 1024 * 1024
"""Format-on-save (``dockerfix -``) gives larger input back unchanged, with a warning on stderr (``--write``,
``--check`` and ``- --diff`` process it in full)."""
STDIN_TIME_BUDGET = 2.0
"""Seconds format-on-save may spend on one rewrite before it gives the input back unchanged, with a warning;
``DOCKERFIX_STDIN_TIMEOUT`` overrides it (``0``: no limit). Needs ``SIGALRM`` (not on Windows: there only the size
limit applies)."""


class UsageError(Exception):
    """Bad flags or arguments: reported as ``dockerfix: error: ...``, exit 2."""


@dataclass(frozen=True)
class Options:
    paths: tuple[str, ...] = ()
    mode: str = "report"
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    unsafe: bool | None = None
    fmt: str = "text"
    color: str = "auto"
    context: str | None = None
    stdin_filename: str | None = None
    jobs: int | None = None
    quiet: bool = False
    offline: bool = False
    allow_partial: bool = False
    refresh_digests: bool = False
    force_exclude: bool = False
    show_files: bool = False
    add_files: bool | None = None
    skip_cosmetic: bool | None = None

    @property
    def is_stdin(self) -> bool:
        return self.paths == ("-",)


def split_codes(values: Iterable[str] | None) -> tuple[str, ...] | None:
    """``--select A,B --select C`` -> ``("A", "B", "C")``; None when the flag was not given."""
    if values is None:
        return None
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return tuple(out)


def resolve_mode(paths: Iterable[str], *, diff: bool = False, check: bool = False, write: bool = False) -> str:
    """The one output mode for a run; raise :class:`UsageError` for contradictions."""
    paths = tuple(paths)
    chosen = [name for name, on in (("diff", diff), ("check", check), ("write", write)) if on]
    if len(chosen) > 1:
        raise UsageError(f"--{chosen[0]} and --{chosen[1]} cannot be combined")
    stdin = "-" in paths
    if stdin and len(paths) > 1:
        raise UsageError("'-' (stdin) cannot be combined with other paths")
    if stdin and write:
        raise UsageError("--write cannot be used with '-': the rewritten text goes to stdout")
    if chosen:
        return chosen[0]
    return "stdin" if stdin else "report"


def validate(opts: Options) -> None:
    """Check what can be checked before touching any file; raise :class:`UsageError`."""
    if opts.mode not in MODES:
        raise UsageError(f"unknown mode {opts.mode!r}")
    if opts.fmt not in FORMATS:
        raise UsageError(f"unknown format {opts.fmt!r} (choose from {', '.join(FORMATS)})")
    if opts.color not in COLORS:
        raise UsageError(f"unknown colour setting {opts.color!r} (choose from {', '.join(COLORS)})")
    if opts.fmt != "text" and opts.mode in ("diff", "check"):
        raise UsageError(f"--format {opts.fmt} cannot be combined with --{opts.mode}")
    if opts.fmt != "text" and opts.mode == "stdin":
        raise UsageError(
            f"--format {opts.fmt} cannot be combined with '-': stdout carries the rewritten Dockerfile "
            f"(pass the file's path for a {opts.fmt} report, or use '- --diff')"
        )
    if opts.show_files and opts.is_stdin:
        raise UsageError("--show-files lists the files a scan would process; it does not apply to '-'")
    if not opts.paths:
        raise UsageError("no paths given (use '.' for the current folder, '-' for stdin)")
    if opts.stdin_filename is not None and not opts.is_stdin:
        raise UsageError("--stdin-filename only applies when reading stdin ('-')")
    if opts.jobs is not None and opts.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if opts.context is not None and not os.path.isdir(opts.context):
        raise UsageError(f"--context {opts.context}: not a directory")
    from dockerfix.config import check_codes

    for flag, codes in (("--select", opts.select), ("--ignore", opts.ignore)):
        if codes:
            try:
                check_codes(codes)
            except ValueError as exc:
                raise UsageError(f"{flag}: {exc}") from None


# ------------------------------------------------------------------ one file
@dataclass(frozen=True)
class Task:
    """One file with its settings resolved (config + flags); picklable for the process pool."""

    path: str
    display: str
    write: bool
    select: tuple[str, ...] | None
    ignore: tuple[str, ...] | None
    unsafe: bool
    context: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    side_files: str = "existing"
    """Which companion files the fixes may change: ``all``, ``existing`` (no new files) or ``none`` (stdin)."""
    skip_cosmetic: bool = False
    """Leave a file alone when every fix it would get is cosmetic (``--skip-cosmetic``, ``skip-cosmetic = true``)."""


def _services(task: Task) -> dict[str, Any] | None:
    """The services the selected transforms need (a registry resolver for pin-digests/refresh-digests), built only
    then: network stays opt-in (:func:`dockerfix.request.services`)."""
    from dockerfix.request import services

    return services(task.select, task.ignore, task.settings)


def has_instructions(text: str) -> bool:
    """False for an empty file, or one of blank lines and comments only (BuildKit: "file with no instructions")."""
    for line in text.lstrip("\ufeff").splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            return True
    return False


def _fix(text: str, task: Task, report: FileReport) -> Any:
    if not has_instructions(text):
        # a new, empty Dockerfile in an editor: nothing to rewrite, and no reason to fail format-on-save
        report.text = text
        return True
    from dockerfix.api import fix
    from dockerfix.engine import EngineError
    from dockerfix.syntax import DockerfileSyntaxError

    try:
        services = _services(task)
        result = fix(
            text, select=task.select, ignore=task.ignore, unsafe=task.unsafe, path=task.display,
            context=task.context, settings=task.settings, services=services,
        )
    except DockerfileSyntaxError as exc:
        report.error = FileError("syntax", exc.message, exc.line, exc.column)
        return None
    except EngineError as exc:
        report.error = FileError("engine", str(exc))
        return None
    except ValueError as exc:  # unknown codes slipping past validation
        report.error = FileError("config", str(exc))
        return None
    if services and not task.settings.get("allow-partial"):
        # a service that answered with an error (a tag the registry could not resolve): nothing is written
        failed = [f for f in result.findings if f.kind == "service-error"]
        if failed and task.unsafe:
            detail = "; ".join(f"line {f.line}: {f.reason}" for f in failed)
            report.error = FileError("registry", f"pins could not all be resolved, nothing written ({detail})")
            return None
    if task.skip_cosmetic and result.cosmetic_only:
        # every fix is cosmetic (ADD -> COPY of a plain file, dropping --chown=root:root): the same image and cache,
        # so the file is left as it is and the fixes are reported, not applied (--check and the bot skip it)
        from dockerfix._record import replace

        report.text = text
        report.changes = []
        report.findings = sorted(
            [replace(c, applied=False, reason=_COSMETIC_REASON) for c in result.changes] + list(result.findings),
            key=lambda c: (c.line, c.column, c.code))
        report.internal_errors = list(result.errors)
        return result
    report.text = result.text
    report.history = result.history
    changes, findings = list(result.changes), list(result.findings)
    if result.files and task.context:
        from dockerfix.io.files import display_path
        from dockerfix.outputs import SideFile

        left_out: list[tuple[str, bool]] = []
        for rel, fc in sorted(result.files.items()):
            if task.side_files == "none" or (task.side_files == "existing" and fc.before is None):
                left_out.append((rel, fc.before is None))
                continue
            full = os.path.join(task.context, rel)
            report.side_files.append(SideFile(full, display_path(full), fc.before, fc.after))
        if left_out:
            changes, findings = _without_new_files(changes, findings, left_out, task.side_files)
    report.changes = changes
    report.findings = findings
    report.internal_errors = list(result.errors)
    return result


_COSMETIC_REASON = ("cosmetic only (the same image and build cache); the file is skipped with --skip-cosmetic "
                    "(skip-cosmetic = true): a file is rewritten when at least one of its fixes is more than cosmetic")


def _without_new_files(changes: list, findings: list, left_out: list[tuple[str, bool]], policy: str
                       ) -> tuple[list, list]:
    """The fixes that would create (or, for stdin, change) a companion file that is left out become findings: not
    applied, with the opt-in that applies them as the reason and in the message. Which fix makes which file is
    the change's own record (:attr:`Change.files`), not a list of transform codes."""
    from dockerfix._record import replace

    names = ", ".join(rel for rel, _ in left_out)
    new = any(is_new for _, is_new in left_out)
    how = f"dockerfix --write{' --add-files' if new else ''} {'creates' if new else 'updates'} {names}"
    if policy == "none":
        why = f"format-on-save writes only the Dockerfile; {how}"
    else:
        why = f"{names} does not exist and dockerfix creates files only with --add-files (or create-files = true)"
    left = {rel for rel, _ in left_out}
    kept = []
    for c in changes:
        if any(f.path in left for f in c.files):
            findings.append(replace(c, applied=False, reason=why,
                                    message=f"{c.message} ({how})"))
        else:
            kept.append(c)
    findings.sort(key=lambda c: (c.line, c.column, c.code))
    return kept, findings


def process(task: Task) -> FileReport:
    """Read, fix and (in write mode) write one file. Never raises: failures become ``report.error``."""
    from dockerfix.io import files

    report = FileReport(task.display)
    try:
        try:
            src = files.read_text(task.path)
        except files.FileError as exc:
            report.error = FileError("io", exc.message, exc.line, exc.column)
            return report
        report.original = src.text
        if _fix(src.text, task, report) is None:
            report.original = report.text = None
            return report
        if task.write and report.changed and not report.internal_errors:
            try:
                report.written = files.write_text(src, report.text if report.text is not None else src.text)
                for side in report.side_files:
                    if side.before != side.after:
                        side.written = files.write_side_file(side.path, side.before, side.after)
            except files.FileError as exc:
                report.error = FileError("io", exc.message)
    except Exception as exc:  # a bug: report it for this file, keep going with the others
        report.error = FileError("internal", _internal(exc))
    return report


def _internal(exc: BaseException) -> str:
    msg = f"internal error: {type(exc).__name__}: {exc}"
    if os.environ.get("DOCKERFIX_DEBUG"):
        import traceback

        msg += "\n" + "".join(traceback.format_exception(exc))
    return msg + " (this is a dockerfix bug; set DOCKERFIX_DEBUG=1 for a traceback)"


# ------------------------------------------------------------------ planning
def _tasks(opts: Options, files_: list[str], finder) -> tuple[list[Task], list[FileReport]]:
    from dockerfix.config import ConfigError
    from dockerfix.io.files import display_path

    tasks: list[Task] = []
    failed: list[FileReport] = []
    for path in files_:
        disp = display_path(path)
        try:
            cfg = finder.for_file(path)
        except ConfigError as exc:
            failed.append(FileReport(disp, error=FileError("config", str(exc))))
            continue
        tasks.append(make_task(opts, cfg, path, disp, os.path.dirname(os.path.abspath(path))))
    return tasks, failed


def make_task(opts: Options, cfg, path: str, disp: str, default_context: str | None) -> Task:
    from dockerfix.request import Overrides, resolve

    req = resolve(cfg, Overrides(
        select=opts.select, ignore=opts.ignore, unsafe=opts.unsafe, context=opts.context, offline=opts.offline,
        allow_partial=opts.allow_partial, refresh_digests=opts.refresh_digests, add_files=opts.add_files,
        skip_cosmetic=opts.skip_cosmetic,
    ), default_context=default_context)
    return Task(
        path=path,
        display=disp,
        write=opts.mode == "write",
        side_files="none" if opts.mode == "stdin" else "all" if req.create_files else "existing",
        select=req.select,
        ignore=req.ignore,
        unsafe=req.unsafe,
        context=req.context,
        settings=req.settings,
        skip_cosmetic=req.skip_cosmetic,
    )


def _run_tasks(tasks: list[Task], jobs: int, show_progress: bool) -> list[FileReport]:
    from dockerfix.api import batch

    with batch():
        return _run_tasks_in(tasks, jobs, show_progress)


def _worker_init() -> None:
    """A pool worker fixes files until the pool ends: it stays in :class:`~dockerfix.api.batch` for life."""
    from dockerfix.api import batch

    batch().__enter__()


def _run_tasks_in(tasks: list[Task], jobs: int, show_progress: bool) -> list[FileReport]:
    if jobs > 1 and len(tasks) >= POOL_MIN_FILES:
        try:
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_worker_init)
        except (OSError, ImportError, NotImplementedError):
            pool = None
        if pool is not None:
            with pool:
                chunk = max(1, len(tasks) // (jobs * 8))
                results = pool.map(process, tasks, chunksize=chunk)  # submits (and forks) before any progress thread
                return list(_with_progress(results, len(tasks), show_progress))
    return list(_with_progress(map(process, tasks), len(tasks), show_progress))


def _with_progress(results: Iterable[FileReport], total: int, show: bool) -> Iterable[FileReport]:
    if not show or total < 2:
        yield from results
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("dockerfix"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as progress:
        bar = progress.add_task("files", total=total)
        for r in results:
            progress.advance(bar)
            yield r


# ------------------------------------------------------------------ the run
def exit_code(mode: str, reports: list[FileReport]) -> int:
    """The exit code, decided here and nowhere else (see the module docs)."""
    if not reports or any(r.failed for r in reports):
        return EXIT_ERROR
    if mode in ("report", "diff", "check") and any(r.changed for r in reports):
        return EXIT_CHANGES
    return EXIT_OK


class _OverBudget(BaseException):
    """Raised by the format-on-save timer (a BaseException, so no ``except Exception`` on the way swallows it)."""


def _time_budget() -> float:
    raw = os.environ.get("DOCKERFIX_STDIN_TIMEOUT")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
    return STDIN_TIME_BUDGET


def _within_budget(seconds: float, fn) -> Any:
    """``fn()``, interrupted by :class:`_OverBudget` after ``seconds`` (no limit when 0, off the main thread or
    without SIGALRM)."""
    import signal

    if seconds <= 0 or not hasattr(signal, "setitimer"):
        return fn()

    def on_alarm(signum: int, frame: Any) -> None:
        raise _OverBudget

    try:
        old = signal.signal(signal.SIGALRM, on_alarm)
    except ValueError:  # not the main thread
        return fn()
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _stdin_report(opts: Options, data: bytes, finder, notes: list[str]) -> FileReport:
    from dockerfix.config import ConfigError
    from dockerfix.io import files

    name = opts.stdin_filename
    disp = files.display_path(name) if name else "-"
    report = FileReport(disp)
    try:
        cfg = finder.for_file(name) if name else finder.for_dir(os.getcwd())
    except ConfigError as exc:
        report.error = FileError("config", str(exc))
        return report
    default_context = None
    if name:
        d = os.path.dirname(os.path.abspath(name))
        default_context = d if os.path.isdir(d) else None
    task = make_task(opts, cfg, "-", disp, default_context)
    try:
        text = files.decode(data, disp)
    except files.FileError as exc:
        report.error = FileError("io", exc.message, exc.line, exc.column)
        return report
    report.original = text
    budget = _time_budget() if opts.mode == "stdin" else 0.0
    try:
        if _within_budget(budget, lambda: _fix(text, task, report)) is None:
            report.original = report.text = None
    except _OverBudget:
        report.text, report.changes, report.findings, report.side_files = text, [], [], []
        notes.append(f"{disp}: warning: not rewritten: the rewrite took longer than the format-on-save budget "
                     f"({budget:g} s, DOCKERFIX_STDIN_TIMEOUT); returned unchanged (dockerfix --write FILE has no "
                     f"limit)\n")
    except Exception as exc:
        report.original = report.text = None
        report.error = FileError("internal", _internal(exc))
    return report


def _read_stdin(opts: Options, stdin: IO[bytes]) -> tuple[bytes, bool]:
    """The bytes on stdin, and whether format-on-save must give them back untouched (over :data:`STDIN_MAX_BYTES`;
    then everything is read, to be given back whole)."""
    from dockerfix.io import files

    if opts.mode != "stdin":
        return files.read_stdin_bytes(stdin), False
    data = stdin.read(STDIN_MAX_BYTES + 1)
    if len(data) <= STDIN_MAX_BYTES:
        return data, False
    return data + stdin.read(), True


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def use_color(setting: str, stream: Any) -> bool:
    if setting == "always":
        return True
    if setting == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def emit(opts: Options, reports: list[FileReport], code: int, out: IO[bytes], err: IO[bytes]) -> None:
    """Write everything a run prints: data on ``out``, messages on ``err``, routed by mode in this one place."""
    from dockerfix.outputs import render
    from dockerfix.outputs.text import error_lines, summary

    def w(stream: IO[bytes], s: str) -> None:
        if s:
            stream.write(s.encode("utf-8"))

    mode = opts.mode
    unsafe = bool(opts.unsafe)
    w(err, error_lines(reports))
    if mode == "stdin":
        w(err, render(opts.fmt, reports, mode=mode, color=use_color(opts.color, err), unsafe=unsafe))
        if not opts.quiet and code != EXIT_ERROR:
            w(err, summary(reports, mode=mode, unsafe=unsafe))
        err.flush()
        if code == EXIT_OK and reports and reports[0].text is not None:
            w(out, reports[0].text)
        out.flush()
        return
    if mode == "check" and not opts.quiet:
        w(err, "".join(f"would rewrite {r.path}\n" for r in reports if r.changed))
    if mode == "diff":
        from dockerfix.outputs.diff import render_diffs

        w(out, render_diffs(reports, color=use_color(opts.color, out)))
    elif mode in ("report", "write"):
        w(out, render(opts.fmt, reports, mode=mode, color=use_color(opts.color, out), unsafe=unsafe))
    out.flush()
    if not opts.quiet:
        w(err, summary(reports, mode=mode, unsafe=unsafe))
    err.flush()


def run(
    opts: Options,
    *,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
) -> int:
    """Run dockerfix with ``opts``; return the exit code. Never raises (except SystemExit from the caller's side)."""
    out = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr.buffer
    try:
        try:
            validate(opts)
        except UsageError as exc:
            err.write(f"dockerfix: error: {exc}\n".encode("utf-8"))
            err.flush()
            return EXIT_ERROR
        from dockerfix.config import Finder

        finder = Finder()
        notes: list[str] = []
        if opts.is_stdin:
            try:
                data, too_big = _read_stdin(opts, stdin if stdin is not None else sys.stdin.buffer)
            except OSError as exc:
                err.write(f"-: error: cannot read stdin: {exc}\n".encode("utf-8"))
                return EXIT_ERROR
            if too_big:  # format-on-save: never a hang, never a partial answer; the input goes back as it came
                err.write(f"{opts.stdin_filename or '-'}: warning: not rewritten: larger than the format-on-save "
                          f"limit ({STDIN_MAX_BYTES // 1024} KiB, {len(data)} bytes); returned unchanged "
                          f"(dockerfix --write FILE processes it)\n".encode("utf-8"))
                err.flush()
                out.write(data)
                out.flush()
                return EXIT_OK
            reports = [_stdin_report(opts, data, finder, notes)]
        else:
            from dockerfix.io.files import discover, display_path
            from dockerfix.io.ignore import Excluder

            skipped: list[tuple[str, str]] = []
            found, missing = discover(list(opts.paths), force_exclude=opts.force_exclude, excluder=Excluder(finder),
                                      skipped=skipped)
            if opts.show_files:
                return _show_files(found, missing, out, err)
            reports = [FileReport(display_path(e.path), error=FileError("io", e.message)) for e in missing]
            if not found and not missing and skipped:
                # pre-commit handed over only files the configuration excludes: nothing to do is success
                if not opts.quiet:
                    err.write(f"No files to process ({len(skipped)} excluded).\n".encode("utf-8"))
                return EXIT_OK
            tasks, failed = _tasks(opts, found, finder)
            reports.extend(failed)
            show = not opts.quiet and stderr is None and _isatty(sys.stderr)
            reports.extend(_run_tasks(tasks, opts.jobs or os.cpu_count() or 1, show))
        reports.sort(key=lambda r: r.path)  # output order never depends on argument or discovery order
        code = exit_code(opts.mode, reports)
        if notes:
            err.write("".join(notes).encode("utf-8"))
        try:
            emit(opts, reports, code, out, err)
        except BrokenPipeError:
            _silence_stdout()
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # pragma: no cover - last resort; process() already catches per-file failures
        try:
            err.write(f"dockerfix: {_internal(exc)}\n".encode("utf-8"))
            err.flush()
        except Exception:
            pass
        return EXIT_ERROR


def _show_files(found: list[str], missing: list, out: IO[bytes], err: IO[bytes]) -> int:
    """``--show-files``: the files a run would process, one per line, sorted; nothing is read or fixed."""
    from dockerfix.io.files import display_path

    for e in missing:
        err.write(f"{display_path(e.path)}: error: {e.message}\n".encode("utf-8"))
    out.write("".join(f"{p}\n" for p in sorted(display_path(f) for f in found)).encode("utf-8"))
    out.flush()
    err.flush()
    return EXIT_ERROR if missing else EXIT_OK


# ------------------------------------------------------------------ informational actions
def info(kind: str, key: str | None = None, color: str = "auto") -> int:
    """``--version``, ``--list-transforms``, ``--explain KEY``: print and return the exit code."""
    if color not in COLORS:
        sys.stderr.write(f"dockerfix: error: unknown colour setting {color!r} (choose from {', '.join(COLORS)})\n")
        return EXIT_ERROR
    if kind == "version":
        from dockerfix import __version__

        sys.stdout.write(f"dockerfix {__version__}\n")
        return EXIT_OK
    if kind == "list-transforms":
        return show_transforms(color)
    return show_explain(key or "", color)


def _tty(setting: str) -> bool:
    return use_color(setting, sys.stdout)


def show_transforms(color: str = "auto") -> int:
    """A rich table on a terminal, tab-separated lines (code, name, safety, default, summary) otherwise."""
    from dockerfix.api import transforms

    infos = transforms()
    if _tty(color):
        from rich.console import Console
        from rich.table import Table

        table = Table(title="dockerfix transforms")
        for col in ("Code", "Name", "Fix safety", "Default", "Summary"):
            table.add_column(col)
        for t in infos:
            table.add_row(t.code, t.name, t.safety, "yes" if t.default_enabled else "no", t.summary)  # plain str: no markup
        Console(markup=False, highlight=False).print(table)
    else:
        out = "".join(
            f"{t.code}\t{t.name}\t{t.safety}\t{'default' if t.default_enabled else 'opt-in'}\t{t.summary}\n" for t in infos
        )
        sys.stdout.write(out)
    return 0


def show_explain(key: str, color: str = "auto") -> int:
    from dockerfix.transforms.registry import by_key

    t = by_key(key)
    if t is None:
        sys.stderr.write(f"dockerfix: error: unknown transform: {key}\n")
        return EXIT_ERROR
    rules = tuple(getattr(t, "answers", ()))
    answers = (f" Answers {', '.join(rules)}: an author's `# hadolint ignore=` of "
               f"{'it' if len(rules) == 1 else 'one of them'} above an instruction suppresses this transform there."
               if rules else "")
    text = (
        f"# {t.code} {t.name}\n\n{t.summary}.\n\nFix safety: {t.safety}. "
        f"{'Enabled by default.' if getattr(t, 'default_enabled', True) else 'Opt-in (--select).'} "
        f"Effect: {getattr(t, 'effect', 'size')}.{answers}\n\n"
        f"{(t.docs or '').strip()}\n"
    )
    if _tty(color):
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        sys.stdout.write(text)
    return 0


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
