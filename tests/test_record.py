"""dockerfix._record behaves like dataclasses for the subset the start-up modules use."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockerfix import _record
from dockerfix._record import FrozenInstanceError, dataclass, field, fields, replace


@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 0
    tags: tuple = field(default=(), repr=False)
    kind: ClassVar[str] = "point"

    def norm(self) -> int:
        return abs(self.x) + abs(self.y)


@dataclasses.dataclass(frozen=True, slots=True)
class StdPoint:
    x: int
    y: int = 0
    tags: tuple = dataclasses.field(default=(), repr=False)


@dataclass(frozen=True, slots=True, order=True)
class Ordered:
    a: int
    b: str


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class StdOrdered:
    a: int
    b: str


@dataclass
class Mutable:
    items: list = field(default_factory=list)
    count: int = 3
    hidden: int = field(default=7, init=False)


@dataclass(frozen=True, slots=True, eq=False)
class Identity:
    value: int


@dataclass(frozen=True)
class Post:
    a: int
    b: int = 0

    def __post_init__(self) -> None:
        if not self.b:
            object.__setattr__(self, "b", self.a * 2)


@dataclass(frozen=True, slots=True)
class Calls:
    n: int

    def parent(self) -> str:
        return super().__repr__().split(" object at ")[0].rsplit(".", 1)[-1]


def test_construction_defaults_and_classvars():
    p = Point(1)
    assert (p.x, p.y, p.tags, Point.kind) == (1, 0, (), "point")
    assert Point(1, 2, ("a",)).tags == ("a",)
    assert Point(x=3, y=4).norm() == 7
    assert [f.name for f in fields(Point)] == ["x", "y", "tags"]
    assert Point.__slots__ == ("x", "y", "tags")
    assert not hasattr(p, "__dict__")
    with pytest.raises(TypeError):
        Point()  # x is required
    with pytest.raises(TypeError):
        Point(1, 2, (), 4)


def test_repr_eq_hash_match_dataclasses():
    assert repr(Point(1, 2, ("t",))) == "Point(x=1, y=2)"
    assert repr(StdPoint(1, 2, ("t",))) == "StdPoint(x=1, y=2)"
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(2, 1)
    assert Point(1, 2) != StdPoint(1, 2)
    assert hash(Point(1, (2,))) == hash(Point(1, (2,)))
    assert len({Point(1), Point(1), Point(2)}) == 2
    a, b = Identity(1), Identity(1)
    assert a != b and a == a and len({a, b}) == 2  # eq=False: identity, like dataclasses


@given(st.integers(), st.text(max_size=3), st.integers(), st.text(max_size=3))
def test_order_matches_dataclasses(a1, b1, a2, b2):
    mine = (Ordered(a1, b1), Ordered(a2, b2))
    std = (StdOrdered(a1, b1), StdOrdered(a2, b2))
    for op in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__"):
        assert getattr(mine[0], op)(mine[1]) == getattr(std[0], op)(std[1]), op
    assert sorted([Ordered(2, "a"), Ordered(1, "b")]) == [Ordered(1, "b"), Ordered(2, "a")]


def test_frozen_guards():
    p = Point(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2
    with pytest.raises(FrozenInstanceError):
        del p.y
    with pytest.raises(AttributeError):
        p.other = 1
    assert isinstance(FrozenInstanceError("x"), AttributeError)


def test_mutable_record_and_factories():
    m1, m2 = Mutable(), Mutable()
    m1.items.append(1)
    assert m2.items == [] and m1.hidden == 7 and Mutable.count == 3
    m1.count = 5
    assert m1 == Mutable([1], 5) and Mutable.__hash__ is None
    with pytest.raises(TypeError):
        Mutable([], 1, 2)  # hidden is init=False


def test_post_init_and_replace():
    assert Post(3).b == 6
    assert Post(3, 1).b == 1
    p = Point(1, 2, ("a",))
    q = replace(p, y=5)
    assert (q.x, q.y, q.tags) == (1, 5, ("a",)) and p.y == 2
    assert replace(Mutable([1], 2), count=9) == Mutable([1], 9)


def test_pickle_and_copy_frozen_slotted():
    p = Point(1, 2, ("a",))
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(p, proto)) == p
    assert copy.copy(p) == p and copy.deepcopy(p) == p
    assert pickle.loads(pickle.dumps(Mutable([1], 2))) == Mutable([1], 2)


def test_zero_argument_super_still_works():
    assert Calls(1).parent() == "Calls"


def test_rejects_what_it_does_not_support():
    with pytest.raises(TypeError, match="follows a default"):
        @dataclass
        class Bad:
            a: int = 1
            b: int

    @dataclass
    class Base:
        a: int

    with pytest.raises(TypeError, match="inheritance"):
        @dataclass
        class Child(Base):
            b: int

    with pytest.raises(ValueError):
        field(default=1, default_factory=list)
    with pytest.raises(TypeError):
        fields(object())


def test_the_stdin_path_stays_off_heavy_modules():
    """What ``dockerfix -`` must not import: each of these cost milliseconds of every format-on-save."""
    import subprocess
    import sys

    heavy = ["dataclasses", "inspect", "typing", "json", "importlib.resources", "tree_sitter_bash", "typer", "rich",
             "jinja2", "dockerfix.registry", "pygls"]
    code = ("import io, sys; from dockerfix.__main__ import main\n"
            "sys.stdin = io.TextIOWrapper(io.BytesIO(b'FROM debian\\nRUN apt-get update && apt-get install -y curl\\n"
            "CMD [\\\"curl\\\", \\\"-h\\\"]\\n'))\n"
            "sys.stdout = io.TextIOWrapper(io.BytesIO())\n"
            "try:\n    main(['-'])\nexcept SystemExit:\n    pass\n"
            f"sys.__stdout__.write(repr([m for m in {heavy!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout == "[]", (out.stdout, out.stderr[-2000:])
    assert _record.MISSING is not None


def test_same_shape_classes_share_a_template_but_not_names_or_defaults():
    @dataclass(frozen=True, slots=True)
    class A:
        left: int
        right: str = "r"
        bag: list = field(default_factory=list)

    @dataclass(frozen=True, slots=True)
    class B:
        top: int
        bottom: str = "b"
        pile: list = field(default_factory=lambda: [1])

    assert A.__init__.__code__.co_code == B.__init__.__code__.co_code
    assert (A(1).right, A(1).bag, B(1).bottom, B(1).pile) == ("r", [], "b", [1])
    assert B(top=2, pile=[]).pile == [] and A(1).bag is not A(1).bag
    with pytest.raises(TypeError, match="'top'"):
        B()
    with pytest.raises(TypeError, match="unexpected keyword argument 'left'"):
        B(left=1)
    assert A.__init__.__qualname__.endswith("A.__init__")


def test_the_suite_runs_with_the_frozen_guard() -> None:
    """The guard is on in the test suite (tests/conftest.py), so an assignment to a frozen field fails a test."""
    import dockerfix._record as record

    assert record.GUARD_FROZEN
    assert Point.__setattr__ is record._frozen_setattr


def test_unguarded_frozen_records_build_compare_hash_and_pickle_alike() -> None:
    """Outside the suite (no DOCKERFIX_FROZEN_GUARD) frozen records are built with plain stores: the same values,
    equality, hashing, ordering, pickling and replace; only a run-time assignment is no longer refused."""
    import os
    import subprocess
    import sys

    code = """
