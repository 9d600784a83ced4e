"""DFX110 gem-no-document: ``gem install --no-document`` skips generating ri/rdoc documentation."""

from __future__ import annotations

from dockerfix.model.pkgmgr import PackageCall
from dockerfix.transforms._hygiene import CLEANUP_STRATEGY_NOTE, InsertFlag, RunSite, config_written
from dockerfix.transforms.base import Context

_DOC_OPTIONS = ("--no-document", "-N", "--no-doc", "--no-ri", "--no-rdoc", "--document", "--doc", "--ri", "--rdoc")


def _is_gemrc(path: str) -> bool:
    return path.endswith("gemrc")


class GemNoDocument(InsertFlag):
    code = "DFX110"
    image_differences = ("usr/local/lib/ruby/gems/*/doc/*", "usr/local/bundle/doc/*", "var/lib/gems/*/doc/*", "usr/lib/ruby/gems/*/doc/*")
    name = "gem-no-document"
    triggers = ("gem",)
    summary = "Use `gem install --no-document` so no ri/rdoc documentation is generated"
    safety = "safe"
    flag = "--no-document"
    fix_title = "Add `--no-document` to `gem install`"
    message = "gem install without --no-document generates ri and rdoc documentation into the image"
    hint_names = frozenset({"gem"})
    hint_actions = frozenset({"install", "i"})
    hint_done = frozenset({"--no-document", "-n", "--no-ri", "--no-rdoc"})
    docs = f"""\
## What it does
Inserts `--no-document` after `install` in `gem install` commands that say nothing about documentation.

## Why
By default RubyGems generates ri and rdoc documentation for every gem it installs (under `<gem dir>/doc`), which
nobody reads inside a container and which slows the build.

## Example
```dockerfile
RUN gem install bundler
```
becomes
```dockerfile
RUN gem install --no-document bundler
```

## Fix safety
Safe: the same gems are installed; what is no longer generated is only their ri/rdoc documentation (the
`doc/<gem>-<version>` folders under the gem directory). It does not fire when the command already has
`--no-document`/`-N`, the old `--no-ri`/`--no-rdoc`, or asks for documentation (`--document`, `--ri`, `--rdoc`),
or when the Dockerfile writes a gemrc with `--no-document` (an `echo ... > /etc/gemrc`, a heredoc, or a COPY to a
`*gemrc` path) before the install in its stage chain. Official `ruby` images already configure
`/usr/local/etc/gemrc`; the flag is then redundant but harmless.

{CLEANUP_STRATEGY_NOTE}
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager == "gem" and call.action == "install"

    def is_satisfied(self, ctx: Context, site: RunSite, call: PackageCall) -> bool:
        if call.has_option(*_DOC_OPTIONS) or any(o.name.startswith("--document") for o in call.options):
            return True
        return config_written(ctx, site, _is_gemrc, "--no-document") or config_written(
            ctx, site, _is_gemrc, "--no-rdoc")


TRANSFORMS = (GemNoDocument,)
