"""The live page's server, without a browser: the event stream, controls and security.

The page teaches with ``explain``'s numbers: one delta everywhere, ``delta[l] = dL/dz[l]``
with ``L`` the weighted mean loss of the training rows plus the penalty, so a row's delta
carries ``w_i / sum(w)``; the page's row, a step's trace and the engine's backward pass
agree (issue 21).

Every number a frame carries is recomputed here from the frame's own weights: the loss
and gradients with ``Network.loss_and_gradients``, the rest with NumPy formulas.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import live
from deltaprop.cli.main import main
from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.live import model_from_table
from deltaprop.live._frames import loss_warning
from deltaprop.live.toys import TOYS, toy
from deltaprop.tabular import read_table

pytest.importorskip("pandas")  # the CSV tests read tables with pandas


# -- helpers ---------------------------------------------------------------------------
class Events:
    """A server-sent event stream read with http.client."""

    def __init__(self, server, timeout=60.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        self.conn.request("GET", "/events")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type").startswith("text/event-stream")

    def next(self, deadline=None):
        name, data = None, []
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("no event before the deadline (keep-alives only)")
            line = self.response.readline()
            if not line:
                raise EOFError("the stream ended")
            line = line.decode().rstrip("\n")
            if line == "":
                if data:
                    return name, json.loads("\n".join(data))
                name, data = None, []
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())

    def frame(self, until=lambda f: True, limit=500, within=60.0):
        """The first frame for which ``until`` holds, among the next ``limit`` frames.

        Keep-alive comments hold the connection open, so a time limit (``within``
        seconds) also ends the wait: a session that stops publishing fails the test.
        """
        deadline = time.monotonic() + within
        last = None
        for _ in range(limit):
            if time.monotonic() > deadline:
                break
            try:
                name, data = self.next(deadline)
            except TimeoutError:
                break
            if name == "frame":
                last = data
                if until(data):
                    return data
        state = None if last is None else (last["state"], last.get("message"))
        raise AssertionError(f"no such frame; the last one: {state}")

    def close(self):
        self.conn.close()


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def control(server, action, **params):
    status, data = request(server, "POST", "/control", {"action": action, **params})
    assert status == 200, data
    return json.loads(data)


def with_weights(net, frame):
    out = copy.deepcopy(net)
    for layer, entry in zip(out.layers, frame["layers"], strict=True):
        layer.weights = np.array(entry["weights"])
        layer.bias = np.array(entry["bias"])
    return out


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture
def xor_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.float64)
    return X, y


def tanh_net(n_in=2, hidden=4, seed=0):
    return dp.Network([dp.Dense(n_in, hidden, "tanh"), dp.Dense(hidden, 1)], random_state=seed)


# -- the stream ------------------------------------------------------------------------
def test_frames_carry_the_engines_numbers(xor_data):
    X, y = xor_data
    net = tanh_net()
    with dp.serve(net, X, y, max_iter=100_000, validation_fraction=0.25, block=False) as server:
        events = Events(server)
        name, init = events.next()
        assert name == "init"
        assert init["task"] == "binary" and init["loss_name"] == "binary_cross_entropy"
        assert init["layers"] == [
            {"n_in": 2, "n_out": 4, "activation": "tanh"},
            {"n_in": 4, "n_out": 1, "activation": "sigmoid"},
        ]
        assert init["n_samples"] == 60 and init["n_validation"] == 20
        assert init["projection"]["kind"] == "inputs"
        session = server.session
        X_train, y_train = session.X, session.y
        X_val, y_val = session.validation[0], session.validation[1]
        frames = [events.frame(lambda f: f["epoch"] > 0) for _ in range(3)]
        events.close()
    for frame in frames:
        assert set(frame) >= {
            "run", "epoch", "state", "loss", "val_loss", "accuracy", "val_accuracy",
            "diverged", "layers", "sample", "grid", "settings", "curve", "sent", "time",
        }  # fmt: skip
        assert frame["diverged"] is False and frame["state"] == "running"
        at = with_weights(net, frame)
        loss, grads = at.loss_and_gradients(X_train, y_train)
        assert frame["loss"] == loss
        for entry, (d_weights, d_bias) in zip(frame["layers"], grads, strict=True):
            np.testing.assert_array_equal(np.array(entry["d_weights"]), d_weights)
            np.testing.assert_array_equal(np.array(entry["d_bias"]), d_bias)
        # the rest from formulas: forward pass, cross-entropy, accuracy
        W1, b1 = (np.array(frame["layers"][0][k]) for k in ("weights", "bias"))
        W2, b2 = (np.array(frame["layers"][1][k]) for k in ("weights", "bias"))

        def forward(A, W1=W1, b1=b1, W2=W2, b2=b2):
            return sigmoid(np.tanh(A @ W1 + b1) @ W2 + b2)[:, 0]

        p = forward(X_val)
        val_loss = -np.mean(y_val[:, 0] * np.log(p) + (1 - y_val[:, 0]) * np.log(1 - p))
        assert frame["val_loss"] == pytest.approx(val_loss, rel=1e-12)
        assert frame["val_accuracy"] == np.mean((p >= 0.5) == (y_val[:, 0] == 1))
        assert frame["accuracy"] == np.mean((forward(X_train) >= 0.5) == (y_train[:, 0] == 1))
        # one row's passes colour the units: z, a, and its row of delta = dL/dz, where L
        # is the mean loss of the 60 training rows: the output delta is (a - y) / 60
        sample = frame["sample"]
        x, target = X_train[sample["index"]], y_train[sample["index"], 0]
        z1 = x @ W1 + b1
        np.testing.assert_allclose(sample["z"][0], z1, rtol=1e-12)
        np.testing.assert_allclose(sample["a"][0], np.tanh(z1), rtol=1e-12)
        a2 = sigmoid(np.tanh(z1) @ W2 + b2)
        n = len(X_train)
        assert sample["share"] == 1 / n and sample["weight"] == 1.0
        np.testing.assert_allclose(sample["delta"][1], (a2 - target) / n, rtol=1e-10)
        np.testing.assert_allclose(
            sample["delta"][0], ((a2 - target) / n @ W2.T) * (1 - np.tanh(z1) ** 2), rtol=1e-10
        )
        # its share of dW[2] = a[1]^T delta[2] is a[1]_i delta[2]_i
        np.testing.assert_allclose(
            np.array(sample["d_weights"][1])[:, 0], np.tanh(z1) * (a2 - target) / n, rtol=1e-10
        )
        # the decision boundary: P(class 1) over a grid of the two inputs
        (u0, u1), (v0, v1) = init["projection"]["ranges"]
        n = init["projection"]["grid_size"]
        u, v = np.meshgrid(np.linspace(u0, u1, n), np.linspace(v0, v1, n))
        grid = forward(np.column_stack([u.ravel(), v.ravel()]))
        np.testing.assert_allclose(frame["grid"]["value"], np.round(grid, 4), atol=1e-12)
    # the plane's ranges cover the data with a 10% margin
    assert u0 == pytest.approx(X_train[:, 0].min() - 0.1 * np.ptp(X_train[:, 0]))
    assert v1 == pytest.approx(X_train[:, 1].max() + 0.1 * np.ptp(X_train[:, 1]))


def test_curves_and_weights_equal_one_train_call(xor_data):
    X, y = xor_data
    net, reference = tanh_net(), tanh_net()
    history = dp.train(reference, X, y, optimizer=dp.SGD(learning_rate=0.5), max_iter=40)
    with dp.serve(net, X, y, optimizer=dp.SGD(learning_rate=0.5), max_iter=40, block=False) as s:
        events = Events(s)
        losses, frame = [], None
        while frame is None or frame["state"] != "done":
            frame = events.frame()
            assert frame["curve"]["start"] == len(losses)
            losses += frame["curve"]["loss"]
        events.close()
    assert frame["stop_reason"] == "max_iter" and frame["epoch"] == 40
    assert losses == history.loss
    for layer, entry in zip(reference.layers, frame["layers"], strict=True):
        np.testing.assert_array_equal(np.array(entry["weights"]), layer.weights)


def test_pausing_and_stepping_give_the_weights_of_one_train_call(xor_data):
    X, y = xor_data
    net, reference = tanh_net(seed=3), tanh_net(seed=3)
    opts = {"batch_size": 16, "max_iter": 25, "random_state": 7}
    dp.train(reference, X, y, optimizer=dp.Adam(learning_rate=0.01), **opts)
    server = dp.serve(
        net, X, y, optimizer=dp.Adam(learning_rate=0.01), paused=True, block=False, **opts
    )
    with server:
        for _ in range(3):
            reply = control(server, "step")
        assert reply["epoch"] == 3 and reply["state"] == "paused"
        assert reply["trace_is_the_step"] is False  # Adam and mini-batches
        control(server, "play")
        events = Events(server)
        frame = events.frame(lambda f: f["state"] == "done")
        events.close()
    assert frame["epoch"] == 25
    for layer, entry in zip(reference.layers, frame["layers"], strict=True):
        np.testing.assert_array_equal(np.array(entry["weights"]), layer.weights)
        np.testing.assert_array_equal(np.array(entry["bias"]), layer.bias)


def test_a_step_returns_its_explain_trace(xor_data):
    X, y = xor_data
    net = tanh_net()
    with dp.serve(net, X, y, optimizer=dp.SGD(learning_rate=0.3), paused=True, block=False) as s:
        before = copy.deepcopy(s.network)
        loss, grads = before.loss_and_gradients(X, y)
        reply = control(s, "step")
        after = s.session.snapshot()
    assert reply["epoch"] == 1 and reply["trace_is_the_step"] is True
    assert reply["step_loss"] == loss
    assert reply["trace_text"] == dp.explain(before, X, y, learning_rate=0.3).to_text()
    assert "1 Forward pass" in reply["trace_text"]
    for layer, old, (d_weights, d_bias) in zip(after.layers, before.layers, grads, strict=True):
        # training sums its gradients with the blocked NumPy kernel: equal within rounding
        np.testing.assert_allclose(layer.weights, old.weights - 0.3 * d_weights, rtol=1e-12)
        np.testing.assert_allclose(layer.bias, old.bias - 0.3 * d_bias, rtol=1e-12, atol=1e-17)


def test_settings_apply_without_a_reset(xor_data):
    X, y = xor_data
    with dp.serve(tanh_net(), X, y, max_iter=100_000, block=False) as server:
        events = Events(server)
        first = events.frame(lambda f: f["epoch"] > 0)
        reply = control(server, "set", learning_rate=0.05, batch_size=8, target_loss=None)
        assert reply["settings"]["learning_rate"] == 0.05
        frame = events.frame(lambda f: f["settings"]["batch_size"] == 8)
        assert frame["settings"]["learning_rate"] == 0.05 and frame["run"] == first["run"]
        assert frame["epoch"] > first["epoch"]  # the run went on
        assert server.session.optimizer.learning_rate == 0.05
        status, body = request(server, "POST", "/control", {"action": "set", "batch_size": 0})
        assert status == 400 and "batch_size must be >= 1" in json.loads(body)["error"]
        status, body = request(server, "POST", "/control", {"action": "fly"})
        assert status == 400 and "action must be one of" in json.loads(body)["error"]
        status, body = request(server, "POST", "/control", {"action": "sample", "index": 80})
        assert status == 400 and "index must be < 80" in json.loads(body)["error"]
        events.close()


def test_reset_starts_a_new_run_with_a_new_architecture(xor_data):
    X, y = xor_data
    with dp.serve(tanh_net(), X, y, max_iter=100_000, block=False) as server:
        events = Events(server)
        events.frame(lambda f: f["epoch"] > 0)
        control(server, "pause")
        control(server, "reset", hidden=[3, 2], activation="relu", seed=1)
        while True:
            name, init = events.next()
            if name == "init":
                break
        frame = events.frame()
        control(server, "play")
        later = events.frame(lambda f: f["epoch"] > 0)
        events.close()
    assert init["run"] == 1 and init["architecture"] == {
        "hidden": [3, 2],
        "activation": "relu",
        "seed": 1,
    }
    assert [(d["n_in"], d["n_out"], d["activation"]) for d in init["layers"]] == [
        (2, 3, "relu"),
        (3, 2, "relu"),
        (2, 1, "sigmoid"),
    ]
    assert frame["run"] == 1 and frame["epoch"] == 0 and frame["state"] == "paused"
    expected = dp.Network(
        [dp.Dense(2, 3, "relu"), dp.Dense(3, 2, "relu"), dp.Dense(2, 1)], random_state=1
    )
    for layer, entry in zip(expected.layers, frame["layers"], strict=True):
        np.testing.assert_array_equal(np.array(entry["weights"]), layer.weights)
    assert later["curve"]["start"] == 0 and len(later["curve"]["loss"]) == later["epoch"]


def test_at_most_ten_frames_per_second_newest_first(xor_data):
    X, y = xor_data
    with dp.serve(tanh_net(), X, y, max_iter=10**7, block=False) as server:
        events = Events(server)
        frames = [events.frame() for _ in range(8)]
        events.close()
    sent = np.array([f["sent"] for f in frames])
    assert np.all(np.diff(sent) >= 0.1)  # the server's clock: one frame per 0.1 s at most
    epochs = [f["epoch"] for f in frames]
    assert epochs == sorted(epochs) and epochs[-1] > epochs[0]
    # frames skipped (newest wins) did not lose curve points: the curve is contiguous
    starts = [f["curve"]["start"] for f in frames]
    ends = [f["curve"]["start"] + len(f["curve"]["loss"]) for f in frames]
    assert starts[1:] == ends[:-1] and ends == epochs


def test_other_hosts_and_origins_are_refused(xor_data):
    X, y = xor_data
    with dp.serve(tanh_net(), X, y, paused=True, block=False) as server:
        port = server.port
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}", ""):
            status, _ = request(server, "GET", "/", headers={"Host": host})
            assert status == 403, host
        status, _ = request(server, "GET", "/events", headers={"Host": "attacker.test"})
        assert status == 403
        status, page = request(server, "GET", "/", headers={"Host": f"localhost:{port}"})
        assert status == 200 and b"deltaprop" in page
        status, _ = request(
            server,
            "POST",
            "/control",
            {"action": "play"},
            headers={"Origin": "http://evil.example"},
        )
        assert status == 403
        status, _ = request(
            server,
            "POST",
            "/control",
            b'{"action": "play"}',
            headers={"Content-Type": "text/plain"},
        )
        assert status == 415
        assert server.session.state == "paused"


def test_static_files_ship_with_the_package(xor_data):
    X, y = xor_data
    with dp.serve(tanh_net(), X, y, paused=True, block=False) as server:
        _, page = request(server, "GET", "/")
        scripts = re.findall(rb'(?:src|href)="(/static/[^"]+)"', page)
        assert len(scripts) == 5
        for path in scripts:
            status, body = request(server, "GET", path.decode())
            assert status == 200 and len(body) > 1000
        assert request(server, "GET", "/static/../_server.py")[0] == 404
        assert request(server, "GET", "/static/vendor/LICENSE-d3.txt")[0] == 404


def test_the_download_is_the_model_file_of_the_newest_frame(xor_data, tmp_path):
    X, y = xor_data
    with dp.serve(tanh_net(), X, y, max_iter=30, block=False) as server:
        events = Events(server)
        frame = events.frame(lambda f: f["state"] == "done")
        events.close()
        status, body = request(server, "GET", "/model.deltaprop")
        assert request(server, "GET", "/preprocessor.deltaprop")[0] == 404
    assert status == 200
    path = tmp_path / "model.deltaprop"
    path.write_bytes(body)
    loaded = dp.load(path)
    for layer, entry in zip(loaded.layers, frame["layers"], strict=True):
        np.testing.assert_array_equal(layer.weights, np.array(entry["weights"]))


@pytest.mark.filterwarnings("ignore::deltaprop.DivergenceWarning")
def test_divergence_is_flagged():
    X = np.linspace(-3, 3, 40)[:, None] * np.array([[1.0, 100.0]])
    y = X[:, 1] * 10
    net = dp.Network([dp.Dense(2, 4, "relu"), dp.Dense(4, 1, "identity")], loss="squared_error")
    with dp.serve(net, X, y, optimizer=dp.SGD(learning_rate=10.0), block=False) as server:
        events = Events(server)
        frame = events.frame(lambda f: f["state"] != "running")
        events.close()
    assert frame["diverged"] is True and frame["stop_reason"] == "diverged"
    assert "diverged" in frame["message"] and "learning_rate=10.0" in frame["message"]


@pytest.mark.filterwarnings("ignore::deltaprop.DivergenceWarning")
def test_divergence_is_flagged_even_when_its_frame_cannot_be_computed(monkeypatch):
    import deltaprop.live._session as session_module

    finishing = {"now": False}
    original_finish, original_frame = (
        session_module.TrainingSession._finish,
        session_module.network_frame,
    )

    def finish(self, reason):
        finishing["now"] = True
        original_finish(self, reason)

    def frame(*args, **kwargs):
        if finishing["now"]:
            raise ValueError("overflow in the forward pass")
        return original_frame(*args, **kwargs)

    monkeypatch.setattr(session_module.TrainingSession, "_finish", finish)
    monkeypatch.setattr(session_module, "network_frame", frame)
    X = np.linspace(-3, 3, 40)[:, None] * np.array([[1.0, 100.0]])
    net = dp.Network([dp.Dense(2, 4, "relu"), dp.Dense(4, 1, "identity")], loss="squared_error")
    with dp.serve(net, X, X[:, 1] * 10, optimizer=dp.SGD(learning_rate=10.0), block=False) as s:
        events = Events(s)
        last = events.frame(lambda f: f["state"] != "running")
        events.close()
    assert last["state"] == "diverged" and last["diverged"] is True


def test_bad_arguments(xor_data):
    X, y = xor_data
    with pytest.raises(ValueError, match="loopback only"):
        dp.serve(tanh_net(), X, y, host="0.0.0.0", block=False)
    with pytest.raises(ValueError, match="not LBFGS"):
        dp.serve(tanh_net(), X, y, optimizer=dp.LBFGS(), block=False)
    with pytest.raises(TypeError, match="must be a deltaprop Network, MLPClassifier"):
        dp.serve(object(), X, y, block=False)
    with pytest.raises(ValueError, match="port must be <= 65535"):
        dp.serve(tanh_net(), X, y, port=70000, block=False)
    with pytest.raises(ValueError, match="feature_names must have 2 names"):
        dp.serve(tanh_net(), X, y, feature_names=["a"], block=False)


# -- tables from CSV files ---------------------------------------------------------------
def write_csv(path: Path, target_values, rng, n_features=2) -> Path:
    n = len(target_values)
    columns = {f"f{i}": rng.normal(size=n).round(3) for i in range(n_features)}
    lines = [",".join([*columns, "target"])]
    for r in range(n):
        lines.append(",".join([*(str(c[r]) for c in columns.values()), str(target_values[r])]))
    path.write_text("\n".join(lines) + "\n")
    return path


def serve_csv(path, **options):
    model = model_from_table(read_table(path), "target", hidden=[5], random_state=0)
    server = dp.serve(
        model.network,
        model.X,
        model.y,
        feature_names=model.feature_names,
        class_names=model.class_names,
        preprocessor=model.preprocessor,
        block=False,
        **options,
    )
    return model, server


def check_frame_against_engine(model, frame):
    loss, grads = with_weights(model.network, frame).loss_and_gradients(model.X, model.y)
    assert frame["loss"] == loss
    for entry, (d_weights, _) in zip(frame["layers"], grads, strict=True):
        np.testing.assert_array_equal(np.array(entry["d_weights"]), d_weights)


def test_binary_csv(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.choice(["no", "yes"], size=30)
    model, server = serve_csv(write_csv(tmp_path / "b.csv", labels, rng), max_iter=20)
    with server:
        events = Events(server)
        _, init = events.next()
        frame = events.frame(lambda f: f["state"] == "done")
        events.close()
    assert init["task"] == "binary" and init["class_names"] == ["no", "yes"]
    assert model.network.layers[-1].activation.name == "sigmoid"
    np.testing.assert_array_equal(model.y, (labels == "yes").astype(float))
    assert frame["grid"]["kind"] == "binary" and 0.0 <= frame["accuracy"] <= 1.0
    assert init["points"]["label"] == [float(v) for v in model.y[init["points"]["row"]]]
    check_frame_against_engine(model, frame)


def test_multiclass_csv_with_string_labels_and_principal_components(tmp_path):
    rng = np.random.default_rng(2)
    labels = rng.choice(["cat", "dog", "bird"], size=45)
    path = write_csv(tmp_path / "m.csv", labels, rng, n_features=4)
    model, server = serve_csv(path, max_iter=20)
    with server:
        events = Events(server)
        _, init = events.next()
        frame = events.frame(lambda f: f["state"] == "done")
        events.close()
        status, _ = request(server, "GET", "/preprocessor.deltaprop")
    assert status == 200 and init["has_preprocessor"] is True
    assert init["task"] == "multiclass" and init["class_names"] == ["bird", "cat", "dog"]
    assert model.network.loss.name == "cross_entropy"
    assert model.network.layers[-1].activation.name == "softmax"
    np.testing.assert_array_equal(
        model.y.argmax(axis=1), np.searchsorted(init["class_names"], labels)
    )
    out = with_weights(model.network, frame).forward(model.X)
    assert frame["accuracy"] == np.mean(out.argmax(axis=1) == model.y.argmax(axis=1))
    assert frame["grid"]["kind"] == "multiclass"
    assert set(frame["grid"]["value"]) <= {0, 1, 2}
    # 4 inputs: the plane of the first two principal components, through the mean
    proj = init["projection"]
    assert proj["kind"] == "pca" and proj["axis_labels"] == ["PC1", "PC2"]
    centred = model.X - model.X.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    for k, axis in enumerate(np.array(proj["axes"])):
        top = eigenvectors[:, -1 - k]
        assert abs(axis @ top) == pytest.approx(1.0, abs=1e-9)
        assert proj["explained"][k] == pytest.approx(eigenvalues[-1 - k] / eigenvalues.sum())
    u = centred @ np.array(proj["axes"][0])
    shown = np.array(init["points"]["row"])
    np.testing.assert_allclose(init["points"]["u"], u[shown], atol=1e-12)
    check_frame_against_engine(model, frame)


def test_regression_csv(tmp_path):
    rng = np.random.default_rng(3)
    targets = rng.normal(50.0, 10.0, size=30).round(2)
    model, server = serve_csv(write_csv(tmp_path / "r.csv", targets, rng), max_iter=20)
    with server:
        events = Events(server)
        _, init = events.next()
        frame = events.frame(lambda f: f["state"] == "done")
        events.close()
    assert init["task"] == "regression" and init["class_names"] is None
    assert model.network.loss.name == "squared_error"
    assert model.network.layers[-1].activation.name == "identity"
    np.testing.assert_allclose(model.y, (targets - targets.mean()) / targets.std(), rtol=1e-12)
    assert frame["accuracy"] is None and frame["grid"]["kind"] == "regression"
    check_frame_against_engine(model, frame)


def test_one_input_draws_the_prediction_curve():
    X = np.linspace(-1, 1, 20)[:, None]
    y = X[:, 0] ** 2
    net = dp.Network([dp.Dense(1, 3, "tanh"), dp.Dense(3, 1, "identity")], loss="squared_error")
    with dp.serve(net, X, y, max_iter=5, block=False) as server:
        events = Events(server)
        _, init = events.next()
        frame = events.frame(lambda f: f["state"] == "done")
        events.close()
    assert init["projection"]["kind"] == "line" and init["points"]["v"] is None
    xs = np.linspace(*init["projection"]["ranges"][0], init["projection"]["grid_size"])
    expected = with_weights(net, frame).forward(xs[:, None])[:, 0]
    np.testing.assert_allclose(frame["grid"]["value"], np.round(expected, 5), atol=1e-12)


# -- the command line ------------------------------------------------------------------
def test_cli_serve_bad_input(tmp_path, capsys):
    path = write_csv(tmp_path / "d.csv", ["a", "b"] * 5, np.random.default_rng(0))
    assert main(["serve", str(path), "--target", "nope"]) == 2
    assert "--target 'nope' is not a column" in capsys.readouterr().err
    assert main(["serve", str(path), "--target", "target", "--hidden", "4,x"]) == 2
    # the shared --hidden option (cli/options.py): the same check and message as train's
    assert "argument --hidden: invalid int value: 'x'" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "missing.csv"), "--target", "t"]) == 2


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT stands for Ctrl-C on POSIX")
def test_cli_serve_prints_the_url_and_stops_on_ctrl_c(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["a", "b"] * 30, np.random.default_rng(0))
    src = str(Path(dp.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    argv = [sys.executable, "-m", "deltaprop.cli", "serve", str(path), "--target", "target"]
    process = subprocess.Popen(
        [*argv, "--max-iter", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url is not None, line + process.stderr.read()
        conn = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=20)
        conn.request("GET", "/init")
        init = json.loads(conn.getresponse().read())
        assert init["title"] == "d.csv" and init["class_names"] == ["a", "b"]
        assert init["n_samples"] == 48 and init["n_validation"] == 12  # 20% held out
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "deltaprop: stopped" in err and "Traceback" not in err


def test_serve_blocks_until_interrupted(xor_data, monkeypatch, capsys):
    """block=True prints the URL, waits, and closes cleanly on Ctrl-C (KeyboardInterrupt)."""
    from deltaprop.live import _server

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(_server.LiveServer, "wait", interrupted)
    X, y = xor_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        server = dp.serve(tanh_net(), X, y, paused=True)
    assert f"serving {server.url}" in capsys.readouterr().out
    assert server.session.state == "paused" and repr(server).endswith("closed>")
    with pytest.raises(ConnectionError):
        request(server, "GET", "/")


# -- estimators ------------------------------------------------------------------------
def test_a_fitted_estimator_is_served_from_its_weights(rng):
    pytest.importorskip("sklearn")
    from deltaprop import MLPClassifier

    X = rng.normal(size=(45, 2))
    labels = np.array(["red", "green", "blue"])[np.digitize(X[:, 0], [-0.4, 0.4])]
    clf = MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=20, random_state=0)
    with pytest.warns(Warning):  # not converged in 20 iterations
        clf.fit(X, labels)
    coefs = [c.copy() for c in clf.coefs_]
    Y = (labels[:, None] == clf.classes_[None, :]).astype(float)  # one-hot, classes_ order
    with dp.serve(clf, X, labels, max_iter=100_000, block=False) as server:
        events = Events(server)
        _, init = events.next()
        assert init["class_names"] == ["blue", "green", "red"]
        assert init["loss_name"] == "cross_entropy"
        frame = events.frame(lambda f: f["epoch"] > 0)
        events.close()
        net = server.network
    loss, _ = with_weights(net, frame).loss_and_gradients(X, Y)
    assert frame["loss"] == pytest.approx(loss, rel=1e-12)
    for before, after in zip(coefs, clf.coefs_, strict=True):
        np.testing.assert_array_equal(before, after)  # the estimator itself is untouched
    with pytest.raises(ValueError, match="is not fitted: fit it first"):
        dp.serve(MLPClassifier(), X, labels, block=False)


# -- teaching (issue 21): one delta, parameters set on the page, toys, small data -------
def small_problem(weighted, alpha):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] - X[:, 1] > 0).astype(np.float64)
    w = rng.uniform(0.2, 3.0, size=30) if weighted else None
    net = dp.Network(
        [dp.Dense(2, 3, "tanh"), dp.Dense(3, 2, "sigmoid"), dp.Dense(2, 1)],
        alpha=alpha,
        random_state=1,
    )
    return net, X, y, w


def frame_at(server, until=lambda f: True):
    events = Events(server)
    frame = events.frame(until)
    events.close()
    return frame


@pytest.mark.parametrize(
    ("weighted", "alpha"), [(False, 0.0), (True, 0.0), (False, 0.3), (True, 0.3)]
)
def test_the_pages_delta_is_the_traces_and_the_backward_passes(weighted, alpha):
    net, X, y, w = small_problem(weighted, alpha)
    row = 7
    with dp.serve(net, X, y, sample_weight=w, paused=True, block=False) as server:
        control(server, "sample", index=row)
        frame = frame_at(server, lambda f: f["sample"] is not None and f["sample"]["index"] == row)
    sample = frame["sample"]
    trace = dp.explain(net, X, y, w, learning_rate=0.5)
    params = list(net.parameters)
    zs, acts = forward_pass(net.layers, params, X, xp=np)
    total = 30.0 if w is None else float(np.sum(w))
    engine = backward_pass(net.layers, net.loss, params, zs, acts, y[:, None], w, total, xp=np)
    share = (1.0 if w is None else w[row]) / total
    assert sample["share"] == pytest.approx(share, rel=1e-15)
    for l in range(3):
        page = np.array(sample["delta"][l])
        np.testing.assert_allclose(page, trace.layers[l].delta[row], rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(page, engine.deltas[l][row], rtol=1e-12, atol=1e-300)
        # the row's share of dW[l] is a[l-1]_i^T delta[l]_i: the rows' shares add up to
        # the data term, and the penalty's part alpha W / sum(w) makes the whole gradient
        a_prev = X[row] if l == 0 else acts[l][row]
        np.testing.assert_allclose(
            sample["d_weights"][l], np.outer(a_prev, engine.deltas[l][row]), rtol=1e-12
        )
        whole = np.array(frame["layers"][l]["d_weights"])
        np.testing.assert_allclose(whole, trace.layers[l].d_weights, rtol=1e-12)
        np.testing.assert_allclose(
            whole, acts[l].T @ engine.deltas[l] + alpha * params[2 * l] / total, rtol=1e-12
        )
        if alpha > 0:
            np.testing.assert_allclose(
                frame["layers"][l]["d_weights_penalty"], alpha * params[2 * l] / total, rtol=1e-14
            )
        else:
            assert "d_weights_penalty" not in frame["layers"][l]
    # the output delta by hand: sigmoid + binary cross-entropy gives (w_i / sum w)(a - y)
    a_out = sigmoid(acts[2][row] @ params[4] + params[5])
    np.testing.assert_allclose(sample["delta"][2], share * (a_out - y[row]), rtol=1e-12)


def test_a_steps_row_follows_the_trace(rng):
    net, X, y, w = small_problem(True, 0.1)
    with dp.serve(net, X, y, sample_weight=w, paused=True, block=False) as server:
        before = dp.explain(net, X, y, w, learning_rate=0.5)
        control(server, "sample", index=4)
        reply = control(server, "step")
    row = reply["row"]
    assert row["index"] == 4 and row["weight"] == w[4]
    assert row["loss"] == before.losses[4]
    for l, lt in enumerate(before.layers):
        entry = row["layers"][l]
        np.testing.assert_array_equal(entry["delta"], lt.delta[4])
        np.testing.assert_array_equal(entry["z"], lt.z[4])
        np.testing.assert_allclose(
            entry["row_d_weights"], np.outer(lt.a_prev[4], lt.delta[4]), rtol=1e-13
        )
        np.testing.assert_array_equal(entry["weights_after"], lt.weights_after)
        np.testing.assert_array_equal(entry["d_weights_penalty"], lt.d_weights_penalty)


def tanh_xor():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    net = dp.Network([dp.Dense(2, 2, "tanh"), dp.Dense(2, 1)], random_state=0)
    return net, X, y


def test_setting_a_weight_recomputes_the_frame_and_restores():
    net, X, y = tanh_xor()
    with dp.serve(net, X, y, max_iter=200, validation_fraction=0.25, block=False) as server:
        trained = frame_at(server, lambda f: f["state"] == "done")
        assert trained["edited"] is False
        reply = control(server, "param", layer=0, kind="weight", i=1, j=0, value=3.5)
        frame = frame_at(server, lambda f: f["edited"])
        W1 = np.array(trained["layers"][0]["weights"])
        W1[1, 0] = 3.5
        b1, W2, b2 = (
            np.array(trained["layers"][k][n]) for k, n in ((0, "bias"), (1, "weights"), (1, "bias"))
        )
        p = sigmoid(np.tanh(X @ W1 + b1) @ W2 + b2)[:, 0]
        loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        assert reply["loss"] == pytest.approx(loss, rel=1e-12) and reply["edited"] is True
        assert frame["loss"] == pytest.approx(loss, rel=1e-12)
        assert frame["layers"][0]["weights"][1][0] == 3.5 and frame["state"] == "paused"
        assert frame["grid"]["value"] != trained["grid"]["value"]
        control(server, "param", layer=1, kind="bias", j=0, value=-2.0)
        assert server.network.layers[1].bias[0] == -2.0
        restored = control(server, "restore")
        assert restored["edited"] is False and restored["loss"] == trained["loss"]
        for layer, entry in zip(server.network.layers, trained["layers"], strict=True):
            np.testing.assert_array_equal(layer.weights, entry["weights"])
            np.testing.assert_array_equal(layer.bias, entry["bias"])
        init = json.loads(request(server, "GET", "/init")[1])
        assert init["n_validation"] == 0 and "fewer than 50" in init["validation_note"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"layer": 2, "i": 0, "j": 0, "value": 1.0}, "layer must be < 2"),
        ({"layer": 0, "i": 2, "j": 0, "value": 1.0}, "i must be < 2"),
        ({"layer": 0, "i": 0, "j": -1, "value": 1.0}, "j must be >= 0"),
        ({"layer": 0, "i": 0, "j": 0, "value": 1e4}, "value must be <= 1000"),
        ({"layer": 0, "i": 0, "j": 0, "value": "1"}, "value"),
        ({"layer": 0, "i": 0, "j": 0, "value": None}, "value"),
        ({"layer": 0, "i": 0, "j": 0, "value": True}, "value"),
        ({"layer": 0, "kind": "gain", "j": 0, "value": 1.0}, "kind must be"),
        ({"layer": 0, "kind": "bias", "i": 0, "j": 0, "value": 1.0}, "no input index"),
        ({"layer": 0, "i": 0, "j": 0, "value": 1.0, "extra": 1}, "unknown ['extra']"),
    ],
)
def test_bad_parameter_requests_are_refused(params, message):
    net, X, y = tanh_xor()
    with dp.serve(net, X, y, paused=True, block=False) as server:
        status, body = request(server, "POST", "/control", {"action": "param", **params})
        assert status == 400 and message in json.loads(body)["error"]
        status, body = request(
            server,
            "POST",
            "/control",
            b'{"action": "param", "layer": 0, "i": 0, "j": 0, "value": NaN}',
            headers={"Content-Type": "application/json"},
        )
        assert status == 400
        assert not server.session.status()["edited"]


def test_concurrent_parameter_requests_are_served_one_by_one():
    net, X, y = tanh_xor()
    with dp.serve(net, X, y, paused=True, block=False) as server:
        statuses = []

        def set_value(v):
            statuses.append(
                request(
                    server,
                    "POST",
                    "/control",
                    {"action": "param", "layer": 0, "i": 0, "j": 1, "value": v},
                )[0]
            )

        threads = [threading.Thread(target=set_value, args=(0.1 * k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200] * 8
        assert server.network.layers[0].weights[0, 1] in {0.1 * k for k in range(8)}


def test_hidden_units_are_drawn_over_the_plane():
    net, X, y = tanh_xor()
    with dp.serve(net, X, y, paused=True, block=False) as server:
        frame = frame_at(server)
        init = json.loads(request(server, "GET", "/init")[1])
    (pictures,) = frame["units"]
    n = init["projection"]["unit_grid_size"]
    (u0, u1), (v0, v1) = init["projection"]["ranges"]
    u, v = np.meshgrid(np.linspace(u0, u1, n), np.linspace(v0, v1, n))
    W1, b1 = np.array(frame["layers"][0]["weights"]), np.array(frame["layers"][0]["bias"])
    hidden = np.tanh(np.column_stack([u.ravel(), v.ravel()]) @ W1 + b1)
    assert pictures["units"] == [0, 1]
    np.testing.assert_allclose(pictures["values"], np.round(hidden.T, 3), atol=1e-12)


@pytest.mark.filterwarnings("ignore::deltaprop.DivergenceWarning")
def test_a_huge_learning_rate_is_warned_about():
    data = toy("moons")
    net = dp.Network([dp.Dense(2, 8, "tanh"), dp.Dense(8, 1)], random_state=0)
    with dp.serve(
        net, data.X, data.y, optimizer=dp.SGD(learning_rate=1000.0), max_iter=300, block=False
    ) as s:
        frame = frame_at(s, lambda f: f["state"] != "running")
    assert frame["warning"] is not None and "learning rate (1000)" in frame["warning"]
    assert loss_warning([1.0 / (k + 1) for k in range(50)], 0.5) is None
    assert "grew" in loss_warning([1.0 + 0.01 * k for k in range(50)], 0.5)


@pytest.mark.parametrize("name", sorted(TOYS))
def test_toys_are_seeded_and_shaped(name):
    a, b, c = toy(name, seed=0), toy(name, seed=0), toy(name, seed=1)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    assert a.X.shape[1] == (1 if name == "sine" else 2) and a.y.shape == (a.X.shape[0],)
    if a.task == "binary":
        assert set(np.unique(a.y)) == {0.0, 1.0}
    assert np.all(np.abs(a.X) < 3.5)


def test_the_page_switches_between_toys_and_back():
    net, X, y = tanh_xor()
    with dp.serve(net, X, y, paused=True, title="xor.csv", block=False) as server:
        events = Events(server)
        _, first = events.next()
        assert [d["key"] for d in first["datasets"]] == ["given", *TOYS]
        control(server, "data", name="sine")
        while (message := events.next())[0] != "init":
            pass
        init = message[1]
        assert init["dataset"] == "sine" and init["task"] == "regression"
        assert init["n_samples"] == 100 and init["layers"][-1]["activation"] == "identity"
        control(server, "data", name="given")
        while (message := events.next())[0] != "init":
            pass
        assert message[1]["dataset"] == "given" and message[1]["n_samples"] == 4
        events.close()
        status, body = request(server, "POST", "/control", {"action": "data", "name": "iris"})
        assert status == 400 and "one of" in json.loads(body)["error"]


def test_serve_toy_and_the_cli(tmp_path, capsys):
    with live.serve_toy("circles", hidden=[3], max_iter=5, block=False) as server:
        frame = frame_at(server, lambda f: f["state"] == "done")
        assert [d["key"] for d in server.session.datasets()] == list(TOYS)
    assert [len(entry["bias"]) for entry in frame["layers"]] == [3, 1]
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        live.serve_toy("xor", sample_weight=np.ones(200), block=False)
    assert main(["serve", "--toy", "xor", "--target", "y"]) == 2
    assert "--target apply to DATA, not to --toy" in capsys.readouterr().err
    assert main(["serve"]) == 2
    assert "give DATA (a table) or --toy NAME" in capsys.readouterr().err


def test_cli_sample_weight_is_never_an_input(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    lines = ["a,b,w,label"] + [
        f"{rng.normal():.3f},{rng.normal():.3f},{k % 3},{k % 2}" for k in range(12)
    ]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    served = {}

    def fake_serve(network, X, y, **options):
        served.update(options, X=X, y=y, network=network)

    monkeypatch.setattr(live, "serve", fake_serve)
    assert main(["serve", str(path), "--target", "label", "--sample-weight", "w"]) == 0
    assert served["feature_names"] == ["a", "b"] and served["X"].shape == (12, 2)
    np.testing.assert_array_equal(served["sample_weight"], [k % 3 for k in range(12)])
    assert served["optimizer"].learning_rate == 0.5
    assert main(["serve", str(path), "--target", "label", "--sample-weight", "nope"]) == 2
