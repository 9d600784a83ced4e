"""Build stages, ARG/ENV scopes and image references of a parsed document.

BuildKit's scoping: ARGs before the first FROM are *meta args*, visible to FROM lines only; a stage sees a meta arg
only after re-declaring it (``ARG NAME`` without a value takes the meta value). ENV and ARG inside a stage are
visible to later instructions of that stage and of stages built ``FROM`` it.
"""

from __future__ import annotations

from dockerfix._record import cached_property, dataclass, field
from bisect import bisect_left, bisect_right
from functools import lru_cache

from dockerfix.syntax.nodes import Document, Instruction

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Callable

    from dockerfix.model.state import BuildState

# Instructions whose variables BuildKit expands (dispatchers with `ProcessWordsWithMatches`/`expand`).
EXPANDS = frozenset(
    ("ADD", "COPY", "ENV", "ARG", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR", "ONBUILD")
)


@dataclass
class Stage:
    index: int
    from_inst: Instruction
    instructions: list[Instruction] = field(default_factory=list)
    """All instructions of the stage, FROM first."""

    @cached_property
    def name(self) -> str | None:
        a = self.from_inst.args
        if len(a) >= 3 and a[1].lower() == "as":
            return a[2].lower()
        return None

    @property
    def base(self) -> str:
        return self.from_inst.args[0] if self.from_inst.args else ""

    @property
    def platform(self) -> str | None:
        f = self.from_inst.flag("platform")
        return f.value if f else None

    @property
    def start(self) -> int:
        return self.from_inst.start

    @property
    def end(self) -> int:
        return self.instructions[-1].end

    def __repr__(self) -> str:
        return f"<Stage {self.index} {self.name or ''} FROM {self.base}>"


def _arg_pairs(inst: Instruction) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for w in inst.args:
        if "=" in w:
            k, v = w.split("=", 1)
            out.append((k, _unquote(v)))
        else:
            out.append((w, None))
    return out


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


def _env_pairs(inst: Instruction) -> list[tuple[str, str]]:
    a = inst.args
    return [(a[i], _unquote(a[i + 1])) for i in range(0, len(a) - 1, 2)]


# Expansion is a pure function of strings, so its caches are module-level (``lru_cache``), keyed by strings only
# (nothing that could keep a document alive) and bounded.
_CACHE_SIZE = 4096


@lru_cache(maxsize=_CACHE_SIZE)
def _referenced(word: str, escape: str) -> tuple[str, ...] | None:
    """The sorted names ``word`` reads; None when it does not parse. Pure: a function of the two strings."""
    from dockerfix.model import expand as ex

    try:
        return tuple(sorted(ex.referenced_variables(word, escape=escape)))
    except Exception:
        return None


@lru_cache(maxsize=_CACHE_SIZE)
def _expand(word: str, escape: str, vals: tuple[tuple[str, str], ...]) -> str | None:
    """The expansion of ``word`` with the variables it reads set to ``vals`` ((name, value) for each that is set);
    None when it fails. Pure: a function of the strings."""
    from dockerfix.model import expand as ex

    try:
        return ex.expand_word(word, dict(vals), escape=escape)
    except Exception:
        return None


class Model:
    """Derived views of a document: stages, scopes, image references. Cheap to build; computed lazily."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self._parents: dict[int, Stage | None] = {}
        self._chains: dict[int, tuple[Stage, ...]] = {}
        self._stage_scopes: dict[int, tuple[list[int], list[dict[str, str | None]]]] = {}

    @cached_property
    def meta_args(self) -> list[Instruction]:
        out = []
        for inst in self.document.iter_instructions():
            if inst.keyword == "FROM":
                break
            if inst.keyword == "ARG":
                out.append(inst)
        return out

    @cached_property
    def meta_values(self) -> dict[str, str | None]:
        vals: dict[str, str | None] = {}
        for inst in self.meta_args:
            for k, v in _arg_pairs(inst):
                vals[k] = self.expand(v, vals) if v is not None else vals.get(k)
        return vals

    @cached_property
    def stages(self) -> list[Stage]:
        stages: list[Stage] = []
        for inst in self.document.iter_instructions():
            if inst.keyword == "FROM":
                stages.append(Stage(len(stages), inst, [inst]))
            elif stages:
                stages[-1].instructions.append(inst)
        return stages

    @cached_property
    def stage_names(self) -> dict[str, Stage]:
        return {s.name: s for s in self.stages if s.name}

    @cached_property
    def _stage_starts(self) -> list[int]:
        return [s.from_inst.start for s in self.stages]

    def stage_of(self, inst: Instruction) -> Stage | None:
        i = bisect_right(self._stage_starts, inst.start) - 1  # stages are in order and do not overlap
        if i >= 0:
            s = self.stages[i]
            if inst.start < s.end:
                return s
        return None

    def is_stage_ref(self, name: str, before: Stage | None = None) -> bool:
        """Does ``name`` (a FROM base or ``--from`` value) name an earlier stage (or an index)?"""
        n = name.lower()
        limit = before.index if before else len(self.stages)
        if n.isdigit():
            return int(n) < limit
        s = self.stage_names.get(n)
        return s is not None and s.index < limit

    def parent_stage(self, stage: Stage) -> Stage | None:
        if stage.index not in self._parents:
            self._parents[stage.index] = self._parent_stage(stage)
        return self._parents[stage.index]

    def _parent_stage(self, stage: Stage) -> Stage | None:
        base = self.expand(stage.base, self.meta_values)
        if base is None:
            return None
        s = self.stage_names.get(base.lower())
        return s if s is not None and s.index < stage.index else None

    def stage_chain(self, stage: Stage) -> tuple[Stage, ...]:
        """``stage``, its parent, the parent's parent... (each stage once: a parent comes earlier in the file).
        Computed once per stage, each from its parent's chain (the hygiene transforms ask for it for every RUN; a
        walk up the chain for every stage was quadratic in files whose stages each build FROM the one before)."""
        got = self._chains.get(stage.index)
        if got is not None:
            return got
        up = [stage]  # the stages without a chain yet, up to one with a chain or the root (no recursion: deep)
        p = self.parent_stage(stage)
        while p is not None and p.index not in self._chains:
            up.append(p)
            p = self.parent_stage(p)
        tail: tuple[Stage, ...] = self._chains[p.index] if p is not None else ()
        for s in reversed(up):
            tail = self._chains[s.index] = (s,) + tail
        return tail

    def unanswered(self, stage: Stage, answered: Callable[[Stage], bool]) -> tuple[Stage | None, list[Stage]]:
        """For a fact each stage takes from the stage it is built FROM: (the nearest stage of the chain above
        ``stage`` for which ``answered`` holds, or None; the stages below it down to ``stage``, the one built on it
        first). Answer those in that order, each from the one before (the first from the answered stage, or as the
        root when there is none): each stage of a chain is then answered once, without recursion, where a walk of
        the chain for every question was quadratic in files whose stages each build FROM the one before."""
        chain = self.stage_chain(stage)
        j = 1
        while j < len(chain) and not answered(chain[j]):
            j += 1
        return (chain[j] if j < len(chain) else None), list(reversed(chain[:j]))

    def scope_at(self, inst: Instruction) -> dict[str, str | None]:
        """Variables visible to ``inst`` (static values, or None when unknown): ARG and ENV of its stage chain."""
        stage = self.stage_of(inst)
        if stage is None:
            return dict(self.meta_values)
        starts, scopes = self._scopes_of(stage)
        return dict(scopes[bisect_left(starts, inst.start)])

    def _scopes_of(self, stage: Stage) -> tuple[list[int], list[dict[str, str | None]]]:
        """(starts of the stage's ARG/ENV instructions, the scope before the first of them and after each one).

        The scope only changes at ARG and ENV, and a stage starts from the scope its parent ends with, so one walk
        per stage replaces a walk of the whole chain for every instruction (quadratic in long files)."""
        got = self._stage_scopes.get(stage.index)
        if got is not None:
            return got
        above, todo = self.unanswered(stage, lambda s: s.index in self._stage_scopes)
        env: dict[str, str | None] = dict(self._stage_scopes[above.index][1][-1]) if above is not None else {}
        for st in todo:  # each stage continues from its parent's final scope
            starts: list[int] = []
            scopes = [dict(env)]
            for i in st.instructions[1:]:
                if i.keyword == "ARG":
                    for k, v in _arg_pairs(i):
                        if v is not None:
                            env[k] = self.expand(v, env)
                        elif k in self.meta_values:
                            env[k] = self.meta_values[k]
                        else:
                            env.setdefault(k, None)
                elif i.keyword == "ENV":
                    for k, v in _env_pairs(i):
                        env[k] = self.expand(v, env)
                else:
                    continue
                starts.append(i.start)
                scopes.append(dict(env))
            self._stage_scopes[st.index] = (starts, scopes)
        return self._stage_scopes[stage.index]

    def expand_at(self, word: str, inst: Instruction) -> str | None:
        """``expand(word, scope_at(inst))``, without building the scope when ``word`` reads no variable and quotes
        nothing (most ``--from`` values, destinations and paths: a copy of the scope per question otherwise)."""
        if "$" not in word and "\\" not in word and "'" not in word and '"' not in word:
            return word
        return self.expand(word, self.scope_at(inst))

    def expand(self, word: str, env: dict[str, str | None]) -> str | None:
        """Expand ``word`` the way BuildKit does; None when it reads a variable whose value is unknown."""
        if "$" not in word and "\\" not in word and "'" not in word and '"' not in word:
            return word
        escape = self.document.escape
        names = _referenced(word, escape)
        if names is None:
            return None
        # The result depends on the word and on the variables it reads only (``referenced_variables`` lists every
        # name a walk can look up, whatever the values): that is the key, so it is shared by every instruction,
        # stage, pass and file that gives those variables the same values.
        vals: Any = tuple([(n, env[n]) for n in names if n in env])
        for _, v in vals:
            if v is None:
                return None
        return _expand(word, escape, vals)

    @cached_property
    def state(self) -> BuildState:
        """Per-instruction build state: OS and shell, WORKDIR, USER, HOME, what a path may hold
        (:class:`dockerfix.model.state.BuildState`)."""
        from dockerfix.model.state import BuildState

        return BuildState(self)

    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None
