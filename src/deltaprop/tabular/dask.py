"""A table that does not fit on the client: a Parquet dataset preprocessed and trained on Dask.

``deltaprop train DATA --dask`` reads ``DATA`` (a folder of Parquet files, or one file)
with :func:`dask.dataframe.read_parquet`; its rows stay on the workers. The
:class:`~deltaprop.tabular.Preprocessor` is fitted from small per-partition summaries that
the workers compute with the *same* helper functions as :meth:`Preprocessor.fit
<deltaprop.tabular.Preprocessor.fit>` (which columns are numeric, how a value reads as a
category, which labels a target has):

1. a first pass counts rows, missing values and values that are not numbers per column,
   sums and extremes of the numbers, and what :func:`~deltaprop.tabular.infer_task` needs
   to know about the target; the client decides every column's kind, the task, the
   means and the fill values;
2. (only for ``impute="most_frequent"``) the most frequent number of each numeric
   column, reduced on the workers to one value; (only for ``impute="median"`` and
   ``scaling="robust"``) the exact medians and quartiles, four passes each of a radix
   selection (:mod:`deltaprop.tabular.selection`) that bring back only histograms of
   16-bit digits, and, where a column's quartiles coincide, one pass of sums of
   absolute deviations;
3. a second pass sums the squared deviations from those means (the population standard
   deviation, as :func:`numpy.std`) and collects the category sets with their counts
   and the class set.

Only these summaries reach the client. The fitted preprocessor is therefore the
in-memory one up to the order of floating-point additions in the means and standard
deviations. Each partition is then encoded by the fitted preprocessor on its worker
(the feature rows, the class indices or scaled targets, the weights: what the in-memory
``deltaprop train`` hands the estimator) and the estimator fits on these dask arrays
through its own Dask path, :func:`deltaprop.estimators.dask.fit_on_dask`.

Every summary pass waits as training's passes do
(:func:`deltaprop.parallel.watched_compute`): a worker killed for its memory, or all the
workers paused for memory for a minute, stops the fit with a
:class:`~deltaprop.parallel.WorkerMemoryError` instead of an unexplained error or a wait
without end.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.parallel import plan_data, watched_compute
from deltaprop.tabular.columns import (
    FEATURE_REMEDY,
    MAX_CLASSES_INFERRED,
    SHOW,
    TARGET_REMEDY,
    VALUES_REMEDY,
    DataWarning,
    SpelledError,
    case_variants,
    case_warning,
    category_strings,
    class_labels,
    coded_categories,
    feature_numbers,
    folded_yes_no,
    is_numeric_dtype,
    looks_like_counts,
    missing_rows_error,
    mode,
    not_numbers_rows_error,
    numbers_as_written,
    numeric_cells,
    parse_numbers,
    read_as_missing_reason,
    rows_described,
    task_rule,
    truth_number,
    written_reason,
)
from deltaprop.tabular.preprocessing import Preprocessor
from deltaprop.tabular.readers import require_pandas
from deltaprop.tabular.roles import (
    MAX_CODE_CATEGORIES,
    ColumnRole,
    code_name,
    codes_reason,
    integer_codes,
)
from deltaprop.tabular.selection import (
    digit_counts,
    numpy_median,
    numpy_quantiles,
    quantile_ranks,
    select,
)
from deltaprop.tabular.transforms import robust_from_quartiles

__all__ = [
    "RECIPE_ON_DASK",
    "Fitted",
    "fit_estimator",
    "fit_preprocessor",
    "open_client",
    "plan_training_data",
    "read_parquet",
]

#: Why the tabular recipe does not train through Dask (said by ``train --dask``).
RECIPE_ON_DASK = (
    "the tabular recipe (an ensemble of 5 MLPs) is not available through Dask: each "
    "member holds out its own stratified share of the rows and keeps its own best epoch "
    "within a wall-clock budget, which whole partitions on workers cannot reproduce"
)

_INSTALL = 'pip install "deltaprop[dask]"'
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_FAN_IN = 8


def _import_dask() -> tuple[Any, Any, Any, Any]:
    try:
        import dask
        import dask.array as da
        import dask.dataframe as dd
        import distributed
    except ImportError as exc:
        raise ImportError(f"training through Dask needs dask.distributed: {_INSTALL}") from exc
    return dask, da, dd, distributed


# -- the cluster and the data ---------------------------------------------------------------
@contextlib.contextmanager
def open_client(
    scheduler: str | None = None, n_workers: int | None = None, memory_limit: int | None = None
) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler``, else of a new LocalCluster.

    ``n_workers`` and ``memory_limit`` (bytes per worker; default Dask's share of this
    machine's memory) size the LocalCluster.

    Raises
    ------
    ValueError
        When no scheduler answers at ``scheduler`` (within Dask's connect timeout,
        ``distributed.comm.timeouts.connect``) or the address is malformed.
    """
    _, _, _, distributed = _import_dask()
    if scheduler is not None:
        try:
            # a malformed address fails here, before a Client exists to be torn down
            scheme, _ = distributed.comm.parse_address(scheduler)
            distributed.comm.registry.get_backend(scheme)
            if scheme in ("tcp", "tls", "ws", "wss"):
                distributed.comm.get_address_host_port(scheduler)
            client = distributed.Client(scheduler, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ValueError(
                f"cannot connect to a Dask scheduler at {scheduler!r}: {reason}"
            ) from None
        with client:
            yield client
        return
    with (
        distributed.LocalCluster(
            n_workers=n_workers, dashboard_address=":0", memory_limit=memory_limit or "auto"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


def read_parquet(path: str | Path) -> Any:
    """``path`` (a folder of Parquet files, or one) as a dask DataFrame, read lazily.

    Raises
    ------
    ValueError
        A missing path, a file that is not Parquet, a folder without Parquet files, or
        unreadable metadata.
    """
    _, _, dd, _ = _import_dask()
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise ValueError(f"{where!r}: no such file or folder")
    if path.is_dir():
        if not any(p.name.lower().endswith(_PARQUET_SUFFIXES) for p in path.rglob("*")):
            raise ValueError(
                f"{where!r}: the folder holds no Parquet files (names ending in "
                f"{', '.join(_PARQUET_SUFFIXES)})"
            )
    elif not path.name.lower().endswith(_PARQUET_SUFFIXES):
        raise ValueError(
            f"{where!r}: training through Dask reads Parquet (a folder of .parquet files "
            "or one); convert the table first, e.g. with pandas' to_parquet"
        )
    try:
        # index=False: a pandas index stored with the table comes back as columns (dask
        # does it with a reset_index(inplace=True) that pandas 3.1 deprecates: not ours)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame")
            frame = dd.read_parquet(where, index=False)
    except (OSError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())
        raise ValueError(f"{where!r}: cannot read Parquet: {reason}") from None
    frame = _named_index_first(frame, path)
    columns = [str(c) for c in frame.columns]
    if not columns:
        raise ValueError(f"{where!r}: the dataset has no columns")
    return frame


def _named_index_first(frame: Any, path: Path) -> Any:
    """The columns of a stored pandas index where read_table puts them: named levels
    first (as ``reset_index()`` gives them), unnamed ones (``__index_level_0__``) gone."""
    import pyarrow.parquet

    first = (
        path
        if path.is_file()
        else next(p for p in sorted(path.rglob("*")) if p.name.lower().endswith(_PARQUET_SUFFIXES))
    )
    metadata = pyarrow.parquet.read_schema(first).pandas_metadata or {}
    stored = [c for c in metadata.get("index_columns", []) if isinstance(c, str)]
    named = [c for c in stored if not c.startswith("__index_level_") and c in frame.columns]
    unnamed = [c for c in frame.columns if str(c).startswith("__index_level_")]
    if not named and not unnamed:
        return frame
    rest = [c for c in frame.columns if c not in named and c not in unnamed]
    return frame[named + rest]


# -- pass 1: counts, sums and extremes per partition ----------------------------------------
@dataclass(frozen=True)
class _Spec:
    """What the workers need to summarise a partition."""

    features: tuple[str, ...]
    target: str
    weight: str | None
    infer_task: bool


def _first(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask)[:SHOW].tolist()


def _number_summary(numbers: np.ndarray) -> dict:
    finite = numbers[np.isfinite(numbers)]
    return {
        "sum": float(np.sum(finite)),
        "min": float(np.min(finite)) if finite.size else math.inf,
        "max": float(np.max(finite)) if finite.size else -math.inf,
    }


def _declared_as_numbers(frame: Any, names: tuple[str, ...]) -> Any:
    """A partition whose columns declared numeric hold their truth values (booleans,
    ``TRUE``, ``no``) as 1.0 and 0.0, as :func:`~deltaprop.tabular.columns.numeric_cells`
    reads them for a declared column."""
    frame = frame.copy()
    for name in names:
        frame[name] = frame[name].astype(object).map(_truth_as_number)
    return frame


def _truth_as_number(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, str):
        number = truth_number(value.strip().lower())
        return value if np.isnan(number) else number
    return value


def _column_survey(name: str, series: Any, pd: Any) -> dict:
    as_written = numbers_as_written(series, pd)
    # is_numeric_column's numbers decide the role; the cells read one by one then count
    unread = ~as_written[1] & np.isnan(as_written[0])
    plain = ~as_written[1] & ~np.isnan(as_written[0])
    if not plain.any() or not unread.any():  # text alone, or numbers alone: nothing to read
        numbers, missing, written = as_written
        bad, hows = unread, set() if written is None else {written}
    else:
        numbers, missing, bad, hows = numeric_cells(series, pd, as_written)
    infinite = np.isinf(numbers)
    codes: list | str | None = None  # a column named like codes: its integers, at most
    if code_name(name):  # MAX_CODE_CATEGORIES + 1 of them ("many" beyond)
        values = numbers[~missing & ~bad & ~infinite]
        if np.all(values == np.round(values)):
            distinct = np.unique(values)
            codes = distinct.tolist() if len(distinct) <= MAX_CODE_CATEGORIES else "many"
    return {
        "numeric_dtype": is_numeric_dtype(series, pd),
        "coded": coded_categories(series, pd),
        "n_missing": int(missing.sum()),
        "missing": _first(missing),
        "n_bad": int(bad.sum()),
        "n_unread": int(unread.sum()),
        "bad": [(i, repr(series.iloc[i])) for i in _first(bad)],
        "n_numbers": int((~missing & ~bad).sum()),
        "infinite": [(i, repr(series.iloc[i])) for i in _first(infinite)],
        "n_infinite": int(infinite.sum()),
        "written": sorted(hows),
        "codes": codes,
        **_number_summary(numbers[~missing & ~bad]),
    }


def _target_survey(series: Any, spec: _Spec, pd: Any) -> dict:
    missing = series.isna().to_numpy()
    present = series[~missing].reset_index(drop=True)
    rows = np.flatnonzero(~missing)
    numbers, _ = parse_numbers(present, pd)
    bad = np.isnan(numbers)
    ok = numbers[~bad]
    out = {
        "n_missing": int(missing.sum()),
        "missing": _first(missing),
        "n_present": len(present),
        "n_bad": int(bad.sum()),
        "bad": [(int(rows[i]), repr(present.iloc[i])) for i in _first(bad)],
        "infinite": [(int(rows[i]), repr(present.iloc[i])) for i in _first(np.isinf(numbers))],
        **_number_summary(ok),
    }
    if spec.infer_task:
        distinct = np.unique(ok)
        out.update(
            bool_like=bool(
                pd.api.types.is_bool_dtype(series)
                or (
                    series.dtype == object
                    and all(isinstance(v, bool | np.bool_) for v in present)
                    and len(present) > 0
                )
            ),
            numeric_dtype=is_numeric_dtype(series, pd),
            float_dtype=bool(pd.api.types.is_float_dtype(series)),
            integers=bool(np.all(ok == np.round(ok))),
            distinct=distinct[: MAX_CLASSES_INFERRED + 1],
            # each value's rows, while few: the frequencies of looks_like_counts
            frequencies=(
                dict(zip(*np.unique(ok, return_counts=True), strict=True))
                if len(distinct) <= MAX_CLASSES_INFERRED
                else None
            ),
        )
    return out


def _weight_survey(series: Any, pd: Any) -> dict:
    weights = pd.to_numeric(series.astype("object"), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    not_numbers = np.isnan(weights) & series.notna().to_numpy()
    invalid = ~(weights >= 0.0)
    return {
        "bad": [(i, repr(series.iloc[i])) for i in _first(not_numbers)],
        "invalid": [(i, repr(float(weights[i]))) for i in _first(invalid)],
    }


def _survey(frame: Any, spec: _Spec) -> dict:
    """Pass 1 over one partition: small per-column summaries (no rows)."""
    pd = require_pandas()
    frame = frame.reset_index(drop=True)
    return {
        "n_rows": len(frame),
        "features": {name: _column_survey(name, frame[name], pd) for name in spec.features},
        "target": _target_survey(frame[spec.target], spec, pd),
        "weight": None if spec.weight is None else _weight_survey(frame[spec.weight], pd),
    }


# -- pass 2: squared deviations, categories and classes ------------------------------------
@dataclass(frozen=True)
class _Centres:
    """Pass 2's input: per numeric column ``(name, mean, fill)``; categorical names; target."""

    numeric: tuple[tuple[str, float, float], ...]
    categorical: tuple[str, ...]
    target: str
    task: str
    target_mean: float


def _moments(frame: Any, centres: _Centres) -> dict:
    """Pass 2 over one partition: sums of squared deviations, category counts, labels."""
    pd = require_pandas()
    frame = frame.reset_index(drop=True)
    out: dict[str, Any] = {"ssd": {}, "categories": {}}
    for name, mean, fill in centres.numeric:
        numbers, missing = feature_numbers(frame[name], pd)
        values = np.where(missing, fill, numbers)
        out["ssd"][name] = float(np.sum((values - mean) ** 2))
    for name in centres.categorical:
        strings = category_strings(frame[name], pd)
        # Python strings (object dtype): a fixed-width array would be as wide as the
        # longest category times the partition's rows.
        present = strings[np.array([s is not None for s in strings], dtype=bool)]
        labels, counts = np.unique(present, return_counts=True)
        out["categories"][name] = dict(zip(labels.tolist(), counts.tolist(), strict=True))
    target = frame[centres.target]
    if centres.task == "regression":
        numbers, _ = parse_numbers(target, pd)
        out["target"] = float(np.sum((numbers - centres.target_mean) ** 2))
    else:
        out["target"] = np.unique(class_labels(target, pd))
    return out


# -- the most frequent number, reduced on the workers ---------------------------------------
def _value_counts(frame: Any, names: Sequence[str]) -> dict[str, Any]:
    pd = require_pandas()
    out = {}
    for name in names:
        numbers, missing = feature_numbers(frame[name].reset_index(drop=True), pd)
        out[name] = pd.Series(numbers[~missing]).value_counts()
    return out


def _add_counts(*parts: dict[str, Any]) -> dict[str, Any]:
    total = dict(parts[0])
    for part in parts[1:]:
        for name, counts in part.items():
            total[name] = total[name].add(counts, fill_value=0)
    return total


def _modes(counts: dict[str, Any]) -> dict[str, float]:
    """The most frequent value per column; ties go to the smallest (as ``most_frequent``)."""
    return {name: float(mode(c.index.to_numpy(), c.to_numpy())) for name, c in counts.items()}


def _tree(dask: Any, leaves: list[Any], combine: Any) -> Any:
    delayed = dask.delayed(combine, pure=True)
    while len(leaves) > 1:
        leaves = [delayed(*leaves[i : i + _FAN_IN]) for i in range(0, len(leaves), _FAN_IN)]
    return leaves[0]


# -- exact medians and quartiles: a radix selection over the partitions ---------------------
def _partition_digits(frame: Any, targets: list, shift: int) -> list:
    """A partition's digit counts (:func:`~deltaprop.tabular.selection.digit_counts`)."""
    pd = require_pandas()
    frame = frame.reset_index(drop=True)
    columns = {}
    for name in {t[0] for t in targets}:
        numbers, missing = feature_numbers(frame[name], pd)
        columns[name] = numbers[~missing]
    return digit_counts(columns, targets, shift)


def _abs_deviations(frame: Any, centres: list[tuple[str, float, float]]) -> dict[str, float]:
    """A partition's ``sum |x / c - median|`` per ``(column, c, median)`` (missing left out)."""
    pd = require_pandas()
    frame = frame.reset_index(drop=True)
    out = {}
    for name, c, median in centres:
        numbers, missing = feature_numbers(frame[name], pd)
        out[name] = float(np.sum(np.abs(numbers[~missing] / c - median)))
    return out


class _Selector:
    """Exact order statistics of numeric columns, a few passes over the partitions."""

    def __init__(self, dask: Any, client: Any, partitions: list) -> None:
        self.dask, self.client, self.partitions = dask, client, partitions

    def _count(self, targets: list, shift: int) -> list:
        call = self.dask.delayed(_partition_digits, pure=True)
        return watched_compute(self.client, [call(p, targets, shift) for p in self.partitions])

    def medians(self, numeric: dict) -> None:
        """Each column's median of its present values (``np.median``) as its ``"fill"``."""
        ranks = {name: sorted({(s["n"] - 1) // 2, s["n"] // 2}) for name, s in numeric.items()}
        found = select(self._count, ranks)
        for name, values in found.items():
            at = dict(zip(ranks[name], values, strict=True))
            numeric[name]["fill"] = numpy_median(at, numeric[name]["n"])

    def robust(self, numeric: dict, n_total: int) -> dict[str, tuple[float, float]]:
        """Each column's :func:`~deltaprop.tabular.transforms.robust_scaling` of its filled values.

        The quartiles are read from the exact order statistics (the fill value counted
        once per missing entry); the mean absolute deviation, needed only where the
        quartiles coincide, is one more pass of sums.
        """
        ranks = {name: quantile_ranks(n_total, (0.25, 0.5, 0.75)) for name in numeric}
        extra = {name: (s["fill"], s["n_missing"]) for name, s in numeric.items()}
        found = select(self._count, ranks, extra)
        quartiles, scales = {}, {}
        for name, values in found.items():
            s = numeric[name]
            c = max(abs(s["min"]), abs(s["max"])) or 1.0  # max |filled values|
            at = {k: v / c for k, v in zip(ranks[name], values, strict=True)}
            quartiles[name] = (c, numpy_quantiles(at, n_total, (0.25, 0.5, 0.75)))
        flat = [(name, c, q[1]) for name, (c, q) in quartiles.items() if q[0] == q[2]]
        deviations: dict[str, float] = {}
        if flat:
            call = self.dask.delayed(_abs_deviations, pure=True)
            parts = watched_compute(self.client, [call(p, flat) for p in self.partitions])
            for name, c, median in flat:
                s = numeric[name]
                total = math.fsum(part[name] for part in parts)
                total += s["n_missing"] * abs(s["fill"] / c - median)
                deviations[name] = total / n_total
        for name, (c, q) in quartiles.items():
            scales[name] = robust_from_quartiles(
                (q[0], q[1], q[2]), c, lambda name=name: deviations[name]
            )
        return scales


# -- the client's side: decisions from summaries --------------------------------------------
class _Rows:
    """Global row numbers (1-based, partitions in order) from per-partition local indices."""

    def __init__(self, n_rows: Sequence[int]) -> None:
        self.offsets = np.concatenate([[0], np.cumsum(n_rows)[:-1]]).astype(int).tolist()

    def listed(self, per_part: Sequence[Sequence[Any]]) -> list:
        """The first ``SHOW`` rows over all partitions: row numbers or ``(row, value)``."""
        rows = []
        for offset, items in zip(self.offsets, per_part, strict=True):
            for item in items:
                if isinstance(item, tuple):
                    rows.append((offset + item[0] + 1, item[1]))
                else:
                    rows.append(offset + item + 1)
        return rows[:SHOW]

    def described(self, per_part: Sequence[Sequence[Any]], total: int) -> str:
        """``"row 3 ('x'), row 9 ('y') and 2 more"``."""
        return rows_described(self.listed(per_part), total)

    def missing_error(self, name: str, per_part, total: int, hint: str) -> ValueError:
        return missing_rows_error(name, self.listed(per_part), total, hint)


def _not_numbers(
    name: str, rows: _Rows, parts: list[dict], n_bad: int, n_numbers: int, remedy: str
):
    listed = rows.listed([p["bad"] for p in parts])
    return not_numbers_rows_error(name, listed, n_bad, n_numbers, remedy)


def _infer_task(name: str, rows: _Rows, parts: list[dict]) -> str:
    """:func:`~deltaprop.tabular.infer_task`'s rule, from the partitions' summaries."""
    present = [p for p in parts if p["n_present"] > 0]
    n_bad = sum(p["n_bad"] for p in parts)
    n_present = sum(p["n_present"] for p in parts)
    numeric_dtype = all(p["numeric_dtype"] for p in present)
    return task_rule(
        bool_like=bool(present) and all(p["bool_like"] for p in present),
        numeric_dtype=numeric_dtype,
        float_dtype=any(p["float_dtype"] for p in present),
        has_missing=any(p["n_missing"] for p in parts),
        n_present=n_present,
        n_bad=0 if numeric_dtype else n_bad,
        integers=all(p["integers"] for p in parts),
        n_distinct=len(np.unique(np.concatenate([p["distinct"] for p in parts]))),
        not_numbers=lambda: _not_numbers(
            name, rows, parts, n_bad, n_present - n_bad, TARGET_REMEDY
        ),
        counts=n_bad == 0 and _counts(parts),
    )


def _counts(parts: list[dict]) -> bool:
    """:func:`~deltaprop.tabular.columns.looks_like_counts` on the partitions' values."""
    if any(p["frequencies"] is None for p in parts if p["n_present"]):
        return False
    total: dict[float, int] = {}
    for part in parts:
        for value, n in (part["frequencies"] or {}).items():
            total[float(value)] = total.get(float(value), 0) + int(n)
    values = np.array(sorted(total))
    return looks_like_counts(values, np.array([total[v] for v in values]))


@dataclass
class Fitted:
    """What :func:`fit_preprocessor` learnt besides the preprocessor.

    Attributes
    ----------
    n_rows : list of int
        Rows per partition.
    feature_scales : ndarray of shape (2, n_features_out)
        Two rows with each output column's mean and population standard deviation, for
        :func:`~deltaprop.tabular.check_feature_scales` (``--no-standardize``).
    """

    n_rows: list[int]
    feature_scales: np.ndarray


def fit_preprocessor(
    frame: Any,
    target: str,
    client: Any,
    *,
    task: str | None = None,
    impute: str | None = "mean",
    categorical: Sequence[str] | None = None,
    standardize: bool = True,
    standardize_target: bool = True,
    sample_weight: str | None = None,
    scaling: str = "standard",
    drop: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
) -> tuple[Preprocessor, Fitted]:
    """Fit a :class:`~deltaprop.tabular.Preprocessor` on a dask DataFrame, on the workers.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
    target : str
    client : distributed.Client
    task, impute, categorical, standardize, standardize_target, drop, id_columns, numeric
        As for :class:`~deltaprop.tabular.Preprocessor`; the default ``impute`` is
        ``"mean"`` (``"median"`` costs four more passes over the data: an exact median
        by radix selection).
    sample_weight : str, optional
        A column of non-negative row weights: validated, and not a feature.
    scaling : {"standard", "robust"}, default "standard"
        ``"robust"`` reads the exact quartiles of each column by radix selection (four
        more passes), giving the in-memory robust scaling.

    Notes
    -----
    The roles are those that summaries can decide: numeric and categorical columns;
    columns without a value, or with one value in every row, are left out
    (``"constant"``); a column with missing values gets an indicator column. Dates,
    free text and identifiers are not recognised (each text column is categorical):
    name such columns in ``drop``.

    Returns
    -------
    Preprocessor
        Fitted, with the statistics of all rows.
    Fitted

    Raises
    ------
    ValueError
        The errors of :meth:`Preprocessor.fit <deltaprop.tabular.Preprocessor.fit>`, with
        row numbers counted over the partitions in order.
    """
    dask, _, _, _ = _import_dask()
    pre = Preprocessor(
        target,
        task=task,
        impute=impute,
        categorical=categorical,
        standardize=standardize,
        standardize_target=standardize_target,
        scaling=scaling,
        drop=drop,
        id_columns=id_columns,
        numeric=numeric,
        sample_weight=sample_weight,
    )
    columns = [str(c) for c in frame.columns]
    pre._check_names(columns)
    absent = [c for c in pre.id_columns if c not in columns]
    if absent:
        shown = f"(columns: {columns[:20]})"
        raise SpelledError(
            f"id_columns column {absent[0]!r} is not in the table {shown}",
            f"--id {absent[0]}: no such column {shown}",
        )
    left_out = {target, sample_weight, *pre.drop, *pre.id_columns}
    if not any(c not in left_out for c in columns):
        raise ValueError("the table has no feature columns besides the target")
    features = [c for c in columns if c not in left_out]
    partitions = frame.to_delayed()
    if pre.numeric:  # their TRUE and no as 1 and 0, as the in-memory fit reads them
        declared = dask.delayed(_declared_as_numbers, pure=True)
        partitions = [declared(p, tuple(pre.numeric)) for p in partitions]
    spec = _Spec(tuple(features), target, sample_weight, task is None)
    survey = dask.delayed(_survey, pure=True)
    parts = watched_compute(client, [survey(p, spec) for p in partitions])
    n_rows = [p["n_rows"] for p in parts]
    n_total = sum(n_rows)
    if n_total == 0:
        raise ValueError("the dataset has no rows")
    rows = _Rows(n_rows)
    if sample_weight is not None:
        _check_weights(sample_weight, rows, [p["weight"] for p in parts])
    targets = [p["target"] for p in parts]
    task_ = _target_task(pre, rows, targets)
    pre.roles_ = {c: ColumnRole("dropped", "dropped on request") for c in pre.drop}
    for name in pre.id_columns:
        pre.roles_[name] = ColumnRole(
            "id", "identifies rows: no feature, written next to each prediction"
        )
    pre.roles_[target] = ColumnRole("target", "the column to predict")
    if sample_weight is not None:
        pre.roles_[sample_weight] = ColumnRole("weight", "row weights")
    summaries, categorical_ = _feature_kinds(pre, features, rows, parts, n_total)
    selector = _Selector(dask, client, partitions)
    if impute == "most_frequent" and summaries:
        _most_frequent_numbers(summaries, dask, client, partitions)
    if impute == "median" and summaries:
        selector.medians(summaries)
    _means(summaries, impute, n_total)
    robust = None
    if pre.scaling == "robust" and standardize and summaries:
        robust = selector.robust(summaries, n_total)
    target_stats = _target_centre(target, task_, rows, targets, n_total)
    centres = _Centres(
        tuple((name, s["mean"], s["fill"]) for name, s in summaries.items()),
        tuple(categorical_),
        target,
        task_,
        target_stats[0],
    )
    moments = dask.delayed(_moments, pure=True)
    seconds = watched_compute(client, [moments(p, centres) for p in partitions])
    scale_rows = _set_columns(pre, features, summaries, seconds, n_total, robust)
    pre.roles_ = {c: pre.roles_[c] for c in columns}  # the table's order
    _set_target(pre, task_, target_stats, seconds, n_total)
    mean = np.array([m for m, _ in scale_rows])
    std = np.array([s for _, s in scale_rows])
    return pre, Fitted(n_rows, np.stack([mean - std, mean + std]))


def _check_weights(sample_weight: str, rows: _Rows, weights: list[dict]) -> None:
    """Refuse weights that are not numbers, negative or missing (the first such row)."""
    listed = rows.listed([w["bad"] for w in weights])
    if listed:
        row, value = listed[0]
        raise ValueError(
            f"sample_weight column {sample_weight!r} must hold numbers: row {row} holds {value}"
        )
    listed = rows.listed([w["invalid"] for w in weights])
    if listed:
        row, value = listed[0]
        raise ValueError(f"sample weights must be >= 0 and not missing: row {row} holds {value}")


def _target_task(pre: Preprocessor, rows: _Rows, targets: list[dict]) -> str:
    """The task: ``pre.task``, else inferred; a missing target value is an error."""
    n_missing = sum(t["n_missing"] for t in targets)
    if n_missing:
        raise rows.missing_error(
            pre.target,
            [t["missing"] for t in targets],
            n_missing,
            " (a target cannot be imputed; through Dask, rows without a target are not left "
            "out as in memory: drop them from the dataset)",
        )
    return pre.task or _infer_task(pre.target, rows, targets)


def _feature_kinds(
    pre: Preprocessor, features: list[str], rows: _Rows, parts: list[dict], n_total: int
) -> tuple[dict[str, dict], list[str]]:
    """``(numeric, categorical)``: per numeric column its sums and extremes; the others.

    The checks of :meth:`Preprocessor.fit <deltaprop.tabular.Preprocessor.fit>`, in its
    order, on the summaries.
    """
    hint = '; fill them, or use impute="mean" or "most_frequent"'
    forced, declared = set(pre.categorical or ()), set(pre.numeric or ())
    numeric, categorical = {}, []
    for name in features:
        cols = [p["features"][name] for p in parts]
        n_bad = sum(c["n_bad"] for c in cols)
        n_numbers = sum(c["n_numbers"] for c in cols)
        n_plain = n_numbers + n_bad - sum(c["n_unread"] for c in cols)  # before cell by cell
        n_missing = sum(c["n_missing"] for c in cols)
        coded = all(c["coded"] for c in cols)  # a pandas category of numbers
        # is_numeric_column's rule: numeric when at least half the present values are
        is_numeric = name in declared or (
            name not in forced and not coded and 2 * n_plain >= n_numbers + n_bad
        )
        if name in declared and not n_numbers:
            raise SpelledError(
                f"numeric names column {name!r}, which holds no number",
                f"--numeric {name}: the column holds no number",
            )
        if is_numeric:
            _check_numbers(name, rows, cols, n_bad if pre.impute is None else 0, n_numbers)
            n_missing += n_bad  # read as missing, as in memory
        if n_missing == n_total:
            pre.roles_[name] = ColumnRole("constant", f"all {n_total} values are missing", n_total)
            continue
        if n_missing and pre.impute is None:
            listed = [c["missing"] for c in cols]
            raise SpelledError(
                str(rows.missing_error(name, listed, n_missing, hint)),
                str(
                    rows.missing_error(
                        name, listed, n_missing, "; fill them, or drop --impute none"
                    )
                ),
            )
        codes = (
            None if name in declared or not is_numeric else _integer_codes(name, cols, n_numbers)
        )
        if not is_numeric or codes is not None:
            categorical.append(name)
            why = "a pandas category column of codes" if coded else "text (through Dask)"
            pre.roles_[name] = ColumnRole("categorical", codes or why, n_missing)
            continue
        low, high = min(c["min"] for c in cols), max(c["max"] for c in cols)
        if low == high and not n_missing:
            pre.roles_[name] = ColumnRole("constant", f"one value ({low:g}) in every row", 0, 1)
            continue
        reason = f"all {n_numbers} present values are numbers"
        if n_bad:
            described = rows.described([c["bad"] for c in cols], n_bad)
            reason = read_as_missing_reason(n_numbers, n_bad, described)
        hows = sorted(set().union(*(c["written"] for c in cols)))
        if hows:  # (each partition reads its own cells)
            reason = f"{reason} ({'; '.join(written_reason(how) for how in hows)})"
        if name in declared:
            reason = "declared numeric" + (f"; {reason}" if n_bad or hows else "")
        pre.roles_[name] = ColumnRole("numeric", reason, n_missing)
        numeric[name] = {
            "sum": math.fsum(c["sum"] for c in cols),
            "n": n_numbers,
            "n_missing": n_missing,
            "min": min(c["min"] for c in cols),
            "max": max(c["max"] for c in cols),
        }
    return numeric, categorical


def _integer_codes(name: str, cols: list[dict], n_numbers: int) -> str | None:
    """The reason a numeric column is categorical codes (:func:`~deltaprop.tabular.roles.
    integer_codes`, from the partitions' distinct integers), or None."""
    if any(c["codes"] is None or c["codes"] == "many" for c in cols):
        return None
    distinct = set().union(*(c["codes"] for c in cols))
    if not integer_codes(name, len(distinct), n_numbers):
        return None
    return codes_reason(name, len(distinct), n_numbers)


def _check_numbers(name: str, rows: _Rows, cols: list[dict], n_bad: int, n_numbers: int) -> None:
    """A numeric column holds numbers only, and finite ones."""
    if n_bad:
        raise _not_numbers(name, rows, cols, n_bad, n_numbers, FEATURE_REMEDY)
    n_infinite = sum(c["n_infinite"] for c in cols)
    if n_infinite:
        described = rows.described([c["infinite"] for c in cols], n_infinite)
        raise ValueError(f"column {name!r} holds infinite values: {described}")


def _most_frequent_numbers(numeric: dict, dask: Any, client: Any, partitions: list) -> None:
    """Each numeric column's most frequent number as its ``"fill"``, reduced on the workers."""
    names = list(numeric)
    counts = dask.delayed(_value_counts, pure=True)
    leaves = [counts(p, names) for p in partitions]
    modes = watched_compute(
        client, dask.delayed(_modes, pure=True)(_tree(dask, leaves, _add_counts))
    )
    for name, value in modes.items():
        numeric[name]["fill"] = value


def _means(numeric: dict, impute: str | None, n_total: int) -> None:
    """Each numeric column's fill value and mean over all rows (filled ones included)."""
    for stats in numeric.values():
        if impute == "mean":
            stats["fill"] = stats["sum"] / stats["n"]
        fill = stats.setdefault("fill", 0.0)
        if stats["n_missing"]:
            stats["min"], stats["max"] = min(stats["min"], fill), max(stats["max"], fill)
        stats["mean"] = (stats["sum"] + stats["n_missing"] * fill) / n_total
        if stats["min"] == stats["max"]:  # a constant column: centred exactly, as in fit
            stats["mean"] = stats["min"]


def _target_centre(
    target: str, task_: str, rows: _Rows, targets: list[dict], n_total: int
) -> tuple[float, bool]:
    """``(mean, constant)`` of a regression target (checked: numbers, finite)."""
    if task_ != "regression":
        return 0.0, False
    n_bad = sum(t["n_bad"] for t in targets)
    if n_bad:
        raise _not_numbers(target, rows, targets, n_bad, n_total - n_bad, VALUES_REMEDY)
    infinite = [t["infinite"] for t in targets]
    if any(infinite):
        described = rows.described(infinite, sum(len(i) for i in infinite))
        raise ValueError(f"column {target!r} holds infinite values: {described}")
    low, high = min(t["min"] for t in targets), max(t["max"] for t in targets)
    if low == high:
        return low, True
    return math.fsum(t["sum"] for t in targets) / n_total, False


def _set_columns(
    pre: Preprocessor,
    features: list[str],
    numeric: dict,
    seconds: list[dict],
    n_total: int,
    robust: dict[str, tuple[float, float]] | None = None,
) -> list[tuple[float, float]]:
    """Record the fitted feature columns in ``pre``; each output column's (mean, std).

    ``robust``: each numeric column's (centre, spread) under ``scaling="robust"``.
    """
    columns, stats = [], []
    fill_values: dict[str, Any] | None = None if pre.impute is None else {}
    scale_rows: list[tuple[float, float]] = []
    used = []
    for name in features:
        role = pre.roles_[name].role
        if role == "numeric":
            s = numeric[name]
            constant = s["min"] == s["max"]
            ssd = math.fsum(part["ssd"][name] for part in seconds)
            std = 0.0 if constant else math.sqrt(ssd / n_total)
            scale = 1.0 if constant else std
            mean, scale = (s["mean"], scale) if pre.standardize else (0.0, 1.0)
            if robust is not None:
                mean, scale = robust[name]
            column = {"name": name, "kind": "numeric"}
            stats.append((mean, scale, s["min"], s["max"]))
            if fill_values is not None:
                fill_values[name] = s["fill"]
            scale_rows.append((s["mean"], std))
        elif role == "categorical":
            column = _categorical_column(name, seconds, fill_values, n_total, scale_rows)
        else:
            continue
        if pre.roles_[name].n_missing and pre.impute is not None and pre.add_indicator:
            column["missing"] = True
            share = pre.roles_[name].n_missing / n_total
            scale_rows.append((share, math.sqrt(share * (1.0 - share))))
        columns.append(column)
        used.append(name)
    pre._set_columns(used, columns, stats, fill_values)
    return scale_rows


def _categorical_column(
    name: str, seconds: list[dict], fill_values: dict | None, n_total: int, scale_rows: list
) -> dict:
    """A categorical column's entry; its fill value and its one-hot columns' scales."""
    counts: Counter = Counter()
    for s in seconds:
        counts.update(s["categories"][name])
    folded = folded_yes_no(np.array(list(counts), dtype=object))
    if folded is not None:  # TRUE, true: one value, as in memory
        merged: Counter = Counter()
        for category, lowered in zip(list(counts), folded, strict=True):
            merged[lowered] += counts[category]
        counts = merged
    else:
        spelled = case_variants(list(counts))
        if spelled:  # Adelie, adelie: one category, as in memory
            warnings.warn(case_warning(f"column {name!r}", spelled), DataWarning, stacklevel=4)
            merged = Counter()
            for category, count in counts.items():
                merged[spelled.get(category, category)] += count
            counts = merged
    categories = sorted(counts)
    if fill_values is not None:
        fill_values[name] = mode(list(counts), list(counts.values()))
        # the missing values count as the fill category
        counts[fill_values[name]] += n_total - sum(counts.values())
    for category in categories:
        share = counts[category] / n_total
        scale_rows.append((share, math.sqrt(share * (1.0 - share))))
    return {"name": name, "kind": "categorical", "categories": categories}


def _set_target(
    pre: Preprocessor, task_: str, target_stats: tuple[float, bool], seconds: list, n_total: int
) -> None:
    """Record the task and the target's scaling (regression) or classes in ``pre``."""
    pre.task_ = task_
    if task_ != "regression":
        labels = [s["target"] for s in seconds if len(s["target"])]
        pre._set_classes(np.unique(np.concatenate(labels)), n_total)
        return
    target_mean, constant = target_stats
    if not pre.standardize_target:
        pre.target_mean_, pre.target_scale_ = 0.0, 1.0
    elif constant:
        pre.target_mean_, pre.target_scale_ = target_mean, 1.0
    else:
        ssd = math.fsum(s["target"] for s in seconds)
        pre.target_mean_, pre.target_scale_ = target_mean, math.sqrt(ssd / n_total)


# -- training -------------------------------------------------------------------------------
def _encode(frame: Any, pre: Preprocessor, sample_weight: str | None) -> tuple[np.ndarray, ...]:
    """One partition as ``(X, y)``, or ``(X, y, w)`` with a weight column.

    ``X`` and ``y`` are what ``deltaprop train`` gives the estimator in memory:
    ``pre.transform`` and ``pre.transform_target`` (class indices, int64, or scaled
    targets).
    """
    pd = require_pandas()
    frame = frame.reset_index(drop=True)
    y_dtype = np.int64 if pre.task_ == "classification" else np.float64
    if len(frame) == 0:
        empty = (np.zeros((0, pre.n_features_out_)), np.zeros(0, dtype=y_dtype))
        return empty if sample_weight is None else (*empty, np.zeros(0))
    X = pre.transform(frame[pre.feature_names_in_])
    y = pre.transform_target(frame[pre.target]).astype(y_dtype)
    if sample_weight is None:
        return X, y
    column = frame[sample_weight].astype("object")
    w = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return X, y, w


def _encoded_arrays(
    frame: Any, pre: Preprocessor, sample_weight: str | None, n_rows: Sequence[int]
) -> list[Any]:
    """Dask arrays ``[X, y]`` (and ``w``) with one row block of known size per partition."""
    dask, da, _, _ = _import_dask()
    nout = 2 if sample_weight is None else 3
    encode = dask.delayed(_encode, pure=True, nout=nout)
    y_dtype = np.int64 if pre.task_ == "classification" else np.float64
    kinds = [((pre.n_features_out_,), np.float64), ((), y_dtype), ((), np.float64)]
    blocks: list[list[Any]] = [[] for _ in range(nout)]
    for partition, n in zip(frame.to_delayed(), n_rows, strict=True):
        for k, value in enumerate(encode(partition, pre, sample_weight)):
            width, dtype = kinds[k]
            blocks[k].append(da.from_delayed(value, shape=(n, *width), dtype=dtype))
    return [da.concatenate(b, axis=0) for b in blocks]


def plan_training_data(
    client: Any,
    estimator: Any,
    pre: Preprocessor,
    fitted: Fitted,
    *,
    sample_weight: str | None = None,
    data: str = "auto",
) -> Any:
    """Whether ``estimator``'s encoded partitions are kept on the workers or streamed.

    The in-memory size of the encoded blocks is estimated from the row counts of the
    partitions (the summary pass's) and the encoded widths (``pre.n_features_out_``
    inputs, one output per class or target, the weight), in float64, plus the arrays
    that compute a block's share (every layer's outputs and deltas); it is compared with
    the workers' memory limits by :func:`deltaprop.parallel.plan_data`.

    Returns
    -------
    DataPlan
    """
    from deltaprop.estimators import plan  # loads scikit-learn (optional dependency)

    classes = getattr(pre, "classes_", None) if pre.task_ == "classification" else None
    n_classes = 0 if classes is None else len(classes)
    n_out = n_classes if n_classes > 2 else 1
    widths = [*plan.hidden_sizes(estimator.hidden_layer_sizes), n_out]
    columns = pre.n_features_out_ + n_out + (sample_weight is not None)
    return plan_data(
        client, fitted.n_rows, 8 * columns, data=data, work_per_row=2 * 8 * sum(widths)
    )


def fit_estimator(
    estimator: Any,
    frame: Any,
    pre: Preprocessor,
    fitted: Fitted,
    client: Any,
    *,
    sample_weight: str | None = None,
    local_steps: int | None = None,
    resume: Any = None,
    data: Any = "auto",
) -> Any:
    """Train a deltaprop estimator on the encoded partitions of ``frame``, on the workers.

    Each partition is encoded on its worker into what ``deltaprop train`` hands the
    estimator in memory (``pre.transform`` rows, ``pre.transform_target`` class indices
    or scaled targets, the weight column); the arrays are persisted there and the
    estimator fits on them through its own Dask path
    (:func:`deltaprop.estimators.dask.fit_on_dask`). So the estimator ends up as
    ``estimator.fit(pre.transform(table), pre.transform_target(table),
    sample_weight=...)`` would leave it, for the solvers where the Dask path gives the
    in-memory iterates (``"gd"``, ``"lbfgs"``, one batch per epoch); ``"sgd"`` and
    ``"adam"`` with smaller batches run local SGD, ``local_steps`` steps per partition
    between averagings (default: about one pass over the rows per round). ``resume``
    continues a checkpoint of the same run (see :func:`deltaprop.parallel.train`).
    ``data`` (``"auto"``, ``"persist"``, ``"stream"`` or the DataPlan of
    :func:`plan_training_data`) decides whether the encoded partitions are kept on the
    workers or read and encoded again at every pass (data larger than the workers'
    memory).

    Raises
    ------
    ValueError
        For the parameters the estimators' Dask path refuses (``device``, early stopping
        on the score, ...), naming them.
    """
    # deltaprop.estimators.dask and .recipe import scikit-learn (optional dependency)
    from deltaprop.estimators.dask import fit_on_dask
    from deltaprop.estimators.recipe import TabularClassifier, TabularRegressor

    if isinstance(estimator, TabularClassifier | TabularRegressor):
        raise ValueError(
            f"{RECIPE_ON_DASK}; train an MLPClassifier or MLPRegressor instead (as "
            "'deltaprop train --dask' does)"
        )
    estimator._validate_params()
    if isinstance(data, str):
        data = plan_training_data(
            client, estimator, pre, fitted, sample_weight=sample_weight, data=data
        )
    arrays = _encoded_arrays(frame, pre, sample_weight, fitted.n_rows)
    if data.mode == "persist":
        # encoded once: the classes, the Poisson constant and training read these blocks
        arrays = client.persist(arrays)
    X, y = arrays[:2]
    w = arrays[2] if sample_weight is not None else None
    return fit_on_dask(
        estimator, X, y, w, client=client, local_steps=local_steps, resume=resume, data=data
    )