import pickle, copy
from dockerfix._record import GUARD_FROZEN, dataclass, field, replace
assert not GUARD_FROZEN

@dataclass(frozen=True, slots=True, order=True)
class P:
    x: int
    y: str = "a"
    z: tuple = field(default=(), compare=False)

@dataclass(frozen=True)
class Q:
    a: int
    b: tuple = field(default_factory=tuple)

p, q = P(1), P(1, "b")
assert (p.x, p.y, p.z) == (1, "a", ()) and p < q and p == P(1, "a", (9,)) and hash(p) == hash(P(1))
assert pickle.loads(pickle.dumps(q)) == q and copy.copy(q) == q and replace(p, y="b") == q
try:
    p.other = 1
except AttributeError:
    pass
else:
    raise SystemExit("a slotted record took an attribute it has no slot for")
r = Q(2)
assert r.b == () and r == Q(2) and hash(Q(3)) == hash(Q(3)) is not None and pickle.loads(pickle.dumps(r)) == r
from dockerfix.syntax import parse
import dockerfix
res = dockerfix.fix("FROM debian:12\\nRUN apt-get update\\nRUN apt-get install -y curl\\n", unsafe=True)
assert res.changes and parse(res.text).instructions[1].keyword == "RUN"
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if k != "DOCKERFIX_FROZEN_GUARD"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
