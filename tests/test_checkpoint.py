"""Checkpoints: a run stopped and resumed ends bit-identical to one that never stopped."""

from __future__ import annotations

import json
import os
import signal
import zipfile

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.files import container as dpio
from deltaprop.optim.schedules import ReduceOnPlateau, StepDecay
from deltaprop.training.checkpoint import TrainingState

from .conftest import no_code_execution, to_xp


class _Crash(Exception):
    pass


def _crash_at(iteration):
    def callback(i, history, net):
        if i == iteration:
            raise _Crash

    return callback


def _data(seed=0, n=48, n_features=3, n_outputs=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = (X[:, :n_outputs] + 0.5 * X[:, -1:] > 0).astype(float)
    return X, y if n_outputs > 1 else y[:, 0]


def _net(dropout=0.0, seed=0):
    return dp.Network([dp.Dense(3, 5, "tanh", dropout=dropout), dp.Dense(5, 1)], random_state=seed)


def _assert_identical(net_a, history_a, net_b, history_b):
    assert history_a == history_b  # every loss, val_loss, rate, best_iteration, stop_reason
    for a, b in zip(net_a.parameters, net_b.parameters, strict=True):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype
        assert np.array_equal(a, b)


def _crash_and_resume(tmp_path, make_optimizer, *, crash, every, max_iter, make_net=_net, **kw):
    """(uninterrupted net, history), (resumed net, history), the checkpoint's iteration."""
    X, y = kw.pop("data", None) or _data()
    straight = make_net()
    straight_history = dp.train(
        straight, X, y, optimizer=make_optimizer(), max_iter=max_iter, **_fresh(kw)
    )

    path = tmp_path / "run.ckpt"
    checkpoint = dp.Checkpoint(path, every=every)
    with pytest.raises(_Crash):
        dp.train(
            make_net(),
            X,
            y,
            optimizer=make_optimizer(),
            max_iter=max_iter,
            callbacks=[checkpoint, _crash_at(crash)],
            **_fresh(kw),
        )
    saved = dp.load(path)
    resumed = make_net()
    for layer in resumed.layers:  # the weights come from the checkpoint
        layer.weights = np.zeros_like(layer.weights)
    resumed_history = dp.train(
        resumed, X, y, optimizer=make_optimizer(), max_iter=max_iter, resume=path, **_fresh(kw)
    )
    return (straight, straight_history), (resumed, resumed_history), saved


def _fresh(kwargs):
    """Schedules hold state: give each run its own copy."""
    out = dict(kwargs)
    if "schedule" in out:
        out["schedule"] = out["schedule"]()
    return out


def test_sgd_momentum_full_batch(tmp_path):
    (a, ha), (b, hb), saved = _crash_and_resume(
        tmp_path,
        lambda: dp.SGD(learning_rate=0.5, momentum=0.9, nesterov=True),
        crash=8,
        every=3,
        max_iter=20,
    )
    assert saved.iteration == 6 and saved.history.n_iter == 6
    assert ha.n_iter == 20 and ha.stop_reason == "max_iter"
    _assert_identical(a, ha, b, hb)


def test_adam_mini_batches_with_shuffling_dropout_and_sample_weights(tmp_path):
    X, y = _data(n=50)
    weights = np.linspace(0.5, 2.0, 50)
    (a, ha), (b, hb), saved = _crash_and_resume(
        tmp_path,
        lambda: dp.Adam(learning_rate=0.05, weight_decay=0.01),
        crash=7,
        every=2,
        max_iter=12,
        make_net=lambda seed=0: _net(dropout=0.2, seed=seed),
        data=(X, y),
        batch_size=8,  # 7 batches, the last one short
        sample_weight=weights,
    )
    assert saved.iteration == 6
    assert saved.optimizer["scalar_state"]["t"] == 6 * 7  # Adam's step count
    _assert_identical(a, ha, b, hb)


def test_schedule_validation_and_early_stopping(tmp_path):
    def plateau():
        return ReduceOnPlateau(factor=0.5, patience=1, threshold=1e-3, monitor="val_loss")

    (a, ha), (b, hb), saved = _crash_and_resume(
        tmp_path,
        lambda: dp.SGD(learning_rate=4.0, momentum=0.5),
        crash=9,
        every=4,
        max_iter=60,
        # a seed whose run early-stops well after the checkpoint (13 epochs) with the
        # default init of issue 17 (seed 0 now stops at epoch 8)
        make_net=lambda seed=0: _net(seed=3),
        batch_size=16,
        schedule=plateau,
        validation_fraction=0.25,
        early_stopping=True,
        n_iter_no_change=6,
        tol=1e-4,
    )
    assert saved.iteration == 8
    assert saved.schedule["name"] == "ReduceOnPlateau"
    # the run is long enough for the interesting parts to happen after the checkpoint
    assert ha.stop_reason == "early_stopping" and ha.n_iter > 9
    assert len(set(ha.learning_rate[8:])) > 1  # the schedule reduced the rate after epoch 8
    _assert_identical(a, ha, b, hb)


def test_step_decay_and_float32_data(tmp_path):
    X, y = _data()
    (a, ha), (b, hb), _ = _crash_and_resume(
        tmp_path,
        lambda: dp.SGD(learning_rate=1.0),
        crash=5,
        every=2,
        max_iter=10,
        data=(X.astype(np.float32), y.astype(np.float32)),
        schedule=lambda: StepDecay(step_size=3, gamma=0.5),
        batch_size=10,
    )
    assert a.layers[0].weights.dtype == np.float32
    assert ha.learning_rate == [1.0] * 3 + [0.5] * 3 + [0.25] * 3 + [0.125]
    _assert_identical(a, ha, b, hb)


def test_resume_in_another_array_library(tmp_path, xp):
    X, y = _data()
    X, y = to_xp(xp, X), to_xp(xp, y)
    (a, ha), (b, hb), _ = _crash_and_resume(
        tmp_path, lambda: dp.Adam(0.05), crash=4, every=3, max_iter=6, data=(X, y), batch_size=12
    )
    _assert_identical(a, ha, b, hb)


def test_resume_rebuilds_the_optimizer_and_schedule(tmp_path):
    X, y = _data()
    path = tmp_path / "run.ckpt"
    kwargs = dict(batch_size=16, max_iter=9)
    straight = _net()
    h1 = dp.train(
        straight,
        X,
        y,
        optimizer=dp.Adam(0.02, beta_1=0.8),
        schedule=StepDecay(2, 0.7),
        **kwargs,
    )
    with pytest.raises(_Crash):
        dp.train(
            _net(),
            X,
            y,
            optimizer=dp.Adam(0.02, beta_1=0.8),
            schedule=StepDecay(2, 0.7),
            callbacks=[dp.Checkpoint(path, every=5), _crash_at(6)],
            **kwargs,
        )
    state = dp.load(path)
    assert isinstance(state, TrainingState)
    # the initial learning rate, not epoch 5's decayed one
    assert state.optimizer["hyper_parameters"]["learning_rate"] == 0.02
    net = state.network
    h2 = dp.train(net, X, y, resume=state, **kwargs)  # no optimizer, no schedule given
    _assert_identical(straight, h1, net, h2)


def test_resume_of_a_run_with_the_defaults_takes_its_batch_size(tmp_path):
    # The default optimizer and batch_size="auto" (min(200, 250) = 200: one full batch
    # and one of 50 rows per epoch); resuming with neither given continues that run.
    X, y = _data(n=250)
    path = tmp_path / "run.ckpt"
    straight = _net()
    h1 = dp.train(straight, X, y, max_iter=7)
    with pytest.raises(_Crash):
        dp.train(_net(), X, y, max_iter=7, callbacks=[dp.Checkpoint(path, every=3), _crash_at(5)])
    state = dp.load(path)
    assert state.data["batch_size"] == 200
    net = state.network
    h2 = dp.train(net, X, y, resume=state, max_iter=7)
    _assert_identical(straight, h1, net, h2)


def test_divergence_after_resume_keeps_the_same_last_finite_weights(tmp_path):
    X, y = _data()
    X = X * 30.0

    def run(**kwargs):
        net = dp.Network(
            [dp.Dense(3, 8, "relu"), dp.Dense(8, 1, "identity")],
            loss="squared_error",
            random_state=0,
        )
        optimizer = dp.SGD(learning_rate=0.02, momentum=0.9)
        with pytest.warns(dp.DivergenceWarning, match="diverged at iteration"):
            history = dp.train(net, X, y, optimizer=optimizer, max_iter=60, **kwargs)
        return net, history

    straight, h1 = run()
    assert h1.stop_reason == "diverged"
    path = tmp_path / "run.ckpt"
    run(callbacks=[dp.Checkpoint(path)])
    state = dp.load(path)
    # the last complete iteration before the loss overflowed; its weights were finite,
    # and the weights before its update are the "last finite" ones kept on divergence
    assert state.iteration == h1.n_iter
    assert state.last_finite is not None
    resumed, h2 = run(resume=path)
    _assert_identical(straight, h1, resumed, h2)
    assert all(
        np.array_equal(a, b) for a, b in zip(resumed.parameters, state.last_finite, strict=True)
    )


# -- Ctrl-C ---------------------------------------------------------------------------
class _CtrlCAtStep(dp.SGD):
    """SGD that delivers a real SIGINT to this process during its k-th step."""

    def __init__(self, k: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.k, self.steps = k, 0

    def step(self, params, grads, *, xp):
        self.steps += 1
        if self.steps == self.k:
            os.kill(os.getpid(), signal.SIGINT)
        return super().step(params, grads, xp=xp)


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs POSIX signals")
@pytest.mark.parametrize(
    ("batch_size", "k", "saved_at"),
    [
        (None, 7, 7),  # full batch: the interrupted iteration is complete and saved
        (12, 4 * 4 + 2, 4),  # epoch 5 cut short after 2 of 4 batches: epoch 4 stays
    ],
)
def test_ctrl_c_then_resume(tmp_path, batch_size, k, saved_at):
    X, y = _data()
    kwargs = dict(batch_size=batch_size, max_iter=15)
    straight = _net()
    h1 = dp.train(straight, X, y, optimizer=_CtrlCAtStep(learning_rate=0.5, momentum=0.5), **kwargs)

    path = tmp_path / "run.ckpt"
    checkpoint = dp.Checkpoint(path, every=2)
    stopped = dp.train(
        _net(),
        X,
        y,
        optimizer=_CtrlCAtStep(k, learning_rate=0.5, momentum=0.5),
        callbacks=[checkpoint],
        **kwargs,
    )
    assert stopped.stop_reason == "interrupted"
    assert checkpoint.last_saved == saved_at == dp.load(path).iteration

    resumed = _net()
    h2 = dp.train(
        resumed,
        X,
        y,
        optimizer=_CtrlCAtStep(learning_rate=0.5, momentum=0.5),
        resume=path,
        **kwargs,
    )
    _assert_identical(straight, h1, resumed, h2)


# -- what a checkpoint file holds -------------------------------------------------------
def test_checkpoint_file_round_trip(tmp_path):
    X, y = _data()
    path = tmp_path / "run.ckpt"
    net = _net()
    dp.train(
        net,
        X,
        y,
        optimizer=dp.SGD(0.3, momentum=0.9),
        max_iter=4,
        validation_data=(X[:10], y[:10]),
        schedule=ReduceOnPlateau(patience=100),
        callbacks=[dp.Checkpoint(path, every=4)],
    )
    state = dp.load(path)
    assert state.iteration == 4
    assert state.schedule["best"] > 0 and state.schedule["bad_epochs"] >= 0
    assert state.best_params is not None and len(state.best_params) == 4
    data = dict(state.data)
    fingerprint = data.pop("fingerprint")
    assert data == {"n_samples": 48, "n_features": 3, "n_outputs": 1, "batch_size": None}
    assert (fingerprint["rows"], fingerprint["columns"], len(fingerprint["hash"])) == (48, 3, 32)
    assert state.options["optimizer"] == "SGD" and state.options["momentum"] == 0.9
    again = tmp_path / "again.ckpt"
    dp.save(state, again)
    assert again.read_bytes() == path.read_bytes()
    header = json.loads(zipfile.ZipFile(path).read("header.json"))
    assert header["kind"] == "checkpoint"
    assert header["config"]["rng"]["current"]["bit_generator"] == "PCG64"
    # a fresh ReduceOnPlateau's best is +inf, which JSON cannot hold: stored as "inf"
    assert header["config"]["stopping"]["best_loss"] == "inf"


def test_checkpoint_every_n_writes_on_multiples(tmp_path):
    X, y = _data()
    seen = []
    checkpoint = dp.Checkpoint(tmp_path / "c.ckpt", every=3)

    def record(i, history, net):
        seen.append(checkpoint.last_saved)

    dp.train(_net(), X, y, max_iter=7, callbacks=[checkpoint, record])
    assert seen == [None, None, 3, 3, 3, 6, 6]


# -- mistakes -------------------------------------------------------------------------
@pytest.fixture
def checkpoint_path(tmp_path):
    X, y = _data()
    path = tmp_path / "run.ckpt"
    dp.train(
        _net(),
        X,
        y,
        optimizer=dp.SGD(0.3, momentum=0.5),
        max_iter=4,
        validation_fraction=0.25,
        callbacks=[dp.Checkpoint(path, every=2)],
        random_state=5,
    )
    return path


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(net=dp.Network([dp.Dense(3, 4), dp.Dense(4, 1)])), ValueError, "does not match"),
        (dict(batch_size=8), ValueError, "batch_size None -> 8"),
        (dict(random_state=6), ValueError, "pass the same random_state"),
        (dict(max_iter=4), ValueError, "at iteration 4, max_iter=4 leaves nothing"),
        (dict(optimizer=dp.Adam()), ValueError, "a Adam .* cannot continue"),
        (dict(schedule=StepDecay(2)), ValueError, "without a schedule"),
        (dict(X="float32"), ValueError, "float64 weights, the data is float32"),
        (dict(resume=42), TypeError, "resume must be a path or a TrainingState"),
    ],
)
def test_resume_refuses_a_mismatch(checkpoint_path, change, error, match):
    X, y = _data()
    kwargs = dict(
        net=_net(),
        optimizer=dp.SGD(0.3, momentum=0.5),
        max_iter=10,
        validation_fraction=0.25,
        random_state=5,
        resume=checkpoint_path,
    )
    if change.pop("X", None):
        X = X.astype(np.float32)
    kwargs.update(change)
    net = kwargs.pop("net")
    with pytest.raises(error, match=match):
        dp.train(net, X, y, **kwargs)


