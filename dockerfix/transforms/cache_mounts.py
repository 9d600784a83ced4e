"""DFX202 cache-mounts: package-manager caches live in ``RUN --mount=type=cache`` instead of the image.

Fires only under the cache-mount strategy (``dockerfix.model.manifests.cache_strategy``: configured, or by default
in files that already need BuildKit). Per RUN: the caches its package-manager calls write (following the user the
RUN runs as, HOME and the tools' cache variables) get a cache mount; the cleanups that only existed to keep the
cache out of the layer go away in the same fix; apt gets Docker's documented keep-cache setup once per stage. No
``# syntax=`` line is added: BuildKit's built-in Dockerfile frontend reads ``RUN --mount``, and a frontend pull
fails on air-gapped builders.
"""

from __future__ import annotations

import posixpath
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix._lazyre import lazy
from dockerfix._record import replace
from dockerfix.model.manifests import CacheDir, cache_needs, cache_strategy
from dockerfix.model.pkgmgr import find_cleanups, find_package_calls, removed_paths
from dockerfix.model.tools import INFER, cleanups_made_pointless, command_tools, offline_keys, system_managers
from dockerfix.transforms._run import RunShell, cache_mount_targets, instruction_style, mounts, run_shell
from dockerfix.transforms._hygiene import (
    RunSite,
    covers,
    runs_as,
    iter_run_sites,
    first_below,
    first_later,
    fold_later,
    relies_on_apt_lists,
    stage_chain,
)
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform, keyword_like

APT_KEEP_CACHE = ("rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages "
                  "\"true\";' > /etc/apt/apt.conf.d/keep-cache")
MAX_LINE = 100
_COMMENT_IN_SPAN = lazy(r"\n[ \t]*#")


def _reads_cache(need, env=None) -> bool:
    """The RUN reads what is already in the cache: a store read back as installed data, or an offline flag or
    variable (the tool table's ``offline_reads``)."""
    return any(c.store for c in need.caches) or bool(offline_keys(need.use or need.command, env or {}))


