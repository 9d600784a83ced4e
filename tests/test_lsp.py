"""``dockerfix lsp``: a real LSP client session over stdio (JSON-RPC with Content-Length framing), plus the plain
analysis functions and the formatting latency."""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import dockerfix
from dockerfix import lsp

pygls = pytest.importorskip("pygls", reason="the language server needs pygls (pip install 'dockerfix[lsp]')")

ROOT = Path(__file__).resolve().parents[1]
TEXT = "FROM python:3.12\nADD app.py /app/\nRUN pip install flask\n"
APT = "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n"


# ------------------------------------------------------------------ a minimal LSP client
class Client:
    def __init__(self, cwd: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dockerfix", "lsp"], cwd=cwd, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.inbox: queue.Queue = queue.Queue()
        self.notes: list[dict] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put(None)
                    return
                if line in (b"\r\n", b"\n"):
                    break
                k, _, v = line.decode("ascii").partition(":")
                headers[k.strip().lower()] = v.strip()
            self.inbox.put(json.loads(out.read(int(headers["content-length"])).decode("utf-8")))

    def send(self, msg: dict) -> None:
        raw = json.dumps({"jsonrpc": "2.0", **msg}).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(raw) + raw)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def _next(self, timeout: float = 60) -> dict:
        msg = self.inbox.get(timeout=timeout)
        assert msg is not None, "server closed stdout: " + self.proc.stderr.read().decode()
        return msg

    def request(self, method: str, params: dict | None) -> dict:
        self.next_id += 1
        rid = self.next_id
        self.send({"id": rid, "method": method, "params": params})
        while True:
            msg = self._next()
            if msg.get("id") == rid and "method" not in msg:
                assert "error" not in msg, msg
                return msg.get("result")
            if "method" in msg and "id" in msg:  # a server->client request: answer it
                self.send({"id": msg["id"], "result": None})
            else:
                self.notes.append(msg)

    def notification(self, method: str, pred=lambda p: True) -> dict:
        for i, n in enumerate(self.notes):
            if n["method"] == method and pred(n["params"]):
                return self.notes.pop(i)["params"]
        while True:
            msg = self._next()
            if msg.get("method") == method and "id" not in msg and pred(msg["params"]):
                return msg["params"]
            if "method" in msg and "id" in msg:
                self.send({"id": msg["id"], "result": None})
            else:
                self.notes.append(msg)


def apply_text_edits(text: str, edits: list[dict], encoding: str = "utf-16") -> str:
    """What an editor does with a list of TextEdits (all relative to the original text)."""
    index = lsp.LineIndex(text, encoding)
    spans = []
    for e in edits:
        r = e["range"]
        spans.append((index.offset(r["start"]["line"], r["start"]["character"]),
                      index.offset(r["end"]["line"], r["end"]["character"]), e["newText"]))
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


@pytest.fixture
def client(tmp_path):
    c = Client(tmp_path)
    yield c
    if c.proc.poll() is None:
        c.proc.kill()
        c.proc.wait(10)


def _open(c: Client, uri: str, text: str, version: int = 1) -> dict:
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "dockerfile", "version": version,
                                                       "text": text}})
    return c.notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)