def _resume_error(checkpoint_path, X, y, **change):
    kwargs = dict(
        optimizer=dp.SGD(0.3, momentum=0.5),
        max_iter=10,
        validation_fraction=0.25,
        random_state=5,
        resume=checkpoint_path,
    )
    kwargs.update(change)
    with pytest.raises(ValueError) as info:
        dp.train(_net(), X, y, **kwargs)
    return info.value


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (dict(optimizer=dp.SGD(0.5, momentum=0.5)), "learning_rate 0.3 -> 0.5"),
        (dict(optimizer=dp.SGD(0.3, momentum=0.9)), "momentum 0.5 -> 0.9"),
        (dict(shuffle=False), "shuffle True -> False"),
        (dict(tol=0.5), "tol None -> 0.5"),
        (dict(n_iter_no_change=3), "n_iter_no_change 10 -> 3"),
        (dict(target_loss=0.1), "target_loss None -> 0.1"),
        (dict(class_weight={0: 1.0, 1: 2.0}), """class_weight None -> '{"0": 1.0, "1": 2.0}'"""),
    ],
)
def test_resume_names_each_option_that_changed(checkpoint_path, change, named):
    # used to be accepted silently: the "resumed" run was another run
    X, y = _data()
    error = _resume_error(checkpoint_path, X, y, **change)
    assert isinstance(error, dp.training.ResumeMismatchError)
    assert named in str(error)
    assert len(error.changes) == 1


