"""``deltaprop train DATA --dask``: a Parquet dataset preprocessed and trained on Dask.

The rows of DATA stay on the workers: the preprocessing is fitted from per-partition
summaries and each partition is encoded where it was read (see
:mod:`deltaprop.tabular.dask`), then the estimator fits on the encoded dask arrays
through its own Dask path (:func:`deltaprop.estimators.dask.fit_on_dask`); the client
holds only statistics, parameters and gradients. ``gd`` and ``lbfgs`` give the in-memory
model (same weights up to the order of floating-point additions), ``sgd`` and ``adam``
run local SGD. ``--early-stopping`` holds out ``--validation-fraction`` of the
partitions (whole partitions, drawn by ``--seed``), whose loss and score (accuracy or
R^2, computed on the workers) the progress shows every epoch, as without Dask;
``--checkpoint`` and ``--resume`` work for every solver. The model file is the same
``tabular_model`` as ``deltaprop train`` writes without Dask. ``--dask-data`` keeps the
encoded partitions on the workers (``persist``) or reads and encodes them again at every
pass (``stream``, for data larger than the workers' memory); ``auto`` chooses from their
estimated size and the workers' memory limits
(:func:`deltaprop.tabular.dask.plan_training_data`), and the command prints the choice.

What trains is one :class:`~deltaprop.MLPClassifier` or
:class:`~deltaprop.MLPRegressor` built from the options (the command says so): the
tabular recipe (an ensemble of five MLPs, each holding out its own stratified share of
the *rows* and keeping its own best epoch under a wall-clock budget) has no exact
counterpart on partitions and is not available through Dask. By default numbers are
standardised (``--scaling standard``) and missing values filled with the mean: ``--scaling
robust`` and ``--impute median`` (the in-memory defaults) read exact quartiles and medians
by a radix selection over the partitions, four more passes over the data each. Dates and
free text are not recognised (name them in ``--drop``, or ``--id`` for the columns that
identify rows).
"""

from __future__ import annotations

import argparse
import warnings

from deltaprop.cli.common import (
    Progress,
    build_estimator,
    check_checkpoint_options,
    finish_training,
    no_convergence_warnings,
    no_such_target,
    progress_options,
    require_extras,
    say,
)
from deltaprop.cli.options import IMPUTE, UsageError
from deltaprop.parallel import lost_workers_named
from deltaprop.tabular import TabularModel, check_feature_scales
from deltaprop.tabular.dask import (
    RECIPE_ON_DASK,
    fit_estimator,
    fit_preprocessor,
    open_client,
    plan_training_data,
    read_parquet,
)
from deltaprop.training.checkpoint import Checkpoint

__all__ = ["WHY_MLP", "train_on_dask"]

#: Why ``train --dask`` trains the MLP estimator rather than the tabular recipe.
WHY_MLP = RECIPE_ON_DASK


def train_on_dask(args: argparse.Namespace) -> int:
    """Train on the Parquet dataset ``args.data`` through Dask and write the model."""
    require_extras("train")

    check_checkpoint_options(args)
    # pandas deprecations that Dask's own readers trigger are Dask's to fix, not the user's
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=r"dask(\.|$)")
    for option in ("dask_workers", "dask_worker_memory"):
        if args.dask_scheduler is not None and getattr(args, option) is not None:
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} sizes a local cluster; it does not go with --dask-scheduler")
    for option in ("sep", "decimal", "encoding", "sheet"):
        if getattr(args, option, None) is not None:
            raise UsageError(
                f"--{option} is for reading a text table or a workbook; --dask reads a "
                "Parquet dataset"
            )
    frame = read_parquet(args.data)
    columns = [str(c) for c in frame.columns]
    if args.target not in columns:
        raise no_such_target(args, columns)
    with (
        open_client(args.dask_scheduler, args.dask_workers, args.dask_worker_memory) as client,
        lost_workers_named(client),
    ):
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        pre, fitted = fit_preprocessor(
            frame,
            args.target,
            client,
            task=args.task,
            impute=IMPUTE[args.impute] if args.impute else "mean",
            categorical=args.categorical,
            numeric=args.numeric,
            standardize=not args.no_standardize,
            # as TabularModel.fit: Poisson counts are not standardised
            standardize_target=args.loss != "poisson",
            sample_weight=args.sample_weight,
            scaling=args.scaling or "standard",
            drop=args.drop,
            id_columns=args.id,
        )
        if args.no_standardize:
            message = check_feature_scales(
                fitted.feature_scales, feature_names=pre.get_feature_names_out()
            )
            if message is not None:
                warnings.warn(message, UserWarning, stacklevel=1)
        progress = Progress(args.max_iter, **progress_options(args, pre.task_))
        callbacks: list = [progress]
        if args.checkpoint is not None:
            callbacks.append(Checkpoint(args.checkpoint, every=args.checkpoint_every or 1))
        estimator = build_estimator(args, pre.task_, callbacks=callbacks)
        say(
            args,
            f"model: one {type(estimator).__name__} (solver {args.solver}); {RECIPE_ON_DASK}",
        )
        data_plan = plan_training_data(
            client,
            estimator,
            pre,
            fitted,
            sample_weight=args.sample_weight,
            data=args.dask_data or "auto",
        )
        say(args, data_plan.describe())
        with no_convergence_warnings():
            try:
                fit_estimator(
                    estimator,
                    frame,
                    pre,
                    fitted,
                    client,
                    sample_weight=args.sample_weight,
                    local_steps=args.local_steps,
                    resume=args.resume,
                    data=data_plan,
                )
            finally:
                progress.close()
        estimator.set_params(callbacks=None)  # functions are never stored in model files
        address = args.dask_scheduler or "a local cluster"
    model = TabularModel(
        estimator,
        task=args.task,
        impute=pre.impute,
        standardize=not args.no_standardize,
        categorical=args.categorical,
        numeric=args.numeric,
        scaling=args.scaling or "standard",
        drop=args.drop,
        id_columns=args.id,
    )._set_fitted(pre, estimator, args.target, args.sample_weight)
    where = f" through Dask ({address}, {n_workers} worker{'s' if n_workers != 1 else ''})"
    return finish_training(args, model, sum(fitted.n_rows), where)
