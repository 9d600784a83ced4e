"""Tests for dockerfix.model.shell: structure, words, contexts, state changes, robustness, corpus sweep."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockerfix.model.shell import (
    Compound,
    Group,
    Pipeline,
    ShellParseError,
    Subshell,
    is_posix_shell,
    parse_shell,
    parse_shell_strict,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-world"


def names(script):
    return [c.name_value for c in script.commands]


def seps(script):
    return [s.text if s else None for s in script.separators]


def assert_offsets(script):
    """Every span in the tree slices back to its raw text."""
    src = script.source
    for site in script.sites:
        cmd = site.command
        assert src[cmd.span[0]:cmd.span[1]] == cmd.raw
        for w in cmd.words:
            assert src[w.span[0]:w.span[1]] == w.raw
        for a in cmd.assignments:
            assert src[a.span[0]:a.span[1]] == a.raw
            if a.value is not None:
                assert src[a.value.span[0]:a.value.span[1]] == a.value.raw
        for r in cmd.redirects:
            assert src[r.span[0]:r.span[1]] == r.raw
    for node in script.walk():
        assert src[node.span[0]:node.span[1]] == node.raw
    for sep in script.separators:
        if sep is not None:
            assert src[sep.span[0]:sep.span[1]] == sep.text


# --- import cost -----------------------------------------------------------------------------------------


def test_import_does_not_load_tree_sitter():
    code = "import sys, dockerfix.model.shell, dockerfix.model.pkgmgr; print('tree_sitter' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout == "False\n"


# --- chains and separators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected_names", "expected_seps"),
    (
        ("a && b && c", ["a", "b", "c"], ["&&", "&&", None]),
        ("a; b || c & d", ["a", "b", "c", "d"], [";", "||", "&", None]),
        ("a;", ["a"], [";"]),
        ("a\nb\n\nc\n", ["a", "b", "c"], ["\n", "\n", None]),
        ("a &&\n  b ||\n  c", ["a", "b", "c"], ["&&", "||", None]),
        ("a # comment\nb", ["a", "b"], ["\n", None]),
        # BuildKit joined `a && \` lines: the backslash-newline is gone already; a heredoc keeps it
        ("a && \\\n  b", ["a", "b"], ["&&", None]),
        ("set -eux; apt-get update", ["set", "apt-get"], [";", None]),
    ),
)
def test_top_level_chain(src, expected_names, expected_seps):
    script = parse_shell(src)
    assert script.ok, script.error
    assert names(script) == expected_names
    assert seps(script) == expected_seps
    assert_offsets(script)


def test_heredoc_body_lines_are_newline_separated():
    src = "set -ex\napt-get update\napt-get install -y curl \\\n    git\nrm -rf /var/lib/apt/lists/*\n"
    script = parse_shell(src)
    assert script.ok
    assert seps(script) == ["\n", "\n", "\n", None]
    install = script.commands[2]
    assert [w.value for w in install.words] == ["apt-get", "install", "-y", "curl", "git"]
    assert_offsets(script)


def test_pipeline_and_negation():
    script = parse_shell("! a | b && c | d")
    assert script.ok
    first, second = script.items
    assert isinstance(first, Pipeline) and first.negated
    assert [c.name_value for c in first.commands] == ["a", "b"]
    assert isinstance(second, Pipeline) and not second.negated
    sites = script.sites
    assert [s.negated for s in sites] == [True, True, False, False]
    assert all(s.in_pipeline for s in sites)


def test_subshell_group_and_redirect_ownership():
    src = "cd /x && (cd y; make) | tee log >/dev/null 2>&1 & { a; b; } > f"
    script = parse_shell(src)
    assert script.ok
    by_name = {s.command.name_value: s for s in script.sites}
    assert by_name["make"].in_subshell and by_name["make"].in_pipeline
    assert by_name["cd"].background  # the whole `cd /x && ... &` list runs in the background
    tee = by_name["tee"].command
    assert [(r.op, r.fd, r.target.value) for r in tee.redirects] == [(">", None, "/dev/null"), (">&", "2", "1")]
    group = script.items[-1]
    assert isinstance(group, Group)
    assert [r.raw for r in group.redirects] == ["> f"]
    assert by_name["a"].in_group and not by_name["a"].in_subshell
    assert isinstance(script.items[1].commands[0], Subshell)
    assert_offsets(script)


def test_or_makes_the_rest_conditional():
    script = parse_shell("a || b && c; d")
    assert [s.conditional for s in script.sites] == [False, True, True, False]


@pytest.mark.parametrize(
    ("src", "kind"),
    (
        ("if [ -f x ]; then y; elif z; then w; else v; fi", "if"),
        ("for i in 1 2; do echo $i; done", "for"),
        ("while read x; do f; done < list", "while"),
        ("until a; do b; done", "until"),
        ("case $x in a|b) y;; *) z;; esac", "case"),
        ("f() { g; }", "function"),
        ("for ((i=0; i<3; i++)); do c; done", "c-for"),
    ),
)
def test_compounds_mark_commands_conditional(src, kind):
    script = parse_shell(src)
    assert script.ok, script.error
    (item,) = script.items
    assert isinstance(item, Compound) and item.kind == kind
    assert script.sites
    assert all(s.conditional and s.compound == kind and s.is_nested for s in script.sites)
    assert_offsets(script)


def test_if_block_inside_chain():
    src = "set -eux; if [ \"$arch\" = amd64 ]; then apt-get install -y x; fi; rm -rf /tmp/*"
    script = parse_shell(src)
    assert script.ok
    assert [type(n).__name__ for n in script.items] == ["SimpleCommand", "Compound", "SimpleCommand"]
    inner = [s for s in script.sites if s.command.name_value == "apt-get"]
    assert len(inner) == 1 and inner[0].chain_index == 1 and inner[0].compound == "if"
    test = [n for n in script.walk() if isinstance(n, Compound) and n.kind == "test"]
    assert len(test) == 1


def test_command_substitution_commands_are_sites():
    script = parse_shell('savedAptMark="$(apt-mark showmanual)"; echo `pwd`')
    assert script.ok
    sub = [s for s in script.sites if s.in_substitution]
    assert [s.command.name_value for s in sub] == ["apt-mark", "pwd"]
    assert not any(s.runs_in_main_shell for s in sub)
    assert script.commands[0].assignments[0].value.value is None


# --- words -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "value", "flags"),
    (
        ("plain", "plain", ""),
        ("'a b'", "a b", "q"),
        ('"$HOME"', None, "qe"),
        ('"a\\"b\\$c"', 'a"b$c', "q"),
        ("$'x\\ty\\n'", "x\ty\n", "q"),
        ("$'\\x41\\101\\u00e9'", "A" + "A" + "\u00e9", "q"),
        ('$"t"x', "tx", "q"),
        ("a\\ b", "a b", "q"),
        ("'a'\"b\"c", "abc", "q"),
        ("$HOME/x", None, "e"),
        ("${A:-b}", None, "e"),
        ("$(ls)", None, "e"),
        ("`pwd`", None, "e"),
        ("$((1+2))", None, "e"),
        ("{a,b}", None, "e"),
        ("{}", "{}", ""),
        ("/var/lib/apt/lists/*", "/var/lib/apt/lists/*", "g"),
        ("'*.txt'", "*.txt", "q"),
        ("a\\*b", "a*b", "q"),
        ("~/.cache/pip", "~/.cache/pip", "t"),
        ("'~'/x", "~/x", "q"),
        ("$", "$", ""),
        ("a$", "a$", ""),
        ("caf\u00e9", "caf\u00e9", ""),
    ),
)
def test_word_values(word, value, flags):
    script = parse_shell("echo " + word)
    assert script.ok, script.error
    (cmd,) = script.items
    (w,) = cmd.args
    assert w.raw == word
    assert w.value == value
    assert w.is_quoted == ("q" in flags)
    assert w.has_expansion == ("e" in flags)
    assert w.has_glob == ("g" in flags)
    assert w.has_tilde == ("t" in flags)
    assert_offsets(script)


def test_offsets_are_str_indices_after_non_ascii():
    src = "echo '\u00e9t\u00e9 \U0001f433' && apt-get install -y \u00fcml caf\u00e9 \"\u65e5\u672c\""
    script = parse_shell(src)
    assert script.ok
    install = script.commands[1]
    assert [src[w.span[0]:w.span[1]] for w in install.words] == ["apt-get", "install", "-y", "\u00fcml",
                                                                   "caf\u00e9", '"\u65e5\u672c"']
    assert install.words[-1].value == "\u65e5\u672c"
    assert_offsets(script)


def test_assignment_prefix_and_redirects():
    src = "DEBIAN_FRONTEND=noninteractive TZ= apt-get install -y --no-install-recommends curl ca-certificates"
    script = parse_shell(src)
    (cmd,) = script.commands
    assert [(a.name, a.op, a.value.value) for a in cmd.assignments] == [
        ("DEBIAN_FRONTEND", "=", "noninteractive"), ("TZ", "=", "")]
    assert cmd.name_value == "apt-get"
    assert [w.value for w in cmd.args] == ["install", "-y", "--no-install-recommends", "curl",
                                           "ca-certificates"]
    assert_offsets(script)


def test_redirect_args_misplaced_by_tree_sitter_are_arguments():
    script = parse_shell('echo >&2 "error: unsupported $arch" now; exit 1')
    assert script.ok
    echo = script.commands[0]
    assert [w.raw for w in echo.words] == ["echo", '"error: unsupported $arch"', "now"]
    assert [(r.op, r.target.value) for r in echo.redirects] == [(">&", "2")]
    assert_offsets(script)


def test_assignment_line_glued_to_next_line_is_split():
    script = parse_shell("x\nA=1 B=2\ncmd a\n")
    assert script.ok
    assert [len(c.assignments) for c in script.commands] == [0, 2, 0]
    assert [c.name_value for c in script.commands] == ["x", None, "cmd"]
    assert seps(script) == ["\n", "\n", None]


def test_heredoc_inside_script():
    src = "cat <<EOF >f && x\nhi $a\nEOF\necho done"
    script = parse_shell(src)
    assert script.ok
    assert names(script) == ["cat", "x", "echo"]
    assert seps(script) == ["&&", "\n", None]
    cat = script.commands[0]
    heredoc, out = cat.redirects
    assert (heredoc.op, heredoc.target.value, heredoc.heredoc) == ("<<", "EOF", "hi $a\n")
    assert src[heredoc.heredoc_span[0]:heredoc.heredoc_span[1]] == "hi $a\nEOF"
    assert (out.op, out.target.value) == (">", "f")
    assert_offsets(script)


def test_heredoc_piped_into_a_list():
    script = parse_shell("cat <<-EOF | sh -s x && y || z\n\tbody\n\tEOF\n")
    assert script.ok
    pipe = script.items[0]
    assert isinstance(pipe, Pipeline)
    assert [c.name_value for c in pipe.commands] == ["cat", "sh"]
    assert seps(script) == ["&&", "||", None]
    assert pipe.commands[0].redirects[0].heredoc == "body\n"


# --- wrappers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "effective", "assignments", "wrappers"),
    (
        ("sudo apt-get update", ["apt-get", "update"], [], ["sudo"]),
        ("sudo -E -u root apt-get update", ["apt-get", "update"], [], ["sudo", "-E", "-u", "root"]),
        ("env A=1 B=2 pip install x", ["pip", "install", "x"], ["A", "B"], ["env", "A=1", "B=2"]),
        ("env -i PATH=/bin sh -c x", ["sh", "-c", "x"], ["PATH"], ["env", "-i", "PATH=/bin"]),
        ("command -p apk add x", ["apk", "add", "x"], [], ["command", "-p"]),
        ("exec gosu app node", ["node"], [], ["exec", "gosu", "app"]),
        ("sudo -iu app pip install x", ["pip", "install", "x"], [], ["sudo", "-iu", "app"]),
        ("sudo -uapp pip install x", ["pip", "install", "x"], [], ["sudo", "-uapp"]),
        ("su-exec nobody true", ["true"], [], ["su-exec", "nobody"]),
        ("runuser -u app -- npm ci", ["npm", "ci"], [], ["runuser", "-u", "app", "--"]),
        ("setpriv --reuid=1000 --regid 1000 --init-groups pip install x", ["pip", "install", "x"], [],
         ["setpriv", "--reuid=1000", "--regid", "1000", "--init-groups"]),
        ("chroot --userspec=app:app / npm ci", ["npm", "ci"], [], ["chroot", "--userspec=app:app", "/"]),
        ("chroot /target apt-get install x", ["chroot", "/target", "apt-get", "install", "x"], [], []),
        ("gosu --version", ["gosu", "--version"], [], []),
        ("runuser app -c 'npm ci'", ["runuser", "app", "-c", "'npm ci'"], [], []),
        ("doas -u app pip install x", ["pip", "install", "x"], [], ["doas", "-u", "app"]),
        ("nice -n 10 make", ["make"], [], ["nice", "-n", "10"]),
        ("sudo env X=1 /usr/bin/apt-get -y install z", ["/usr/bin/apt-get", "-y", "install", "z"], ["X"],
         ["sudo", "env", "X=1"]),
        ("command -v apt-get", ["command", "-v", "apt-get"], [], []),
        ("sudo", ["sudo"], [], []),
        ('"$CMD" x', ['"$CMD"', "x"], [], []),
    ),
)
def test_effective_command(src, effective, assignments, wrappers):
    (cmd,) = parse_shell(src).commands
    eff = cmd.effective
    assert [w.raw for w in eff.words] == effective
    assert [a.name for a in eff.assignments] == assignments
    assert [w.raw for w in eff.wrappers] == wrappers


@pytest.mark.parametrize(
    ("src", "wrapper", "user", "home", "env", "script"),
    (
        # checked in a real build (buildah, bookworm): gosu, su and runuser set HOME to the target user's,
        # setpriv and chroot --userspec keep the caller's HOME; su -/-l resets the environment
        ("gosu app pip install x", "gosu", "app", "target", "kept", None),
        ("exec gosu app node", "gosu", "app", "target", "kept", None),
        ("su-exec app:app npm ci", "su-exec", "app:app", "target", "kept", None),
        ("runuser -u app -- npm ci", "runuser", "app", "target", "kept", None),
        ("setpriv --reuid=1000 --regid=1000 --init-groups pip install x", "setpriv", "1000", "kept", "kept", None),
        ("setpriv --reuid app --reset-env pip install x", "setpriv", "app", "target", "reset", None),
        ("chroot --userspec=app:app / pip install x", "chroot", "app:app", "kept", "kept", None),
        ("sudo -u app pip install x", "sudo", "app", "target", "reset", None),
        ("sudo -iu app pip install x", "sudo", "app", "target", "reset", None),
        ("sudo --user=app pip install x", "sudo", "app", "target", "reset", None),
        ("sudo -E -u app pip install x", "sudo", "app", None, "kept", None),
        ("sudo npm install -g yarn", "sudo", "root", "target", "reset", None),
        ("sudo gosu app pip install x", "gosu", "app", "target", "kept", None),
        ('sudo -u "$U" pip install x', "sudo", None, "target", "reset", None),
        ("doas -u app pip install x", "doas", "app", "target", "reset", None),
        ("su app -c 'pip install x'", "su", "app", "target", "kept", ["pip install x"]),
        ("su -c 'pip install x && npm ci' app", "su", "app", "target", "kept", ["pip install x", "npm ci"]),
        ("su - app -c 'npm ci'", "su", "app", "target", "reset", ["npm ci"]),
        ("su -lc 'npm ci' node", "su", "node", "target", "reset", ["npm ci"]),
        ("su -m app -c 'npm ci'", "su", "app", "kept", "kept", ["npm ci"]),
        ("su --command='npm ci' app", "su", "app", "target", "kept", ["npm ci"]),
        ("su -c 'npm ci'", "su", "root", "target", "kept", ["npm ci"]),
        ("runuser app -c 'npm ci'", "runuser", "app", "target", "kept", ["npm ci"]),
        ("su $U -c 'npm ci'", "su", None, "target", "kept", ["npm ci"]),
        ('su nobody -s /bin/sh -c "make ${x}"', "su", "nobody", "target", "kept", None),  # not static: unread
        ("su app -s /usr/bin/fish -c 'npm ci'", "su", "app", "target", "kept", None),  # not a POSIX shell
    ),
)
def test_user_switch(src, wrapper, user, home, env, script):
    (cmd,) = [c for c in parse_shell(src).commands if c.span[0] == 0]
    sw = cmd.user_switch
    assert sw is not None
    assert (sw.wrapper, sw.user, sw.home, sw.env) == (wrapper, user, home, env)
    assert (None if sw.script is None else [c.raw for c in sw.script.commands]) == script


@pytest.mark.parametrize("src", (
    "pip install x", "env A=1 pip install x", "su app", "gosu --version", "chroot /target pip install x",
    "chroot / pip install x", "setpriv --no-new-privs pip install x", "nice -n 5 npm ci", "su-exec",
))
def test_no_user_switch(src):
    (cmd,) = [c for c in parse_shell(src).commands if c.span[0] == 0]
    assert cmd.user_switch is None


def test_wrapper_segments():
    (cmd,) = parse_shell("sudo -E env A=1 gosu app nice -n 5 pip install x").commands
    assert [[w.raw for w in seg] for seg in cmd.wrapper_segments] == [
        ["sudo", "-E"], ["env", "A=1"], ["gosu", "app"], ["nice", "-n", "5"]]
    assert parse_shell("pip install x").commands[0].wrapper_segments == ()


def test_user_switch_user_name():
    from dockerfix.model.shell import UserSwitch

    assert UserSwitch("chroot", (), "app:app", "kept", "kept").user_name == "app"
    assert UserSwitch("sudo", (), "#1000", "target", "reset").user_name == "1000"
    assert UserSwitch("sudo", (), None, "target", "reset").user_name is None


def test_is_command_uses_basename():
    (cmd,) = parse_shell("/usr/bin/apt-get install x").commands
    assert cmd.is_command("apt-get", "apt")
    assert cmd.basename == "apt-get"
    assert not cmd.is_command("apk")


# --- state changes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "kinds", "leaks"),
    (
        ("cd /app && make", ["cd"], [True]),
        ("(cd /app && make)", ["cd"], [False]),
        ("cd /app | cat", ["cd"], [False]),
        ("x=$(cd /app && pwd)", ["assign", "cd"], [True, False]),
        ("export PATH=/x:$PATH; set -eux; umask 022", ["export", "set", "umask"], [True, True, True]),
        ("FOO=bar", ["assign"], [True]),
        ("FOO=bar make", [], []),
        ("FOO=bar export X", ["export"], [True]),
        (". /etc/profile; source ~/.bashrc", [".", "source"], [True, True]),
        ("pushd /x; popd", ["pushd", "popd"], [True, True]),
        ("shopt -s globstar; alias ll='ls -l'; ulimit -n 1024", ["shopt", "alias", "ulimit"], [True] * 3),
        ("eval \"$(conda shell.bash hook)\"", ["eval"], [True]),
        ("unset A; readonly B=1; declare -x C", ["unset", "readonly", "declare"], [True] * 3),
        ("exec >/var/log/x 2>&1", ["exec"], [True]),
        ("exec nginx", ["exec"], [True]),
        ("if true; then cd /x; fi", ["cd"], [True]),
        ("f() { cd /; }", ["function", "cd"], [True, True]),
        ("set", [], []),
        ("apt-get update && apt-get install -y x", [], []),
        ("command cd /x", ["cd"], [True]),
        ("cd /x &", ["cd"], [False]),
    ),
)
def test_state_changes(src, kinds, leaks):
    script = parse_shell(src)
    assert script.ok, script.error
    assert [c.kind for c in script.state_changes] == kinds
    assert [c.leaks for c in script.state_changes] == leaks
    assert script.has_leaking_state == any(leaks)


# --- failures --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src",
    (
        "echo 'unterminated",
        "if true; then",
        "a &&",
        "(a",
        "cat <<EOF; echo x\nbody\nEOF",  # tree-sitter-bash limitation: refused, not misread
        "Write-Host ('x' -f $env:Y); [Net.X]::Y = 1",
    ),
)
def test_not_ok(src):
    script = parse_shell(src)
    assert not script.ok
    assert script.error
    assert re.search(r"at \d+:\d+$", script.error) or script.error
    assert script.items == ()
    with pytest.raises(ShellParseError):
        parse_shell_strict(src)


def test_bad_argument_type():
    with pytest.raises(ShellParseError):
        parse_shell(b"echo")  # type: ignore[arg-type]


@pytest.mark.parametrize("src", ("", "   ", "\n\n", "# only a comment", ";;", "\x00", "echo \x00 x", "))))",
                                 "((((((((((((((((((((((((((((((((((((((((((((((((", "$(" * 300,
                                 "{ " * 500, "\ud800", "a" * 100000))
def test_garbage_never_raises(src):
    script = parse_shell(src)
    if script.ok:
        assert_offsets(script)
        script.state_changes  # noqa: B018


# --- is_posix_shell --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    (
        (["/bin/sh", "-c"], True),
        (["/bin/bash", "-o", "pipefail", "-c"], True),
        (["bash", "-eux", "-o", "pipefail", "-c"], True),
        (["/bin/dash", "-c"], True),
        (["/bin/ash", "-eo", "pipefail", "-c"], True),
        (["zsh", "-c"], True),
        (["/usr/bin/env", "bash", "-c"], True),
        (["/bin/busybox", "sh", "-c"], True),
        (["bash5", "-c"], True),
        (["powershell", "-Command", "$ErrorActionPreference = 'Stop';"], False),
        (["pwsh", "-Command"], False),
        (["C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "-Command"], False),
        (["cmd", "/S", "/C"], False),
        (["cmd.exe", "/S", "/C"], False),
        ([], False),
        (["/usr/bin/python3", "-c"], False),
    ),
)
def test_is_posix_shell(argv, expected):
    assert is_posix_shell(argv) is expected


# --- property tests --------------------------------------------------------------------------------------

_WORDS = st.sampled_from(
    ["a", "apt-get", "install", "-y", "'q t'", '"$HOME"', "$X", "x*", "~/p", "caf\u00e9", "\U0001f433",
     "A=1", "$(ls)", "`pwd`", "{a,b}", ">f", "2>&1", "\\$", "--opt=v", "'", '"', "(", ")", "{", "}", "!",
     "if", "then", "fi", "<<EOF", "#c", "\\", "\\\n", "\t", "|", ";"]
)
_OPS = st.sampled_from([" && ", " || ", "; ", " | ", " & ", "\n", " \\\n ", " "])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(_WORDS, min_size=1, max_size=5), _OPS), max_size=8))
def test_property_random_scripts(parts):
    src = "".join(" ".join(words) + op for words, op in parts)
    script = parse_shell(src)
    if script.ok:
        assert_offsets(script)
        script.state_changes  # noqa: B018


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_property_arbitrary_text(src):
    script = parse_shell(src)
    if script.ok:
        assert_offsets(script)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b-c", "'x y'", '"z"', "caf\u00e9", "w\u00f6rd"]), min_size=1,
                         max_size=4), min_size=1, max_size=6),
       st.sampled_from([" && ", "; ", " || ", "\n"]))
def test_property_well_formed_chains(commands, op):
    src = op.join(" ".join(c) for c in commands)
    script = parse_shell(src)
    assert script.ok, script.error
    assert [[w.raw for w in c.words] for c in script.commands] == commands
    assert len(script.items) == len(commands)
    assert_offsets(script)


# --- corpus sweep ----------------------------------------------------------------------------------------

_WINDOWS_BASE = ("windows", "nanoserver", "servercore", "dotnet/framework")


def _corpus_runs():
    import dockerfile

    runs = []
    for path in sorted(CORPUS.iterdir()):
        try:
            instructions = dockerfile.parse_file(str(path))
        except dockerfile.GoParseError:
            continue
        posix = True
        for ins in instructions:
            kind = ins.cmd.lower()
            if kind == "from":
                posix = not any(w in " ".join(ins.value).lower() for w in _WINDOWS_BASE)
            elif kind == "shell":
                posix = is_posix_shell(list(ins.value))
            if kind != "run" or ins.json or not posix:
                continue
            line = ins.value[-1] if ins.value else ""
            docs = list(ins.heredocs or ())
            if docs and re.fullmatch(r"\s*<<-?\s*[\"']?\w+[\"']?\s*", line):
                runs.append((path.name, ins.start_line, docs[0].content))
            elif docs:
                body = "".join(d.content + d.name + "\n" for d in docs)
                runs.append((path.name, ins.start_line, line + "\n" + body))
            else:
                runs.append((path.name, ins.start_line, line))
    return runs


# RUNs tree-sitter-bash cannot read although they are valid shell: `<<EOT bash` (redirection before the
# command name, the BuildKit idiom for feeding a heredoc to an interpreter). They must come back ok=False.
_KNOWN_NOT_OK = {
    "docker__awesome-compose__wasmedge-kafka-mysql__etl__Dockerfile",
    "docker__awesome-compose__wasmedge-mysql-nginx__backend__Dockerfile",
    "jenkinsci__docker__tests__upgrade-plugins__Dockerfile-windows",  # PowerShell without a SHELL line
}


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
def test_corpus_sweep():
    runs = _corpus_runs()
    assert len(runs) > 1000
    not_ok = []
    for name, line, src in runs:
        script = parse_shell(src)
        if not script.ok:
            not_ok.append((name, line, script.error))
            continue
        assert_offsets(script)
        script.state_changes  # noqa: B018
    assert {n for n, _, _ in not_ok} <= _KNOWN_NOT_OK, not_ok
    assert len(not_ok) <= 5


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
def test_corpus_commands_keep_their_words():
    """Every simple command's words are separated by blanks only (no word swallowed or split)."""
    for _, _, src in _corpus_runs()[:400]:
        script = parse_shell(src)
        if not script.ok:
            continue
        for cmd in script.commands:
            for a, b in zip(cmd.words, cmd.words[1:]):
                gap = src[a.span[1]:b.span[0]]
                assert gap and not gap.replace("\\\n", "").strip(" \t") or any(
                    r.span[0] >= a.span[1] and r.span[1] <= b.span[0] for r in cmd.redirects), (src, gap)