def test_resume_names_two_changes_at_once(checkpoint_path):
    X, y = _data()
    error = _resume_error(checkpoint_path, X, y, optimizer=dp.SGD(0.1, momentum=0.5), shuffle=False)
    assert [name for name, _, _ in error.changes] == ["learning_rate", "shuffle"]


def test_resume_refuses_changed_data(checkpoint_path):
    X, y = _data()
    X_changed = X.copy()
    X_changed[7, 1] += 1e-12  # one value, the same shape
    error = _resume_error(checkpoint_path, X_changed, y)
    assert error.changes[0][0] == "data"
    assert "the training data changed (contents" in str(error)
    assert "same 48 rows x 3 columns" in str(error)
    y_changed = y.copy()
    y_changed[0] = 1.0 - y_changed[0]
    assert "the training data changed" in str(_resume_error(checkpoint_path, X, y_changed))
    weights = np.ones(len(X))
    weights[3] = 2.0
    error = _resume_error(checkpoint_path, X, y, sample_weight=weights)
    assert "the training data changed" in str(error)
    X_more, y_more = _data(n=60)
    error = _resume_error(checkpoint_path, X_more, y_more)
    assert "(48 rows x 3 columns -> 60 rows x 3 columns)" in str(error)


def test_resume_with_the_same_options_and_data_passes_and_checks_validation_rows(tmp_path):
    X, y = _data()
    path = tmp_path / "v.ckpt"
    val = (X[:8] + 1.0, y[:8])
    dp.train(_net(), X, y, max_iter=2, validation_data=val, callbacks=[dp.Checkpoint(path)])
    dp.train(_net(), X, y, max_iter=4, validation_data=val, resume=path)
    other = (X[:8] + 2.0, y[:8])
    with pytest.raises(dp.training.ResumeMismatchError, match="the training data changed"):
        dp.train(_net(), X, y, max_iter=4, validation_data=other, resume=path)


