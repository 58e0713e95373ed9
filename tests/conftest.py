"""Shared fixtures: a seeded generator, tiny datasets, and the array libraries."""

from __future__ import annotations

import builtins
import contextlib
import functools
import importlib
import importlib.util
import io
import json
import locale
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

_NAMESPACES = ["numpy"]
if importlib.util.find_spec("array_api_strict") is not None:
    _NAMESPACES.append("array_api_strict")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(params=_NAMESPACES)
def xp(request):
    """Every installed array library the suite runs over."""
    if request.param == "numpy":
        return np
    import array_api_strict

    return array_api_strict


def to_xp(xp, *arrays, dtype=None):
    """Move NumPy arrays into ``xp`` (None stays None)."""
    out = []
    for a in arrays:
        if a is None:
            out.append(None)
        else:
            a = np.asarray(a, dtype=dtype or np.asarray(a).dtype)
            out.append(a if xp is np else xp.asarray(a))
    return out[0] if len(out) == 1 else out


@pytest.fixture
def xor():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    return X, y


def pytest_collection_modifyitems(config, items):
    """Tests marked ``out_of_core`` (minutes of disk and CPU), ``load`` (a slice of the
    live page's load test) or ``benchmarks`` (the benchmark scripts at tiny sizes) run
    only when ``-m`` selects them, as .ci/run does."""
    selected = config.getoption("markexpr", "") or ""
    for marker, why in (
        ("out_of_core", "out-of-core run"),
        ("load", "load test slice"),
        ("benchmarks", "benchmark smoke run"),
    ):
        if marker in selected:
            continue
        skip = pytest.mark.skip(reason=f"{why}: select it with -m {marker}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


# -- Dask: one small in-process cluster per test module ---------------------------------
def _in_process_cluster(distributed, n_workers=2):
    return distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=False, dashboard_address=":0"
    )


@pytest.fixture(scope="module")
def dask_cluster():
    """A LocalCluster of two single-threaded in-process workers (skips without dask)."""
    distributed = pytest.importorskip("distributed")
    with _in_process_cluster(distributed) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def dask_client(dask_cluster):
    """A Client of :func:`dask_cluster`; the current client while the module runs."""
    distributed = pytest.importorskip("distributed")
    with distributed.Client(dask_cluster) as client:
        yield client


@pytest.fixture
def small_local_clusters(monkeypatch):
    """Make code that starts ``distributed.LocalCluster`` start in-process workers.

    Returns the list of ``n_workers`` values asked for, one per cluster started.
    """
    distributed = pytest.importorskip("distributed")
    started = []
    local_cluster = distributed.LocalCluster

    def small_cluster(n_workers=None, **kwargs):
        started.append(n_workers)
        return local_cluster(
            n_workers=n_workers or 1, threads_per_worker=1, processes=False, dashboard_address=":0"
        )

    monkeypatch.setattr(distributed, "LocalCluster", small_cluster)
    return started


@contextlib.contextmanager
def no_code_execution():
    """Fail if the code inside unpickles, evaluates, executes or imports by name.

    Used around ``deltaprop.load`` of hostile files: loading must reject them by
    parsing alone (these are the ways a file format can run foreign code). ``compile``
    is allowed: ``ast.literal_eval``, which reads ``.npy`` headers, parses with it but
    evaluates nothing but literals.
    """

    def trap(name):
        def trapped(*args, **kwargs):
            raise AssertionError(f"{name} was called while loading a model file")

        return trapped

    import deltaprop
    from deltaprop.files import container

    # Fixed tables name the deltaprop modules imported on first use: the room of each public
    # name (deltaprop._LAZY) and the module that reads each kind of model file
    # (ARCHITECTURE.md, "ways up"). A name that a file could choose is never imported.
    registered = {module for module, _ in container._LAZY_KINDS.values()}
    registered |= set(deltaprop._LAZY.values())
    import_module = importlib.import_module

    def import_registered(name, *args, **kwargs):
        if name not in registered:
            raise AssertionError(f"importlib.import_module({name!r}) while loading a model file")
        return import_module(name, *args, **kwargs)

    traps = {
        (pickle, "load"): "pickle.load",
        (pickle, "loads"): "pickle.loads",
        (pickle, "Unpickler"): "pickle.Unpickler",
        (builtins, "eval"): "eval",
        (builtins, "exec"): "exec",
    }
    with contextlib.ExitStack() as stack:
        for (module, attribute), name in traps.items():
            stack.enter_context(mock.patch.object(module, attribute, trap(name)))
        stack.enter_context(mock.patch.object(importlib, "import_module", import_registered))
        yield