# tree-sitter-bash 0.25.1 reads the character after ``{``/``{12``/``{1..2`` with C isdigit, which crashes the
# process for code points past U+00FF (tree-sitter/tree-sitter-bash#337; CI died of it once). parse_shell
# hands tree-sitter a same-length stand-in for exactly that character.
_HAZARDS = [p + chr(cp) + t for p in ("{", "{12", "{1..", "{1..20", "echo a{", "${")
            for cp in (0x10FFFF, 0xFFFFF, 0x31860, 0xB60B4, 0xD800, 0x4E2D, 0x100)
            for t in ("", "}", " && b")]


def test_scanner_stand_in_keeps_every_offset():
    from dockerfix.model.shell import _scanner_safe

    for src in _HAZARDS:
        data = src.encode("utf-8", "surrogatepass")
        safe = _scanner_safe(src, data)
        assert len(safe) == len(data)
        assert max(safe.decode("utf-8")[: src.index("{") + 6], key=ord) <= "\xff"
    plain = "echo {a,b} caf\u00e9 \u4e2d {\u00e9}"
    assert _scanner_safe(plain, plain.encode()) == plain.encode()  # nothing hazardous: bytes untouched


def test_scanner_hazards_keep_their_text():
    script = parse_shell_strict("echo {1\U0010ffff} x{\u4e2d,b} && touch {1..\U00031860}")
    words = [w.raw for c in script.commands for w in c.words]
    assert words == ["echo", "{1\U0010ffff}", "x{\u4e2d,b}", "touch", "{1..\U00031860}"]


