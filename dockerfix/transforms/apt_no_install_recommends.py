"""DFX113 apt-no-install-recommends: ``apt-get install --no-install-recommends`` (unsafe)."""

from __future__ import annotations

from dockerfix.model.pkgmgr import PackageCall
from dockerfix.transforms._hygiene import APT, InsertFlag, RunSite, config_written
from dockerfix.transforms.base import Context

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
to the install list. It does not fire when the command already has `--no-install-recommends` or
`--install-recommends`, sets `-o APT::Install-Recommends=...`, or when the Dockerfile writes an
`Install-Recommends` setting under `/etc/apt/apt.conf*` (or COPYs a file there) before the install.

This transform is not a cache cleanup, so the `strategy` setting does not affect it.
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager in APT and call.action == "install"

    def is_satisfied(self, ctx: Context, site: RunSite, call: PackageCall) -> bool:
        if call.has_option("--no-install-recommends", "--install-recommends"):
            return True
        if any(v is None or _NEEDLE.lower() in v.lower() for v in call.option_values("-o", "--option")):
            return True
        return config_written(ctx, site, _is_apt_conf, _NEEDLE)


TRANSFORMS = (AptNoInstallRecommends,)
