"""DFX301 copy-chown: `_noop` / `_fixes` pairs (newline-exact), plus the command and mode readers."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.transforms.copy_chown import _apply_symbolic, _parse_change


def _fix(text, unsafe=False, **settings):
    return dockerfix.fix(text, select=["DFX301"], unsafe=unsafe, settings=settings)


@pytest.mark.parametrize("src", [
    # a directory that existed before (base image content): not what the COPY brought
    "FROM debian\nCOPY a /etc/app/a.conf\nRUN chown -R 1000:1000 /etc\n",
    # chown without -R of a copied directory tree
    "FROM debian\nCOPY app/ /opt/app/\nRUN chown 1000:1000 /opt/app\n",
    # --reference and symlink-following options are not expressible
    "FROM debian\nCOPY app /opt/app\nRUN chown -R --reference=/etc /opt/app\n",
    "FROM debian\nCOPY app /opt/app\nRUN chown -RL 1000 /opt/app\n",
    # `user:` takes the login group, which COPY --chown does not look up
    "FROM debian\nCOPY app /opt/app\nRUN chown -R app: /opt/app\n",
    # inside a pipeline / subshell
    "FROM debian\nCOPY app /opt/app\nRUN (chown -R 1 /opt/app)\n",
    # exec form and Windows stages are left alone
    'FROM debian\nCOPY app /opt/app\nRUN ["chown", "-R", "1", "/opt/app"]\n',
    # a COPY in a parent stage does not count: its files are already in the base layers
    "FROM debian AS base\nCOPY app /opt/app\nFROM base\nRUN chown -R 1 /opt/app\n",
])
def test_noop(src):
    r = _fix(src, unsafe=True)
    assert r.text == src
    assert not r.errors


@pytest.mark.parametrize("src,out", [
    ("FROM debian\nCOPY app /opt/app\nRUN chown -R 10:20 /opt/app\n",
     "FROM debian\nCOPY --chown=10:20 app /opt/app\n"),
    ("FROM debian\nCOPY app /opt/app\nRUN chown -R :20 /opt/app && echo ok\n",
     "FROM debian\nCOPY --chown=0:20 app /opt/app\nRUN echo ok\n"),
    # an existing --chown keeps the half the RUN does not change
    ("FROM debian\nCOPY --chown=10:20 app /opt/app\nRUN chgrp -R 30 /opt/app\n",
     "FROM debian\nCOPY --chown=10:30 app /opt/app\n"),
    # several chowns of one RUN settle over passes, one && each
    ("FROM debian\nCOPY a /opt/a\nCOPY b /opt/b\nRUN chown -R 1:1 /opt/a && chown -R 2:2 /opt/b && true\n",
     "FROM debian\nCOPY --chown=1:1 a /opt/a\nCOPY --chown=2:2 b /opt/b\nRUN true\n"),
    # ENV-resolved target in the RUN
    ("FROM debian\nENV APP=/opt/app\nCOPY app $APP\nRUN chown -R 1:1 \"$APP\"\n",
     "FROM debian\nENV APP=/opt/app\nCOPY --chown=1:1 app $APP\n"),
])
def test_fixes(src, out):
    r = _fix(src, unsafe=True)
    assert r.text == out
    assert _fix(out, unsafe=True).text == out


def test_parent_created_by_copy_is_unsafe():
    src = "FROM debian\nCOPY app /data/deep/app\nRUN chown -R 1:1 /data/deep/app\n"
    assert _fix(src).text == src
    r = _fix(src, unsafe=True)
    assert r.text == "FROM debian\nCOPY --chown=1:1 app /data/deep/app\n"
    assert not r.changes[0].safe and "/data/deep" in r.changes[0].message


def test_parent_made_by_workdir_is_known():
    src = "FROM debian\nWORKDIR /data/deep\nCOPY app /data/deep/app\nRUN chown -R 1:1 /data/deep/app\n"
    assert _fix(src).text == "FROM debian\nWORKDIR /data/deep\nCOPY --chown=1:1 app /data/deep/app\n"


def test_user_created_between_copy_and_chown_blocks_names_not_ids():
    named = "FROM debian\nCOPY app /opt/app\nRUN useradd app\nRUN chown -R app:app /opt/app\n"
    assert _fix(named, unsafe=True).text == named
    numeric = "FROM debian\nCOPY app /opt/app\nRUN useradd -u 1000 app\nRUN chown -R 1000:1000 /opt/app\n"
    assert "--chown=1000:1000" in _fix(numeric).text


def _cmd(text):
    from dockerfix.model.shell import parse_shell

    return parse_shell(text).sites[0].command


@pytest.mark.parametrize("text,kind,user,group,mode,rec,targets", [
    ("chown -R app:web /a /b", "owner", "app", "web", None, True, ["/a", "/b"]),
    ("chown --recursive 1000 /a", "owner", "1000", None, None, True, ["/a"]),
    ("chgrp -Rv web /a", "owner", None, "web", None, True, ["/a"]),
    ("chmod -R 0750 /a", "mode", None, None, "0750", True, ["/a"]),
    ("chmod -x /a", "mode", None, None, "-x", False, ["/a"]),
    ("chmod u+x,go-w /a", "mode", None, None, "u+x,go-w", False, ["/a"]),
])
def test_parse_change(text, kind, user, group, mode, rec, targets):
    ch = _parse_change(_cmd(text), lambda raw: None)
    assert ch is not None and ch.problem is None
    assert (ch.kind, ch.user, ch.group, ch.mode, ch.recursive, ch.targets) == (kind, user, group, mode, rec, targets)


@pytest.mark.parametrize("mode,base,is_dir,want", [
    ("+x", 0o644, False, 0o755),
    ("+w", 0o444, False, 0o644),  # umask 022 keeps group/other write off
    ("a+w", 0o444, False, 0o666),
    ("u=rwx,go=rx", 0o600, False, 0o755),
    ("go-r", 0o644, False, 0o600),
    ("a+X", 0o644, False, 0o644),
    ("a+X", 0o644, True, 0o755),
])
def test_apply_symbolic(mode, base, is_dir, want):
    assert _apply_symbolic(mode, base, is_dir) == want


def test_repeated_same_chowns_settle_in_one_pass():
    # each block's chown sets the owner the next one sets again: none stands between the COPYs and a later chown, so
    # every fix is safe in the first pass (before: one per pass, and the 12-pass bound left the rest of 20 unfixed)
    src = "FROM debian:12\nRUN useradd app\n" + "".join(f"COPY a{k} /app/\nRUN chown -R app /app\n" for k in range(20))
    r = dockerfix.fix(src, select=["DFX301"])
    assert r.passes == 2 and "chown -R" not in r.text
    assert r.text.count("COPY --chown=app:0 ") == 20
    assert dockerfix.fix(r.text, select=["DFX301"]).text == r.text


def test_a_chown_between_that_also_writes_is_not_the_same_change():
    # `chown -R app /app && touch /app/x` creates a file the later chown covers: still unsafe
    src = "FROM debian:12\nCOPY a /app/\nRUN chown -R app /app && touch /app/x\nCOPY b /app/\nRUN chown -R app /app\n"
    r = dockerfix.fix(src, select=["DFX301"], unsafe=True)
    later = [c for c in r.changes + r.findings if c.line == 5]
    assert later and all("the RUN on line 3" in (c.reason or "") for c in later)
