"""Every command block of README.md and docs/*.md runs as pasted, through a real shell.

A reader copies a ```bash block into a terminal; this test does the same. The rules for
what a test cannot do literally are decided here, once:

- **Order and folder.** The blocks of one page run in order, in one fresh temporary
  folder (later blocks use the files earlier ones wrote). Each ```bash block is run by
  ``bash -e`` with this interpreter's folder (the virtual environment's ``deltaprop`` and
  ``python``) first on ``PATH``. The ```python blocks that come before a page's last bash
  block run too, in the same folder, in one Python interpreter per page (as a reader
  pastes them into one session: a block sees the names earlier blocks defined), since a
  bash block may read what they wrote; tests/test_readme.py and tests/test_docs.py run
  every Python block and check their numbers.
- **Installing.** ``pip install ...`` is not run (the package and its extras are
  installed already: CI installs them); in ``pip install X && rest`` the rest runs.
- **The test suite.** ``python -m pytest`` (the README's test command) is not run: it is
  what runs this test. tests/test_readme.py checks that CI runs that command.
- **The server.** ``deltaprop serve ...`` serves until Ctrl-C. It is started with the
  options as written, except that a ``--port`` gives way to a free port (two test runs at
  once would collide) and ``--open`` opens no browser (``BROWSER=true``); it must print
  its ``serving http://...`` line and answer a request for its page within
  ``SERVE_TIMEOUT`` seconds, and is then stopped with Ctrl-C (SIGINT).
- **Blocks that cannot run here** (a remote cluster, a GPU) are marked by an HTML
  comment right before the block, ``<!-- not run: REASON -->``, and by nothing else.
  Each page's test reports them in a warning; a marker without a reason, or one not
  followed by a block, fails.
- **Optional dependencies.** A page whose blocks need a module that is not installed
  (the ``cli`` extra's pandas and scikit-learn for ``deltaprop train``, Dask for
  ``--dask``, onnx for ``export-onnx``, ...) is skipped, naming the module.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SERVE_TIMEOUT = 120  # seconds until `deltaprop serve` answers
BLOCK_TIMEOUT = 240  # seconds for one block

_FENCE = re.compile(r"^```(?P<lang>[\w+-]*)\n(?P<code>.*?)^```", re.S | re.M)
_MARKER = re.compile(r"<!--\s*not run\b:?(?P<reason>.*?)-->", re.S)
_NOT_RUN_COMMANDS = re.compile(r"^\s*(pip install\b|python -m pytest\b)")

# (a pattern of the text that runs, the modules it needs)
_NEEDS = [
    (r"\bdeltaprop (demo|train|predict|evaluate|info|export-onnx|serve)\b|deltaprop explain \S",
     ("pandas", "pyarrow", "sklearn")),
    (r"--plot|--png|matplotlib", ("matplotlib",)),
    (r"--dask\b|import dask|from dask", ("dask", "distributed")),
    (r"export-onnx|import onnx|to_onnx", ("onnx",)),
    (r"onnxruntime", ("onnxruntime",)),
    (r"\bimport torch\b", ("torch",)),
    (r"\bsklearn\b", ("sklearn",)),
    (r"\bscipy\b|LBFGS|lbfgs", ("scipy",)),
]  # fmt: skip


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: its language, its text, its line, and why it is not run."""

    lang: str
    code: str
    line: int
    not_run: str | None  # the marker's reason, or None for a block that runs


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown page, with the ``not run`` marker right before each."""
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip()
        marker = _MARKER.search(before, max(0, before.rfind("<!--")))
        reason = None
        if marker is not None and marker.end() == len(before):
            reason = marker.group("reason").strip()
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(match.group("lang"), match.group("code"), line, reason))
    return found


def _to_run(page: Path) -> list[Block]:
    """The blocks of ``page`` this test runs: bash, and the Python before the last bash."""
    page_blocks = blocks(page.read_text(encoding="utf-8"))
    bash = [i for i, b in enumerate(page_blocks) if b.lang == "bash"]
    if not bash:
        return []
    return [
        b for b in page_blocks[: bash[-1] + 1] if b.lang in ("bash", "python") and b.not_run is None
    ]


def _shell_text(code: str) -> str:
    """A bash block as it runs here: ``pip install`` and ``python -m pytest`` left out."""
    lines = []
    for line in code.splitlines():
        kept = [part for part in line.split("&&") if not _NOT_RUN_COMMANDS.match(part)]
        lines.append("&&".join(kept).strip() if kept else ": # not run here: " + line)
    return "\n".join(lines) + "\n"


# `deltaprop serve ...` inside a block: started, asked for its page, stopped with Ctrl-C
_SERVE_CHECK = """
import os, re, signal, subprocess, sys, threading, time, urllib.request

