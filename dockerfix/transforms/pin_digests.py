"""DFX401 pin-digests and DFX402 refresh-digests: image references get the ``@sha256:`` their tag points to.

The registry is reached through an injected resolver (``ctx.services["resolver"]``, the ``Resolver`` protocol of
``dockerfix.registry.interface``); without one every reference is a finding without a fix.
"""

from __future__ import annotations

from dockerfix._lazyre import lazy
from dockerfix._record import dataclass
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Iterable

from dockerfix.syntax.nodes import Instruction
from dockerfix.transforms.base import Context, Diagnostic, Edit, Failure, Fix, Transform

_VAR = lazy(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
RESOLVE_ERROR = "could not resolve"


@dataclass(frozen=True)
class Site:
    inst: Instruction
    text: str
    """The reference as written (or the ARG default that feeds it)."""
    start: int
    end: int
    """Document span of ``text``."""
    via_arg: str | None = None


def _word_span(ctx: Context, inst: Instruction, word: str, lo: int, hi: int) -> tuple[int, int] | None:
    i = ctx.document.text.find(word, lo, hi)
    return (i, i + len(word)) if i >= 0 else None


def _sites(ctx: Context) -> Iterable[Site]:
    doc, model = ctx.document, ctx.model
    meta = {}
    for inst in model.meta_args:
        for w in inst.args:
            k, eq, v = w.partition("=")
            if eq:
                meta[k] = (inst, v)
    for stage in model.stages:
        f = stage.from_inst
        base = stage.base
        if base:
            m = _VAR.match(base)
            if m and m.group(1) in meta:
                ainst, value = meta[m.group(1)]
                lo, hi = ainst.rest_span
                key = f"{m.group(1)}="
                at = doc.text.find(key, lo, hi)
                if at >= 0 and value and "$" not in value and value[0] not in "\"'":
                    yield Site(f, value, at + len(key), at + len(key) + len(value), via_arg=m.group(1))
            elif "$" not in base and not model.is_stage_ref(base, stage) and base.lower() != "scratch":
                span = _word_span(ctx, f, base, *f.rest_span)
                if span:
                    yield Site(f, base, *span)
        for inst in stage.instructions[1:]:
            eff = inst.effective
            if eff.keyword in ("COPY", "ADD"):
                fl = eff.flag("from")
                if fl and fl.value and "$" not in fl.value and not model.is_stage_ref(fl.value, stage):
                    yield Site(inst, fl.value, fl.end - len(fl.value), fl.end)
            if eff.keyword == "RUN":
                for fl in eff.flags_named("mount"):
                    for part in (fl.value or "").split(","):
                        k, _, v = part.partition("=")
                        if k.strip() == "from" and v and "$" not in v and not model.is_stage_ref(v, stage):
                            span = _word_span(ctx, inst, "from=" + v, fl.start, fl.end)
                            if span:
                                yield Site(inst, v, span[0] + 5, span[1])


class _PinBase(Transform):
    refresh = False
    default_enabled = False
    needs = ("resolver",)

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        from dockerfix.model.imageref import InvalidReference, parse_image_ref

        resolver = ctx.services.get("resolver")
        memo: dict[Any, Any] = ctx.services.setdefault("digest_memo", {})
        todo = []
        for site in _sites(ctx):
            try:
                ref = parse_image_ref(site.text)
            except InvalidReference:
                continue
            if ref.digest and ref.tag is None:
                continue  # pinned by digest alone: no tag to ask about
            if bool(ref.digest) != self.refresh and not (ref.digest and resolver is not None):
                continue
            todo.append((site, ref))
        if resolver is not None:
            need = [r for _, r in todo if r not in memo]
            if need:
                from dockerfix.registry.interface import resolve_many

                memo.update(resolve_many(resolver, need))
        for site, ref in todo:
            shown = ref.familiar
            what = f"'{shown}'" + (f" (ARG {site.via_arg} feeds FROM)" if site.via_arg else "")
            if ref.digest and not self.refresh:
                # pin-digests on an existing pin: only the single-platform check
                platform = single_platform_pin(ref.digest, memo.get(ref))
                if platform is not None:
                    yield self.diagnostic(
                        site.inst, f"{what} is pinned to the {platform} manifest of a multi-platform tag: builds "
                        "on other platforms fail or get the wrong architecture", None,
                        reason=f"pin the index digest instead ({memo[ref].digest[:19]}…): refresh-digests (DFX402, "
                        "--refresh-digests) re-pins it", span=(site.start, site.end))
                continue
            if resolver is None:
                yield self.diagnostic(site.inst, f"{what} is not pinned to a digest", None,
                                      reason="needs the registry: run with network access or a cached answer",
                                      kind=Failure.NEEDS_NETWORK)
                continue
            ans = memo.get(ref)
            digest = getattr(ans, "digest", None)
            if digest is None:
                yield self.diagnostic(site.inst, f"{what} is not pinned to a digest", None,
                                      reason=f"{RESOLVE_ERROR}: {ans}", kind=Failure.SERVICE_ERROR)
                continue
            if self.refresh:
                assert ref.digest is not None  # refresh mode kept only pinned references (the filter above)
                if ref.digest == digest:
                    continue
                at = site.text.rfind("@")
                new = site.text[:at] + "@" + digest
                platform = single_platform_pin(ref.digest, ans)
                if platform is not None:
                    msg = (f"{what} is pinned to the {platform} manifest of a multi-platform tag: builds on other "
                           "platforms fail or get the wrong architecture")
                    fix = Fix.unsafe(f"Pin the index {digest[:19]}…", Edit(site.start, site.end, new))
                else:
                    msg = f"{what} is pinned to {ref.digest[:19]}…, but its tag now points to {digest[:19]}…"
                    fix = Fix.unsafe("Update the pinned digest", Edit(site.start, site.end, new))
            else:
                msg = (f"{what} is not pinned: the tag can point to a different image tomorrow (a pin goes stale: "
                       "refresh it with --refresh-digests, or Renovate/Dependabot docker digest updates)")
                fix = Fix.unsafe(f"Pin to {digest[:19]}…", Edit.insert(site.end, "@" + digest))
            yield self.diagnostic(site.inst, msg, fix, span=(site.start, site.end))


def single_platform_pin(pinned: str | None, answer: Any) -> str | None:
    """The platform (``linux/amd64``) whose manifest ``pinned`` is, when the tag's current answer is a
    multi-platform index that lists it (and is not that digest); None otherwise, including when the index body was
    not fetched (``platforms is None``) or the tag moved on (``refresh-digests`` then says so)."""
    if not pinned or not getattr(answer, "is_index", False) or answer.digest == pinned:
        return None
    for p in answer.platforms or ():
        if p.digest == pinned:
            return str(p)
    return None


class PinDigests(_PinBase):
    code = "DFX401"
    effect = "correctness"  # reproducible builds: the bytes and the cache stay the same
    name = "pin-digests"
    summary = "Pin image references to the digest their tag points to now"
    safety = "unsafe"
    docs = """\
## What it does
Adds `@sha256:<digest>` to every image reference, keeping the tag: `FROM`, `COPY --from=<image>`,
`RUN --mount=from=<image>`, and the ARG default that feeds a `FROM ${BASE}`. For multi-platform images the digest
is the index (manifest list) digest, so every platform still builds. Stage names, `scratch`, references built from
ARGs without a default, and references already pinned are left alone.

An existing pin `image:tag@sha256:...` whose digest is one platform's manifest inside the tag's multi-platform
index (what `docker inspect` shows on one machine) is a finding: the build works on that platform only. The registry
says which: the tag's index lists its platform manifests. `refresh-digests` re-pins such a reference to the index.

## Keeping pins fresh
Nothing refreshes a pin by itself. Either run `dockerfix --refresh-digests` on a schedule (the PR bot:
`dockerfix pr --select refresh-digests --unsafe`), or let Renovate (its `dockerfile` manager updates
`image:tag@sha256:` digests) or Dependabot (`package-ecosystem: docker`) do it; docs/registry.md has the snippets.

## Why
`FROM python:3.12-slim` builds something different every week. A digest makes the build reproducible; the tag keeps
it readable and lets a bot refresh it (`refresh-digests`).

## Example
```dockerfile
FROM python:3.12-slim
```
becomes
```dockerfile
FROM python:3.12-slim@sha256:a7fee71b...
```

## Fix safety
Unsafe: it freezes updates (security fixes included) until someone refreshes the pin. It needs the registry (or a
cached answer, `--offline`); without one each reference is a finding without a fix. Not on by default: select it.
"""


class RefreshDigests(_PinBase):
    code = "DFX402"
    effect = "correctness"
    name = "refresh-digests"
    summary = "Update pinned digests whose tag now points elsewhere"
    safety = "unsafe"
    refresh = True
    docs = """\
## What it does
For references pinned as `name:tag@sha256:...`, asks the registry where the tag points now and replaces the digest
when it moved (what Renovate's digest updates do). Run it in the PR bot to keep pins fresh.

## Why
A pin makes the build reproducible, but it also freezes it: the base image's security fixes land under the tag, not
under the old digest. Refreshing the pins in a reviewed pull request keeps both, a build that only changes when a
commit says so and a base that does not fall behind.

## Example
When `python:3.12-slim` has moved on since the pin was written,
```dockerfile
FROM python:3.12-slim@sha256:a7fee71b...
```
becomes
```dockerfile
FROM python:3.12-slim@sha256:3f1b0e6c...
```

## Fix safety
Unsafe: the new digest is a different image. Not on by default: select it (`--refresh-digests`).
"""


TRANSFORMS = (PinDigests, RefreshDigests)
