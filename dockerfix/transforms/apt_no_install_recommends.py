"""DFX113 apt-no-install-recommends: ``apt-get install --no-install-recommends`` (unsafe)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix.model.pkgmgr import PackageCall, find_package_calls
from dockerfix.model.tools import DEPENDS, RECOMMENDS, base_has_package, native_build, tool_flag
from dockerfix.transforms._hygiene import APT, InsertFlag, RunSite, config_written, fold_later, stage_chain
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix

_NEEDLE = "Install-Recommends"


def _is_apt_conf(path: str) -> bool:
    return path.startswith("/etc/apt/apt.conf")


class AptNoInstallRecommends(InsertFlag):
    code = "DFX113"
    answers = ("DL3015",)
    triggers = ("apt",)
    name = "apt-no-install-recommends"
    summary = "Use `apt-get install --no-install-recommends` to skip recommended packages"
    safety = "unsafe"
    is_cleanup = False
    flag = "--no-install-recommends"
    fix_title = "Add `--no-install-recommends` to `apt-get install`"
    message = "apt-get install without --no-install-recommends also installs every recommended package"
    hint_names = APT
    hint_actions = frozenset({"install"})
    hint_done = frozenset({"--no-install-recommends"})
    unsafe_fix = True
    unsafe_why = ("recommended packages will no longer be installed; if the image relied on one of them "
                  "(e.g. ca-certificates, a locale, a helper binary), add it to the install list explicitly")
    docs = """\
## What it does
Inserts `--no-install-recommends` after `install` in `apt-get install` (and `apt install`) commands that say nothing
about recommends.

## Why
By default apt also installs every package the requested ones *recommend*: documentation, extra tools, fonts, often
doubling the layer. The Docker best-practice guide and hadolint (DL3015) ask for `--no-install-recommends`.

## Example
```dockerfile
RUN apt-get update && apt-get install -y curl
```
becomes
```dockerfile
RUN apt-get update && apt-get install -y --no-install-recommends curl
```

## Fix safety
Unsafe: it changes which packages end up in the image. Recommended packages (e.g. `ca-certificates` for `curl`,
`openssh-client` for `git`, `less`/`manpages`, compilers suggested by `-dev` packages) are no longer installed,
and software that relied on one of them fails at build or run time. Review the diff and add the packages you need
to the install list.

