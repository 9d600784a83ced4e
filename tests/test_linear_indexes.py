"""The indexes that made per-occurrence questions linear (issue 20, round 5) answer exactly what the walks they
replaced answered: each is compared with the old walk on generated files dense in the shapes it indexes, and
on every fixture (``dockerfix.fix`` with the index, and with the walk put back)."""

from __future__ import annotations

import posixpath

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dockerfix
from dockerfix.transforms import _hygiene, build_tools_in_final, remove_downloaded_archives
from dockerfix.transforms._hygiene import later_sites
from tests.fixture_format import all_fixtures

_LINES = (
    "RUN curl -fsSL -o /tmp/a.tgz https://example.com/a.tgz && tar xzf /tmp/a.tgz -C /opt",
    "RUN wget -O /tmp/b.zip https://example.com/b.zip && unzip /tmp/b.zip -d /srv",
    "RUN curl -o app.tar.gz https://example.com/x.tar.gz && tar xzf app.tar.gz",
    "RUN rm -f /tmp/a.tgz", "RUN rm -rf /tmp/*", "RUN rm -rf /tmp", "RUN cat /tmp/a.tgz | sha256sum",
    "RUN ls /tmp", "RUN cp /tmp/b.zip /backup/", "RUN sha256sum /tmp/*.tgz", "RUN echo $X > /tmp/a.tgz",
    "RUN [\"sh\", \"-c\", \"cat /tmp/a.tgz\"]", "RUN mv /tmp/a.tgz /keep/a.tgz", "RUN tar tzf ./app.tar.gz",
    "ONBUILD RUN cat /tmp/a.tgz", "WORKDIR /work", "WORKDIR sub", "WORKDIR $DIR", "CMD [\"cat\", \"/tmp/a.tgz\"]",
    "COPY . /app", "RUN npm ci", "RUN npm install", "RUN npm test", "RUN npx tsc", "RUN npm run build",
    "RUN yarn install", "RUN node server.js", "RUN if true; then npm test; fi", "ENV NODE_ENV=development",
    "RUN apt-get update && apt-get install -y curl", "USER node",
)
_BASES = ("FROM node:20 AS build", "FROM debian:12", "FROM build", "FROM alpine:3.19 AS final")


@st.composite
def _files(draw) -> str:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        out.append(draw(st.sampled_from(_BASES)))
        out.extend(draw(st.lists(st.sampled_from(_LINES), min_size=1, max_size=14)))
    out.append("COPY --from=build /tmp/a.tgz /x" if draw(st.booleans()) else "CMD [\"true\"]")
    return "\n".join(out) + "\n"


def _generated(strategy, n: int) -> list[str]:
    """``n`` files drawn from ``strategy`` (derandomized: the same files every run)."""
    texts: list[str] = []

    @settings(max_examples=n, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def collect(text):
        texts.append(text)

    collect()
    return texts


def _walks(monkeypatch) -> None:
    """Put back the walks the indexes replaced."""
    monkeypatch.setattr(remove_downloaded_archives.RemoveDownloadedArchives, "_may_read",
                        staticmethod(lambda ctx, site, abs_path, path: list(later_sites(ctx, site))))

    def first_dev_step(ctx, stage, after):
        for cmd, line, unread in build_tools_in_final._later_commands(ctx, stage, after):
            if cmd is None:
                return f"line {line} cannot be read ({unread})"
            eff = cmd.effective
            why = build_tools_in_final._dev_step([eff.name_value] + [w.value for w in eff.args])
            if why is not None:
                return f"{why} (line {line})"
        return None

    monkeypatch.setattr(build_tools_in_final, "_first_dev_step", first_dev_step)


def _outcome(r):
    return (r.text, r.passes, [(c.code, c.line, c.applied, c.message, c.reason) for c in r.changes],
            [(c.code, c.line, c.message, c.reason) for c in r.findings])


def _both(monkeypatch, texts):
    new = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    with monkeypatch.context() as m:
        _walks(m)
        old = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    return new, old


def test_the_indexes_answer_as_the_walks_on_generated_files(monkeypatch):
    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_files())
    def check(text):
        new, old = _both(monkeypatch, [text])
        assert new == old, text

    check()


