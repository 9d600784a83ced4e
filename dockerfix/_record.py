"""A lean ``dataclass`` for the modules on the start-up path.

The standard :func:`dataclasses.dataclass` compiles five to ten methods per class with ``exec`` at import time
(and imports ``inspect``): for the ~50 record classes the stdin path loads that was about half of
``dockerfix - < Dockerfile``'s start-up. This module keeps the same spelling and the subset of behaviour those
modules use, and compiles only ``__init__``, since construction is hot: once per *shape* of field list (required, default,
factory...), then renamed per class with ``CodeType.replace``, so fifty classes cost a dozen small compiles; ``__repr__``,
``__eq__``, ``__hash__``, ordering and the frozen guards are shared functions over an ``attrgetter``.

Frozen records are guarded at run time (assigning or deleting a field raises :class:`FrozenInstanceError`) only
when the environment sets ``DOCKERFIX_FROZEN_GUARD=1``, as the test suite does (``tests/conftest.py``). The guard is a
class-level ``__setattr__``, and a type with one cannot use the interpreter's fast attribute stores: each field of each
new record was set through a function call, which made a frozen record two to four times as dear to build as a plain
one (10-16% of a fix of the files dense with fixes). Without it a frozen record is built like any other; mypy's strict
check (``tests/test_typecheck.py``) still rejects an assignment to a frozen field, and the guarded test suite catches
one at run time.

Supported: ``dataclass(cls, *, frozen, slots, eq, order, repr)``, ``field(default, default_factory, repr,
compare, init)``, ``__post_init__``, ``ClassVar`` annotations (skipped), :func:`replace`, :func:`fields`, and
pickling/copying of frozen slotted records (``--jobs`` sends results between processes). Not supported, and
rejected loudly: inheritance between records, ``InitVar``, ``kw_only``.
"""

from __future__ import annotations

import os
from operator import attrgetter
from types import CodeType, FunctionType

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar, dataclass_transform, overload

    _T = TypeVar("_T")
else:  # what type checkers read; at run time the markers do nothing
    def dataclass_transform(**_kwargs):
        return lambda f: f

    def overload(f):
        return f

if TYPE_CHECKING:
    from functools import cached_property
else:
    class cached_property:  # noqa: N801 - the stdlib's spelling
        """``functools.cached_property`` without its lock: Python 3.11's takes an ``RLock`` on the first read of every
        instance (a model asks thousands of such reads per run, ~1% of a run over the corpus; 3.12 dropped the lock
        for the same reason). dockerfix reads each instance from one thread. The value goes into the instance's
        ``__dict__`` and shadows this non-data descriptor from then on, as the stdlib's does."""

        def __init__(self, func):
            self.func = func
            self.attrname = func.__name__
            self.__doc__ = func.__doc__

        def __set_name__(self, owner, name):
            self.attrname = name

        def __get__(self, instance, owner=None):
            if instance is None:
                return self
            value = instance.__dict__[self.attrname] = self.func(instance)
            return value

__all__ = ["FrozenInstanceError", "cached_property", "dataclass", "field", "fields", "replace"]


GUARD_FROZEN = os.environ.get("DOCKERFIX_FROZEN_GUARD") == "1"
"""Whether frozen records refuse assignment at run time (see the module docstring); read once, at import."""


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


class Field:
    __slots__ = ("name", "default", "default_factory", "repr", "compare", "init")

    def __init__(self, default=MISSING, default_factory=MISSING, repr=True, compare=True, init=True):  # noqa: A002
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare
        self.init = init

    def __repr__(self) -> str:
        return f"Field(name={self.name!r})"


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING, repr: bool = True,  # noqa: A002
          compare: bool = True, init: bool = True) -> Any:
    return Field(default, default_factory, repr, compare, init)