def test_scanner_hazards_do_not_crash_the_process():
    # In a child process: without the stand-in this dies of SIGSEGV on most runs (0x10FFFF: 14 of 20 here).
    code = ("import sys; from dockerfix.model.shell import parse_shell\n"
            "for s in sys.stdin.read().split('\\x00'):\n"
            "    [parse_shell(s) for _ in range(20)]\n"
            "print('survived')")
    data = "\x00".join(_HAZARDS).encode("utf-8", "surrogatepass")
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == b"survived", (r.returncode, r.stderr[-500:])


def test_a_long_and_chain_through_tree_sitter_is_read_without_recursing_per_operator() -> None:
    """tree-sitter-bash nests ``a && b && c`` to the left, one list per operator; lowering it by one recursive call
    per level refused chains of a few hundred commands ("nesting too deep"). ``$(..)`` keeps the script on the
    tree-sitter route."""
    n = 3000
    src = " && ".join(f"echo $(x{i})" if i % 2 else f"apt-get install -y p{i}" for i in range(n))
    script = parse_shell(src)
    assert script.ok, script.error
    items, seps = script.body.items, script.body.separators
    assert len(items) == n and [s.text for s in seps[:-1]] == ["&&"] * (n - 1) and seps[-1] is None
    assert items[0].raw == "apt-get install -y p0" and items[-1].raw == f"echo $(x{n - 1})"
    assert [w.raw for w in items[1].words] == ["echo", "$(x1)"] and items[1].words[1].substitutions
