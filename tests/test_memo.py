"""The per-pass memo (``Context.memo``) and the release of a pass (``Context.close``)."""

from __future__ import annotations

import pytest

from dockerfix.syntax.parser import parse
from dockerfix.transforms._run import run_shell
from dockerfix.transforms.base import Context, Memo


def test_get_or_computes_once_per_kind_and_key() -> None:
    memo = Memo()
    calls: list[tuple[str, int]] = []

    def square(n: int) -> int:
        calls.append(("square", n))
        return n * n

    def cube(n: int) -> int:
        calls.append(("cube", n))
        return n ** 3

    assert memo.get_or(square, 3, square, 3) == 9
    assert memo.get_or(square, 3, square, 3) == 9
    assert memo.get_or(cube, 3, cube, 3) == 27  # another kind, the same key: its own table
    assert memo.get_or(square, 4, square, 4) == 16
    assert calls == [("square", 3), ("cube", 3), ("square", 4)]
    assert len(memo) == 3


def test_none_is_a_value() -> None:
    memo = Memo()
    calls = []
    for _ in range(3):
        assert memo.get_or(test_none_is_a_value, "k", lambda: calls.append(1)) is None
    assert calls == [1]


def test_a_kind_is_an_object_not_a_string() -> None:
    with pytest.raises(TypeError, match="kind"):
        Memo().get_or("hygiene.run_sites", None, list)


def test_compute_may_ask_the_memo_again() -> None:
    memo = Memo()

    def fib(n: int) -> int:
        return n if n < 2 else memo.get_or(fib, n - 1, fib, n - 1) + memo.get_or(fib, n - 2, fib, n - 2)

    assert memo.get_or(fib, 60, fib, 60) == 1548008755920


def test_close_releases_the_pass_and_the_context_stays_usable() -> None:
    doc = parse("FROM debian\nRUN apt-get update && apt-get install -y curl\n")
    ctx = Context(doc)
    inst = list(doc.iter_instructions())[1]
    model = ctx.model
    run = run_shell(ctx, inst)
    assert run_shell(ctx, inst) is run  # one RunShell per instruction and pass
    assert len(ctx.memo) == 1
    ctx.close()
    assert len(ctx.memo) == 0
    assert ctx.model is not model  # rebuilt on demand
    assert run_shell(ctx, inst) is not run


def test_the_file_style_is_learned_once_per_pass_and_released_with_it() -> None:
    """The continuation style is the pass's (``ctx.memo``), not an lru_cache keyed by the document that kept up to
    64 documents alive after their pass."""
    from dockerfix.transforms._run import file_style, instruction_style

    doc = parse("FROM debian\nRUN apt-get update \\\n\t&& apt-get install -y curl\nRUN true\n")
    ctx = Context(doc)
    style = file_style(ctx)
    assert style.indent == "\t" and style.leading_ops
    assert file_style(ctx) is style and len(ctx.memo) == 1
    one_line = list(doc.iter_instructions())[2]
    assert instruction_style(ctx, one_line).indent == "\t"  # the file's, for a RUN with no continuation of its own
    ctx.close()
    assert len(ctx.memo) == 0  # the pass held it, nothing else
    assert file_style(ctx) == style and file_style(ctx) is not style  # learned again in the next pass