def test_the_indexes_answer_as_the_walks_on_every_fixture(monkeypatch):
    texts = sorted({fx.input for fx in all_fixtures()})
    new, old = _both(monkeypatch, texts)
    assert [t for t, a, b in zip(texts, new, old) if a != b] == []


def test_the_walks_can_be_told_apart(monkeypatch):
    # the comparison above can fail: a download read later is unsafe with the index and safe without any reader
    text = "FROM debian:12\nRUN curl -o /tmp/a.tgz https://e.com/a.tgz && tar xzf /tmp/a.tgz -C /opt\n" \
           "RUN sha256sum /tmp/a.tgz\nCMD [\"true\"]\n"
    with_index = dockerfix.fix(text, unsafe=True)
    with monkeypatch.context() as m:
        m.setattr(remove_downloaded_archives.RemoveDownloadedArchives, "_may_read",
                  staticmethod(lambda ctx, site, abs_path, path: []))
        blind = dockerfix.fix(text, unsafe=True)
    assert _outcome(with_index) != _outcome(blind)
    assert any("reads /tmp/a.tgz" in (c.reason or "") for c in with_index.changes + with_index.findings)


def test_later_sites_among_keeps_the_walks_order(monkeypatch):
    text = ("FROM debian:12 AS base\nONBUILD RUN echo o1\nRUN echo a\nONBUILD RUN echo o2\nRUN echo b\n"
            "FROM base AS child\nRUN echo c\nFROM debian:12\nRUN echo d\n")
    seen = []
    real = _hygiene.later_sites_among

    def spy(ctx, site, candidates):
        got = real(ctx, site, candidates)
        everything = list(later_sites(ctx, site))
        assert got == everything  # every site a candidate: the same list, in the same order
        seen.append(len(got))
        return got

    from dockerfix.syntax import parse
    from dockerfix.transforms.base import Context

    ctx = Context(parse(text))
    sites = list(_hygiene.iter_run_sites(ctx, onbuild=True))
    for s in sites:
        spy(ctx, s, sites)
    assert max(seen) >= 3 and posixpath.sep == "/"


# ------------------------------------------------------------------ merge-runs' block facts
def _names_walk(ctx, run, path):
    """merge-runs' walk before the index (round 4): does a static word of ``run`` (an argument, or since round 8 the
    target of a redirection that writes) name ``path`` or inside it?"""
    from dockerfix.model.shell import written_targets
    from dockerfix.model.state import norm

    if run.script is None:
        return False
    cwd = None
    cwd_known = False
    moved = any(c.kind in ("cd", "pushd", "popd") for c in run.script.state_changes)
    for node in run.script.walk():
        for w in list(getattr(node, "words", ()) or ()) + list(written_targets(node)):
            v = w.value
            if v is None or "/" not in v or w.has_glob or v.startswith("~") or (moved and not v.startswith("/")):
                continue
            if not v.startswith("/") and not cwd_known:
                cwd, cwd_known = ctx.model.state.workdir_at(run.inst), True
            q = norm(v, cwd if not v.startswith("/") else "/")
            if q is not None and q != "/" and (q == path or q.startswith(path.rstrip("/") + "/")):
                return True
    return False


_BLOCK_LINES = (
    "RUN echo 1 > /tmp/f1", "RUN rm /tmp/f1", "RUN mkdir -p /opt/app/sub && touch /opt/app/sub/x", "RUN rm -rf /opt/app",
    "RUN rm -rf /opt/app/sub/x", "RUN cd /opt && touch rel", "RUN rm /opt/rel", "RUN touch data/x", "RUN rm -rf data",
    "WORKDIR /srv", "RUN touch ./a/b", "RUN rm -r /srv/a", "RUN curl -o /tmp/x.tgz https://e.com/x.tgz",
    "RUN rm /tmp/x.tgz", "RUN apt-get update", "RUN apt-get install -y curl", "RUN rm -rf /var/lib/apt/lists/*",
    "RUN apt-get clean", "RUN pip install flask", "RUN rm -rf /root/.cache/pip", "RUN apt-get purge -y curl",
    "RUN chmod 700 /tmp/f1", "RUN ls /opt/app*", "RUN rm -rf /tmp/*", "RUN echo $HOME > /opt/app/h",
)