def fields(obj: Any) -> tuple[Field, ...]:
    cls: Any = obj if isinstance(obj, type) else type(obj)
    try:
        return cls.__record_fields__
    except AttributeError:
        raise TypeError(f"{cls.__name__} is not a record") from None


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of ``obj`` with ``changes`` (like :func:`dataclasses.replace`)."""
    for f in type(obj).__record_fields__:  # type: ignore[attr-defined]
        if f.init and f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return type(obj)(**changes)


def _frozen_setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self, name):
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self):
    return [getattr(self, f.name) for f in self.__record_fields__]


def _setstate(self, state):
    for f, value in zip(self.__record_fields__, state):
        object.__setattr__(self, f.name, value)


def _is_classvar(annotation) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


_TEMPLATES: dict[tuple, CodeType] = {}


def _shape(flist: list[Field]) -> tuple[str, ...]:
    out = []
    for f in flist:
        kind = "req" if f.default is MISSING and f.default_factory is MISSING else (
            "def" if f.default_factory is MISSING else "fac")
        out.append(kind if f.init else "no" + kind)
    return tuple(out)


def _template(shape: tuple[str, ...], frozen: bool, post_init: bool, slots: bool = False) -> CodeType:
    """``__init__`` for fields named ``_r0_``, ``_r1_``... of this shape, compiled once per shape."""
    key = (shape, frozen, post_init, slots)
    code = _TEMPLATES.get(key)
    if code is not None:
        return code
    params: list[str] = []
    body: list[str] = []
    for i, kind in enumerate(shape):
        name = f"_r{i}_"
        if kind == "req":
            params.append(name)
            value = name
        elif kind == "def":
            params.append(f"{name}=None")  # the real default comes from the function's __defaults__
            value = name
        elif kind == "fac":
            params.append(f"{name}=MISSING")
            body.append(f"  if {name} is MISSING: {name} = _f{i}()")
            value = name
        elif kind == "nofac":
            value = f"_f{i}()"
        elif kind == "nodef":
            value = f"_d{i}"
        else:
            continue
        if frozen and slots:
            body.append(f"  _s{i}(self, {value})")
        else:
            body.append(f"  _set(self, {name!r}, {value})" if frozen else f"  self.{name} = {value}")
    if post_init:
        body.append("  self.__post_init__()")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "  pass") + "\n"
    module = compile(src, "<record>", "exec")
    code = next(c for c in module.co_consts if isinstance(c, CodeType))
    _TEMPLATES[key] = code
    return code


def _make_init(qualname: str, flist: list[Field], frozen: bool, post_init: bool, slots: bool = False) -> FunctionType:
    shape = _shape(flist)
    code = _template(shape, frozen, post_init, slots)
    rename = {f"_r{i}_": f.name for i, f in enumerate(flist)}
    code = code.replace(
        co_varnames=tuple(rename.get(v, v) for v in code.co_varnames),
        co_names=tuple(rename.get(v, v) for v in code.co_names),
        co_consts=tuple(rename.get(c, c) if isinstance(c, str) else c for c in code.co_consts),
        co_name="__init__",
        co_qualname=f"{qualname}.__init__",
        co_filename=f"<record {qualname}>",
    )
    glob: dict = {"MISSING": MISSING, "_set": object.__setattr__, "__builtins__": __builtins__}
    defaults = []
    for i, (f, kind) in enumerate(zip(flist, shape)):
        if kind in ("fac", "nofac"):
            glob[f"_f{i}"] = f.default_factory
        if kind == "nodef":
            glob[f"_d{i}"] = f.default
        if kind == "def":
            defaults.append(f.default)
        elif kind == "fac":
            defaults.append(MISSING)
    init = FunctionType(code, glob, "__init__", tuple(defaults) or None)
    init.__qualname__ = f"{qualname}.__init__"
    return init


def _process(cls, frozen: bool, slots: bool, eq: bool, order: bool, want_repr: bool):
    for base in cls.__mro__[1:]:
        if "__record_fields__" in base.__dict__ or "__dataclass_fields__" in base.__dict__:
            raise TypeError(f"{cls.__name__}: records do not support inheritance")
    annotations = cls.__dict__.get("__annotations__", {})
    flist: list[Field] = []
    for name, ann in annotations.items():
        if _is_classvar(ann):
            continue
        if isinstance(ann, str) and ann.startswith(("InitVar", "KW_ONLY")):
            raise TypeError(f"{cls.__name__}.{name}: InitVar/KW_ONLY are not supported")
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name = name
        flist.append(f)
    seen_default = False
    for f in flist:
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if f.init and not has_default and seen_default:
            raise TypeError(f"{cls.__name__}: non-default field {f.name!r} follows a default field")
        seen_default = seen_default or (f.init and has_default)
    names = tuple(f.name for f in flist)

    ns = dict(cls.__dict__)
    for name in names:
        ns.pop(name, None)
    ns.pop("__dict__", None)
    ns.pop("__weakref__", None)
    if slots:
        if "__slots__" in ns:
            raise TypeError(f"{cls.__name__} already specifies __slots__")
        ns["__slots__"] = names

    # __init__: the one compiled method, from a template shared by every class of the same shape
    if "__init__" not in cls.__dict__:
        ns["__init__"] = _make_init(cls.__qualname__, flist, frozen and GUARD_FROZEN, "__post_init__" in ns, slots)
    ns["__record_fields__"] = tuple(flist)
    ns["__match_args__"] = tuple(f.name for f in flist if f.init)

    rnames = tuple(f.name for f in flist if f.repr)
    if want_repr and "__repr__" not in cls.__dict__:
        def __repr__(self, _names=rnames):
            inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in _names)
            return f"{type(self).__qualname__}({inner})"

        ns["__repr__"] = __repr__

    cnames = tuple(f.name for f in flist if f.compare)
    key = attrgetter(*cnames) if len(cnames) > 1 else (
        (lambda o, _g=attrgetter(cnames[0]): (_g(o),)) if cnames else (lambda o: ()))
    if eq:
        def __eq__(self, other, _key=key):
            if other.__class__ is self.__class__:
                return _key(self) == _key(other)
            return NotImplemented

        ns["__eq__"] = __eq__
        if frozen:
            def __hash__(self, _key=key):
                return hash(_key(self))

            ns["__hash__"] = __hash__
        else:
            ns["__hash__"] = None
    if order:
        import operator

        for op in ("lt", "le", "gt", "ge"):
            cmp = getattr(operator, op)

            def method(self, other, _key=key, _cmp=cmp):
                if other.__class__ is self.__class__:
                    return _cmp(_key(self), _key(other))
                return NotImplemented

            method.__name__ = f"__{op}__"
            ns[f"__{op}__"] = method
    if frozen:
        if GUARD_FROZEN:
            ns["__setattr__"] = _frozen_setattr
            ns["__delattr__"] = _frozen_delattr
        if slots:
            ns["__getstate__"] = _getstate
            ns["__setstate__"] = _setstate

    if not slots:  # keep the class object; a default stays readable as a class attribute, as with dataclasses
        for name in names:
            value = cls.__dict__.get(name, MISSING)
            if isinstance(value, Field):
                if value.default is MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value.default)
        for name, value in ns.items():
            if name not in names and cls.__dict__.get(name, MISSING) is not value and name != "__slots__":
                setattr(cls, name, value)
        return cls
    new = type(cls)(cls.__name__, cls.__bases__, ns)
    new.__qualname__ = cls.__qualname__
    init = ns.get("__init__")
    if frozen and GUARD_FROZEN and "__init__" not in cls.__dict__ and isinstance(init, FunctionType):
        # each field is set through its slot's descriptor, cheaper than object.__setattr__ by name
        for i, f in enumerate(flist):
            slot = next(k.__dict__[f.name] for k in new.__mro__ if f.name in k.__dict__)
            init.__globals__[f"_s{i}"] = slot.__set__
    # methods that use zero-argument super() or __class__ keep pointing at the class they were defined in
    for value in ns.values():
        func = getattr(value, "__func__", value)
        closure = getattr(func, "__closure__", None)
        code = getattr(func, "__code__", None)
        if closure and code is not None and "__class__" in code.co_freevars:
            cell = closure[code.co_freevars.index("__class__")]
            if cell.cell_contents is cls:
                cell.cell_contents = new
    return new


# the two spellings, for type checkers: ``@dataclass`` and ``@dataclass(frozen=True, ...)``
@overload
def dataclass(cls: type[_T], /) -> type[_T]: ...


@overload
def dataclass(cls: None = None, /, *, frozen: bool = False, slots: bool = False, eq: bool = True,  # noqa: A002, F811
              order: bool = False, repr: bool = True) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(eq_default=True, order_default=False, field_specifiers=(field, Field))
def dataclass(cls=None, /, *, frozen: bool = False, slots: bool = False, eq: bool = True, order: bool = False,  # noqa: F811
              repr: bool = True):  # noqa: A002
    """Drop-in for the subset of :func:`dataclasses.dataclass` described in the module docstring.

    Type checkers see it as a dataclass (``typing.dataclass_transform``): they check the generated constructors and
    fields like those of :func:`dataclasses.dataclass`. At run time the marker is a no-op and typing is not imported.
    """

    def wrap(c):
        return _process(c, frozen, slots, eq, order, repr)

    return wrap if cls is None else wrap(cls)
