"""DFX115 remove-downloaded-archives: an installer or archive a RUN downloads and unpacks or installs is deleted in
that RUN.

Analysis ("where"): per RUN, read with the shell parser, a ``curl -o FILE`` / ``curl --output FILE`` /
``wget -O FILE`` whose FILE is a static path ending like an archive or a package (``.zip``, ``.tar.*``, ``.tgz``,
``.deb``, ``.rpm``...), followed in the same RUN by a command that unpacks or installs it (``tar -x``, ``unzip``,
``dpkg -i``, ``apt-get install ./x.deb``, ``rpm -i``...), and no ``rm``/``mv`` of it in that RUN. Later steps are
asked whether they read it: a later RUN (of the stage, of stages built FROM it, ONBUILD) that names the file or a
folder holding it, a ``COPY --from`` of this stage that copies it, CMD or ENTRYPOINT naming it.

Fix ("how"): ``&& rm -f FILE`` at the end of the RUN, in the RUN's continuation style.
"""

from __future__ import annotations

import posixpath
from dockerfix._lazyre import lazy
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix.transforms._hygiene import append_cleanup, iter_run_sites, later_sites_among
from dockerfix.transforms.base import Context, Diagnostic, Fix, Transform

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar.zst",
                    ".tzst", ".tar.lz", ".deb", ".rpm", ".apk", ".7z", ".jar.zip")
"""Downloads that are installers or archives: once unpacked or installed, the file itself is dead weight."""

UNPACKERS = {
    "tar": None, "bsdtar": None, "unzip": None, "7z": None, "7za": None, "dpkg": None, "rpm": None,
    "apt-get": None, "apt": None, "dnf": None, "yum": None, "microdnf": None, "zypper": None, "apk": None,
    "gdebi": None, "jar": None, "python": None, "python3": None,
}
"""Commands that unpack or install a file they are given (a word naming the download)."""


def _is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def _download_target(cmd) -> str | None:
    """The file ``curl -o FILE`` / ``wget -O FILE`` writes (quote-removed, static), else None."""
    eff = cmd.effective
    base = eff.basename
    words = list(eff.args)
    if base == "curl":
        short, long_ = "o", "--output"
    elif base == "wget":
        short, long_ = "O", "--output-document"
    else:
        return None
    for k, w in enumerate(words):
        v = w.value
        if v is None:
            continue
        if v == long_ or (v.startswith("-") and not v.startswith("--") and v.endswith(short) and v[1:].isalpha()):
            nxt = words[k + 1] if k + 1 < len(words) else None
            return nxt.value if nxt is not None and not nxt.has_expansion else None
        if v.startswith(long_ + "="):
            return v[len(long_) + 1:] if not w.has_expansion else None
        if v.startswith("-" + short) and len(v) > 2 and not v.startswith("--") and base == "curl":
            return v[2:] if not w.has_expansion else None
    return None


def _downloads(script) -> tuple[tuple[int, str], ...]:
    """(index in ``script.sites``, file) of each archive a ``curl``/``wget`` of the script writes under a static name:
    what the transform looks for, read once per script (``Script.view``: scripts are shared by every pass and file
    that has them) instead of every command of every RUN in every pass; few scripts download an archive."""
    out = []
    for k, s in enumerate(script.sites):
        path = _download_target(s.command)
        if not path or path == "-" or not _is_archive(path) or any(c in path for c in "*?[$~"):
            continue
        out.append((k, path))
    return tuple(out)


def _entrypoints(stage) -> list:
    return [i for i in stage.instructions if i.keyword in ("CMD", "ENTRYPOINT")]


def _named_words(cmd) -> tuple:
    """The words of a command that may name a file it reads: its arguments and the targets of its redirections
    (``sha256sum < /tmp/a.tgz`` reads the archive as surely as ``sha256sum /tmp/a.tgz``)."""
    from dockerfix.model.shell import redirect_targets

    return cmd.effective.words + redirect_targets(cmd)


def _script_words(script) -> tuple[frozenset[str], bool]:
    """(the normalised spelling of every word value and rm operand of the script's commands, whether any of them is
    a glob): what :meth:`RemoveDownloadedArchives._later_readers` compares with a download's path."""
    from dockerfix.model.pkgmgr import removed_paths

    out: set[str] = set()
    glob = False
    for o in script.sites:
        words = _named_words(o.command)
        if any(w.value is None for w in words):
            glob = True  # a word with an expansion may name anything: the RUN is always read (see _may_name)
        values = [w.value for w in words if w.value is not None] + list(removed_paths(o.command))
        for v in values:
            if not isinstance(v, str):
                glob = True  # (not a string: never skipped)
                continue
            if "*" in v or "?" in v or "[" in v:
                glob = True
            out.add(posixpath.normpath(v))
    return frozenset(out), glob