@st.composite
def _block_files(draw) -> str:
    out = [draw(st.sampled_from(("FROM debian:12", "FROM python:3.12", "FROM scratch AS s")))]
    out.extend(draw(st.lists(st.sampled_from(_BLOCK_LINES), min_size=2, max_size=16)))
    return "\n".join(out) + "\n"


def test_the_block_index_answers_as_the_walk(monkeypatch):
    from dockerfix.transforms import merge_runs

    def naming_walk(self, path):
        return [r for r in self.runs if _names_walk(self.ctx, r, path)]

    texts = _generated(_block_files(), 200)
    texts += sorted({fx.input for fx in all_fixtures()})
    new = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    with monkeypatch.context() as m:
        m.setattr(merge_runs._BlockFacts, "naming", naming_walk)
        old = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    assert [t for t, a, b in zip(texts, new, old) if a != b] == []
    joined = sum(1 for o in new if any(c[0] == "DFX101" and c[2] for c in o[2]))
    assert joined > 40  # the generated files do merge (the index is asked)


# ------------------------------------------------------------------ round 6: copy-chown's replay, the model's contents
def _first_writer_walk(self, t, lo, hi, skip=None, same=None):
    from dockerfix.transforms.copy_chown import CopyChown, _same_change

    for ev in self.events[lo:hi]:
        if skip and ev.kind == "copy" and ev.copy in skip:
            continue
        if same is not None and ev.kind == "run" and _same_change(ev, same, t):
            continue
        why = CopyChown._writes(ev, t)
        if why:
            return why
    return None


def _own_copies(self, own_start, hi):
    return [ev.copy for ev in self.events[own_start:hi] if ev.kind == "copy" and ev.copy]


def _copies_back_walk(self, t, own_start, hi):
    return [c for c in reversed(_own_copies(self, own_start, hi)) if c.dest is None or c.may_touch(t) or c.file_at(t)]


def _copies_into_walk(self, t, own_start, hi, lo=0):
    return [ev.copy for ev in self.events[max(lo, own_start):hi]
            if ev.kind == "copy" and ev.copy and ev.copy.outputs_in(t)]


def _last_cover_walk(self, t, ch, hi):
    from dockerfix.transforms.copy_chown import _covers

    for n in range(hi - 1, -1, -1):
        if self.events[n].kind == "run" and _covers(self.events[n], ch, t):
            return n
    return None


def _makes_parent_walk(self, d, hi):
    from dockerfix.transforms.copy_chown import _under

    for ev in self.events[:hi]:
        if ev.kind == "workdir" and ev.cwd and _under(ev.cwd, d):
            return True
        if ev.kind == "copy" and ev.copy and ev.copy.dest and (
                _under(posixpath.dirname(ev.copy.dest), d) or (ev.copy.is_dir and _under(ev.copy.dest, d))):
            return True
        if ev.kind == "run" and any(_under(p, d) for p in ev.paths):
            return True
    return False


def _first_maker_walk(self, lo, hi):
    for ev in self.events[lo:hi]:
        if ev.kind == "run" and ev.makes_users:
            return ev
    return None


def _contents_walk(self, path, inst, *, fills=None, include_base=True, fills_key=None, first=False):
    """BuildState.contents before its index (round 5): writes() over every earlier instruction of the chain (with
    ``first``, the first filler only: round 7's option; ``fills_key`` names the index the walk does without)."""
    if first:
        full = _contents_walk(self, path, inst, fills=fills, include_base=include_base)
        from dockerfix.model.state import Contents

        return Contents(full.fillers[:1], full.unknown)
    from dockerfix.model.state import _WRITERS, Contents, Filler

    m = self.model
    stage = m.stage_of(inst)
    if stage is None:
        return Contents(unknown="the instruction is outside any stage")
    fillers, unknown = [], None
    if include_base:
        b = self.base_contents(stage, path)
        fillers.extend(b.fillers)
        unknown = b.unknown
    for s in reversed(m.stage_chain(stage)):
        for i in s.instructions[1:]:
            if s is stage and i.start >= inst.start:
                break
            if i.keyword in _WRITERS:
                f, u = self.writes(i, path, fills=fills)
                if f:
                    fillers.append(Filler(i.start_line, f))
                elif u and unknown is None:
                    unknown = u
    return Contents(tuple(fillers), unknown)