@pytest.fixture
def quick_recipe(monkeypatch, request):
    """``deltaprop train``'s default, the tabular recipe, with 4 epochs per member.

    Tests that run the default ``train`` in this process on tables of a few hundred rows
    stay fast; the recipe is otherwise the same (``max_epochs=4`` instead of "auto"). A
    test module that checks scores sets ``RECIPE_EPOCHS`` to the epochs it needs.
    Python's ``TabularClassifier`` and ``TabularRegressor`` are untouched.
    """
    _quick_recipe(monkeypatch, getattr(request.module, "RECIPE_EPOCHS", 4))


def _quick_recipe(monkeypatch, epochs):
    """Make ``deltaprop train``'s default recipe train ``epochs`` epochs per member."""
    try:
        from deltaprop.cli import tabular
    except ImportError:  # the cli extra is missing: nothing trains through it
        return
    build = tabular.build_recipe

    def build_quick(args, task, callbacks):
        return build(args, task, callbacks).set_params(max_epochs=epochs)

    monkeypatch.setattr(tabular, "build_recipe", build_quick)


# -- docs pages: the Python blocks of a page run once per session -----------------------
DOCS = Path(__file__).resolve().parent.parent / "docs"


@dataclass
class PageRun:
    """What running a docs page's Python blocks in order, in one namespace, gave.

    ``printed[i]`` is what block ``i`` printed; the run stops at the first block that
    raises (``error``, at block ``failed_at``) or needs a missing library (``skipped``).
    """

    printed: list[str] = field(default_factory=list)
    error: BaseException | None = None
    failed_at: int | None = None
    skipped: str | None = None

    def check(self, up_to=None):
        """Raise what the run raised (skip where it skipped), in blocks ``<= up_to``."""
        if self.error is not None and (up_to is None or self.failed_at <= up_to):
            raise self.error
        if self.skipped is not None and (up_to is None or len(self.printed) <= up_to):
            pytest.skip(self.skipped)

    def lines(self, block):
        """The lines block ``block`` printed (its errors raised, as :meth:`check`)."""
        self.check(block)
        return self.printed[block].split("\n")


def run_page(page, workdir):
    """Run ``page``'s Python blocks in ``workdir`` with train's quick recipe (quick_recipe)."""
    run = PageRun()
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(workdir)
        _quick_recipe(monkeypatch, 4)
        for i, block in enumerate(blocks):
            if "import torch" in block:  # after the page's earlier blocks have run
                try:
                    importlib.import_module("torch")
                except ImportError as exc:
                    run.skipped = f"could not import 'torch': {exc}"
                    break
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(block, f"{page.name} python block {i}", "exec"), namespace)
            except Exception as exc:
                run.error, run.failed_at = exc, i
                break
            finally:
                run.printed.append(out.getvalue())
                sys.stdout.write(out.getvalue())  # shown with the test's captured output
    return run


# -- commands a test only reads the result of: started early, in the background ---------
def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "early(command=...): the test reads the result of a command (a function of a fresh "
        "folder returning subprocess.Popen's keyword arguments, or None where it cannot "
        "run), started in the background once the tests are collected (conftest.py)",
    )