Where the build itself relies on a recommended package, the fix names it explicitly in the same install (the tool
table's `RECOMMENDS`, from Debian package metadata): `ca-certificates` for `curl`, `wget` and `git` when a later
step of the stage (or a stage built FROM it, or an ONBUILD RUN) fetches an https URL; `openssh-client` for `git`
with an ssh URL; `build-essential` and `python3-dev` for `python3-pip` when a later step may compile native code
(`pip install` of sdists, compilers, `make`, scripts dockerfix cannot read); `dirmngr` for `gpg` with a keyserver.
Nothing is added when the base is known to ship the package (`python`, `golang`, `buildpack-deps`... not
`debian`, `ubuntu` or `node:*-slim`) or an earlier install of the stage names it. It does not fire when the command already has `--no-install-recommends` or
`--install-recommends`, sets `-o APT::Install-Recommends=...`, or when the Dockerfile writes an
`Install-Recommends` setting under `/etc/apt/apt.conf*` (or COPYs a file there) before the install.

This transform is not a cache cleanup, so the `strategy` setting does not affect it.
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager in APT and call.action == "install"

    def flag_for(self, call: PackageCall) -> str:
        return tool_flag("apt", "no-recommends") or self.flag

    def check_run(self, ctx: Context, site: RunSite) -> Iterable[Diagnostic]:
        by_span: dict[tuple[int, int], PackageCall] | None = None
        for d in super().check_run(ctx, site):
            if d.fix is None:
                yield d
                continue
            if by_span is None:  # once per RUN, not per fix (a script of thousands of installs was quadratic)
                by_span = {}
                for c in site.calls():
                    by_span.setdefault(self.call_span(site, c), c)
            call = by_span[(d.start, d.end)]
            add = _packages_to_add(ctx, site, call)
            if not add:
                yield d
                continue
            names = [p for p, _ in add]
            last = call.packages[-1]
            assert site.run is not None  # a package call was found: the shell was read
            at = site.run.doc_span(last.span)[1]
            edits = d.fix.edits + (Edit.insert(at, "".join(f" {p}" for p in names)),)
            why = "; ".join(f"{p}: {w}" for p, w in add)
            title = f"Add `--no-install-recommends` and install {', '.join(names)} explicitly"
            yield self.diagnostic(site.inst, self.message, Fix.unsafe(title, *edits), span=(d.start, d.end),
                                  reason=f"{d.reason}; kept explicitly because a later step needs them ({why})")

    def is_satisfied(self, ctx: Context, site: RunSite, call: PackageCall) -> bool:
        if call.has_option("--no-install-recommends", "--install-recommends"):
            return True
        if any(v is None or _NEEDLE.lower() in v.lower() for v in call.option_values("-o", "--option")):
            return True
        return config_written(ctx, site, _is_apt_conf, _NEEDLE)



_HTTPS_CLIENTS = frozenset({"curl", "wget", "git"})
_GPG = frozenset({"gpg", "gpg2", "apt-key"})


def _package_name(word: str) -> str:
    return word.split("=", 1)[0].split(":", 1)[0].lower()


def _command_needs(cmd, env, with_compile: bool = True) -> dict[str, str]:
    """What a command needs of the packages recommends bring (``https``, ``ssh``, ``keyserver``, and ``compile``
    unless ``with_compile`` is False), with a short description."""
    eff = cmd.effective
    base = eff.basename or ""
    out: dict[str, str] = {}
    if base in _HTTPS_CLIENTS:
        vals = [w.value for w in eff.args]
        if any(v is not None and "https://" in v for v in vals):
            out["https"] = f"`{base}` fetches an https URL"
        elif base != "git" and any(v is None for v in vals):
            out["https"] = f"`{base}` fetches a URL from a variable, which may be https"
        if base == "git" and any(v is not None and (v.startswith(("ssh://", "git@")) or "@" in v and ":" in v
                                                    and "://" not in v) for v in vals):
            out["ssh"] = "`git` uses an ssh URL"
    if base in _GPG and any(w.value in ("--recv-keys", "--recv-key", "--keyserver", "--search-keys")
                            for w in eff.args):
        out["keyserver"] = f"`{base}` talks to a keyserver (dirmngr)"
    if with_compile:
        why = native_build(cmd, env)
        if why is not None:
            out["compile"] = why
    return out


def _later_needs(ctx: Context, site: RunSite, call: PackageCall, with_compile: bool) -> dict[str, str]:
    """The needs of every command after ``call``: later in its RUN, later RUNs of the stage, stages built FROM it,
    ONBUILD RUNs. A RUN dockerfix cannot read counts for what its words show. ``with_compile``: whether the ``compile``
    need is asked (whether a later command may build native code is the dearest question, and only the recommends
    of a few packages serve it: ``curl``'s serve ``https`` alone)."""
    needs: dict[str, str] = {}
    end = call.command.span[1]
    env = ctx.model.state.env_at(site.inst) if with_compile else None
    for s in site.script.sites:
        if s.command.span[0] >= end:
            for k, v in _command_needs(s.command, env, with_compile).items():
                needs.setdefault(k, f"{v} (line {site.inst.start_line})")
    # each later RUN's needs once per pass, merged from the RUN on (a loop over every later RUN for every install
    # was quadratic: 1,600 lines of apt blocks took 20 s); the two groups of needs share no key, so merging them
    # one after the other gives each key the value one merge of both gave
    for k, v in fold_later(ctx, site, _site_needs).items():
        needs.setdefault(k, v)
    if with_compile:
        for k, v in fold_later(ctx, site, _site_compiles).items():
            needs.setdefault(k, v)
    return needs


def _site_needs(other: RunSite) -> dict[str, str]:
    """A later RUN's needs but ``compile`` (:func:`_site_compiles`)."""
    needs: dict[str, str] = {}
    if other.run is None:
        if "https://" in " ".join(other.tokens()):
            needs["https"] = f"line {other.inst.start_line} may fetch an https URL ({other.reason})"
        return needs
    for s in other.script.sites:
        for k, v in _command_needs(s.command, None, False).items():
            needs.setdefault(k, f"{v} (line {other.inst.start_line})")
    return needs


def _site_compiles(other: RunSite) -> dict[str, str]:
    """A later RUN's ``compile`` need: a command that may build native code, or a RUN dockerfix cannot read."""
    if other.run is None:
        return {"compile": f"line {other.inst.start_line} cannot be read ({other.reason})"}
    oenv = other.ctx.model.state.env_at(other.inst)
    for s in other.script.sites:
        why = native_build(s.command, oenv)
        if why is not None:
            return {"compile": f"{why} (line {other.inst.start_line})"}
    return {}


def _installed_before(ctx: Context, site: RunSite, call: PackageCall) -> set[str]:
    """Packages explicitly installed by apt in this stage chain up to ``call`` (its own list included)."""
    names = {_package_name(w.value) for w in call.packages if w.value}
    for st in stage_chain(ctx, site.stage):
        for inst in st.instructions:
            if inst.keyword != "RUN" or (st is site.stage and inst.start >= site.inst.start):
                continue
            from dockerfix.transforms._run import run_shell

            run = run_shell(ctx, inst)
            if run.script is None:  # not run.ok
                continue
            for c in find_package_calls(run.script):
                if c.manager in APT and c.action == "install":
                    names |= {_package_name(w.value) for w in c.packages if w.value}
    for c in site.calls():
        if c.manager in APT and c.action == "install" and c.command.span[1] <= call.command.span[0]:
            names |= {_package_name(w.value) for w in c.packages if w.value}
    return names


def _packages_to_add(ctx: Context, site: RunSite, call: PackageCall) -> list[tuple[str, str]]:
    """(package, why) the install must name explicitly once recommends are off: a package of its list recommends
    it (the tool table's RECOMMENDS), a later step needs it, and neither the base nor an earlier install has it."""
    if not call.packages:
        return []
    wanted = [r for w in call.packages if w.value for r in RECOMMENDS.get(_package_name(w.value), ())]
    if not wanted:
        return []
    needs = _later_needs(ctx, site, call, any(r.need == "compile" for r in wanted))
    if not needs:
        return []
    have = _installed_before(ctx, site, call)
    have |= {d for n in list(have) for d in DEPENDS.get(n, ())}
    base = ctx.model.state.root_base(site.stage)
    out: list[tuple[str, str]] = []
    for r in wanted:
        if r.need not in needs:
            continue
        for p in r.packages:
            if p in have or base_has_package(base, p) or any(p == q for q, _ in out):
                continue
            out.append((p, needs[r.need]))
    return out


TRANSFORMS = (AptNoInstallRecommends,)
