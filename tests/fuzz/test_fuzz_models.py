"""Fuzz the model loaders: damaged model files and checkpoints.

Seeds: the model files of ``corpus/models`` (networks, estimators, tabular models, a
checkpoint, and crafted damaged ones) and the 0.1.0 files of ``tests/data/v0_1_0``.
Each is damaged in its bytes, its JSON header (a node replaced or removed) or one of
its arrays. Oracle: :func:`deltaprop.load` and :func:`deltaprop.files.read_header`
return, or raise a ``ValueError`` naming the file; an object that loads predicts
(numbers, or a ``ValueError``) without any other exception.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.files import read_header

from .harness import guard, names_the, out_of_time, outcome, run_for, skipped_known, target_seconds
from .known import known_defect
from .strategies import damaged_model_files

TARGET = "models"


def exercise(obj) -> str:
    """Use a loaded object as a user would; returns the outcome's name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow in extreme weights is not this test's
        if isinstance(obj, dp.Network):
            output = obj.forward(np.linspace(-1.0, 1.0, 3 * obj.n_inputs).reshape(3, -1))
            assert output.shape[0] == 3
            return "Network predicts" if np.all(np.isfinite(output)) else "Network non-finite"
        names = getattr(obj, "feature_names_in_", None)
        if names is not None and hasattr(obj, "predict"):
            if isinstance(obj, dp.TabularModel):
                table = {name: [0.5, 1.0] for name in names}
                return f"{type(obj).__name__} predicts {len(obj.predict(table))}"
        n_features = getattr(obj, "n_features_in_", None)
        if n_features is not None and hasattr(obj, "predict"):
            obj.predict(np.ones((2, n_features)))
            return f"{type(obj).__name__} predicts"
    return f"{type(obj).__name__} loaded"


def check_load(path: Path) -> None:
    """The oracle: load and read_header answer, or raise a ValueError naming ``path``."""
    try:
        read_header(path)
    except ValueError as exc:
        assert names_the(str(exc), str(path)), f"the error does not name the file: {exc}"
    try:
        obj = dp.load(path)
    except ValueError as exc:
        assert names_the(str(exc), str(path)), f"the error does not name the file: {exc}"
        outcome(TARGET, "ValueError")
        return
    try:
        outcome(TARGET, exercise(obj))
    except ValueError:
        outcome(TARGET, f"{type(obj).__name__} refuses the input")


@pytest.mark.timeout(target_seconds() + 300)
def test_load_answers_or_names_the_file():
    folder = Path(tempfile.mkdtemp(prefix="deltaprop-fuzz-"))

    def load_one(model):
        if out_of_time(TARGET):
            return
        what, content = model
        known = known_defect(TARGET, content)
        if known is not None:
            skipped_known(TARGET, known.name)
            return
        path = folder / "model.deltaprop"
        path.write_bytes(content)
        try:
            with guard(f"load of {what}, {len(content)} bytes", files=(path,)):
                check_load(path)
        finally:
            path.unlink()

    try:
        run_for(TARGET, load_one, model=damaged_model_files())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