def test_stdio_session(client, tmp_path):
    # pinned, so transforms added later do not change what this session expects
    (tmp_path / ".dockerfix.toml").write_text('select = ["DFX001", "DFX103", "DFX107", "DFX113"]\n')
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("print('hi')\n")
    uri = (app / "Dockerfile").as_uri()

    init = client.request("initialize", {"processId": os.getpid(), "rootUri": tmp_path.as_uri(),
                                         "capabilities": {"general": {"positionEncodings": ["utf-16"]}}})
    caps = init["capabilities"]
    assert init["serverInfo"]["name"] == "dockerfix"
    assert caps["positionEncoding"] == "utf-16"
    assert caps["documentFormattingProvider"] is True
    assert set(caps["codeActionProvider"]["codeActionKinds"]) == {"quickfix", "source.fixAll.dockerfix"}
    client.notify("initialized", {})

    # didOpen -> diagnostics, one per finding, severity by fix safety
    diags = _open(client, uri, TEXT)
    assert diags["version"] == 1
    got = [(d["code"], d["severity"], d["range"]["start"]["line"], d["source"]) for d in diags["diagnostics"]]
    assert got == [("DFX001", 2, 1, "dockerfix"), ("DFX107", 2, 2, "dockerfix")]
    assert "safe fix available" in diags["diagnostics"][0]["message"]

    # code actions: a quick fix per finding (labelled) and "apply all safe fixes"
    whole = {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}}
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": diags["diagnostics"]}})
    titles = [(a["kind"], a["title"]) for a in actions]
    assert titles == [
        ("quickfix", "Replace ADD with COPY (DFX001 add-local-to-copy, safe fix)"),
        ("quickfix", "Add `--no-cache-dir` to `pip install` (DFX107 pip-no-cache-dir, safe fix)"),
        ("source.fixAll.dockerfix", "dockerfix: apply all safe fixes"),
    ]
    one = apply_text_edits(TEXT, actions[0]["edit"]["changes"][uri])
    assert one == TEXT.replace("ADD", "COPY")
    fixed = dockerfix.fix(TEXT, path=str(app / "Dockerfile"), context=str(app),
                          select=["DFX001", "DFX103", "DFX107", "DFX113"]).text
    assert apply_text_edits(TEXT, actions[2]["edit"]["changes"][uri]) == fixed

    # a range on line 3 only gets that line's fix (plus fix-all); `only` filters by kind
    line3 = {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 5}}
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": line3, "context": {"diagnostics": []}})
    assert [a["title"].split(" (")[0] for a in actions] == ["Add `--no-cache-dir` to `pip install`",
                                                            "dockerfix: apply all safe fixes"]
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": [], "only": ["source.fixAll"]}})
    assert [a["kind"] for a in actions] == ["source.fixAll.dockerfix"]

    # formatting applies the safe fixes
    edits = client.request("textDocument/formatting", {
        "textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}})
    assert apply_text_edits(TEXT, edits) == fixed

    # didChange (full) to a syntax error: one diagnostic at the parser's line:col, no formatting edits
    broken = "FROM alpine\nRUN <<EOF\necho never closed\n"
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                            "contentChanges": [{"text": broken}]})
    d = client.notification("textDocument/publishDiagnostics", lambda p: p.get("version") == 2)["diagnostics"]
    assert len(d) == 1 and d[0]["severity"] == 1
    with pytest.raises(dockerfix.DockerfileSyntaxError) as exc:
        dockerfix.parse(broken)
    assert d[0]["range"]["start"] == {"line": exc.value.line - 1, "character": exc.value.column - 1}
    assert d[0]["message"] == exc.value.message
    assert client.request("textDocument/formatting", {
        "textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}) == []

    # didChange (incremental) to an apt install: unsafe fix -> Information, labelled unsafe
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}}, "text": APT}]})
    d = client.notification("textDocument/publishDiagnostics", lambda p: p.get("version") == 3)["diagnostics"]
    by_code = {x["code"]: x for x in d}
    assert by_code["DFX113"]["severity"] == 3 and "unsafe fix" in by_code["DFX113"]["message"]
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": []}})
    unsafe = [a for a in actions if "DFX113" in a["title"]]
    assert unsafe and unsafe[0]["title"].endswith("unsafe fix: may change the image)")
    assert unsafe[0]["isPreferred"] is False
    assert "--no-install-recommends" in apply_text_edits(APT, unsafe[0]["edit"]["changes"][uri])
    edits = client.request("textDocument/formatting", {
        "textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}})
    assert "--no-install-recommends" not in apply_text_edits(APT, edits)  # formatting stays safe

    # didClose clears the diagnostics and drops the buffer
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert client.notification("textDocument/publishDiagnostics", lambda p: p["diagnostics"] == [])["uri"] == uri

    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.proc.wait(30) == 0


def test_stdio_respects_configuration_and_utf8_positions(client, tmp_path):
    (tmp_path / ".dockerfix.toml").write_text('select = ["DFX0", "DFX107"]\nignore = ["add-local-to-copy"]\n')
    uri = (tmp_path / "Dockerfile").as_uri()
    init = client.request("initialize", {"processId": None, "rootUri": None,
                                         "capabilities": {"general": {"positionEncodings": ["utf-8"]}}})
    assert init["capabilities"]["positionEncoding"] == "utf-8"
    client.notify("initialized", {})
    text = 'FROM python:3.12\nADD app.py /app/\nRUN echo "é€😀" && pip install flask\n'
    diags = _open(client, uri, text)["diagnostics"]
    assert [d["code"] for d in diags] == ["DFX107"]
    edits = client.request("textDocument/formatting", {
        "textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}})
    assert apply_text_edits(text, edits, "utf-8") == text.replace("pip install", "pip install --no-cache-dir")
    actions = client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {
        "start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}}, "context": {"diagnostics": []}})
    insert = actions[0]["edit"]["changes"][uri][0]["range"]["start"]
    assert insert == {"line": 2, "character": len('RUN echo "é€😀" && pip install'.encode("utf-8"))}
    client.request("shutdown", None)
    client.notify("exit", None)
    assert client.proc.wait(30) == 0


def test_help_and_bad_arguments():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "dockerfix", "lsp", "--help"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "usage: dockerfix lsp" in p.stdout
    p = subprocess.run([sys.executable, "-m", "dockerfix", "lsp", "--tcp"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "unknown argument '--tcp'" in p.stderr


# ------------------------------------------------------------------ the plain functions
@pytest.mark.parametrize("encoding, col", [("utf-16", 4), ("utf-8", 8), ("utf-32", 3)])
def test_line_index(encoding, col):
    text = "ab\r\nx€😀yz\rlast"
    idx = lsp.LineIndex(text, encoding)
    off = text.index("y")
    assert idx.position(off) == (1, col)
    assert idx.offset(1, col) == off
    assert idx.position(len(text)) == (2, 4)
    assert idx.offset(9, 0) == len(text)
    assert idx.offset(0, 99) == 2  # clamped to the line's end, before \r\n


def test_minimal_edits_touch_only_changed_lines():
    before = "a\nb\nc\nd"
    after = "a\nB\nc\nd!"
    edits = lsp.minimal_edits(before, after)
    assert [e["range"]["start"]["line"] for e in edits] == [1, 3]
    assert apply_text_edits(before, edits) == after
    assert lsp.minimal_edits(before, before) == []


def test_formatting_a_large_fix_dense_file_edits_only_the_changed_lines(tmp_path):
    # over WHOLE_DIFF_LINES the edits come from the fix result's replacements (difflib on the middle grew with the
    # square of the file, and its junk heuristic made one edit of the whole middle of repeated blocks)
    from dockerfix.outputs.diff import WHOLE_DIFF_LINES

    block = "RUN apt-get update\nRUN apt-get install -y curl\nADD app.tar /opt/\n"
    text = "FROM debian:12\n" + block * (WHOLE_DIFF_LINES // 3)
    a = lsp.analyze(text, str(tmp_path / "Dockerfile"))
    edits = lsp.formatting(a)
    assert apply_text_edits(text, edits) == a.safe_text() != text
    assert len(edits) >= WHOLE_DIFF_LINES // 3  # one per block at least: the ADD lines between stay untouched
    edited = {e["range"]["start"]["line"] for e in edits}
    assert not any(text.splitlines()[k].startswith("ADD") for k in edited)


def test_analysis_syntax_error_and_suppression(tmp_path):
    a = lsp.analyze("FROM alpine\nRUN <<EOF\n", str(tmp_path / "Dockerfile"))
    assert a.error is not None and lsp.formatting(a) == [] and lsp.code_actions(a, "u", 0, 9) == []
    d = lsp.diagnostics(a)
    assert len(d) == 1 and d[0]["severity"] == lsp.ERROR
    text = "FROM alpine\n# dockerfix: ignore=DFX001\nADD a.txt /a\nADD b.txt /b\n"
    a = lsp.analyze(text, None)
    assert [(f.code, a.text[f.start:f.end]) for f in a.findings if f.code == "DFX001"] == [("DFX001", "ADD")]
    assert [d["range"]["start"]["line"] for d in lsp.diagnostics(a) if d.get("code") == "DFX001"] == [3]


def test_bad_configuration_is_one_diagnostic(tmp_path):
    (tmp_path / ".dockerfix.toml").write_text("select = 3\n")
    a = lsp.analyze(TEXT, str(tmp_path / "Dockerfile"))
    d = lsp.diagnostics(a)
    assert len(d) == 1 and d[0]["severity"] == lsp.ERROR and "configuration" in d[0]["message"]


def test_buffers_keep_only_open_documents():
    b = lsp.Buffers()
    a1 = b.get("file:///a", 1, TEXT, None)
    assert b.get("file:///a", 1, TEXT, None) is a1
    assert b.get("file:///a", 2, TEXT + "\n", None) is not a1
    b.get("file:///b", 1, TEXT, None)
    assert len(b) == 2
    b.drop("file:///a")
    b.drop("file:///b")
    assert len(b) == 0


# ------------------------------------------------------------------ latency of formatting (in-process)
def two_hundred_lines() -> str:
    lines = ["# syntax=docker/dockerfile:1", "FROM python:3.12-slim AS base", "ENV APP_HOME=/app", "WORKDIR /app"]
    i = 0
    while len(lines) < 197:
        i += 1
        lines += [
            f"# step {i}",
            f"ADD requirements-{i}.txt /app/",
            f"RUN pip install -r requirements-{i}.txt \\",
            f"    && echo step-{i} > /tmp/step-{i}",
            "RUN apt-get update && apt-get install -y curl \\",
            "    && curl --version",
            f"COPY src/{i} /app/src/{i}",
            "",
        ]
    lines = lines[:197] + ["USER nobody", "EXPOSE 8000", 'CMD ["python", "-m", "app"]', ""]
    return "\n".join(lines)


def _server_with(text: str, uri: str):
    from lsprotocol import types

    server = lsp.create_server()
    for _ in server.protocol.lsp_initialize(types.InitializeParams(capabilities=types.ClientCapabilities())):
        pass  # a generator (it yields to user initialize handlers; dockerfix has none)
    server.workspace.put_text_document(types.TextDocumentItem(uri=uri, language_id="dockerfile", version=1,
                                                              text=text))
    return server


def measure_formatting(n: int = 100, n_cold: int = 100) -> dict[str, float]:
    """Median milliseconds of ``textDocument/formatting`` handled in-process on a 200-line file: ``warm`` (the buffer
    was analysed when it changed, as in an editor), ``cold`` (a new version each time, analysis inside the request)."""
    from lsprotocol import types

    text = two_hundred_lines()
    uri = "file:///nonexistent/Dockerfile"
    server = _server_with(text, uri)
    handlers = server.dockerfix_handlers
    server.text_document_publish_diagnostics = lambda params: None  # no transport in-process
    params = types.DocumentFormattingParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                            options=types.FormattingOptions(tab_size=4, insert_spaces=True))
    handlers["didOpen"](server, types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="dockerfile", version=1, text=text)))
    warm = []
    for _ in range(n):
        t = time.perf_counter()
        edits = handlers["formatting"](server, params)
        warm.append(time.perf_counter() - t)
    assert edits
    cold = []
    doc = server.workspace.get_text_document(uri)
    for i in range(n_cold):
        doc._source = text + f"# edit {i}\n"
        doc.version = i + 2
        t = time.perf_counter()
        handlers["formatting"](server, params)
        cold.append(time.perf_counter() - t)
    return {"lines": len(text.splitlines()), "warm_ms": statistics.median(warm) * 1000,
            "cold_ms": statistics.median(cold) * 1000}


def test_formatting_latency():
    m = measure_formatting(100, 10)
    print(f"\nformatting a {m['lines']}-line Dockerfile: warm median {m['warm_ms']:.3f} ms, "
          f"cold median {m['cold_ms']:.1f} ms")
    assert m["lines"] == 200
    assert m["warm_ms"] < 10


if __name__ == "__main__":  # python tests/test_lsp.py: print the latency numbers
    print(measure_formatting(100))