def _replay_walks(m) -> None:
    from dockerfix.model.state import BuildState
    from dockerfix.transforms.copy_chown import _Replay

    m.setattr(_Replay, "first_writer", _first_writer_walk)
    m.setattr(_Replay, "copies_back", _copies_back_walk)
    m.setattr(_Replay, "copies_into", _copies_into_walk)
    m.setattr(_Replay, "makes_parent", _makes_parent_walk)
    m.setattr(_Replay, "first_maker", _first_maker_walk)
    m.setattr(_Replay, "last_cover", _last_cover_walk)
    m.setattr(BuildState, "contents", _contents_walk)


_CHOWN_DIRS = ("/app", "/app/a", "/app/a/b", "/usr/local/bin", "/opt/x", "/home/app", "app", "sub", ".", "$D")
_CHOWN_LINES = (
    "COPY a {d}", "COPY a b {d}/", "COPY --chown=app:app x {d}", "COPY --chown=root:root c.sh {d}/",
    "ADD d.tar.gz {d}/", "COPY --from=s0 /out {d}", "RUN chown -R app:app {d}", "RUN chown app {d}/a",
    "RUN chmod +x {d}/c.sh", "RUN chmod -R 755 {d}", "RUN chgrp -R grp {d}", "RUN chown -R 1000:1000 /app",
    "RUN useradd -m app && chown -R app {d}", "RUN mkdir -p {d}/new && touch {d}/f", "RUN cp -r $SRC {d}",
    "RUN apt-get update && apt-get install -y curl", "WORKDIR {d}", "USER app", "USER root", "ARG D=/app/a",
    "RUN echo hi > {d}/x && chown app {d}/x", "RUN useradd -m app", "RUN chown -R app:app /app",
    "RUN chown -R app:app /app/a && chown app:app /app", "RUN chmod -R 755 /app",
)


@st.composite
def _chown_files(draw) -> str:
    out = []
    for s in range(draw(st.integers(1, 3))):
        base = draw(st.sampled_from(("debian:12", "myimage", "scratch", "node:20", "s0") if s else
                                    ("debian:12", "myimage", "scratch", "node:20")))
        out.append(f"FROM {base} AS s{s}")
        for line in draw(st.lists(st.sampled_from(_CHOWN_LINES), min_size=2, max_size=14)):
            out.append(line.format(d=draw(st.sampled_from(_CHOWN_DIRS))))
    return "\n".join(out) + "\n"


def test_copy_chown_and_contents_indexes_answer_as_the_walks(monkeypatch):
    texts = _generated(_chown_files(), 300)
    texts += sorted({fx.input for fx in all_fixtures()})
    new = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    with monkeypatch.context() as m:
        _replay_walks(m)
        old = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    assert [t for t, a, b in zip(texts, new, old) if a != b] == []
    fixed = sum(1 for o in new if any(c[0] == "DFX301" and c[2] for c in o[2]))
    unsafe = sum(1 for o in new if any(c[0] == "DFX301" and c[-1] for c in o[2] + o[3]))
    assert fixed > 60 and unsafe > 60  # the generated files do ask the indexes, and get both kinds of answer


def test_the_replay_walks_can_be_told_apart(monkeypatch):
    # a RUN before the chown's COPY wrote the directory: unsafe, found by first_writer (and by contents)
    text = "FROM debian:12\nRUN mkdir -p /app/x\nCOPY b /app\nRUN chown -R app /app\n"
    told = [c.reason or "" for c in dockerfix.fix(text, unsafe=True).changes if c.code == "DFX301"]
    assert any("the RUN on line 2 writes there; /app existed before the COPY on line 3" in r for r in told)
    from dockerfix.transforms.copy_chown import _Replay

    with monkeypatch.context() as m:
        m.setattr(_Replay, "first_writer", lambda self, t, lo, hi, skip=None, same=None: None)
        blind = [c.reason or "" for c in dockerfix.fix(text, unsafe=True).changes if c.code == "DFX301"]
    assert blind != told