def test_resume_from_a_checkpoint_without_fingerprint_warns(tmp_path, checkpoint_path):
    state = dp.load(checkpoint_path)
    state.options = None
    del state.data["fingerprint"]
    old = tmp_path / "old.ckpt"
    dp.save(state, old)
    X, y = _data()
    with pytest.warns(UserWarning, match="only their shapes were checked"):
        dp.train(
            _net(),
            X,
            y,
            optimizer=dp.SGD(0.3, momentum=0.5),
            max_iter=6,
            validation_fraction=0.25,
            random_state=5,
            resume=old,
        )


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda c: c["options"].update({"x\x1b[2J": 1}), "is not an option name"),
        (lambda c: c["options"].update(tol=[1]), "must be a number, a bool, a string or null"),
        (lambda c: c["data"]["fingerprint"].update(hash="zz"), "32 hexadecimal digits"),
        (lambda c: c["data"]["fingerprint"].pop("rows"), "lacks"),
    ],
)
def test_a_damaged_fingerprint_or_options_is_a_model_file_error(checkpoint_path, edit, match):
    with zipfile.ZipFile(checkpoint_path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["header.json"])
    edit(header["config"])
    members["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(checkpoint_path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(dpio.ModelFileError, match=match):
        dp.load(checkpoint_path)


def test_resume_from_a_model_file_or_with_lbfgs(tmp_path, checkpoint_path):
    X, y = _data()
    model = tmp_path / "net.deltaprop"
    dp.save(_net(), model)
    with pytest.raises(ValueError, match="holds a Network, not a checkpoint"):
        dp.train(_net(), X, y, resume=model)
    # a first-order checkpoint cannot be continued by L-BFGS (L-BFGS runs have their own)
    with pytest.raises(ValueError, match="written by an SGD run, which an LBFGS cannot continue"):
        dp.train(_net(), X, y, optimizer=dp.LBFGS(), resume=checkpoint_path)


def test_checkpoint_mistakes(tmp_path):
    X, y = _data()
    with pytest.raises(ValueError, match="every must be >= 1"):
        dp.Checkpoint(tmp_path / "c", every=0)
    with pytest.raises(ValueError, match="does not exist"):
        dp.train(_net(), X, y, callbacks=[dp.Checkpoint(tmp_path / "no" / "c")])
    with pytest.raises(RuntimeError, match="pass it to train"):
        dp.Checkpoint(tmp_path / "c")(1, dp.History(), _net())

    class Custom(dp.Activation):
        name = "custom"

        def forward(self, z, *, xp):
            return z

        def derivative(self, z, a, *, xp):
            return xp.ones_like(z)

    class OddSchedule(dp.schedules.Constant):
        _dynamic_state = ("memory",)

        def __init__(self):
            self.memory = [1.0, 2.0]

    with pytest.raises(TypeError, match=r"cannot save schedule state memory=\[1\.0, 2\.0\]"):
        dp.train(_net(), X, y, schedule=OddSchedule(), callbacks=[dp.Checkpoint(tmp_path / "c")])

    net = dp.Network([dp.Dense(3, 1, Custom())], loss="squared_error", random_state=0)
    with pytest.raises(TypeError, match="custom activation"):
        dp.train(net, X, y, max_iter=2, callbacks=[dp.Checkpoint(tmp_path / "c")])
    assert not (tmp_path / "c").exists()


# -- hostile checkpoint files -----------------------------------------------------------
def _tampered(path, tmp_path, edit):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["header.json"])
    edit(header["config"])
    members["header.json"] = json.dumps(header).encode()
    bad = tmp_path / "bad.ckpt"
    with zipfile.ZipFile(bad, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return bad


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(config):
        target = config
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_set("iteration", 0), "iteration must be >= 1"),
        (_set("iteration", 3), "must have 3 entries"),
        (_set("rng", "current", "bit_generator", "os.system"), "state of a NumPy bit generator"),
        (_set("rng", "current", "state", "state", "x"), "not a valid generator state"),
        (_set("rng", "initial", {"bit_generator": "MT19937", "state": {}}), "not a valid"),
        (_set("history", "loss", ["1.0"] * 4), r"loss\[0\] must be a number"),
        (_set("history", "best_iteration", 9), "after iteration 4"),
        (_set("optimizer", "array_state", "velocities", 3), "must hold 4 arrays, got 3"),
        (_set("optimizer", "array_state", "__class__", None), "does not match a SGD"),
        (_set("optimizer", "hyper_parameters", "momentum", 2.0), "momentum must be < 1"),
        (_set("optimizer", "hyper_parameters", "__init__", 1), "unexpected keyword"),
        (_set("optimizer", "name", "os.system"), "must be a class name"),
        (_set("stopping", "no_improvement", -1), "must be >= 0"),
        (_set("best_params", "evil"), "null or 'stored'"),
        (_set("data", "n_features", 7), "do not match the network"),
        (
            _set("schedule", {"name": "StepDecay", "params": {}, "initial": 1.0, "state": {}}),
            "step_size",
        ),
        (
            _set("schedule", {"name": "Constant", "params": {}, "initial": 1.0, "state": {"a": 1}}),
            r"must have the keys \[\] for a Constant",
        ),
        (
            _set(
                "schedule",
                {
                    "name": "ReduceOnPlateau",
                    "params": {},
                    "initial": 1.0,
                    "state": {"current": "x", "best": "inf", "bad_epochs": 0},
                },
            ),
            r"current must be a number, 'inf'",
        ),
        (
            _set(
                "schedule",
                {
                    "name": "ReduceOnPlateau",
                    "params": {},
                    "initial": 1.0,
                    "state": {"current": 0.1, "best": "inf", "bad_epochs": -2},
                },
            ),
            "bad_epochs must be >= 0",
        ),
    ],
)
def test_malformed_checkpoints(checkpoint_path, tmp_path, edit, match):
    bad = _tampered(checkpoint_path, tmp_path, edit)
    with pytest.raises(dpio.ModelFileError, match=match), no_code_execution():
        dp.load(bad)


