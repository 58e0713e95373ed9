"""Crash-safe saves: processes killed (SIGKILL) mid-save never leave a corrupt file.

Child processes save models (or training checkpoints) to one destination in a tight
loop; the test kills them with SIGKILL at random moments and loads whatever is at the
destination. It must always be one complete file written by some save, never a mix or
a fragment; the only other files are temporary files with the documented name pattern,
which ``load`` refuses.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.files import container as dpio

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="needs POSIX signals (SIGKILL)"
)

SRC = str(Path(dp.__file__).resolve().parents[1])
TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")

# Each child announces "ready" once it has completed one save, then keeps saving.
SAVE_MODELS = textwrap.dedent(
    """
    import sys
    import numpy as np
    import deltaprop as dp

    path, child = sys.argv[1], int(sys.argv[2])
    net = dp.Network([dp.Dense(64, 256), dp.Dense(256, 8)], random_state=0)
    for generation in range(1, 10**9):
        value = float(child * 10**6 + generation)  # every save holds a distinct constant
        for layer in net.layers:
            layer.weights = np.full((layer.n_in, layer.n_out), value)
            layer.bias = np.full(layer.n_out, value)
        dp.save(net, path)
        if generation == 1:
            print("ready", flush=True)
    """
)

TRAIN_WITH_CHECKPOINTS = textwrap.dedent(
    """
    import sys
    import numpy as np
    import deltaprop as dp

    sys.path.insert(0, sys.argv[3])
    from test_crash_safety import checkpoint_run

    def ready(iteration, history, net):
        if iteration == 1:
            print("ready", flush=True)

    checkpoint_run(10**6, callbacks=[dp.Checkpoint(sys.argv[1]), ready])
    """
)


def checkpoint_run(max_iter, **kwargs):
    """The run the checkpointing children do (and the test repeats to compare)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 32))
    y = (X[:, 0] - X[:, 1] > 0).astype(float)
    net = dp.Network([dp.Dense(32, 128, "tanh"), dp.Dense(128, 1)], random_state=0)
    history = dp.train(
        net, X, y, optimizer=dp.Adam(0.01), batch_size=16, max_iter=max_iter, **kwargs
    )
    return net, history


def _kill_rounds(code, path, *, rounds, children, rng):
    """Start ``children`` writers per round, kill each at a random moment; yield after each."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    tests = str(Path(__file__).resolve().parent)
    for _ in range(rounds):
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(path), str(child + 1), tests],
                stdout=subprocess.PIPE,
                env=env,
            )
            for child in range(children)
        ]
        try:
            for proc in procs:
                assert proc.stdout.readline() == b"ready\n", "the child failed to start"
            for proc in procs:
                time.sleep(rng.uniform(0.0, 0.05))
                proc.send_signal(signal.SIGKILL)
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
                proc.stdout.close()
        assert all(proc.returncode == -signal.SIGKILL for proc in procs)
        yield


def _check_folder(path):
    """Only the destination and temporary files; load refuses the latter."""
    others = [p for p in path.parent.iterdir() if p != path]
    for other in others:
        assert TEMPORARY.fullmatch(other.name), other.name
        with pytest.raises(dpio.ModelFileError, match="temporary file of an unfinished save"):
            dp.load(other)
    assert sorted(others) == dpio.temporary_files(path)
    return others


def test_killed_model_saves_leave_a_complete_file(tmp_path, rng):
    path = tmp_path / "model.deltaprop"
    first = dp.Network([dp.Dense(64, 256), dp.Dense(256, 8)], random_state=0)
    for layer in first.layers:
        layer.weights = np.zeros((layer.n_in, layer.n_out))
        layer.bias = np.zeros(layer.n_out)
    dp.save(first, path)
    seen = set()
    for _ in _kill_rounds(SAVE_MODELS, path, rounds=5, children=3, rng=rng):
        net = dp.load(path)
        values = np.concatenate([np.ravel(p) for p in net.parameters])
        assert np.all(values == values[0]), "a mix of two saves"
        seen.add(float(values[0]))
    assert len(seen) >= 2  # the file really was replaced while children were killed
    leftovers = _check_folder(path)
    assert leftovers, "no kill landed inside a save (a temporary file would remain)"


def test_killed_checkpointing_run_resumes_exactly(tmp_path, rng):
    path = tmp_path / "run.ckpt"
    iterations = []
    for _ in _kill_rounds(TRAIN_WITH_CHECKPOINTS, path, rounds=4, children=2, rng=rng):
        state = dp.load(path)
        assert state.history.n_iter == state.iteration >= 1
        iterations.append(state.iteration)
    _check_folder(path)

    # the last checkpoint continues exactly as a run that was never killed
    max_iter = iterations[-1] + 3
    straight, h1 = checkpoint_run(max_iter)
    resumed, h2 = checkpoint_run(max_iter, resume=path)
    assert h1 == h2
    for a, b in zip(straight.parameters, resumed.parameters, strict=True):
        assert np.array_equal(a, b)
