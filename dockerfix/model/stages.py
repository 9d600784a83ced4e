"""Build stages, ARG/ENV scopes and image references of a parsed document.

BuildKit's scoping: ARGs before the first FROM are *meta args*, visible to FROM lines only; a stage sees a meta arg
only after re-declaring it (``ARG NAME`` without a value takes the meta value). ENV and ARG inside a stage are
visible to later instructions of that stage and of stages built ``FROM`` it.
"""

from __future__ import annotations

from dockerfix._record import dataclass, field
from bisect import bisect_right
from functools import cached_property

from dockerfix.syntax.nodes import Document, Instruction

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

    @property
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
    out = []
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


class Model:
    """Derived views of a document: stages, scopes, image references. Cheap to build; computed lazily."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self._parents: dict[int, Stage | None] = {}
        self._scopes: dict[int, dict[str, str | None]] = {}
        self._expanded: dict[tuple[str, tuple], str | None] = {}

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

    def scope_at(self, inst: Instruction) -> dict[str, str | None]:
        """Variables visible to ``inst`` (static values, or None when unknown): ARG and ENV of its stage chain."""
        got = self._scopes.get(inst.start)
        if got is None:
            got = self._scopes[inst.start] = self._scope_at(inst)
        return dict(got)

    def _scope_at(self, inst: Instruction) -> dict[str, str | None]:
        stage = self.stage_of(inst)
        if stage is None:
            return dict(self.meta_values)
        chain = []
        s: Stage | None = stage
        seen = set()
        while s is not None and s.index not in seen:
            seen.add(s.index)
            chain.append(s)
            s = self.parent_stage(s)
        env: dict[str, str | None] = {}
        for st in reversed(chain):
            for i in st.instructions[1:]:
                if st is stage and i.start >= inst.start:
                    break
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
        return env

    def expand(self, word: str, env: dict[str, str | None]) -> str | None:
        """Expand ``word`` the way BuildKit does; None when it reads a variable whose value is unknown."""
        if "$" not in word and "\\" not in word and "'" not in word and '"' not in word:
            return word
        key = (word, tuple(sorted(env.items(), key=lambda kv: kv[0])))
        if key in self._expanded:
            return self._expanded[key]
        out = self._expanded[key] = self._expand(word, env)
        return out

    def _expand(self, word: str, env: dict[str, str | None]) -> str | None:
        from dockerfix.model import expand as ex

        try:
            names = ex.referenced_variables(word, escape=self.document.escape)
        except Exception:
            return None
        if any(n in env and env[n] is None for n in names):
            return None
        known = {k: v for k, v in env.items() if v is not None}
        try:
            return ex.expand_word(word, known, escape=self.document.escape)
        except Exception:
            return None

    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None
