"""``deltaprop train DATA --dask``: a Parquet dataset preprocessed and trained on Dask.

The rows of DATA stay on the workers: the preprocessing is fitted from per-partition
summaries and each partition is encoded where it was read (see
:mod:`deltaprop.tabular.dask`), then the estimator fits on the encoded dask arrays
through its own Dask path (:func:`deltaprop.estimators.dask.fit_on_dask`); the client
holds only statistics, parameters and gradients. ``gd`` and ``lbfgs`` give the
in-memory model (same weights up to the order of floating-point additions), ``sgd`` and
``adam`` run local SGD. The model file is the same ``tabular_model`` as ``deltaprop
train`` writes without Dask. Through Dask, numbers are standardised (``--scaling
standard``: robust scaling needs exact quartiles) and missing values filled with the mean
by default (an exact median needs the whole column); dates, free text and identifiers
are not recognised (name them in ``--drop``).
"""

from __future__ import annotations

import argparse
import warnings

from deltaprop.cli.common import (
    build_estimator,
    finish_training,
    no_convergence_warnings,
    require_extras,
    say,
)
from deltaprop.cli.options import IMPUTE, MLP_OPTIONS, UsageError
from deltaprop.tabular import TabularModel, check_feature_scales
from deltaprop.tabular.dask import fit_estimator, fit_preprocessor, open_client, read_parquet

__all__ = ["WHY_MLP", "train_on_dask"]

#: Why ``train --dask`` trains the MLP estimator rather than the tabular recipe.
WHY_MLP = (
    "the tabular recipe trains in this process, each of its members on its own split of "
    "the rows, which Dask's partitioned training does not provide"
)

#: Options of ``deltaprop train`` that the Dask path refuses, and why.
_UNSUPPORTED = {
    "early_stopping": ("--early-stopping", "it needs a held-out split of the rows"),
    "checkpoint": ("--checkpoint", "checkpoints hold the state of in-memory training"),
    "resume": ("--resume", "checkpoints hold the state of in-memory training"),
}


def _refuse_unsupported(args: argparse.Namespace) -> None:
    for option, (flag, why) in _UNSUPPORTED.items():
        if getattr(args, option):
            raise UsageError(f"{flag} is not available with --dask ({why}); drop it")
    if args.impute == "median":
        raise UsageError(
            "--impute median is not available with --dask (an exact median needs the whole "
            "column in one place); use --impute mean or most-frequent"
        )
    if args.scaling == "robust":
        raise UsageError(
            "--scaling robust is not available with --dask (it needs the exact quartiles of "
            "each whole column); use --scaling standard, the default with --dask"
        )
    if args.id:
        raise UsageError("--id is not available with --dask; use --drop for the ID columns")


def train_on_dask(args: argparse.Namespace) -> int:
    """Train on the Parquet dataset ``args.data`` through Dask and write the model."""
    require_extras("train")

    _refuse_unsupported(args)
    # pandas deprecations that Dask's own readers trigger are Dask's to fix, not the user's
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=r"dask(\.|$)")
    if args.dask_scheduler is not None and args.dask_workers is not None:
        raise UsageError(
            "--dask-workers sizes a local cluster; it does not go with --dask-scheduler"
        )
    frame = read_parquet(args.data)
    columns = [str(c) for c in frame.columns]
    if args.target not in columns:
        raise UsageError(
            f"target column {args.target!r} is not in {args.data!r} (columns: "
            f"{', '.join(columns[:20])})"
        )
    with open_client(args.dask_scheduler, args.dask_workers) as client:
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        pre, fitted = fit_preprocessor(
            frame,
            args.target,
            client,
            task=args.task,
            impute=IMPUTE[args.impute] if args.impute else "mean",
            categorical=args.categorical,
            standardize=not args.no_standardize,
            # as TabularModel.fit: Poisson counts are not standardised
            standardize_target=args.loss != "poisson",
            sample_weight=args.sample_weight,
            scaling="standard",
            drop=args.drop,
        )
        if args.no_standardize:
            message = check_feature_scales(
                fitted.feature_scales, feature_names=pre.get_feature_names_out()
            )
            if message is not None:
                warnings.warn(message, UserWarning, stacklevel=1)
        estimator = build_estimator(args, pre.task_, callbacks=None)
        with no_convergence_warnings():
            fit_estimator(
                estimator,
                frame,
                pre,
                fitted,
                client,
                sample_weight=args.sample_weight,
                local_steps=args.local_steps,
            )
        address = args.dask_scheduler or "a local cluster"
    model = TabularModel(
        estimator,
        task=args.task,
        impute=pre.impute,
        standardize=not args.no_standardize,
        categorical=args.categorical,
        scaling="standard",
        drop=args.drop,
    )._set_fitted(pre, estimator, args.target, args.sample_weight)
    where = f" through Dask ({address}, {n_workers} worker{'s' if n_workers != 1 else ''})"
    if args.recipe is None and not set(MLP_OPTIONS) & set(getattr(args, "given", ())):
        say(args, f"model: one MLP estimator (--recipe mlp): {WHY_MLP}")
    return finish_training(args, model, sum(fitted.n_rows), where)