class CacheMounts(Transform):
    code = "DFX202"
    effect = "cache"  # faster rebuilds: the cache stays out of the image *and* survives for the next build
    name = "cache-mounts"
    summary = "Keep package-manager caches in BuildKit cache mounts (strategy cache-mount)"
    safety = "mixed"
    after = ("reorder-manifests",)
    image_differences = (
        # the download caches the mounts take out of the layer (the tool table's cache directories, root and users)
        "var/cache/apt/*", "var/lib/apt/lists/*", "etc/apk/cache/*", "var/cache/apk/*", "var/cache/dnf/*",
        "var/cache/yum/*", "var/cache/libdnf5/*", "root/.cache/*", "home/*/.cache/*", "root/.npm/*", "home/*/.npm/*",
        "usr/local/share/.cache/*", "root/.local/share/pnpm/store/*", "home/*/.local/share/pnpm/store/*",
        "tmp/cache/*", "root/.composer/cache/*",
    )
    docs = """\
## What it does
Under the `cache-mount` strategy, adds `--mount=type=cache,target=...` to each RUN that runs a package manager, for
the directories that manager caches downloads in:

| tool | target (root) |
|---|---|
| apt | `/var/cache/apt` and `/var/lib/apt` (`sharing=locked`), with Docker's keep-cache setup once per stage |
| apk | `/etc/apk/cache` (`--no-cache` becomes `--update-cache`) |
| dnf / yum / microdnf | by the base's release: `/var/cache/dnf` (dnf 4: RHEL/CentOS 8+, yum there too), `/var/cache/yum` (yum 3: CentOS 7, Amazon Linux 2; microdnf), `/var/cache/libdnf5` (Fedora 41+); a base that does not show its release gets a finding |
| pip, uv, pipenv | `~/.cache/pip`, `~/.cache/uv`, `~/.cache/pipenv` |
| poetry | `~/.cache/pypoetry/cache` and `.../artifacts` (not `virtualenvs`, which poetry installs into) |
| npm, yarn, pnpm | `~/.npm`, `/usr/local/share/.cache/yarn` (root) or `~/.cache/yarn`, `~/.local/share/pnpm/store` |
| Go | `$GOPATH/pkg/mod` (`/go` in golang images) and `~/.cache/go-build` |
| Cargo | `$CARGO_HOME/registry` and `$CARGO_HOME/git` |
| Maven, Gradle | `~/.m2/repository`, `~/.gradle/caches` |
| Composer, NuGet | `~/.cache/composer` (`/tmp/cache` in the composer image), `~/.nuget/packages` |

Every path comes from the tool table (`dockerfix/model/tools.py`, each entry citing the tool's docs or source), with
the options and variables that move it.
Targets follow the user the RUN runs as (`USER`, `HOME`; numeric users and the node image's `node` user get
`uid`/`gid` options) and the tools' variables (`PIP_CACHE_DIR`, `UV_CACHE_DIR`, `npm_config_cache`,
`YARN_CACHE_FOLDER`, `GOMODCACHE`, `GOCACHE`, `GOPATH`, `CARGO_HOME`, `GRADLE_USER_HOME`, `NUGET_PACKAGES`,
`XDG_CACHE_HOME`...). In the same fix, cleanups that only existed to keep the cache out of the layer go away
(`--no-cache-dir`, `rm -rf /var/lib/apt/lists/*`, `apt-get clean`, `npm cache clean --force`, `dnf clean all`...).
For apt in a stage that does not ship (one other stages only copy from), Docker's documented setup runs once per
stage before the first apt RUN (in a stage that ships it would change every later `apt-get install` of the image,
so there the mounts come without it):
`RUN rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache`.
No `# syntax=` line is added: BuildKit's built-in Dockerfile frontend (Docker 18.09 and later) and buildah read
`RUN --mount`, and a `# syntax=` line makes every build pull the frontend image (air-gapped builders fail). When the
mounts would make the RUN's first line longer than 100 characters, each goes on its own continuation line.

## When it fires (the `strategy` setting)
`strategy = "cache-mount"`: everywhere. `strategy = "clean-layer"`: never. Not set: only in files that already need
BuildKit (a `# syntax=` or `# check=` directive, `RUN --mount`/`--network`/`--security`, heredocs, `COPY`/`ADD`
`--link`/`--parents`/`--exclude`/`--checksum`; not `--chmod`, which copy-chown adds). The cleanup transforms (DFX103-DFX111) use the same
decision and stand down exactly where this one fires, so cache mounts and in-layer cleanup never cancel out.

## Why
A cache mount keeps the package manager's downloads on the builder between builds, outside every layer: the image
is as small as with in-layer cleanup, and a rebuild after a manifest change downloads only what changed.

## Example
```dockerfile
# syntax=docker/dockerfile:1
FROM python:3.12-slim
RUN pip install --no-cache-dir -r requirements.txt
```
becomes
```dockerfile
# syntax=docker/dockerfile:1
FROM python:3.12-slim
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
```

## Fix safety
Safe for pure download caches (pip, uv, poetry, npm, yarn, pnpm, apk, dnf, Bundler, Composer): the installed files
are the same and only the cache leaves the layer. Unsafe when:
- apt in the final stage (or a stage others build on): the image keeps no `/var/lib/apt` state (lists,
  auto-installed marks);
- a store the tool reads back later (Go modules, Cargo registry, Maven/Gradle/NuGet packages) in the final stage or a
  stage others build on: those files are no longer in the image.
Never (a finding) when the mount would hide content the RUN reads back: a parent stage, an earlier RUN, a COPY or
an unknown base image filled the cache, and the RUN reads it as installed data (Go modules, Cargo registry,
Maven/Gradle/NuGet stores) or runs offline (`--offline`, `--no-restore`, `--no-index`...); and never for a store in
a stage whose child stages read it. Never when a later stage copies the cache out of this one (`COPY --from=deps
/root/.npm ...`, a `RUN --mount=from=` whose source is in it), or a folder that holds it (`/root`, `/go/pkg`,
`$CARGO_HOME`: copied to carry the cache along; not the whole filesystem, `COPY --from=build / /`): with the mount
it is not in the stage's layers (buildah fails at the COPY, BuildKit copies an empty directory, an offline install
after it fails). Never when a later RUN (same stage, a stage built
FROM it, ONBUILD) reads one of the caches back offline and no earlier command of that RUN fetched it (`npm ci` then
`npm ci --offline`; `dotnet restore` then `dotnet publish --no-restore`, the .NET samples' shape): with mounts on
both, the reader works only while the builder's cache mount is warm (a builder that imports layers with
`--cache-from`, or pruned its mounts, re-runs it on an empty mount after a source edit and fails), so both keep the
cache in the layer. A RUN that reads back a cache only earlier RUNs of its stage filled, each of which gets a mount
on it from the same pass (`go mod download`, then `go build`), gets its mount in that pass too, applied only
together with theirs (a fix that *requires* theirs: the engine withholds it, with the reason, where one of them is
suppressed, ignored or unsafe in a safe run; the language server's quick fix adds both), and unsafe when one of
them is. Never for apt when this RUN or a later one (same stage, a stage
built FROM it, ONBUILD) runs `apt-get install`/`apt-cache` without its own `apt-get update`: it reads lists an
earlier step left, which the mount hides or holds only while the builder's cache is warm (a builder that imports
layers with `--cache-from`, or pruned its mounts, fails there). A tool that already has one of its caches mounted
by the author (a mount on the cache, above it or inside it, or a cache mount whose `id=` names the tool) is left as
it is; so is a RUN that wipes a folder above the cache anyway (`rm -rf /root/.cache`: the author does not want the
cache, and `rm` fails on a mount point).
A tool run as another user (`sudo`, `sudo -u`, `doas`, `gosu`, `su-exec`, `runuser -u`, `setpriv --reuid`,
`chroot --userspec`, and the commands inside `su USER -c '...'`) writes that user's cache, with the HOME and
environment the wrapper gives it (gosu, su, runuser and sudo set the target's HOME; setpriv and chroot keep the
caller's; sudo resets the environment): the mount targets root's cache for root (`sudo npm install -g` under a
non-root `USER` mounts `/root/.npm`, without uid/gid) and the RUN's own user's for that user; any other user's home
and uid the model does not know, so that tool gets a finding, and its flags and cleanups stay. The keep-cache
setting is written only in build stages that others copy from, and only where the RUN runs as root (it writes to
`/etc/apt`); never in a stage that may ship
(the final stage, a stage others build FROM, and a stage nothing refers to, which is built with `--target`). The user, HOME and uid come from the model: on a base image dockerfix does not know, a RUN without a USER
in the file runs as an unknown user, so per-user caches get a finding.
No fix (a finding) when the cache location is unknown (a non-root user without a known uid or HOME, a variable
without a static value), for exec-form RUN, non-POSIX shells and scripts the shell parser does not understand.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        if cache_strategy(ctx.settings, ctx.document) != "cache-mount":
            return
        keep_cache_planned: set[int] = set()
        layer = _LayerCaches(lambda inst: self._run_fills(ctx, inst))
        for site in iter_run_sites(ctx):
            d = None
            if site.reason is None:
                d = self._check_run(ctx, site, keep_cache_planned, layer)
                if d is not None:
                    yield d
            layer.after(ctx, site, d)

    def _check_run(self, ctx: Context, site: RunSite, keep_cache_planned: set[int],
                   layer: "_LayerCaches | None" = None) -> Diagnostic | None:
        calls = site.calls()
        names = command_tools()
        extra = [(s.command, s) for s in site.script.sites if (s.command.effective.basename or "") in names]
        su = [s for s in site.script.sites if s.command.basename in ("su", "runuser")]
        if not calls and not extra and not su:
            return None
        state = ctx.model.state
        env = state.env_at(site.inst)
        user = state.user_at(site.inst)
        home = state.home_at(site.inst)
        base = state.root_base(site.stage)
        by_user = _needs_by_user(ctx, site.inst, site.stage, site.script, calls, extra)
        needs = [n for n, _, _ in by_user.fixable]
        owner = {id(n): ids for n, ids, _ in by_user.fixable}
        anchor = {id(n): a for n, _, a in by_user.fixable}
        existing = site.cache_targets()
        author_ids = _mount_ids(site.inst)
        assert site.run is not None  # site.script above read it
        if not needs:
            # only tools run as another user whose cache dockerfix cannot place: a finding, unless the author mounts
            # caches in this RUN already (the right ones, for all dockerfix can tell)
            if by_user.skipped and not existing and not author_ids & {n.tool for n, _, _ in by_user.skipped}:
                n, why, a = by_user.skipped[0]
                return self.diagnostic(
                    site.inst, f"{n.tool} downloads into its cache in this layer; a cache mount keeps it out and "
                    "reuses it", None, reason=why, span=site.run.doc_span(a.span))
            return None
        span = site.run.doc_span(anchor[id(needs[0])].span)
        msg = f"{needs[0].tool} downloads into its cache in this layer; a cache mount keeps it out and reuses it"
        # the author's own mounts: a tool that already has one of its caches mounted (or a mount inside one, or a
        # mount whose id names the tool) is left as the author set it
        needs = [n for n in needs if not any(_overlaps(existing, c.target) for c in n.caches)
                 and n.tool not in author_ids]
        if existing:
            # a RUN whose author mounts caches already: a tool whose cache location dockerfix cannot tell is theirs
            needs = [n for n in needs if n.caches]
        if not needs:
            return None
        reason = next((n.reason for n in needs if n.reason), None)
        ids = state.uid_at(site.inst)
        own = [n for n in needs if owner[id(n)] is _OWN]
        if user is None and any(n.tool not in system_managers() for n in own):
            reason = reason or ("the user the RUN runs as is not known (the base image's USER, or a variable), so "
                                "neither its cache directory nor the mount's owner is")
        elif user is not None and ids is None and own:
            reason = reason or (f"the RUN runs as user {user!r}, whose uid the Dockerfile does not show (a cache "
                                "mount is owned by root unless uid/gid are given)")
        goes_with: list[tuple[str, _Held]] = []  # (cache directory, the earlier mounts) it reads from mounts
        if reason is None:
            reason = self._filled_reason(ctx, site, needs, env, home, base, layer, goes_with)
        if reason is not None:
            if any(not covers(existing, c.target) for n in needs for c in n.caches) or not needs[0].caches:
                return self.diagnostic(site.inst, msg, None, reason=reason, span=span)
            return None
        caches: list[CacheDir] = []
        cache_ids: dict[str, tuple[str, str] | None] = {}
        for n in needs:
            mine = ids if owner[id(n)] is _OWN else owner[id(n)]
            for c in n.caches:
                if not covers(existing, c.target) and all(c.target != x.target for x in caches):
                    caches.append(c)
                    cache_ids[c.target] = mine
        wiped = _wipes_above(site.script, [c.target for c in caches])
        if wiped is not None:
            # the author empties the cache in this RUN anyway (and `rm -rf` of a folder holding a mount point fails
            # with EBUSY): not a place for a cache mount
            return None
        tools = {n.tool for n in needs if n.caches}
        edits: list[Edit] = []
        # the cleanups a mount makes pointless are those of the users whose caches get mounted, and the flags of
        # the calls whose caches get mounted (`gosu app pip install --no-cache-dir` keeps its flag when app's cache
        # cannot be placed)
        run_user = state.user_at(site.inst)
        users = {runs_as(anchor[id(n)], run_user) for n in needs if n.caches}
        mounted = {id(n.command) for n in needs if n.caches}
        mounted_calls = [c for c in calls if id(c.command) in mounted]
        removed = self._cleanup_edits(ctx, site, tools, mounted_calls, [c.target for c in caches] + existing,
                                      users=users, run_user=run_user)
        if not caches and not removed:
            return None
        if caches:
            flags = []
            for c in caches:
                f = f"--mount=type=cache,target={c.target}"
                if c.sharing:
                    f += f",sharing={c.sharing}"
                mine = cache_ids.get(c.target)
                if mine is not None and mine != ("0", "0"):
                    f += f",uid={mine[0]},gid={mine[1]}"
                flags.append(f)
            edits.append(self._flags_edit(ctx, site, flags))
        edits.extend(removed)
        unsafe: list[str] = []
        stage = site.stage
        exposed, why_ships = ctx.model.state.ships(stage)
        if any(c.target == "/var/lib/apt" for c in caches):
            if site.onbuild:
                return None
            why_own = relies_on_apt_lists(site)
            if why_own is not None:
                # it reads the lists an earlier step left: a mount hides those in the layer, and lists an earlier
                # mount holds are gone on a cold builder
                return self.diagnostic(site.inst, msg, None, span=span, reason=(
                    f"{why_own}: it reads the package lists an earlier step left, which a mount on /var/lib/apt hides "
                    "(or holds only while the builder's cache is warm)"))
            why_l = first_later(ctx, site, relies_on_apt_lists)
            if why_l is not None:
                # a later step reads lists only a warm mount holds: a builder that imports this stage's layers
                # (--cache-from) or pruned its mounts fails there, so never a fix, not even an unsafe one
                return self.diagnostic(site.inst, msg, None, span=span, reason=(
                    f"the package lists would no longer stay in the image for a later step: {why_l}"))
            if not exposed:
                # Docker's keep-cache setup changes every later apt-get install of the image: only in a stage
                # that does not ship (issue 19 item 9); and only where the RUN runs as root (it writes to
                # /etc/apt: under another USER it fails, even when the RUN's apt runs through sudo)
                keep = self._keep_cache_edit(ctx, site, keep_cache_planned) if ids == ("0", "0") else None
                if keep is not None:
                    edits.append(keep)
            else:
                unsafe.append("the image keeps no /var/lib/apt state (package lists, auto-installed marks)")
        if caches and not site.onbuild:
            # a later stage that copies the cache out of this one (COPY --from=this /root/.npm, RUN --mount=from=),
            # or a folder holding it (/root, /go/pkg, $CARGO_HOME: copied to carry the cache along; not the whole
            # root, `COPY --from=build / /`), reads what this RUN leaves there: with a mount it is not there
            for inst, src, named in state.copied_out(site.stage):
                hit = next((c.target for c in caches if src is None or covers((c.target,), src)
                            or (src != "/" and covers((src,), c.target))), None)
                if hit is not None:
                    what = f"copies {src}" if src is not None else "copies a path dockerfix cannot resolve"
                    where = "this stage" if named else "a stage a variable names (this one, for all dockerfix knows)"
                    return self.diagnostic(site.inst, msg, None, span=span, reason=(
                        f"the {inst.keyword} on line {inst.start_line} {what} out of {where}; with a cache mount "
                        f"here {hit} would be empty in this stage's layers"))
        if caches:
            # a later RUN (this stage, ONBUILD, a stage built FROM it) that reads one of the caches offline needs what
            # this RUN leaves there: in the layer it is in every build; in a cache mount, only while the builder's
            # mount is warm (one that imports layers with --cache-from, or pruned its mounts, re-runs that RUN on an
            # empty mount after a source edit, and it fails: the lab's npm-offline cases). Never a fix, like apt's
            later_reads = fold_later(ctx, site, _strict_reads_back)
            for c in caches:
                for t, line in later_reads.items():
                    if covers((c.target,), t) or covers((t,), c.target):
                        return self.diagnostic(site.inst, msg, None, span=span, reason=(
                            f"the RUN on line {line} reads {t} back offline (it fails without it); with a cache mount "
                            f"here {t} would hold it only while the builder's cache is warm (a builder that imports "
                            "layers with --cache-from, or pruned its mounts, fails there)"))
        stores = [c.target for c in caches if c.store]
        if exposed:
            targets = tuple(c.target for c in caches)
            # the first RUN built on this stage that reads one of the caches back (once per RUN and set of targets
            # in a pass, not a walk of every later RUN for every RUN: quadratic in a chain of stages)
            found = first_below(ctx, site, (CacheMounts._reads_back, targets),
                                lambda other: self._reads_back(ctx, other, targets))
            if isinstance(found, tuple):  # (line, path) from _reads_back
                return self.diagnostic(site.inst, msg, None, span=span, reason=(
                    f"the RUN on line {found[0]} (a stage built FROM this one) reads {found[1]} back; with a cache "
                    "mount here it would no longer be in the image"))
            if stores:
                unsafe.append("the downloaded modules/packages are read back later but no longer stay in the image "
                              f"({why_ships})")
        shown = ", ".join(c.target for c in caches) or "the existing mounts"
        title = f"Mount caches ({shown})" + (" and drop the in-layer cleanup" if removed else "")
        own = list(unsafe)
        for _, held in goes_with:  # the unsafety of the mounts it reads from, unless it is this RUN's too
            for why in held.unsafe:
                if why not in own:
                    own.append(why)
                    unsafe.append(f"it reads what the cache mount of line {held.line} holds, whose fix is unsafe: "
                                  f"{why}")
        fix = Fix.unsafe(title, *edits) if unsafe else Fix.safe(title, *edits)
        if goes_with:
            fix = replace(fix, requires=tuple(sorted({s for _, held in goes_with for s in held.frontier})))
        if layer is not None:
            layer.plan(site, [c.target for c in caches], "; ".join(unsafe) or None, {t for t, _ in goes_with})
        return self.diagnostic(site.inst, msg, fix, reason="; ".join(unsafe) or None, span=span)

    def _filled_reason(self, ctx: Context, site: RunSite, needs, env, home, base, layer: "_LayerCaches | None" = None,
                       goes_with: "list[tuple[str, _Held]] | None" = None) -> str | None:
        """Why a mount would hide content the RUN reads: a parent stage, an earlier RUN, a COPY or the base image
        filled the cache, and this RUN reads it back (a store such as Cargo's registry, or an offline flag).

        Except when everything there comes from earlier RUNs of this stage whose fixes in this pass mount that cache
        (``layer``): then the content is in the mount, not the layer, and this RUN reads it with a mount too; Go
        modules after ``go mod download`` get both mounts in one pass instead of one per pass. Not for an offline
        read (those RUNs' mounts are refused: a later offline read needs the layer). The unsafety of those mounts
        goes into ``goes_with``."""
        state = ctx.model.state

        def fills(run_inst) -> list[str]:
            return self._run_fills(ctx, run_inst)

        for n in needs:
            if not _reads_cache(n, env):
                continue
            for c in n.caches:
                held = state.contents(c.target, site.inst, fills=fills, fills_key=CacheMounts._run_fills,
                                      include_base=False, first=True)
                if held.fillers and held.unknown is None and layer is not None:
                    got = layer.mounted_only(ctx, site, c.target, held.fillers[0].line)
                    if got is not None:
                        if goes_with is not None:
                            goes_with.append((c.target, got))
                        b = state.base_contents(site.stage, c.target)
                        if b.unknown is not None:
                            return f"{b.unknown}; this RUN reads {c.target} back, so a cache mount could hide it"
                        continue
                if held.fillers:
                    return (f"{held.fillers[0].what} (line {held.fillers[0].line}), and this RUN reads it back: a "
                            f"cache mount on {c.target} would hide that content")
                if held.unknown is not None:
                    return f"{held.unknown}; this RUN reads {c.target} back, so a cache mount could hide it"
                b = state.base_contents(site.stage, c.target)
                if b.unknown is not None:
                    return f"{b.unknown}; this RUN reads {c.target} back, so a cache mount could hide it"
        return None

    @staticmethod
    def _run_caches(ctx: Context, run_inst) -> tuple[tuple[str, bool, bool], ...]:
        """(cache directory, read back?, read back offline?) of each cache an earlier or later RUN's tools write in
        its layer (those its own cache mounts do not cover); "read back" is a store or an offline read, "offline" a
        strict offline read (the tool fails without the cache) that no earlier command of the same RUN fetched for
        (``dotnet restore && dotnet build --no-restore`` fetches its own). Once per RUN and pass."""
        return ctx.memo.get_or(CacheMounts._run_caches, run_inst.start, CacheMounts._find_run_caches, ctx, run_inst)

    @staticmethod
    def _find_run_caches(ctx: Context, run_inst) -> tuple[tuple[str, bool, bool], ...]:
        got: tuple[tuple[str, bool, bool], ...] = ()
        run = run_shell(ctx, run_inst)
        stage = ctx.model.stage_of(run_inst)
        if run.script is not None and stage is not None:  # run.ok
            calls = find_package_calls(run.script)
            names = command_tools()
            extra = [(s.command, s) for s in run.script.sites if (s.command.effective.basename or "") in names]
            if calls or extra or any(s.command.basename in ("su", "runuser") for s in run.script.sites):
                env = ctx.model.state.env_at(run_inst)
                fixable = _needs_by_user(ctx, run_inst, stage, run.script, calls, extra).fixable
                mounted = [t.rstrip("/") for t in cache_mount_targets(run_inst)]
                got = _caches_read(fixable, env, mounted)
        return got

    @classmethod
    def _run_fills(cls, ctx: Context, run_inst) -> list[str]:
        """The cache directories an earlier RUN fills in its layer (those its own cache mounts do not cover)."""
        return [t for t, _, _ in cls._run_caches(ctx, run_inst)]

    @classmethod
    def _reads_back(cls, ctx: Context, other: RunSite, targets: tuple[str, ...]) -> tuple[int, str] | None:
        """(line, the first cache directory among ``targets`` it reads back) for a RUN that reads one, else None."""
        if other.run is None:
            return None
        read = [t for t in cls._run_reads(ctx, other.inst) if covers(targets, t)]
        return (other.inst.start_line, read[0]) if read else None

    @classmethod
    def _run_reads(cls, ctx: Context, run_inst) -> list[str]:
        """The cache directories a RUN reads back (stores, or caches it reads offline), its own mounts aside."""
        return [t for t, reads, _ in cls._run_caches(ctx, run_inst) if reads]

    def _flags_edit(self, ctx: Context, site: RunSite, flags: list[str]) -> Edit:
        """The mount flags before the RUN's command, on the RUN's line, or each on its own continuation line when
        the line would get long (in the file's continuation style)."""
        inst = site.inst
        at = inst.rest_span[0]
        text = ctx.document.text
        line_start = text.rfind("\n", 0, at) + 1
        line_end = text.find("\n", at)
        line_end = len(text) if line_end < 0 else line_end
        one = " ".join(flags) + " "
        if (line_end - line_start) + len(one) <= MAX_LINE:
            return Edit.insert(at, one)
        st = instruction_style(ctx, inst)
        brk = f" {st.escape}{st.newline}{st.indent}"
        return Edit.insert(at, brk.join(flags) + brk)

    # ------------------------------------------------------------------ apt keep-cache
    def _keep_cache_edit(self, ctx: Context, site: RunSite, planned: set[int]) -> Edit | None:
        chain = stage_chain(ctx, site.stage)
        for st in chain:
            for inst in st.instructions:
                if st is site.stage and inst.start >= site.inst.start:
                    break
                if inst.keyword == "RUN" and "Keep-Downloaded-Packages" in inst.source:
                    return None
                if inst.keyword == "RUN" and st.index in planned and st is not site.stage:
                    pass
        if site.stage.index in planned or any(s.index in planned for s in chain[1:]):
            return None
        planned.add(site.stage.index)
        inst = site.inst
        indent = inst.source[: len(inst.source) - len(inst.source.lstrip(" \t"))]
        kw = keyword_like(inst.raw_keyword, "RUN")
        nl = inst.line_break or ctx.document.newline
        return Edit.insert(inst.start, f"{indent}{kw} {APT_KEEP_CACHE}{nl}")

    # ------------------------------------------------------------------ cleanup removal
    def _cleanup_edits(self, ctx: Context, site: RunSite, tools: set[str], calls, targets: list[str], *,
                       users: set | None = None, run_user: str | None = None) -> list[Edit]:
        run: RunShell = site.run  # type: ignore[assignment]
        script = site.script
        managers = set().union(*(cleanups_made_pointless(t) for t in tools)) if tools else set()
        edits: list[Edit] = []
        # flags that disable the cache
        for call in calls:
            if call.manager == "pip" and ("pip" in tools or "uv" in tools):
                is_uv = bool(call.invocation) and call.invocation[0].value == "uv"
                names = ("--no-cache",) if is_uv else ("--no-cache-dir",)
                for o in call.options:
                    if o.name in names and o.value is None and len(o.words) == 1 and o.words[0].raw == o.name:
                        edits.append(self._delete_word(run, o.words[0]))
            if call.manager == "apk" and "apk" in tools:
                o = call.option("--no-cache")
                if o is not None and o.words[0].raw == "--no-cache":
                    refreshed = call.has_option("-U", "--update-cache") or any(
                        c.manager == "apk" and c.action == "update" and c.command.span[1] <= call.command.span[0]
                        for c in calls)
                    ws, we = run.doc_span(o.words[0].span)
                    edits.append(self._delete_word(run, o.words[0]) if refreshed else Edit(ws, we, "--update-cache"))
        # cleanup commands
        items = list(script.items)
        seps = list(script.separators)
        for cl in _cleanups(script):
            if cl.manager not in managers and not (cl.manager == "apt" and "apt" in tools):
                continue
            if (users is not None and cl.manager not in system_managers()
                    and runs_as(cl.command, run_user) not in users):
                continue  # another user's cache: the mounts do not hold it
            cmd = cl.command
            if cl.call is None:
                # `rm` of a cache directory: drop the operand, or the whole command when nothing else is removed
                paths = removed_paths(cmd)
                words = [w for w in cmd.effective.args if w.value in paths]
                cached = [w for w in words if w.value is not None and covers(targets, _strip_glob(w.value))]
                if not cached:
                    continue
                if len(cached) < len(words):
                    edits.extend(self._delete_word(run, w) for w in cached)
                    continue
            e = self._delete_command(ctx, run, items, seps, cmd)
            if e is not None:
                edits.append(e)
        # a deletion may swallow an earlier word edit; keep them disjoint
        out: list[Edit] = []
        for e in sorted(edits):
            if out and e.start < out[-1].end:
                continue
            out.append(e)
        return out

    def _delete_word(self, run: RunShell, word) -> Edit:
        s, e = run.doc_span(word.span)
        text = run.doc.text
        k = s
        while k > 0 and text[k - 1] in " \t":
            k -= 1
        return Edit.delete(k, e)

    def _delete_command(self, ctx: Context, run: RunShell, items, seps, cmd) -> Edit | None:
        idx = next((i for i, it in enumerate(items) if it is cmd or getattr(it, "span", None) == cmd.span), None)
        if idx is None:
            return None
        before = seps[idx - 1] if idx > 0 else None
        after = seps[idx] if idx < len(seps) else None
        if (before is not None and before.text not in ("&&", ";", "\n")) or (
                after is not None and after.text not in ("&&", ";", "\n")):
            return None
        if idx > 0:
            a = run.doc_span((items[idx - 1].span[1], items[idx - 1].span[1]))[0]
            b = run.doc_span(cmd.span)[1]
        elif len(items) > 1:
            a = run.doc_span(cmd.span)[0]
            b = run.doc_span(items[1].span)[0]
        else:
            return None
        if _COMMENT_IN_SPAN.search(ctx.document.text[a:b]):
            return None
        return Edit.delete(a, b)


_OWN = ("own",)
"""Owner marker of a need for the RUN's own user (its uid comes from the model's ``uid_at``)."""


class _ByUser:
    """The cache needs of one RUN's tool calls, each for the user it runs as: ``fixable`` (need, mount owner or
    ``_OWN``, the command to point at) and ``skipped`` (need, reason, command) for tools run as a user whose HOME,
    uid or environment the model does not know."""

    __slots__ = ("fixable", "skipped")

    def __init__(self) -> None:
        self.fixable: list[tuple] = []
        self.skipped: list[tuple] = []


def _needs_by_user(ctx: Context, inst, stage, script, calls, extra) -> _ByUser:
    """:func:`_find_needs_by_user`, once per RUN and pass (the RUN's own check and the questions later and earlier
    RUNs ask about it, ``CacheMounts._run_caches``, read the same needs)."""
    return ctx.memo.get_or(_needs_by_user, inst.start, _find_needs_by_user, ctx, inst, stage, script, calls, extra)


def _find_needs_by_user(ctx: Context, inst, stage, script, calls, extra) -> _ByUser:
    """Cache needs of the RUN's package-manager calls, each computed for the user that runs it.

    A call behind a wrapper that switches the user (``sudo``, ``gosu``, ``su-exec``, ``runuser``, ``setpriv``,
    ``chroot --userspec``, ``doas``; the model's ``SimpleCommand.user_switch``) and the calls inside ``su USER -c
    SCRIPT`` write the *target* user's caches, with the HOME and environment the wrapper gives them. Those are
    placed when the model knows that user: root (HOME ``/root``, uid 0) or the RUN's own user (its HOME and uid);
    any other user's home and uid the model does not know, so the need is skipped with the reason."""
    state = ctx.model.state
    env = state.env_at(inst)
    user = state.user_at(inst)
    home = state.home_at(inst)
    base = state.root_base(stage)
    out = _ByUser()
    own_calls, own_extra = [], []
    groups: dict[int, tuple] = {}  # id(switch command) -> (switch, anchor, calls, extra)
    for c in calls:
        sw = c.command.user_switch
        if sw is None:
            own_calls.append(c)
        else:
            groups.setdefault(id(c.command), (sw, c.command, [], []))[2].append(c)
    for cmd, st in extra:
        sw = cmd.user_switch
        if sw is None:
            own_extra.append((cmd, st))
        else:
            groups.setdefault(id(cmd), (sw, cmd, [], []))[3].append((cmd, st))
    names = command_tools()
    for st in script.sites:
        cmd = st.command
        if cmd.basename not in ("su", "runuser"):
            continue
        sw = cmd.user_switch
        if sw is None or sw.script is None:
            continue
        inner_calls = find_package_calls(sw.script)
        inner_extra = [(x.command, None) for x in sw.script.sites if (x.command.effective.basename or "") in names]
        if inner_calls or inner_extra:
            g = groups.setdefault(id(cmd), (sw, cmd, [], []))
            g[2].extend(inner_calls)
            g[3].extend(inner_extra)
    if own_calls or own_extra:
        for n in cache_needs(own_calls, own_extra, env, home, base, user=user if user is not None else INFER):
            out.fixable.append((n, _OWN, n.command))
    for sw, at, g_calls, g_extra in groups.values():
        t_home, t_env, t_ids, why = _target_of(sw, env, user, home, state.uid_at(inst))
        if why == "":
            continue
        if why is not None or sw.script is not None:
            # nothing to report for a call that keeps its cache out of the layer itself (--no-cache-dir), or whose
            # cache the same user cleans after it; and nothing to mount for such a call inside `su -c SCRIPT`,
            # whose flags and cleanups a fix cannot edit (they are in a string)
            done = [cl for cl in find_cleanups(sw.script if sw.script is not None else script)
                    if sw.script is not None or _same_switch(cl.command.user_switch, sw)]
            g_calls = [c for c in g_calls if not _keeps_no_cache(c) and not any(
                cl.manager == c.manager and cl.command.span[0] >= c.command.span[1] for cl in done)]
        t_user = sw.user_name if sw.user_name is not None else INFER
        for n in cache_needs(g_calls, g_extra, t_env if t_env is not None else env, t_home, base, user=t_user):
            if why is not None:
                out.skipped.append((n, why.format(tool=n.tool), at))
            else:
                out.fixable.append((n, t_ids, at))
    return out


def _caches_read(fixable: list[tuple], env, mounted: list[str]) -> tuple[tuple[str, bool, bool], ...]:
    """(cache directory, read back?, read back offline?) of each cache the RUN's commands (``fixable`` of
    :class:`_ByUser`) write outside ``mounted``: "read back" as in :func:`_reads_cache`; "offline" a strict offline
    read (``npm ci --offline``, ``cargo build --offline``, ``dotnet build --no-restore``; not ``--prefer-offline``)
    of what an earlier step left, i.e. before any command of the RUN fetched into it: the need's caches the offline
    rule names (``Cache.key``)."""
    offline: set[str] = set()
    fetched: set[str] = set()
    reads: dict[int, bool] = {}
    order = sorted(fixable, key=lambda f: f[2].span[0]) if len(fixable) > 1 else fixable  # script order
    for n, _, _ in order:
        keys = offline_keys(n.use or n.command, env) if n.caches else {}
        reads[id(n)] = bool(keys) or any(c.store for c in n.caches)
        if keys:
            offline.update(c.target for c in n.caches if keys.get(c.key) and c.target not in fetched)
        fetched.update(c.target for c in n.caches)
    return tuple((c.target, reads[id(n)], c.target in offline) for n, _, _ in fixable
                 for c in n.caches if not covers(mounted, c.target))


def _strict_reads_back(other: RunSite) -> dict[str, int]:
    """{cache directory: line} for each cache ``other`` reads back offline (see ``CacheMounts._run_caches``); the
    memo key of :func:`fold_later` in :meth:`CacheMounts._check_run`."""
    if other.run is None:
        return {}
    return {t: other.inst.start_line for t, _, off in CacheMounts._run_caches(other.ctx, other.inst) if off}


class _Held:
    """What the RUNs of a stage so far left in one cache directory while each that fills it gets a mount on it from
    this pass's fixes: the first such RUN's line, why those mounts are unsafe, and the diagnostics (starts) a RUN that
    reads the directory next needs applied with its own fix (the fillers since the last such reader, and it)."""

    __slots__ = ("line", "unsafe", "frontier")

    def __init__(self, line: int) -> None:
        self.line = line
        self.unsafe: list[str] = []
        self.frontier: list[int] = []


class _LayerCaches:
    """Per stage and cache directory, what the RUNs checked so far in a pass leave in their layers: nothing (no
    entry), a :class:`_Held` while every RUN that fills it gets a mount on it from this pass's fixes, or None once one
    leaves content in the layer. A later RUN that reads the cache back then reads only what mounts hold, and may take
    a mount of its own in the same pass, applied only with those (:attr:`Fix.requires`): Go modules after ``go mod
    download`` get both mounts in one pass instead of one per pass.

    Lazy: the check records each RUN's outcome (:meth:`after`); what the RUNs fill is read only when a RUN that reads
    a cache back asks (:meth:`mounted_only`), up to it, once per RUN and pass (files without such a RUN pay nothing)."""

    __slots__ = ("fills", "state", "planned", "done", "cursor")

    def __init__(self, fills) -> None:
        self.fills = fills  # RUN instruction -> the cache directories it fills in its layer
        self.state: dict[tuple[int, str], _Held | None] = {}
        self.planned: dict[int, tuple[list[str], str | None, set[str]]] = {}
        self.done: dict[int, list[tuple[RunSite, tuple[list[str], str | None, set[str]] | None, int]]] = {}
        self.cursor: dict[int, int] = {}

    def plan(self, site: RunSite, targets: list[str], unsafe: str | None, read: set[str]) -> None:
        """The fix of ``site`` mounts ``targets`` (``unsafe``: why it is unsafe); it reads ``read`` from mounts."""
        self.planned[site.inst.start] = (targets, unsafe, read)

    def after(self, ctx: Context, site: RunSite, d: Diagnostic | None) -> None:
        plan = self.planned.pop(site.inst.start, None)
        if d is None or d.fix is None or site.onbuild:
            plan = None  # (no fix)
        self.done.setdefault(site.stage.index, []).append((site, plan, d.start if d is not None else -1))

    def _advance(self, stage_index: int) -> None:
        todo = self.done.get(stage_index, [])
        k = self.cursor.get(stage_index, 0)
        for site, plan, start in todo[k:]:
            for t in self.fills(site.inst):
                key = (stage_index, t)
                was = self.state.get(key, False)
                if plan is None or not covers(plan[0], t) or was is None:
                    self.state[key] = None
                    continue
                held = was if isinstance(was, _Held) else _Held(site.inst.start_line)
                self.state[key] = held
                if plan[1] and plan[1] not in held.unsafe:
                    held.unsafe.append(plan[1])
                if t in plan[2]:
                    held.frontier = [start]  # its fix needs the ones before: a later reader needs only it
                else:
                    held.frontier.append(start)
        self.cursor[stage_index] = len(todo)

    def mounted_only(self, ctx: Context, site: RunSite, target: str, first_filler: int) -> _Held | None:
        """None when content of ``target`` may be in the layer before ``site`` (the caller's answer stands); else what
        the mounts that hold it are. ``first_filler``: the line of the first instruction of the stage chain that fills
        it (``BuildState.contents``); it must be the first RUN of this stage that fills it, with no other writer of
        the directory before ``site`` (a COPY, a parent stage)."""
        self._advance(site.stage.index)
        got = self.state.get((site.stage.index, target))
        if got is None or got.line != first_filler:
            return None
        other = ctx.model.state.contents(target, site.inst, include_base=False, first=True)
        if other.fillers or other.unknown is not None:
            return None
        return got


def _same_switch(a, b) -> bool:
    return a is not None and b is not None and a.user_name == b.user_name and a.wrapper == b.wrapper


def _keeps_no_cache(call) -> bool:
    """The call turns its own cache off (``pip --no-cache-dir``, ``uv --no-cache``, ``apk --no-cache``)."""
    is_uv = bool(call.invocation) and call.invocation[0].value == "uv"
    flag = {"pip": "--no-cache" if is_uv else "--no-cache-dir", "apk": "--no-cache"}.get(call.manager)
    return flag is not None and call.has_option(flag)


def _target_of(sw, env, user, home, ids) -> tuple:
    """(HOME, environment, (uid, gid), None) a switched-to user's tool runs with, or (None, None, None, reason)."""
    shown = " ".join(w.raw for w in sw.words) if sw.wrapper not in ("su", "runuser") or sw.script is None else (
        f"{sw.wrapper} -c")
    name = sw.user_name
    if name is None:
        return None, None, None, f"{{tool}} runs as a user a variable names ({shown}), so its cache is not at a known place"
    run_name = (user or "").partition(":")[0]
    if name in ("root", "0"):
        t_home = "/root" if sw.home == "target" or (sw.home == "kept" and home == "/root") else None
        t_ids = ("0", "0")
    elif name == run_name and ids is not None:
        t_home = home if sw.home == "kept" or (sw.home == "target" and "HOME" not in env) else None
        t_ids = ids
    elif sw.home == "kept" and home == "/root" and run_name in ("root", "0"):
        # setpriv/chroot --userspec keep root's HOME: /root is root's alone (0700), so the tool writes no cache
        # there (pip disables it; npm fails the build either way)
        return None, None, None, ""
    elif sw.home == "kept":
        return None, None, None, (
            f"{{tool}} runs as user {name!r} ({shown}) with the RUN's HOME: a cache mount there is owned by root "
            "unless uid/gid are given, and the Dockerfile does not show that user's uid and gid")
    else:
        return None, None, None, (
            f"{{tool}} runs as user {name!r} ({shown}): its cache is in that user's home, and the Dockerfile does "
            "not show where that is or the user's uid (a cache mount is owned by root unless uid/gid are given)")
    if t_home is None:
        return None, None, None, f"{{tool}} runs as user {name!r} ({shown}), with a HOME the Dockerfile does not show"
    if sw.env is None:
        return None, None, None, (f"{{tool}} runs as user {name!r} ({shown}), whose environment (which may move the "
                                  "cache) depends on the sudoers policy")
    t_env = {} if sw.env == "reset" else dict(env)
    t_env["HOME"] = t_home
    return t_home, t_env, t_ids, None


def _mount_ids(inst) -> set[str]:
    """``id=`` values of the RUN's own cache mounts (``id=pip``, ``id=npm-cache``): the tools they name."""
    out: set[str] = set()
    for m in mounts(inst):
        if m.get("type") == "cache" and m.get("id"):
            for part in m["id"].replace("_", "-").replace("/", "-").split("-"):
                out.add(part.lower())
    return out & {"apt", "apk", "dnf", "yum", "pip", "uv", "npm", "yarn", "pnpm", "go", "cargo", "maven", "gradle",
                  "composer", "nuget", "poetry", "pipenv", "bundler", "microdnf"}


def _overlaps(existing: list[str], target: str) -> bool:
    """An author's mount on ``target``, above it, or inside it."""
    t = target.rstrip("/")
    return covers(existing, target) or any(e.startswith(t + "/") for e in existing)


def _wipes_above(script, targets: list[str]) -> str | None:
    """A path the RUN removes with ``rm`` that is a folder *above* one of the mount targets (``rm -rf /root/.cache``
    over ``/root/.cache/pip``): the author wipes the cache anyway, and rm fails on the mount point (EBUSY)."""
    for s in script.sites:
        if (s.command.effective.basename or "") != "rm":
            continue
        for p in removed_paths(s.command):
            q = _strip_glob(p).rstrip("/") or "/"
            if q == "/":
                continue
            if any(t.rstrip("/").startswith(q + "/") for t in targets):
                return p
    return None


def _strip_glob(p: str) -> str:
    p = p.rstrip("*").rstrip("/") or "/"
    return posixpath.normpath(p.replace("~", "/root", 1) if p.startswith("~") else p)


def _cleanups(script):
    out = []
    for cl in find_cleanups(script):
        if cl.site is not None and (cl.site.is_nested or cl.site.in_pipeline or cl.site.conditional):
            continue
        out.append(cl)
    return out


TRANSFORMS = (CacheMounts,)