def test_contents_answers_as_the_walk_for_every_path_and_instruction():
    from dockerfix.model.stages import Model
    from dockerfix.syntax import parse

    texts = _generated(_chown_files(), 150)
    texts += [t for t in sorted({fx.input for fx in all_fixtures()})]
    texts += _generated(_chain_files(), 100)  # chains several deep: one index per chain (round 7)
    paths = ("/", "/app", "/app/a", "/app/a/b", "/app-x", "/usr", "/usr/local/bin", "/usr/local/bin/c.sh",
             "/var/lib/apt/lists", "/opt", "/opt/x/y", "/home/app", "/srv", "/tmp", "/root/.cache")
    asked = differing = 0
    for k, text in enumerate(texts):
        doc = parse(text)
        model = Model(doc)
        state = model.state
        insts = list(doc.iter_instructions())
        if k % 2:
            insts.reverse()  # a child's stage asked before its parent's: the index is filed in another order
        for inst in insts:
            for p in paths:
                asked += 1
                walk_plain = _contents_walk(state, p, inst)
                if state.contents(p, inst) != walk_plain:
                    differing += 1
                # with the directories a RUN fills (cache-mounts' question), indexed per key (round 7)
                walked = _contents_walk(state, p, inst, fills=_fills, include_base=k % 3 == 0)
                if state.contents(p, inst, fills=_fills, fills_key=_fills, include_base=k % 3 == 0) != walked:
                    differing += 1
                # only the first filler wanted (cache-mounts' question): the walk's first and its unknown
                got = state.contents(p, inst, fills=_fills, fills_key=_fills, include_base=k % 3 == 0, first=True)
                if (got.fillers, got.unknown) != (walked.fillers[:1], walked.unknown):
                    differing += 1
                got = state.contents(p, inst, first=True)
                if (got.fillers, got.unknown) != (walk_plain.fillers[:1], walk_plain.unknown):
                    differing += 1
    assert asked > 30000 and differing == 0


def _fills(run) -> list[str]:
    """Directories a RUN fills, by the words of its line (a stand-in for cache-mounts' caches)."""
    out = []
    for word, d in (("apt", "/var/cache/apt"), ("pip", "/root/.cache/pip"), ("chown", "/app"), ("touch", "/usr"),
                    ("mkdir", "/home/app/.cache"), ("cp", "/")):
        if word in run.line:
            out.append(d)
    return out


# ------------------------------------------------------------------ round 7: stage chains
@st.composite
def _chain_files(draw) -> str:
    """Stages built FROM an earlier one (chains several deep, siblings, a stage without a chown between), with the
    COPY + chown lines above: the shapes in which one stage's replay goes on into its child's."""
    out = []
    for s in range(draw(st.integers(2, 6))):
        base = draw(st.sampled_from(("debian:12", "myimage")) if s == 0 else
                    st.sampled_from((f"s{s - 1}", f"s{s - 1}", f"s{max(s - 2, 0)}", "s0", "debian:12")))
        out.append(f"FROM {base} AS s{s}")
        for line in draw(st.lists(st.sampled_from(_CHOWN_LINES), min_size=1, max_size=8)):
            out.append(line.format(d=draw(st.sampled_from(_CHOWN_DIRS))))
    return "\n".join(out) + "\n"


def test_a_childs_replay_going_on_from_its_parents_answers_as_a_replay_of_its_own(monkeypatch):
    """copy-chown replays a chain once (a child goes on from its parent's replay, :meth:`_Replay.extend`): every
    outcome is the one a replay per stage of its whole chain gives (the code before round 7)."""
    from dockerfix.transforms import copy_chown

    texts = _generated(_chain_files(), 300)
    extended = []
    real_extend = copy_chown._Replay.extend

    def counting(self, stage):
        extended.append(stage.index)
        return real_extend(self, stage)

    with monkeypatch.context() as m:
        m.setattr(copy_chown._Replay, "extend", counting)
        new = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    with monkeypatch.context() as m:
        m.setattr(copy_chown, "_replay_of", lambda ctx, stage: copy_chown._Replay(ctx, stage))
        old = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    assert [t for t, a, b in zip(texts, new, old) if a != b] == []
    assert len(extended) > 200  # the files do go on from a parent's replay
    assert sum(1 for o in new if any(c[0] == "DFX301" and c[2] for c in o[2])) > 40


