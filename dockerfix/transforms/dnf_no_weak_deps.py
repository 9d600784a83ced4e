"""DFX114 dnf-no-weak-deps: ``dnf install --setopt=install_weak_deps=False`` (unsafe)."""

from __future__ import annotations

from dockerfix.model.pkgmgr import PackageCall
from dockerfix.model.tools import tool_flag
from dockerfix.transforms._hygiene import InsertFlag, RunSite, config_written
from dockerfix.transforms.base import Context

_NEEDLE = "install_weak_deps"


def _is_dnf_conf(path: str) -> bool:
    return path.startswith(("/etc/dnf/", "/etc/yum.conf", "/etc/yum/"))


class DnfNoWeakDeps(InsertFlag):
    code = "DFX114"
    name = "dnf-no-weak-deps"
    triggers = ("dnf",)
    summary = "Use `dnf install --setopt=install_weak_deps=False` to skip weak dependencies"
    safety = "unsafe"
    is_cleanup = False
    flag = "--setopt=install_weak_deps=False"
    fix_title = "Add `{flag}` to `{manager} install`"
    message = "dnf install without install_weak_deps=False also installs every weak dependency"
    hint_names = frozenset({"dnf", "microdnf"})
    hint_actions = frozenset({"install", "in"})
    unsafe_fix = True
    unsafe_why = ("weak dependencies (Recommends) will no longer be installed; if the image relied on one of them, "
                  "add it to the install list explicitly")
    docs = """\
## What it does
Inserts `--setopt=install_weak_deps=False` after `install` in `dnf install` commands, and
`--setopt=install_weak_deps=0` in `microdnf install` commands, that do not set `install_weak_deps`. The spelling
comes from the tool table: microdnf's option parser takes only `0`/`1` for this setting (`False` fails the build),
dnf takes any boolean. (`--nodocs` is a different setting and does not count.) `yum` is left alone: yum 3
has no weak dependencies.

## Why
dnf installs weak dependencies (RPM `Recommends:`) by default, which can add many packages nobody asked for.

## Example
```dockerfile
RUN dnf install -y httpd
```
becomes
```dockerfile
RUN dnf install --setopt=install_weak_deps=False -y httpd
```

## Fix safety
Unsafe: it changes which packages end up in the image. Packages that the requested ones only recommend are no
longer installed, and software that relied on one of them fails at build or run time. Review the diff and add the
packages you need. It does not fire when `install_weak_deps` is already set on the command (any value), or when
the Dockerfile writes `install_weak_deps` into `/etc/dnf/*` or `/etc/yum.conf` (or COPYs a file there) before the
install.

This transform is not a cache cleanup, so the `strategy` setting does not affect it.
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager in ("dnf", "microdnf") and call.action == "install"

    def flag_for(self, call: PackageCall) -> str:
        return tool_flag(call.manager, "no-weak-deps") or self.flag

    def is_satisfied(self, ctx: Context, site: RunSite, call: PackageCall) -> bool:
        for o in call.options:
            if o.name == "--setopt" and (o.value is None or o.value.replace("-", "_").startswith(_NEEDLE)):
                return True
            if o.name in ("--no-install-weak-deps", "--no-weak-deps"):
                return True
        return config_written(ctx, site, _is_dnf_conf, _NEEDLE)


TRANSFORMS = (DnfNoWeakDeps,)