args = sys.argv[2:]
if "--port" in args:  # a free port instead: two test runs at once would collide
    i = args.index("--port")
    del args[i : i + 2]
args = [a for a in args if not a.startswith("--port=")]
process = subprocess.Popen(
    [sys.argv[1], "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    text=True, env={**os.environ, "BROWSER": "true"},
    # Ctrl-C must reach it even when this runs as a background job (which ignores SIGINT)
    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
)
output, url = [], []

def read():
    for line in process.stdout:
        output.append(line)
        found = re.search(r"serving (http://\\S+)", line)
        if found and not url:
            url.append(found.group(1))

reader = threading.Thread(target=read, daemon=True)
reader.start()
deadline = time.monotonic() + float(os.environ["SERVE_TIMEOUT"])
while not url and process.poll() is None and time.monotonic() < deadline:
    time.sleep(0.1)
status = 1
if url:
    with urllib.request.urlopen(url[0], timeout=30) as response:
        page = response.read().decode("utf-8")
    if response.status == 200 and "<html" in page.lower():
        status = 0
        print(f"serve answered {url[0]}: {len(page)} characters")
if process.poll() is None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        status = 1
reader.join(timeout=5)
print("".join(output), end="")
if not url and process.returncode not in (None, -signal.SIGINT, 130):
    print(f"deltaprop serve exited with status {process.returncode}", file=sys.stderr)
elif not url:
    print("deltaprop serve did not print its address in time", file=sys.stderr)
sys.exit(status)
"""


def _needs(page: Path, to_run: list[Block]) -> list[str]:
    text = "\n".join(b.code for b in to_run)
    modules = []
    for pattern, names in _NEEDS:
        if re.search(pattern, text):
            modules += [n for n in names if n not in modules]
    return modules


def _run_pages():
    return [p for p in PAGES if _to_run(p)]


@pytest.mark.parametrize("page", _run_pages(), ids=lambda p: p.name)
def test_command_blocks_run_as_pasted(page, tmp_path):
    to_run = _to_run(page)
    for module in _needs(page, to_run):
        pytest.importorskip(module, reason=f"{page.name} needs {module}")
    bin_folder = Path(sys.executable).parent
    deltaprop = shutil.which("deltaprop", path=str(bin_folder))
    if deltaprop is None:
        pytest.skip(f"no deltaprop command beside {sys.executable}: pip install -e .")

    folder, scratch = tmp_path / "work", tmp_path / "scripts"
    folder.mkdir()
    scratch.mkdir()
    (scratch / "serve_check.py").write_text(_SERVE_CHECK, encoding="utf-8")
    prelude = textwrap.dedent(f"""\
        deltaprop() {{
            if [ "${{1-}}" = serve ]; then
                shift
                "{sys.executable}" "{scratch / "serve_check.py"}" "{deltaprop}" "$@"
            else
                command deltaprop "$@"
            fi
        }}
        """)
    env = {
        **os.environ,
        "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}",
        "SERVE_TIMEOUT": str(SERVE_TIMEOUT),
        "MPLBACKEND": "Agg",
    }

    session = _PythonSession(folder, env)
    try:
        for block in to_run:
            if block.lang == "python":
                session.run(page, block, scratch / f"python_line_{block.line}.py")
                continue
            script = scratch / f"bash_line_{block.line}.sh"
            script.write_text(prelude + _shell_text(block.code), encoding="utf-8")
            _run(page, block, ["bash", "-e", str(script)], folder, env)
    finally:
        session.close()

    not_run = [b for b in blocks(page.read_text(encoding="utf-8")) if b.not_run is not None]
    if not_run:
        reasons = "; ".join(f"line {b.line}: {b.not_run}" for b in not_run)
        warnings.warn(
            f"{page.name}: {len(not_run)} block(s) not run ({reasons})", UserWarning, stacklevel=1
        )


_DRIVER = """\
import sys, traceback
namespace = {"__name__": "__main__"}
for line in sys.stdin:
    try:
        with open(line.strip(), encoding="utf-8") as file:
            exec(compile(file.read(), line.strip(), "exec"), namespace)
        status = "ok"
    except BaseException:
        traceback.print_exc()
        status = "failed"
    sys.stdout.flush()
    sys.stderr.flush()
    print("\\x00" + status, flush=True)
"""


class _PythonSession:
    """One Python interpreter per page: its ```python blocks share a namespace, as they do
    for a reader who pastes them, one after the other, into one Python session."""

    def __init__(self, folder: Path, env: dict) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", _DRIVER],
            cwd=folder,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # a thread reads the output, so that waiting for a block can time out
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)  # the interpreter ended

    def run(self, page: Path, block: Block, script: Path) -> None:
        script.write_text(block.code, encoding="utf-8")
        self.process.stdin.write(f"{script}\n")
        self.process.stdin.flush()
        output, deadline = [], time.monotonic() + BLOCK_TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                pytest.fail(f"{page.name}, the python block at line {block.line} hung")
            if line is None or line.startswith("\x00"):
                status = "failed" if line is None else line[1:].strip()
                break
            output.append(line)
        if status != "ok":
            pytest.fail(
                f"{page.name}, the python block at line {block.line} failed:\n{block.code}\n"
                f"--- output ---\n{''.join(output)[-3000:]}",
                pytrace=False,
            )

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _run(page: Path, block: Block, argv: list[str], folder: Path, env: dict) -> None:
    result = subprocess.run(
        argv, cwd=folder, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT
    )
    if result.returncode != 0:
        pytest.fail(
            f"{page.name}, the {block.lang} block at line {block.line} failed "
            f"(exit status {result.returncode}):\n{block.code}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}",
            pytrace=False,
        )


def test_every_not_run_marker_gives_a_reason_and_sits_on_a_block():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        marked = {b.line for b in blocks(text) if b.not_run is not None}
        for b in blocks(text):
            if b.not_run is not None:
                assert b.not_run, f"{page.name} line {b.line}: `not run` without a reason"
        assert len(_MARKER.findall(text)) == len(marked), (
            f"{page.name}: a `<!-- not run: ... -->` marker that is not right before a block"
        )


def test_the_rules_read_blocks_as_documented():
    page = textwrap.dedent("""\
        Intro.

        ```bash
        pip install . && deltaprop demo
        pip install -e ".[test]" && python -m pytest
        ```

        <!-- not run: needs a GPU -->
        ```bash
        deltaprop train big.csv --target y --device cuda
        ```

        ```python
        print(1)
        ```
        """)
    found = blocks(page)
    assert [(b.lang, b.line, b.not_run) for b in found] == [
        ("bash", 3, None),
        ("bash", 9, "needs a GPU"),
        ("python", 13, None),
    ]
    assert _shell_text(found[0].code).splitlines() == [
        "deltaprop demo",
        ': # not run here: pip install -e ".[test]" && python -m pytest',
    ]
