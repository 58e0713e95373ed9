"""Numerical guard rails: feature-scale warnings and the likely cause of a divergence."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.tabular import check_feature_scales

from .conftest import to_xp


def test_scaled_features_give_no_message(rng, xp):
    X = rng.normal(size=(100, 4)) * np.array([1.0, 5.0, 0.2, 30.0]) + 10.0
    assert check_feature_scales(to_xp(xp, X)) is None
    assert check_feature_scales(np.zeros((5, 3))) is None  # constant-zero columns ignored


def test_scale_is_max_of_mean_and_standard_deviation():
    # column 0: mean 2000, std 1 -> scale 2000 (an offset alone needs standardising)
    # column 1: mean 0, std 1500 -> scale 1500
    X = np.array([[1999.0, -1500.0], [2001.0, 1500.0]])
    message = check_feature_scales(X, feature_names=["year", "delta"])
    assert message.startswith("'year' has scale 2e+03 (scale = max(|mean|, standard deviation))")
    assert "standardise the inputs" in message
    assert check_feature_scales(X, max_scale=2001.0) is None


def test_wildly_different_scales_name_both_columns():
    X = np.array([[0.001, 5e4, 1.0], [0.003, 7e4, -1.0]])
    # scales: max(0.002, 0.001) = 0.002; max(6e4, 1e4) = 6e4; max(0, 1) = 1
    message = check_feature_scales(X, feature_names=["a", "b", "c"])
    assert message.startswith(
        "feature scales differ by a factor of 3e+07: 'b' has scale 6e+04 and 'a' 0.002"
    )
    assert check_feature_scales(X[:, [0, 2]]) is None  # ratio 500 < 1e3
    assert "factor of 5e+02" in check_feature_scales(X[:, [0, 2]], max_ratio=100.0)


def test_missing_values_and_dataframes_are_handled():
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame({"small": [0.1, np.nan, 0.3], "large": [1e6, 2e6, np.inf]})
    message = check_feature_scales(table)
    # NaN and infinity ignored: scales 0.2 and 1.5e6
    assert message.startswith("feature scales differ by a factor of 7.5e+06: 'large'")


@pytest.mark.parametrize(
    ("X", "kwargs", "error", "match"),
    [
        ([["a", "b"]], {}, TypeError, "X must hold numbers"),
        (np.zeros(3), {}, ValueError, "must be 2-D"),
        (np.zeros((2, 2)), {"feature_names": ["a"]}, ValueError, "1 names, X has 2 columns"),
        (np.zeros((2, 2)), {"max_ratio": 1.0}, ValueError, "max_ratio must be > 1"),
        (np.zeros((2, 2)), {"max_scale": 0.0}, ValueError, "max_scale must be > 0"),
    ],
)
def test_bad_arguments(X, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_feature_scales(X, **kwargs)


def _diverge(X, y, learning_rate):
    net = dp.Network([dp.Dense(X.shape[1], 1, "identity")], loss="squared_error", random_state=0)
    with pytest.warns(dp.DivergenceWarning) as record:
        history = dp.train(net, X, y, optimizer=dp.SGD(learning_rate), max_iter=500)
    assert history.stop_reason == "diverged"
    return str(record[0].message)


def test_divergence_on_unscaled_inputs_names_them_first(rng):
    X = rng.normal(size=(40, 2)) * np.array([1.0, 1e4])
    message = _diverge(X, X[:, 0], learning_rate=0.01)
    assert "Likely cause: unscaled inputs. Feature scales differ by a factor of" in message
    assert "column 1 has scale" in message
    assert message.endswith("Then, if it still diverges, try a smaller learning rate.")


def test_divergence_on_scaled_inputs_blames_the_learning_rate(rng):
    X = rng.normal(size=(40, 2))
    message = _diverge(X, X[:, 0], learning_rate=50.0)
    assert "learning_rate=50.0" in message
    assert message.endswith(
        "Likely cause: the learning rate is too high (the inputs look scaled); try "
        "learning_rate=5 or smaller."
    )