_TREE_RUNS = ("RUN apt-get update", "RUN apt-get install -y curl", "RUN rm -rf /var/lib/apt/lists/*",
              "ONBUILD RUN echo o", "RUN npm ci --offline", "RUN echo {s}", "COPY a /a", "USER app",
              "ONBUILD RUN rm -rf /o{s}")


@st.composite
def _stage_trees(draw) -> str:
    """Stages built FROM any earlier one (chains, siblings, a tree), RUNs and ONBUILD RUNs in them."""
    out = []
    for s in range(draw(st.integers(1, 8))):
        base = "debian:12" if s == 0 else draw(st.sampled_from([f"s{k}" for k in range(s)] + ["debian:12"]))
        out.append(f"FROM {base} AS s{s}")
        out.extend(line.format(s=s) for line in draw(st.lists(st.sampled_from(_TREE_RUNS), max_size=5)))
    return "\n".join(out) + "\n"


def _site_fact(other) -> dict:
    """A small dict per RUN for fold_later: the first command's name, and a key shared by some RUNs."""
    words = other.inst.line.split()
    return {words[1] if len(words) > 1 else "?": other.inst.start_line, "any": other.inst.start_line}


def _site_answer(other):
    return f"line {other.inst.start_line}" if "rm" in other.inst.line or "npm" in other.inst.line else None


def test_the_stage_family_answers_as_the_chain_walks():
    """descendant_stages, later_sites_among and fold_later/first_later over the pass's stage family (round 7: no
    table of every stage's descendants) answer as walks of every stage's chain and of every later RUN."""
    from dockerfix.syntax import parse
    from dockerfix.transforms.base import Context

    texts = _generated(_stage_trees(), 250)
    asked = 0
    for text in texts:
        ctx = Context(parse(text))
        model = ctx.model
        for stage in model.stages:  # the walk: every later stage whose chain holds this one
            walk = [s for s in model.stages if s.index > stage.index and stage in model.stage_chain(s)[1:]]
            assert _hygiene.descendant_stages(ctx, stage) == walk, text
            fam = _hygiene._family(ctx)
            assert [s for s in model.stages if fam.is_descendant(s.index, stage.index)] == walk, text
        sites = list(_hygiene.iter_run_sites(ctx, onbuild=True))
        for site in sites:
            everything = list(later_sites(ctx, site))
            assert _hygiene.later_sites_among(ctx, site, sites) == everything, text
            folded: dict = {}
            for other in everything:
                for k, v in _site_fact(other).items():
                    folded.setdefault(k, v)
            assert _hygiene.fold_later(ctx, site, _site_fact) == folded, text
            first = next((a for a in map(_site_answer, everything) if a is not None), None)
            assert _hygiene.first_later(ctx, site, _site_answer) == first, text
            elsewhere = next((a for a in map(_site_answer, later_sites(ctx, site, own_stage=False)) if a is not None),
                             None)
            assert _hygiene.first_below(ctx, site, "t", _site_answer) == elsewhere, text
            asked += 1
    assert asked > 1000


_CACHE_LINES = ("RUN apt-get update && apt-get install -y curl", "RUN pip install flask", "RUN npm ci --offline",
                "RUN npm ci", "RUN go build ./...", "RUN cargo build --offline", "ONBUILD RUN npm ci --offline",
                "RUN pip install --no-index --find-links /root/.cache/pip flask", "USER app", "COPY . /src")


@st.composite
def _cache_trees(draw) -> str:
    out = ["# syntax=docker/dockerfile:1"]
    for s in range(draw(st.integers(1, 6))):
        base = draw(st.sampled_from(("debian:12", "node:20", "python:3.12"))) if s == 0 else draw(
            st.sampled_from([f"s{k}" for k in range(s)] + ["debian:12"]))
        out.append(f"FROM {base} AS s{s}")
        out.extend(draw(st.lists(st.sampled_from(_CACHE_LINES), min_size=1, max_size=5)))
    return "\n".join(out) + "\n"