def _may_read_index(ctx: Context) -> tuple[dict[str, list], list]:
    """(normalised word -> the pass's RUN sites that name it, the sites that must always be read: unreadable ones
    and those with a glob), over every RUN and ONBUILD RUN of the pass."""
    by_key: dict[str, list] = {}
    always: list = []
    for other in iter_run_sites(ctx, onbuild=True):
        if other.run is None:
            always.append(other)
            continue
        words, glob = other.script.view(_script_words)
        if glob:
            always.append(other)
            continue
        for k in words:
            by_key.setdefault(k, []).append(other)
    return by_key, always


def _names(value: str | None, path: str, cwd_rel: bool) -> bool:
    """Does the word ``value`` name ``path`` (same spelling, or normalised)?"""
    if not value:
        return False
    if value == path:
        return True
    if cwd_rel:
        return posixpath.normpath(value) == posixpath.normpath(path)
    return value.startswith("/") and posixpath.normpath(value) == posixpath.normpath(path)


def _covers(word: str, path: str) -> bool:
    """Does ``word`` (absolute, possibly a glob) name ``path`` or a folder holding it?"""
    from fnmatch import fnmatchcase

    if not word.startswith("/") or not path.startswith("/"):
        return False
    w = posixpath.normpath(word)
    p = posixpath.normpath(path)
    if w == "/" or p == w or p.startswith(w.rstrip("/") + "/"):
        return True
    return any(c in w for c in "*?[") and (fnmatchcase(p, w) or any(
        fnmatchcase(p[:k], w) for k in range(len(p)) if p[k] == "/"))


def _may_name(raw: str, path: str, abs_path: str | None) -> bool:
    """Whether a word whose expansions dockerfix cannot resolve may name ``path`` (or, absolute, a folder holding
    ``abs_path``): its text with quotes dropped and each expansion read as "anything" (``$TMP/a.tgz`` may name
    ``/tmp/a.tgz``; ``$HOME/.cache`` cannot; a lone ``$X`` may name anything)."""
    from fnmatch import fnmatchcase

    pattern = _EXPANSION.sub("*", raw).replace('"', "").replace("'", "")
    if pattern.strip("*") == "":
        return True
    for target in (path, abs_path):
        if not target:
            continue
        if fnmatchcase(target, pattern) or fnmatchcase(posixpath.normpath(target), pattern):
            return True
        if target.startswith("/"):  # a folder above it
            t = posixpath.normpath(target)
            if any(fnmatchcase(t[:k], pattern) for k in range(1, len(t)) if t[k] == "/"):
                return True
    return False


def _dockerfile_value(model, raw: str, inst) -> str | None:
    """The value of a RUN word whose expansions all read ARG or ENV values the model knows at ``inst``, else None
    (a variable the file does not set may come from the script, the base image or the shell: unknown)."""
    if "$(" in raw or "`" in raw:
        return None
    scope = model.scope_at(inst)
    for m in _EXPANSION.finditer(raw):
        name = m.group(0).lstrip("${").split("}")[0]
        name = _NAME_HEAD.match(name)
        if name is None or scope.get(name.group(0)) is None:
            return None
    return model.expand(raw, scope)


_NAME_HEAD = lazy(r"[A-Za-z_][A-Za-z0-9_]*")
_EXPANSION = lazy(r"\$\{[^}]*\}|\$\([^)]*\)|`[^`]*`|\$[A-Za-z_][A-Za-z0-9_]*|\$[0-9@*#?$!-]")


def _glob_names(word: str, path: str) -> bool:
    """A glob ``rm`` operand in the same spelling (``openjdk.tgz*``, ``git-lfs*``, ``/tmp/*.tgz``) matching it."""
    from fnmatch import fnmatchcase

    return any(c in word for c in "*?[") and word.startswith("/") == path.startswith("/") and fnmatchcase(path, word)


