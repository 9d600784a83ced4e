"""DFX101 merge-runs: what the fixtures cannot say. The reason named per join, blocks that must stay apart, the join
refusals (control flow, comments, pragmas, indentation) with their reasons, and the bookkeeping table."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.syntax import parse
from dockerfix.transforms._merge import control_flow, join_runs
from dockerfix.transforms._run import RunShell, instruction_style
from dockerfix.transforms.base import Context
from dockerfix.transforms.merge_runs import BOOKKEEPING, REASONS, MergeRuns, is_bookkeeping


def _diags(text):
    return list(MergeRuns().check(Context(parse(text))))


def _fix(text):
    return dockerfix.fix(text, select=["DFX101"])


def _join_reason(text):
    """Why the first two RUNs of ``text`` cannot join (None when they can)."""
    doc = parse(text)
    a, b = [i for i in doc.instructions if i.keyword == "RUN"][:2]
    join, why = join_runs(doc, RunShell(doc, a), RunShell(doc, b), lambda: instruction_style(Context(doc), a))
    assert (join is None) == (why is not None)
    return why


def _run(text):
    doc = parse("FROM debian\nRUN " + text + "\n")
    return RunShell(doc, doc.instructions[1])


# ------------------------------------------------------------------ the reason of each join
@pytest.mark.parametrize("second,kind,text", [
    ("RUN /opt/app/install.sh && rm -f /tmp/app.tgz", "cleanup", REASONS["cleanup"] + " (/tmp/app.tgz)"),
    ("RUN make && rm -rf /var/lib/apt/lists/*", "cleanup", REASONS["cleanup"] + " (/var/lib/apt/lists/*)"),
    ("RUN make && apt-get purge -y gcc", "cleanup", REASONS["cleanup"] + " (apt-get purge)"),
    ("RUN make && apt-get clean", "cleanup", REASONS["cleanup"] + " (apt-get clean)"),
    ("RUN apt-get install -y make", "index", "apt-get update belongs with its install"),
    ("RUN ln -s /opt/app/bin/app /usr/local/bin/app", "bookkeeping", REASONS["bookkeeping"]),
])
def test_each_join_names_its_reason(second, kind, text):
    first = {"index": "RUN apt-get update"}.get(
        kind, "RUN apt-get update && apt-get install -y gcc && curl -fsSLo /tmp/app.tgz https://example.com/a.tgz")
    src = f"FROM debian:bookworm-slim\n{first}\n{second}\n"
    [d] = _diags(src)
    assert d.is_safe
    assert d.message == f"RUN on line 3 makes a separate layer from the RUN on line 2: {text}"
    assert dict(d.extra)["reasons"] == ((3, kind),)


def test_a_long_bookkeeping_block_names_its_lines_as_a_range():
    src = "FROM alpine\n" + "".join(f"RUN mkdir -p /d{i}\n" for i in range(12)) + "RUN curl -fsSLo /a https://x/a\n"
    [d] = _diags(src)
    assert d.message == ("the 12 RUNs on lines 3-14 each make their own layer after the RUN on line 2: bookkeeping "
                         "commands need no layer of their own (lines 3-13); the bookkeeping commands above it need no "
                         "layer of their own (line 14)")


def test_apk_index_refresh_names_its_own_command():
    [d] = _diags("FROM alpine:3.20\nRUN apk update\nRUN apk add curl\n")
    assert d.message.endswith(": apk update belongs with its install")


def test_a_block_message_lists_the_reason_per_join():
    src = ("FROM debian:bookworm-slim\nRUN apt-get update\nRUN apt-get install -y nginx\n"
           "RUN nginx -t && rm -rf /var/lib/apt/lists/*\nRUN mkdir -p /srv/site\nRUN ln -s /srv/site /var/www/site\n"
           "RUN curl -fsSLo /srv/a https://x/a\n")
    [d] = _diags(src)
    assert dict(d.extra)["reasons"] == ((3, "index"), (4, "cleanup"), (5, "bookkeeping"), (6, "bookkeeping"))
    assert d.message == (
        "the 4 RUNs on lines 3-6 each make their own layer after the RUN on line 2: apt-get update belongs with its "
        "install (line 3); the later RUN deletes files this one created (/var/lib/apt/lists/*) (line 4); "
        "bookkeeping commands need no layer of their own (lines 5-6)")
    assert _fix(src).text.endswith("ln -s /srv/site /var/www/site\nRUN curl -fsSLo /srv/a https://x/a\n")


# ------------------------------------------------------------------ blocks
def test_fifty_downloads_stay_fifty_layers():
    runs = "".join(f"RUN curl -fsSLo /opt/f{i}.tgz https://example.com/f{i}.tgz\n" for i in range(50))
    src = "FROM debian:bookworm-slim\n" + runs
    assert _diags(src) == []
    assert _fix(src).text == src


def test_a_download_block_merges_only_where_a_cleanup_is():
    runs = [f"RUN curl -fsSLo /tmp/f{i}.tgz https://example.com/f{i}.tgz" for i in range(10)]
    runs.insert(5, "RUN tar -xzf /tmp/f4.tgz -C /opt && rm /tmp/f4.tgz")
    src = "FROM debian:bookworm-slim\n" + "\n".join(runs) + "\n"
    [d] = _diags(src)
    assert dict(d.extra)["reasons"] == ((7, "cleanup"),)
    out = _fix(src).text
    assert out.count("RUN ") == 10
    assert ("RUN curl -fsSLo /tmp/f4.tgz https://example.com/f4.tgz && \\\n"
            "    tar -xzf /tmp/f4.tgz -C /opt && rm /tmp/f4.tgz\n") in out


def test_cheap_steps_join_the_expensive_one_after_them_but_not_a_second_one():
    src = ("FROM python:3.12-slim\nRUN mkdir -p /app\nRUN pip install --no-cache-dir flask\n"
           "RUN mkdir -p /app/instance\nRUN pip install --no-cache-dir gunicorn\n")
    out = _fix(src).text
    assert out == ("FROM python:3.12-slim\nRUN mkdir -p /app && \\\n    pip install --no-cache-dir flask && \\\n"
                   "    mkdir -p /app/instance\nRUN pip install --no-cache-dir gunicorn\n")


def test_update_joins_only_the_first_install_after_it():
    src = ("FROM debian:bookworm-slim\nRUN apt-get update\nRUN apt-get install -y curl\n"
           "RUN apt-get install -y git\n")
    [d] = _diags(src)
    assert dict(d.extra)["reasons"] == ((3, "index"),)


def test_unknown_commands_have_no_reason():
    src = "FROM alpine\n" + "".join(f"RUN step{i} --flag\n" for i in range(4))
    assert _diags(src) == []


def test_merged_output_is_stable():
    src = ("FROM debian:bookworm-slim\nRUN apt-get update\nRUN apt-get install -y nginx\n"
           "RUN rm -f /etc/nginx/sites-enabled/default\nRUN curl -fsSLo /srv/a https://x/a\n"
           "RUN chmod 644 /srv/a\nRUN curl -fsSLo /srv/b https://x/b\n")
    once = _fix(src).text
    assert _fix(once).text == once
    assert once.count("RUN ") == 3


# ------------------------------------------------------------------ control flow
@pytest.mark.parametrize("first,second,what", [
    ("mkdir /a || exit 0", "chmod 700 /a", "the first RUN has `exit`"),
    ("mkdir /a", "chmod 700 /a && exit 0", "the second RUN has `exit`"),
    ("mkdir /a", "exec chmod 700 /a", "the second RUN has `exec`"),
    ("mkdir /a", "command exit 0", "the second RUN has `exit`"),
    ("mkdir /a", "f() { return 1; } && f", "the second RUN has `return`"),
    ("mkdir /a", "set +e && chmod 700 /a", "the second RUN has a change of `set -e`"),
    ("mkdir /a", "set -o errexit && chmod 700 /a", "the second RUN has a change of `set -e`"),
    ("mkdir /a", "set -eux && chmod 700 /a", "the second RUN has a change of `set -e`"),
    ("touch /b & mkdir /a", "chmod 700 /a", "the first RUN has a background job"),
])
def test_control_flow_refuses_the_join(first, second, what):
    why = _join_reason(f"FROM debian\nRUN {first}\nRUN {second}\n")
    assert why is not None and why.startswith(what), why


@pytest.mark.parametrize("src", ["set -x && chmod 700 /a", "set -o pipefail && ls | wc -l", "set -- a b",
                                 "echo exit", "chmod 700 /a"])
def test_control_flow_leaves_other_commands_alone(src):
    assert control_flow(_run(src)) is None


@pytest.mark.parametrize("first", ["mkdir /a || true", "test -d /a || mkdir /a", "mkdir /a; chmod 700 /a",
                                   "false && true || mkdir /a"])
def test_or_lists_and_semicolons_in_the_first_run_join(first):
    # `a || b && c` is `(a || b) && c`: c runs exactly when the first RUN succeeded, as with two RUNs
    assert _join_reason(f"FROM debian\nRUN {first}\nRUN chown 1 /a\n") is None


# ------------------------------------------------------------------ comments and pragmas
@pytest.mark.parametrize("between,what", [
    ("# COPY app.conf /etc/app/\n\n", "line 3 is a commented-out instruction (COPY)"),
    ("#run make\n\n", "line 3 is a commented-out instruction (run)"),
    ("# about a\n# more about a\n\n# about b\n", "the comment on line 6 introduces the RUN on line 7"),
])
def test_comments_that_must_not_move_refuse_the_join(between, what):
    why = _join_reason(f"FROM debian\nRUN mkdir /a\n{between}RUN chmod 700 /a\n")
    assert why is not None and why.startswith(what), why


def test_a_comment_with_a_blank_line_before_the_run_moves():
    assert _join_reason("FROM debian\nRUN mkdir /a\n# the data directory\n\nRUN chmod 700 /a\n") is None


@pytest.mark.parametrize("pragma", ["# hadolint ignore=DL3059", "# hadolint ignore=DL3008, DL3059",
                                    "#hadolint ignore=DL3059,DL3015"])
def test_hadolint_pragma_keeps_the_run_apart_on_either_side(pragma):
    # above the second: not merged into the first; above the first: the second is not merged into it
    assert _diags(f"FROM debian\nRUN mkdir /a\n{pragma}\nRUN chmod 700 /a\n") == []
    assert _diags(f"FROM debian\n{pragma}\nRUN mkdir /a\nRUN chmod 700 /a\n") == []


def test_hadolint_pragma_for_other_rules_is_not_a_suppression():
    # not merged either (a comment right above a RUN describes it), but the reason is the comment
    src = "FROM debian\n# hadolint ignore=DL3008\nRUN mkdir /a\nRUN chmod 700 /a\n"
    assert len(_diags(src)) == 1


def test_hadolint_global_ignore_stops_the_transform_for_the_file():
    src = "FROM debian\nRUN mkdir /a\nRUN chmod 700 /a\n# hadolint global ignore=DL3003,DL3059\n"
    assert _diags(src) == []
    assert len(_diags(src.replace("DL3059", "DL3006"))) == 1


def test_metadata_names_the_hadolint_rule_and_documents_it():
    assert MergeRuns.answers == ("DL3059",)
    assert "## Suppressions" in MergeRuns.docs and "hadolint global ignore=DL3059" in MergeRuns.docs
    for text in ("the later RUN deletes files this one created", "apt-get update belongs with its install",
                 "bookkeeping commands"):
        assert text in MergeRuns.docs


# ------------------------------------------------------------------ indentation
def test_moved_lines_take_the_first_runs_indent():
    src = ("FROM debian\nRUN mkdir /a && \\\n    chmod 700 /a\n"
           "RUN mkdir /b && \\\n\tchmod 700 /b && \\\n\t\tchown 1 /b\n")
    assert _fix(src).text == ("FROM debian\nRUN mkdir /a && \\\n    chmod 700 /a && \\\n    mkdir /b && \\\n"
                              "    chmod 700 /b && \\\n        chown 1 /b\n")


@pytest.mark.parametrize("second", [
    'echo "a \\\n  b" > /f && \\\n  chmod 600 /f',                      # inside double quotes
    "echo 'a \\\n  b' > /f && \\\n  chmod 600 /f",                      # inside single quotes
    'for x in "a \\\n  b"; do \\\n  touch "$x"; done',                  # a quoted for-list
    'X="a \\\n  b" && \\\n  echo "$X" > /f',                            # an assignment
])
def test_a_line_inside_quotes_cannot_be_reindented(second):
    why = _join_reason(f"FROM debian\nRUN mkdir /a && \\\n    chmod 700 /a\nRUN {second}\n")
    assert why is not None and "continues a word or quoted text" in why


def test_a_line_after_an_unquoted_for_list_or_test_is_reindented():
    src = ("FROM debian\nRUN mkdir /a && \\\n    chmod 700 /a\n"
           "RUN for x in a b; do \\\n  touch /a/$x; \\\n  done && \\\n  [[ -f /a/a && \\\n  -f /a/b ]]\n")
    out = _fix(src).text
    assert "\n  " not in out.replace("\n    ", "\n")  # no 2-space line left


def test_an_indent_that_is_not_whole_units_refuses():
    why = _join_reason("FROM debian\nRUN mkdir /a && \\\n\tchmod 700 /a\nRUN mkdir /b && \\\n    chmod 700 /b && \\\n"
                       "      chown 1 /b\n")
    assert why is not None and "cannot take the first RUN's indent" in why


def test_same_indent_keeps_the_second_run_byte_for_byte():
    src = "FROM debian\nRUN mkdir /a && \\\n    chmod 700 /a\nRUN mkdir /b && \\\n    chmod 700 /b\n"
    assert _fix(src).text == ("FROM debian\nRUN mkdir /a && \\\n    chmod 700 /a && \\\n    mkdir /b && \\\n"
                              "    chmod 700 /b\n")


# ------------------------------------------------------------------ the bookkeeping table
@pytest.mark.parametrize("cmd", [
    "mkdir -p /a /b", "ln -sf /a /b", "chmod -R g+w /a", "chown -R app: /a", "echo ok > /etc/flag", "touch /a",
    "useradd -r app", "groupadd -r app", "rm -rf /tmp/*", "cp /a/x.conf /etc/x.conf", "mv /a /b",
    "sed -i 's/a/b/' /etc/x.conf", "sed -Ei.bak 's/a/b/' /etc/x.conf", "sudo mkdir /a", "echo 'app:pw' | chpasswd",
    "for d in a b; do mkdir -p /srv/$d; done", "printf '%s\\n' x | tee -a /etc/x",
])
def test_bookkeeping(cmd):
    assert is_bookkeeping(_run(cmd))


@pytest.mark.parametrize("cmd", [
    "curl -fsSLo /a https://x/a", "wget https://x/a", "git clone https://x/a.git", "apt-get install -y a",
    "pip install flask", "npm ci", "go build ./...", "make", "cp -r /src /dst", "cp -a /src /dst",
    "mv /a /b /c /d /e /f", "sed 's/a/b/' /etc/x.conf", "echo $(curl -s https://x/a) > /a", "$CMD /a",
    "mkdir /a && ./configure",
])
def test_not_bookkeeping(cmd):
    assert not is_bookkeeping(_run(cmd))


def test_the_table_lists_the_commands_the_docs_promise():
    for name in ("mkdir", "ln", "chmod", "echo", "useradd", "groupadd", "rm", "cp", "mv", "sed"):
        assert name in BOOKKEEPING


# ------------------------------------------------------------------ apt-update-alone shares the join rules
def test_apt_update_alone_gets_the_control_flow_reason():
    r = dockerfix.fix("FROM debian\nRUN apt-get update || exit 0\nRUN apt-get install -y curl\n", select=["DFX102"])
    [f] = [c for c in r.findings if c.code == "DFX102"]
    assert not r.changes and "`exit`" in f.reason


def test_apt_update_alone_reindents_like_merge_runs():
    # the file indents with 4 spaces; the install RUN brings tabs
    src = ("FROM debian\nRUN mkdir /a && \\\n    chmod 700 /a && \\\n    chown 1 /a && \\\n    touch /a/x\n"
           "LABEL step=2\nRUN apt-get update\nRUN apt-get install -y \\\n\tcurl \\\n\tgit\n")
    r = dockerfix.fix(src, select=["DFX102"])
    assert r.text.endswith("RUN apt-get update && \\\n    apt-get install -y \\\n    curl \\\n    git\n")