def test_cache_mounts_filled_caches_answer_as_the_walk(monkeypatch):
    """cache-mounts asks what filled a cache before a RUN that reads it back with an index per pass (``fills_key``,
    round 7): every outcome is the walk's (no key), the code before."""
    from dockerfix.model.state import BuildState

    texts = _generated(_cache_trees(), 200)
    asked = []
    real = BuildState.contents

    def counting(self, path, inst, **kw):
        asked.append(kw.get("fills_key") is not None)
        return real(self, path, inst, **kw)

    with monkeypatch.context() as m:
        m.setattr(BuildState, "contents", counting)
        new = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]

    def walk(self, path, inst, **kw):
        kw.pop("fills_key", None)
        return real(self, path, inst, **kw)

    with monkeypatch.context() as m:
        m.setattr(BuildState, "contents", walk)
        old = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    assert [t for t, a, b in zip(texts, new, old) if a != b] == []
    assert sum(asked) > 100  # the files do ask it
    told = sum(1 for o in new for c in o[2] + o[3] if c[0] == "DFX202" and "reads it back" in (c[-1] or ""))
    assert told > 10


def test_cache_mounts_reads_back_answers_as_the_walk(monkeypatch):
    """cache-mounts asks for the first RUN built on a stage that reads a cache back through first_below (round 7):
    every outcome is the walk's over later_sites(own_stage=False), the code before."""
    from dockerfix.transforms import cache_mounts

    texts = _generated(_cache_trees(), 200)
    new = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]

    def walk(ctx, site, name, answer):
        for other in later_sites(ctx, site, own_stage=False):
            got = answer(other)
            if got is not None:
                return got
        return None

    with monkeypatch.context() as m:
        m.setattr(cache_mounts, "first_below", walk)
        old = [_outcome(dockerfix.fix(t, unsafe=True)) for t in texts]
    assert [t for t, a, b in zip(texts, new, old) if a != b] == []
    told = sum(1 for o in new for c in o[2] + o[3] if c[0] == "DFX202" and "(a stage built FROM this one)" in (c[-1] or ""))
    assert told > 10  # the files do reach the question, with a reader found


_STATE_LINES = ("SHELL [\"/bin/bash\", \"-c\"]", "USER app", "USER 1000:1000", "WORKDIR /app", "WORKDIR sub",
                "WORKDIR $D", "ARG D=/opt", "ENV A=1 B=$A", "ARG V", "RUN echo $A", "COPY --from=s0 /x /x",
                "COPY --from=$V /y /y", "ONBUILD RUN echo o")


@st.composite
def _state_trees(draw) -> str:
    out = []
    for s in range(draw(st.integers(1, 7))):
        base = draw(st.sampled_from(("debian:12", "myimage"))) if s == 0 else draw(
            st.sampled_from([f"s{k}" for k in range(s)] + ["debian:12", "myimage"]))
        out.append(f"FROM {base} AS s{s}")
        out.extend(draw(st.lists(st.sampled_from(_STATE_LINES), max_size=6)))
    return "\n".join(out) + "\n"


def _walk_last(model, inst, keyword):
    stage = model.stage_of(inst)
    for st_ in model.stage_chain(stage):
        found = [i for i in st_.instructions if i.keyword == keyword and (st_ is not stage or i.start < inst.start)]
        if found:
            return found[-1]
    return False


def _walk_scope(model, inst):
    from dockerfix.model.stages import _arg_pairs, _env_pairs

    stage = model.stage_of(inst)
    env: dict = {}
    for st_ in reversed(model.stage_chain(stage)):
        for i in st_.instructions[1:]:
            if st_ is stage and i.start >= inst.start:
                break
            if i.keyword == "ARG":
                for k, v in _arg_pairs(i):
                    if v is not None:
                        env[k] = model.expand(v, env)
                    elif k in model.meta_values:
                        env[k] = model.meta_values[k]
                    else:
                        env.setdefault(k, None)
            elif i.keyword == "ENV":
                for k, v in _env_pairs(i):
                    env[k] = model.expand(v, env)
    return env


def _walk_workdir(state, inst, symbolic):
    from dockerfix.model.state import is_known_base

    m = state.model
    stage = m.stage_of(inst)
    chain = m.stage_chain(stage)
    base = state.root_base(chain[-1])
    cwd = "/" if base.lower() == "scratch" or is_known_base(base) else (f"/@base{chain[-1].index}" if symbolic else None)
    for st_ in reversed(chain):
        for i in st_.instructions[1:]:
            if st_ is stage and i.start >= inst.start:
                break
            if i.keyword == "WORKDIR":
                cwd = state._after_workdir(i, cwd)
    return cwd


