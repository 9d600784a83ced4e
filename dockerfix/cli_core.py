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
    if not opts.paths:
        raise UsageError("no paths given (use '.' for the current folder, '-' for stdin)")
    if opts.stdin_filename is not None and not opts.is_stdin:
        raise UsageError("--stdin-filename only applies when reading stdin ('-')")
    if opts.jobs is not None and opts.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if opts.context is not None and not os.path.isdir(opts.context):
        raise UsageError(f"--context {opts.context}: not a directory")
    from dockerfix.engine import select_transforms

    for flag, codes in (("--select", opts.select), ("--ignore", opts.ignore)):
        if codes:
            try:
                select_transforms(codes)
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


PIN_CODES = ("DFX401", "DFX402")
_RESOLVERS: dict[str, Any] = {}


def _services(task: Task) -> dict[str, Any] | None:
    """The registry resolver, built only when pin-digests/refresh-digests are selected (network stays opt-in)."""
    from dockerfix.engine import select_transforms

    if not any(t.code in PIN_CODES for t in select_transforms(task.select, task.ignore)):
        return None
    key = repr(sorted((task.settings.get("registries") or {}).items())) + repr(task.settings.get("offline"))
    if key not in _RESOLVERS:
        from dockerfix.registry.config import ResolverConfig, registries_from_mapping
        from dockerfix.registry.resolver import RegistryResolver

        regs = registries_from_mapping(task.settings.get("registries") or {})
        _RESOLVERS[key] = RegistryResolver(ResolverConfig(registries=regs, offline=bool(task.settings.get("offline"))))
    return {"resolver": _RESOLVERS[key]}


def _fix(text: str, task: Task, report: FileReport) -> Any:
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
        from dockerfix.transforms.pin_digests import RESOLVE_ERROR

        failed = [f for f in result.findings if f.code in PIN_CODES and (f.reason or "").startswith(RESOLVE_ERROR)]
        if failed and task.unsafe:
            detail = "; ".join(f"line {f.line}: {f.reason}" for f in failed)
            report.error = FileError("registry", f"pins could not all be resolved, nothing written ({detail})")
            return None
    report.text = result.text
    if result.files and task.context:
        from dockerfix.io.files import display_path
        from dockerfix.outputs import SideFile

        for rel, fc in sorted(result.files.items()):
            full = os.path.join(task.context, rel)
            report.side_files.append(SideFile(full, display_path(full), fc.before, fc.after))
    report.changes = list(result.changes)
    report.findings = list(result.findings)
    report.internal_errors = list(result.errors)
    return result


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
                report.written = files.write_text(src, report.text)
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
    settings = cfg.fix_settings()
    if opts.offline:
        settings["offline"] = True
    if opts.allow_partial:
        settings["allow-partial"] = True
    select = opts.select if opts.select is not None else cfg.select
    if opts.refresh_digests:
        # --refresh-digests adds to whatever would run (flags, config, or the defaults)
        from dockerfix.engine import select_transforms

        base = tuple(select) if select else tuple(t.code for t in select_transforms(None, None))
        select = base + ("refresh-digests",)
    return Task(
        path=path,
        display=disp,
        write=opts.mode == "write",
        select=select,
        ignore=opts.ignore if opts.ignore is not None else cfg.ignore,
        unsafe=opts.unsafe if opts.unsafe is not None else bool(cfg.unsafe),
        context=os.path.abspath(opts.context) if opts.context else (cfg.context or default_context),
        settings=settings,
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


def _stdin_report(opts: Options, stdin: IO[bytes], finder) -> FileReport:
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
        text = files.decode(files.read_stdin_bytes(stdin), disp)
    except files.FileError as exc:
        report.error = FileError("io", exc.message, exc.line, exc.column)
        return report
    except OSError as exc:
        report.error = FileError("io", f"cannot read stdin: {exc}")
        return report
    report.original = text
    try:
        if _fix(text, task, report) is None:
            report.original = report.text = None
    except Exception as exc:
        report.original = report.text = None
        report.error = FileError("internal", _internal(exc))
    return report


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
        if opts.is_stdin:
            reports = [_stdin_report(opts, stdin if stdin is not None else sys.stdin.buffer, finder)]
        else:
            from dockerfix.io.files import discover, display_path

            found, missing = discover(list(opts.paths))
            reports = [FileReport(display_path(e.path), error=FileError("io", e.message)) for e in missing]
            tasks, failed = _tasks(opts, found, finder)
            reports.extend(failed)
            show = not opts.quiet and stderr is None and _isatty(sys.stderr)
            reports.extend(_run_tasks(tasks, opts.jobs or os.cpu_count() or 1, show))
        reports.sort(key=lambda r: r.path)  # output order never depends on argument or discovery order
        code = exit_code(opts.mode, reports)
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


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