class EarlyCommand:
    """A command started in the background at low priority; :meth:`result` waits for it.

    The suite runs in one process; CI has two cores. A long command whose only output is
    its result (mypy, the site build) runs on the second core while the other tests run,
    instead of after them; it is niced, so the tests keep the core they use.
    """

    def __init__(self, command):
        self.folder = Path(tempfile.mkdtemp(prefix="deltaprop-early-"))
        self.spec = command(self.folder)
        self.process = None
        if self.spec is not None:
            self._out, self._err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
            self.process = subprocess.Popen(**self.spec, stdout=self._out, stderr=self._err)
            with contextlib.suppress(OSError, AttributeError):  # POSIX only
                os.setpriority(os.PRIO_PROCESS, self.process.pid, 19)

    def result(self, timeout):
        """The :class:`subprocess.CompletedProcess`, as ``subprocess.run(..., text=True)``."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        outputs = []
        for file in (self._out, self._err):
            file.seek(0)
            text = io.TextIOWrapper(file, encoding=locale.getpreferredencoding(False))
            outputs.append(text.read())  # universal newlines, as text=True reads
            text.detach()
        return subprocess.CompletedProcess(self.spec["args"], self.process.returncode, *outputs)

    def stop(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self._out.close()
            self._err.close()
        shutil.rmtree(self.folder, ignore_errors=True)


#: command -> its process; the tests that name one command share its one run
_EARLY: dict = {}


def pytest_collection_finish(session):
    for item in session.items:
        marker = item.get_closest_marker("early")
        if marker is not None and marker.kwargs["command"] not in _EARLY:
            _EARLY[marker.kwargs["command"]] = EarlyCommand(marker.kwargs["command"])


def pytest_sessionfinish(session):
    for early in _EARLY.values():
        early.stop()
    _EARLY.clear()


@pytest.fixture
def early_command(request):
    """The :class:`EarlyCommand` of this test's ``early`` marker (``None`` if it cannot run)."""
    command = request.node.get_closest_marker("early").kwargs["command"]
    if command not in _EARLY:  # not among the collected items: start it now
        _EARLY[command] = EarlyCommand(command)
    early = _EARLY[command]
    return None if early.spec is None else early


# -- docs pages: their Python blocks run once, in a child process started early -----------
def docs_pages():
    """The docs pages with Python blocks (tests/test_docs.py runs each)."""
    return sorted(p.name for p in DOCS.glob("*.md") if "```python" in p.read_text("utf-8"))


_DOCS_CHILD = """
import json, sys, traceback
from pathlib import Path
sys.path.insert(0, sys.argv[1])  # tests/: the page runner of conftest.py
import conftest
folder = Path(sys.argv[2])
for name in sys.argv[3:]:
    (folder / "pages" / name).mkdir(parents=True)
    run = conftest.run_page(conftest.DOCS / name, folder / "pages" / name)
    error = run.error and "".join(traceback.format_exception(run.error))
    result = dict(printed=run.printed, error=error, failed_at=run.failed_at, skipped=run.skipped)
    (folder / f".{name}.json").write_text(json.dumps(result))
    (folder / f".{name}.json").replace(folder / f"{name}.json")  # whole, once there
"""


def run_docs_pages(folder):
    """The early command that runs every docs page's Python blocks, one page after another.

    pytest's warning filter (pyproject.toml) applies: a RuntimeWarning is an error.
    """
    import deltaprop

    src = str(Path(deltaprop.__file__).resolve().parents[1])
    tests = str(Path(__file__).resolve().parent)
    argv = [sys.executable, "-W", "error::RuntimeWarning", "-c", _DOCS_CHILD, tests, str(folder)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return dict(args=[*argv, *docs_pages()], env=env, cwd=folder)


def page_run(early, name, timeout=600.0):
    """The :class:`PageRun` of docs page ``name`` in ``early`` (a :func:`run_docs_pages`)."""
    path = early.folder / f"{name}.json"
    deadline = time.monotonic() + timeout
    while not path.exists():
        if early.process.poll() is not None and not path.exists():
            stderr = early.result(timeout=0).stderr[-4000:]
            raise AssertionError(f"the docs pages' process ended before {name}:\n{stderr}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"docs page {name} ran longer than {timeout} s")
        time.sleep(0.05)
    result = json.loads(path.read_text(encoding="utf-8"))
    if result["error"] is not None:
        result["error"] = AssertionError(f"{name} python block raised:\n{result['error']}")
    return PageRun(**result)


@pytest.fixture
def docs_page_run(early_command):
    """``docs_page_run("scale.md")``: the :class:`PageRun` of that page.

    For tests marked ``early(command=run_docs_pages)``: tests/test_docs.py runs every
    page; tests that check what a page's example prints read the same run.
    """
    return functools.partial(page_run, early_command)