def test_the_state_of_a_stage_chain_answers_as_the_walks():
    """The chain's USER/SHELL (each stage from its parent's answer), WORKDIR, the variables in scope and the first
    later stage built FROM a stage (round 7: no walk of the chain per question) answer as walks of the chain, asked
    in document order and against it."""
    from dockerfix.model.stages import Model
    from dockerfix.syntax import parse

    texts = _generated(_state_trees(), 250)
    asked = 0
    for k, text in enumerate(texts):
        doc = parse(text)
        model = Model(doc)
        state = model.state
        insts = [i for i in doc.iter_instructions() if model.stage_of(i) is not None]
        if k % 2:
            insts.reverse()
        for inst in insts:
            for kw in ("USER", "SHELL", "WORKDIR"):
                assert state._last(inst, kw) == _walk_last(model, inst, kw), text
            assert model.scope_at(inst) == _walk_scope(model, inst), text
            sh, walked = state.shell_at(inst), _walk_last(model, inst, "SHELL")
            assert (sh.source == f"SHELL on line {walked.start_line}" if walked
                    else not sh.source.startswith("SHELL")), text
            for symbolic in (False, True):
                assert state.workdir_at(inst, symbolic=symbolic) == _walk_workdir(state, inst, symbolic), text
            asked += 1
        first_child = {}
        for other in model.stages:
            for anc in model.stage_chain(other)[1:]:
                first_child.setdefault(anc.index, other.index)
        assert state._ship_facts()[0] == first_child, text
    assert asked > 1000


# ------------------------------------------------------------------ round 6: delete-in-later-layer's walk back
_RM_LINES = (
    "RUN rm -rf /opt/app", "RUN rm -f /tmp/a.tgz", "RUN rm -rf /usr/share/doc/x", "RUN rm -rf /var/lib/apt/lists/*",
    "RUN rm -rf /root/.cache/pip", "RUN curl -o /tmp/a.tgz https://e.com/a.tgz && tar xzf /tmp/a.tgz -C /opt/app",
    "RUN mkdir -p /opt/app/sub && touch /opt/app/sub/x", "RUN echo $X > /opt/app/y", "RUN ls /opt/*",
    "RUN pip install flask", "RUN apt-get update && apt-get install -y curl", "COPY a /opt/app/", "COPY b rel/",
    "ADD c.tgz /tmp/", "COPY d /opt", "SHELL [\"/bin/bash\", \"-c\"]", "USER app", "USER root", "WORKDIR /opt",
    "RUN curl -o /tmp/a.tgz https://e.com/a && rm -rf /tmp/a.tgz", "RUN [\"rm\", \"-rf\", \"/opt/app\"]",
    "RUN rm -rf /opt/app/sub && rm -f /tmp/a.tgz", "ENV A=1", "RUN cd /opt && make",
)


@st.composite
def _rm_files(draw) -> str:
    out = [draw(st.sampled_from(("FROM debian:12", "FROM python:3.12", "FROM alpine:3.19")))]
    out.extend(draw(st.lists(st.sampled_from(_RM_LINES), min_size=2, max_size=18)))
    return "\n".join(out) + "\n"


def test_delete_in_later_layer_index_answers_as_the_walk(monkeypatch):
    from dockerfix.transforms import delete_in_later_layer

    texts = _generated(_rm_files(), 250)
    texts += sorted({fx.input for fx in all_fixtures()})

    def outcomes():
        return ([_outcome(dockerfix.fix(t, unsafe=True)) for t in texts] +
                [_outcome(dockerfix.fix(t, unsafe=True, select=["DFX112"])) for t in texts])

    new = outcomes()
    with monkeypatch.context() as m:
        m.setattr(delete_in_later_layer._StageIndex, "backward", lambda self, paths, k: range(k - 1, 0, -1))
        old = outcomes()
    assert [t for t, a, b in zip(texts + texts, new, old) if a != b] == []
    moved = sum(1 for o in new if any(c[0] == "DFX112" and c[2] for c in o[2]))
    refused = sum(1 for o in new if any(c[0] == "DFX112" for c in o[3]))
    assert moved > 25 and refused > 60, (moved, refused)  # the generated files ask the index, and get both answers
