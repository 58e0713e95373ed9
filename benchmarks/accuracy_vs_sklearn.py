"""deltaprop.MLPClassifier against scikit-learn's MLPClassifier, same hyper-parameters.

For digits and breast cancer (stratified 75/25 split with random_state=0, inputs
standardised with the training rows' statistics), solvers sgd, adam and lbfgs, and seeds
0-9 (``random_state``), print both test accuracies and their difference. The test suite
runs seed 0 (tests/test_estimator.py::test_test_accuracy_within_one_point_of_scikit_learn).

Run from the repository root: ``python benchmarks/accuracy_vs_sklearn.py`` (``--seeds N``:
seeds 0 to N-1; ``--max-iter``: the iterations of every fit, 200).
"""

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.preprocessing import StandardScaler

from deltaprop import MLPClassifier

SOLVERS = {
    "sgd": dict(solver="sgd", learning_rate_init=0.01),
    "adam": dict(solver="adam", learning_rate_init=1e-3),
    "lbfgs": dict(solver="lbfgs"),
}
N_SEEDS = 10


def split(load):
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=int, default=N_SEEDS, help=f"seeds 0..N-1 (default {N_SEEDS})"
    )
    parser.add_argument(
        "--max-iter", type=int, default=200, help="every fit's max_iter (default 200)"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(
        "| data | solver | scikit-learn mean | deltaprop mean | mean diff (pp) | worst diff (pp) |"
    )
    print("|---|---|---|---|---|---|")
    for load in (load_digits, load_breast_cancer):
        X_train, X_test, y_train, y_test = split(load)
        for name, solver in SOLVERS.items():
            theirs, ours = [], []
            for seed in range(args.seeds):
                params = dict(
                    hidden_layer_sizes=(64,), alpha=1e-3, max_iter=args.max_iter, random_state=seed
                )
                params.update(solver)
                theirs.append(SkMLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test))
                ours.append(MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test))
            diff = 100 * (np.array(ours) - np.array(theirs))
            print(
                f"| {load.__name__[5:]} | {name} | {100 * np.mean(theirs):.2f}% | "
                f"{100 * np.mean(ours):.2f}% | {diff.mean():+.2f} | {diff.min():+.2f} |"
            )


if __name__ == "__main__":
    main()