class RemoveDownloadedArchives(Transform):
    code = "DFX115"
    name = "remove-downloaded-archives"
    summary = "Delete a downloaded installer or archive in the RUN that unpacks or installs it"
    safety = "mixed"
    effect = "size"
    triggers = ("curl", "wget")
    """It reads only the files ``curl`` and ``wget`` write (:func:`_download_target`), so the text names one of them (two
    scans of a file without them instead of one per archive suffix; and a file that names an archive but downloads
    none is passed over)."""
    docs = """\
## What it does
When a RUN downloads an installer or archive to a file (`curl -o FILE`, `curl --output FILE`, `wget -O FILE`;
`.zip`, `.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`, `.tar.xz`, `.tar.zst`, `.deb`, `.rpm`, `.apk`, `.7z`), then unpacks or
installs it in the same RUN (`tar -x`, `unzip`, `dpkg -i`, `apt-get install ./x.deb`, `rpm -i`, `dnf install`...)
and never deletes it, it appends `&& rm -f FILE` to that RUN, in the RUN's continuation style.

## Why
Once unpacked or installed, the downloaded file is dead weight, and a layer keeps every file its RUN leaves behind:
a JDK tarball or a `.deb` adds its full size to the image even though nothing uses it. Deleting it in a later RUN
saves nothing (the bytes stay in the earlier layer); only the same RUN can drop them.

## Example
```dockerfile
RUN curl -fsSLo /tmp/go.tgz https://go.dev/dl/go1.22.5.linux-amd64.tar.gz \\
    && tar -C /usr/local -xzf /tmp/go.tgz
```
becomes
```dockerfile
RUN curl -fsSLo /tmp/go.tgz https://go.dev/dl/go1.22.5.linux-amd64.tar.gz \\
    && tar -C /usr/local -xzf /tmp/go.tgz \\
    && rm -f /tmp/go.tgz
```

## Fix safety
It does not fire in a stage that never ships (one other stages only copy from): the bytes are in no image anyone
pulls. Safe when nothing later reads the file: no later RUN of the stage (or of a stage built FROM it, or an ONBUILD RUN)
names it or a folder that holds it, no `COPY --from` of this stage copies it, and CMD/ENTRYPOINT do not name it.
A later RUN's word with an expansion names what it expands to when it reads only ARG and ENV values the file
sets (`sha256sum "$TOOL"`); otherwise (a variable the script, the base image or the shell may set) it may name
anything its text allows (`"$DIR/tool.tgz"` may be `/tmp/tool.tgz`, `"$HOME/.cache"` cannot). Unsafe (the image
loses a file a later step may use) when one does, or when a later RUN cannot be read (a non-POSIX shell, exec
form). It does not fire when the RUN already deletes or moves the file, when a later RUN deletes it (delete-in-later-layer moves that `rm` here), for a relative path in a RUN that changes directory, for a
file in a cache or tmpfs mount (it is not in the layer), or for a name built from a variable. `rm -f` cannot fail,
so the RUN's exit status is unchanged.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        ships: dict[int, bool] = {}
        for site in iter_run_sites(ctx):
            if site.run is None or site.onbuild or not site.script.view(_downloads):
                continue  # (no archive downloaded to a static name: nothing to delete)
            idx = site.stage.index
            if idx not in ships:
                ships[idx] = ctx.model.state.ships(site.stage)[0]
            if not ships[idx]:
                continue  # a stage only copied from: its layers are in no image anyone pulls
            d = self._check_site(ctx, site)
            if d is not None:
                yield d

    def _check_site(self, ctx: Context, site) -> Diagnostic | None:
        from dockerfix.model.pkgmgr import removed_paths

        script = site.script
        sites = script.sites
        moved = any(c.kind in ("cd", "pushd", "popd") for c in script.state_changes)
        for k, path in script.view(_downloads):
            s = sites[k]
            relative = not path.startswith("/")
            if relative and moved:
                continue
            later = sites[k + 1:]
            if not any(self._unpacks(o.command, path, relative) for o in later):
                continue
            gone = False
            for o in sites:
                eff = o.command.effective
                ops = removed_paths(o.command)
                if any(_names(v, path, relative) or _covers(v, path) or _glob_names(v, path) for v in ops):
                    gone = True
                if eff.basename in ("mv", "shred") and any(_names(w.value, path, relative) for w in eff.args):
                    gone = True
            if gone:
                continue
            if not relative and any(_covers(t, path) for t in site.cache_targets()):
                continue
            abs_path: str | None = path
            if relative:
                cwd = ctx.model.state.workdir_at(site.inst)
                abs_path = posixpath.normpath(posixpath.join(cwd, path)) if cwd else None
            reasons, skip = self._later_readers(ctx, site, abs_path, path)
            if skip:
                continue
            edit = append_cleanup(ctx, site.run, f"rm -f {path}")
            if edit is None:
                continue
            title = f"Delete {path} in the RUN that unpacks it"
            msg = f"{path} is downloaded and unpacked or installed, but never deleted: it stays in the layer"
            fix = Fix.unsafe(title, edit) if reasons else Fix.safe(title, edit)
            span = site.run.doc_span(s.command.span)
            return self.diagnostic(site.inst, msg, fix, reason="; ".join(reasons) or None, span=span)
        return None

    @staticmethod
    def _unpacks(cmd, path: str, relative: bool) -> bool:
        eff = cmd.effective
        base = eff.basename
        if base not in UNPACKERS:
            return False
        for w in eff.args:
            v = w.value
            if v is None:
                continue
            if _names(v, path, relative) or _names(v.split("=", 1)[-1], path, relative):
                return True
        return False

    def _later_readers(self, ctx: Context, site, abs_path: str | None, path: str) -> tuple[list[str], bool]:
        """(reasons a later step may read the file, whether a later RUN deletes it anyway)."""
        from dockerfix.model.pkgmgr import removed_paths

        reasons: list[str] = []
        model = ctx.model
        for other in self._may_read(ctx, site, abs_path, path):
            line = other.inst.start_line
            if other.run is None:
                reasons.append(f"line {line} runs a command dockerfix cannot read ({other.reason}), which may use "
                               f"{path}")
                continue
            for o in other.script.sites:
                ops = removed_paths(o.command)
                if abs_path is not None and any(_covers(v, abs_path) and posixpath.normpath(v) not in ("/", "/tmp")
                                                for v in ops):
                    if any(posixpath.normpath(v) == abs_path or "*" in v for v in ops):
                        return reasons, True  # a later RUN deletes it: delete-in-later-layer moves that rm here
                    continue
                for w in _named_words(o.command):
                    v = w.value
                    if v is None:
                        # an expansion: the ARG and ENV values the RUN sees, else any value (`sha256sum $F` reads the
                        # archive when F names it; skipping the word made the delete a safe fix that broke that RUN)
                        v = _dockerfile_value(model, w.raw, other.inst)
                        if v is None:
                            if _may_name(w.raw, path, abs_path):
                                reasons.append(f"line {line} reads {w.raw}, whose value dockerfix cannot tell (it "
                                               f"may name {path})")
                                break
                            continue
                    if _names(v, path, True) or (abs_path is not None and v.startswith("/") and (
                            _covers(v, abs_path) and posixpath.normpath(v) != "/")):
                        reasons.append(f"line {line} reads {v}, which holds {path}")
                        break
        model = ctx.model
        for stage in model.stages:
            if stage.index <= site.stage.index:
                continue
            for inst in stage.instructions:
                inst = inst.effective if inst.keyword == "ONBUILD" else inst
                if inst.keyword not in ("COPY", "ADD"):
                    continue
                ref = inst.flag("from")
                if ref is None or ref.value is None:
                    continue
                v = model.expand_at(ref.value, inst)
                if v is None:
                    reasons.append(f"line {inst.start_line} copies from a stage named through a variable")
                    continue
                if not ((site.stage.name and v.lower() == site.stage.name) or v == str(site.stage.index)):
                    continue
                for src in inst.args[:-1]:
                    if abs_path is None or "$" in src or _covers(src if src.startswith("/") else "/" + src, abs_path):
                        reasons.append(f"line {inst.start_line} copies {src} from this stage, which holds {path}")
        for inst in ctx.memo.get_or(_entrypoints, site.stage.index, _entrypoints, site.stage):
            if path in inst.rest:
                reasons.append(f"line {inst.start_line} names {path}")
        return list(dict.fromkeys(reasons)), False

    @staticmethod
    def _may_read(ctx: Context, site, abs_path: str | None, path: str) -> list:
        """The later RUNs (:func:`later_sites`, in its order) that can give :meth:`_later_readers` a reason or a
        delete: those that cannot be read, use a glob, or name ``path`` or, by an absolute spelling, ``abs_path`` or
        a folder above it. Every other later RUN gives nothing there, so they are left unread: found through an
        index of the words the pass's RUNs name, built once (reading every later RUN for every download was
        quadratic in a file of many)."""
        by_key, always = ctx.memo.get_or(_may_read_index, None, _may_read_index, ctx)
        keys = {posixpath.normpath(path)}
        if abs_path is not None:
            a = posixpath.normpath(abs_path)
            keys.add(a)
            while a not in ("/", "//", ""):
                a = posixpath.dirname(a)
                keys.add(a)
        found = list(always)
        for k in keys:
            found.extend(by_key.get(k, ()))
        return later_sites_among(ctx, site, found)


TRANSFORMS = (RemoveDownloadedArchives,)
