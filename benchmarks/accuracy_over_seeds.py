"""Test accuracy of the README's digits and breast-cancer configurations over seeds 0-11.

Run from the repository root: `python benchmarks/accuracy_over_seeds.py` (needs scikit-learn;
`--seeds N`: seeds 0 to N-1).
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import deltaprop as dp
from deltaprop.datasets import load_breast_cancer


def split(X, y):
    a, b, c, d = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    m, s = a.mean(0), a.std(0)
    s[s == 0] = 1
    return (a - m) / s, (b - m) / s, c, d


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12, help="seeds 0..N-1 (default 12)")
    args = parser.parse_args(argv)
    Xa, Xb, ya, yb = split(*load_digits(return_X_y=True))
    accs = []
    for seed in range(args.seeds):
        net = dp.Network(
            [dp.Dense(64, 64, "relu"), dp.Dense(64, 10, "softmax")],
            loss="cross_entropy",
            alpha=0.1,
            random_state=seed,
        )
        dp.train(net, Xa, np.eye(10)[ya], optimizer=dp.Adam(1e-3), batch_size=32, max_iter=30)
        accs.append(np.mean(net.forward(Xb).argmax(1) == yb))
    print("digits", np.round(accs, 4), "min", min(accs), "mean", np.mean(accs))
    X, y, _, _ = load_breast_cancer()
    Xa, Xb, ya, yb = split(X, y)
    accs = []
    for seed in range(args.seeds):
        net = dp.Network([dp.Dense(30, 64, "relu"), dp.Dense(64, 1)], alpha=1.0, random_state=seed)
        dp.train(net, Xa, ya, optimizer=dp.Adam(1e-3), batch_size=32, max_iter=50)
        accs.append(np.mean((net.forward(Xb)[:, 0] > 0.5) == yb))
    print("breast cancer", np.round(accs, 4), "min", min(accs), "mean", np.mean(accs))


if __name__ == "__main__":
    main()