def test_checkpoint_with_swapped_optimizer_array_shape(checkpoint_path, tmp_path):
    with zipfile.ZipFile(checkpoint_path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["header.json"])
    header["arrays"]["optimizer.velocities.0"]["shape"] = [5, 3]
    members["header.json"] = json.dumps(header).encode()
    members["arrays/optimizer.velocities.0.npy"] = _npy(np.zeros((5, 3)))
    bad = tmp_path / "bad.ckpt"
    with zipfile.ZipFile(bad, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(dpio.ModelFileError, match=r"shape \(5, 3\), expected \(3, 5\)"):
        with no_code_execution():
            dp.load(bad)


def _npy(array):
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def test_lbfgs_checkpoint_holds_a_checked_workspace(tmp_path):
    pytest.importorskip("scipy")
    from deltaprop.files.container import ModelFileError
    from deltaprop.training.lbfgs import can_checkpoint_lbfgs, workspace_shapes

    if not can_checkpoint_lbfgs():
        pytest.skip("needs SciPy >= 1.15")
    X, y = _data()
    path = tmp_path / "lbfgs.ckpt"
    net = _net()
    dp.train(net, X, y, optimizer=dp.LBFGS(memory=4), max_iter=6, callbacks=[dp.Checkpoint(path)])
    state = dp.load(path)
    n = sum(p.size for p in net.parameters)
    assert state.iteration == 6 and state.optimizer["name"] == "LBFGS"
    assert state.optimizer["scalar_state"]["n_iterations"] == 6
    shapes = workspace_shapes(n, 4)
    for key, (value,) in state.optimizer["array_state"].items():
        assert value.shape == shapes[key]
    # the iterate is the network's weights, flattened
    x = state.optimizer["array_state"]["x"][0]
    np.testing.assert_array_equal(x, np.concatenate([p.ravel() for p in state.network.parameters]))
    assert isinstance(state.make_optimizer(), dp.LBFGS)
    # an integer array of SciPy's that is not integral is refused on load
    state.optimizer["array_state"]["iwa"][0][0] = 0.5
    dp.save(state, tmp_path / "bad.ckpt")
    with pytest.raises(ModelFileError, match=r"optimizer\.iwa\.0 holds invalid values"):
        dp.load(tmp_path / "bad.ckpt")
