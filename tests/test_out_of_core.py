"""Out-of-core Dask training: streamed blocks, the automatic choice, lost workers.

Streaming recomputes every block from its source at each pass; the shares and their
sums are the same, so the weights must be bit-identical to keeping the blocks
(``data="persist"``), and equal to the in-memory fit to 1e-10. The test marked
``out_of_core`` trains on a Parquet dataset larger than its worker processes' memory
(it runs only when selected: ``pytest -m out_of_core``, as ``.ci/run`` does).
"""

from __future__ import annotations

import logging
import time
import types

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import deltaprop as dp  # noqa: E402
from deltaprop.parallel import (  # noqa: E402
    DataPlan,
    WorkerMemoryError,
    _memory,
    plan_data,
)
from deltaprop.parallel import train as parallel_train  # noqa: E402

MB = 10**6


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(240, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(float)
    w = rng.uniform(0.5, 2.0, 240)
    return X, y, w


def _net(dropout: float = 0.0):
    return dp.Network(
        [dp.Dense(4, 6, "tanh", dropout=dropout), dp.Dense(6, 1, "sigmoid")],
        loss="binary_cross_entropy",
        alpha=1e-3,
        random_state=0,
    )


class _RightShare:
    """A BlockScore for the tests: the weighted share of rows whose output is on the
    side of 0.5 of their 0/1 target."""

    def sums(self, y, output, w):
        right = (output[:, 0] > 0.5) == (y[:, 0] > 0.5)
        return np.array([np.dot(w, right), np.sum(w)])

    def value(self, sums):
        return sum(s[0] for s in sums) / sum(s[1] for s in sums)


def _fit(client, data, mode, **kw):
    X, y, w = data
    net = _net(kw.pop("dropout", 0.0))
    chunks = (50, 70, 40, 80)  # unequal blocks
    history = parallel_train(
        net,
        da.from_array(X, chunks=(chunks, 4)),
        da.from_array(y, chunks=(chunks,)),
        sample_weight=da.from_array(w, chunks=(chunks,)),
        client=client,
        max_iter=kw.pop("max_iter", 4),
        random_state=7,
        data=mode,
        **kw,
    )
    return [np.array(p) for p in net.parameters], history


@pytest.mark.parametrize(
    "options",
    [
        {"solver": "gd", "learning_rate": 0.5},
        {"solver": "lbfgs"},
        {"solver": "local_sgd", "batch_size": 16, "local_steps": 3},
        {
            "solver": "gd",
            "validation_fraction": 0.25,
            "class_weight": "balanced",
            "validation_score": _RightShare(),
        },
        {"solver": "gd", "dropout": 0.3},
    ],
    ids=["gd", "lbfgs", "local_sgd", "held-out+class_weight", "dropout"],
)
def test_streaming_gives_the_weights_of_persisted_blocks_bit_for_bit(client, data, options):
    if options["solver"] == "lbfgs":
        pytest.importorskip("scipy")
    kept, h_kept = _fit(client, data, "persist", **dict(options))
    streamed, h_streamed = _fit(client, data, "stream", **dict(options))
    for a, b in zip(kept, streamed, strict=True):
        assert np.array_equal(a, b)
    assert h_kept.loss == h_streamed.loss
    assert h_kept.val_loss == h_streamed.val_loss
    assert h_kept.val_score == h_streamed.val_score
    assert len(h_kept.val_score) == (4 if "validation_score" in options else 0)


def test_a_streamed_run_resumes_kept_and_the_other_way(client, data, tmp_path):
    straight, _ = _fit(client, data, "persist", solver="gd", learning_rate=0.5, max_iter=6)
    for first, then in (("stream", "persist"), ("persist", "stream")):
        path = tmp_path / f"{first}.ckpt"
        checkpoint = dp.Checkpoint(path)
        _fit(client, data, first, solver="gd", learning_rate=0.5, callbacks=[checkpoint])
        resumed, _ = _fit(client, data, then, solver="gd", max_iter=6, resume=path)
        for a, b in zip(resumed, straight, strict=True):
            assert np.array_equal(a, b)


def test_streaming_matches_the_in_memory_fit(client, data):
    X, y, w = data
    streamed, _ = _fit(client, data, "stream", solver="gd", learning_rate=0.5)
    net = _net()
    dp.train(net, X, y, sample_weight=w, optimizer=dp.SGD(0.5), max_iter=4, batch_size=None)
    for a, b in zip(net.parameters, streamed, strict=True):
        np.testing.assert_allclose(b, np.asarray(a), rtol=1e-10, atol=1e-12)


def test_the_choice_is_logged_with_its_reason(client, data, caplog):
    with caplog.at_level(logging.INFO, logger="deltaprop.parallel"):
        _fit(client, data, "stream", solver="gd")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "deltaprop.parallel"]
    assert "data streamed (stream): 'stream' was asked for" in line


def test_unknown_row_counts_are_counted_before_choosing(client, data, caplog):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, _ = data
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")).assign(t=y), npartitions=3)
    net = _net()
    with caplog.at_level(logging.INFO, logger="deltaprop.parallel"):
        parallel_train(net, frame[list("abcd")], frame["t"], client=client, max_iter=2)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "deltaprop.parallel"]
    # 240 rows x (4 inputs + 1 target) x 8 bytes, counted on a pass over the partitions
    assert "data kept in the workers' memory (persist): about 9.6 kB of blocks <=" in line
    for mode in ("persist", "stream"):  # forced: counted on the first pass all the same
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="deltaprop.parallel"):
            parallel_train(_net(), frame[list("abcd")], frame["t"], max_iter=1, data=mode)
        (line,) = [r.getMessage() for r in caplog.records if r.name == "deltaprop.parallel"]
        assert f"({mode}): '{mode}' was asked for; about 9.6 kB of blocks" in line


class _Cluster:
    """A stand-in client: ``scheduler_info`` of workers with these limits and threads."""

    def __init__(self, limits, threads=1, status="running"):
        self.workers = {
            f"tcp://w{i}": {"memory_limit": limit, "nthreads": threads, "status": status}
            for i, limit in enumerate(limits)
        }

    def scheduler_info(self, n_workers=-1):
        return {"workers": self.workers}


def test_auto_streams_data_larger_than_half_the_workers_memory():
    # 4 workers of 300 MB; 1 GB of blocks (10 blocks of 1000 rows of 100 kB)
    cluster = _Cluster([300 * MB] * 4)
    plan = plan_data(cluster, [1000] * 10, 100_000)
    assert plan.mode == "stream"
    assert plan.data_bytes == 10**9
    assert "about 1 GB of blocks > 50% of the workers' 1.2 GB (4 x 300 MB)" in plan.reason
    # 500 MB <= 50% of 1.2 GB; a worker: 125 MB of blocks + one 16 MB block at work <= 150 MB
    small = plan_data(_Cluster([300 * MB] * 4), [400] * 50, 25_000, work_per_row=15_000)
    assert (small.mode, small.data_bytes, small.largest_block_bytes) == ("persist", 5e8, 16e6)


def test_auto_streams_when_one_worker_would_hold_too_much():
    # 400 MB in total is 40% of 1 GB, but 2 workers of 500 MB each hold 200 MB + 4 threads
    # x 20 MB = 280 MB > 250 MB
    plan = plan_data(_Cluster([500 * MB] * 2, threads=4), [100] * 20, 200_000)
    assert plan.mode == "stream"
    assert plan.reason == (
        "about 400 MB of blocks, 280 MB per worker with 4 block(s) at work > 50% of a "
        "worker's 500 MB"
    )


def test_forced_modes_and_workers_without_limits():
    cluster = _Cluster([300 * MB] * 4)
    assert plan_data(cluster, [10], 8, data="stream").mode == "stream"
    forced = plan_data(cluster, [1000] * 10, 100_000, data="persist")
    assert forced.mode == "persist" and forced.reason.startswith("'persist' was asked for")
    unlimited = plan_data(_Cluster([0, None]), [10**9], 8)
    assert unlimited.mode == "persist" and unlimited.worker_limits == (None, None)
    with pytest.raises(ValueError, match=r"data must be one of \['auto', 'persist', 'stream'\]"):
        plan_data(cluster, [10], 8, data="disk")


def test_a_block_too_large_for_a_worker_is_said():
    plan = plan_data(_Cluster([300 * MB] * 2), [1000], 300_000)
    assert plan.mode == "stream"
    assert "the largest block needs about 300 MB per thread" in plan.reason
    assert "use smaller partitions" in plan.reason


def test_train_refuses_an_unknown_data_mode(client, data):
    with pytest.raises(ValueError, match=r"data must be one of .* or a DataPlan, got .disk."):
        _fit(client, data, "disk", solver="gd")


def _raise_killed_worker():
    last_worker = types.SimpleNamespace(address="tcp://127.0.0.1:1")
    raise distributed.KilledWorker("block-3", last_worker, 3)


def test_a_lost_worker_is_reported_as_memory(client):
    plan = DataPlan("persist", "auto", 2 * 10**9, 120 * MB, (700 * MB, 700 * MB), 40, "r")
    waiter = _memory.Waiter(client, plan)
    with pytest.raises(WorkerMemoryError) as caught:
        waiter.gather([client.submit(_raise_killed_worker, pure=False)])
    text = str(caught.value)
    assert "a Dask worker died while training (KilledWorker" in text
    assert "exceeding its memory limit" in text
    assert "each worker may use 700 MB; the data are about 2 GB in 40 blocks" in text
    assert "streaming the data (data='stream', --dask-data stream)" in text
    assert isinstance(caught.value, MemoryError)


def test_lost_workers_outside_training_are_named_too(client):
    from deltaprop.parallel import lost_workers_named

    with pytest.raises(WorkerMemoryError, match=r"KilledWorker.*each worker may use"):
        with lost_workers_named(client):
            client.submit(_raise_killed_worker, pure=False).result()
    with pytest.raises(ValueError, match="not about memory"), lost_workers_named(client):
        raise ValueError("not about memory")


def test_cancelled_futures_are_reported_as_memory(client):
    future = client.submit(time.sleep, 5, pure=False)
    client.cancel([future])
    with pytest.raises(WorkerMemoryError, match="a Dask worker died while training"):
        _memory.Waiter(client).gather([future])


def test_workers_paused_for_memory_stop_the_run(client, monkeypatch):
    monkeypatch.setattr(_memory, "POLL_SECONDS", 0.05)
    info = client.scheduler_info(n_workers=-1)
    paused = {a: {**w, "status": "paused"} for a, w in info["workers"].items()}
    monkeypatch.setattr(client, "scheduler_info", lambda n_workers=-1: {"workers": paused})
    future = client.submit(time.sleep, 3, pure=False)
    waiter = _memory.Waiter(client, pause_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(WorkerMemoryError, match=r"all the workers paused for memory for 0 s"):
        waiter.gather([future])
    assert time.monotonic() - started < 2.5  # it did not wait for the task


def _workers(client, statuses, executing):
    """The scheduler's worker records, with these statuses and executing-task counts."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    template = next(iter(info.values()))
    return {
        f"tcp://worker-{k}": {
            **template,
            "status": status,
            "metrics": {**template["metrics"], "task_counts": {"executing": n} if n else {}},
        }
        for k, (status, n) in enumerate(zip(statuses, executing, strict=True))
    }


def test_a_paused_worker_that_the_others_wait_for_stops_the_run(client, monkeypatch):
    # one worker paused, the other idle, nothing finishing: the pass waits on the paused
    # one for ever (seen on a 2-core machine: one of two workers of 400 MB paused)
    monkeypatch.setattr(_memory, "POLL_SECONDS", 0.05)
    workers = _workers(client, ["paused", "running"], [0, 0])
    monkeypatch.setattr(client, "scheduler_info", lambda n_workers=-1: {"workers": workers})
    future = client.submit(time.sleep, 1, pure=False)
    started = time.monotonic()
    with pytest.raises(
        WorkerMemoryError,
        match=r"1 of the 2 workers paused for memory, holding work the others wait for, for 0 s",
    ):
        _memory.Waiter(client, pause_timeout=0.2).gather([future])
    assert time.monotonic() - started < 2.5


def test_a_paused_worker_beside_a_busy_one_is_waited_for(client, monkeypatch):
    monkeypatch.setattr(_memory, "POLL_SECONDS", 0.05)
    workers = _workers(client, ["paused", "running"], [0, 1])
    monkeypatch.setattr(client, "scheduler_info", lambda n_workers=-1: {"workers": workers})
    future = client.submit(time.sleep, 0.6, pure=False)
    _memory.Waiter(client, pause_timeout=0.2).gather([future])  # no error: work goes on


# -- the passes before training: the same watchdog ----------------------------------------
@pytest.fixture
def all_paused(client, monkeypatch):
    """Every worker reported paused for memory; the watchdog looks often and gives up soon."""
    monkeypatch.setattr(_memory, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(_memory, "PAUSE_TIMEOUT", 0.2)
    info = client.scheduler_info(n_workers=-1)
    paused = {a: {**w, "status": "paused"} for a, w in info["workers"].items()}
    monkeypatch.setattr(client, "scheduler_info", lambda n_workers=-1: {"workers": paused})


def _slow_table(seconds):
    pd = pytest.importorskip("pandas")
    time.sleep(seconds)
    return pd.DataFrame({"a": [1.0, 2.0, 4.0], "y": [0.0, 1.0, 1.0]})


def _slow_frame():
    dd = pytest.importorskip("dask.dataframe")
    dask = pytest.importorskip("dask")
    parts = [dask.delayed(_slow_table, pure=False)(3) for _ in range(2)]
    return dd.from_delayed(parts, meta=_slow_table(0))


def test_workers_paused_for_memory_stop_the_preprocessing_summaries(client, all_paused):
    from deltaprop.tabular.dask import fit_preprocessor

    frame = _slow_frame()
    started = time.monotonic()
    with pytest.raises(
        WorkerMemoryError, match=r"preparing the data stopped: all the workers paused for memory"
    ):
        fit_preprocessor(frame, "y", client)
    assert time.monotonic() - started < 2.5  # it did not wait for the partitions


def test_workers_paused_for_memory_stop_the_estimators_label_pass(client, all_paused):
    pytest.importorskip("sklearn")
    frame = _slow_frame()
    started = time.monotonic()
    with pytest.raises(WorkerMemoryError, match=r"all the workers paused for memory for 0 s"):
        dp.MLPClassifier(hidden_layer_sizes=(2,), max_iter=1).fit(frame[["a"]], frame["y"])
    assert time.monotonic() - started < 2.5


def test_workers_paused_for_memory_stop_the_count_of_unknown_block_sizes(client, all_paused):
    pytest.importorskip("sklearn")
    dask = pytest.importorskip("dask")
    block = dask.delayed(_slow_table, pure=False)(3)
    X = da.from_delayed(dask.delayed(np.asarray)(block), shape=(3, 2), dtype=float)
    rows = X[X[:, 0] > 0]  # row counts unknown: counted on the workers before training
    started = time.monotonic()
    with pytest.raises(WorkerMemoryError, match=r"preparing the data stopped: all the workers"):
        dp.MLPRegressor(hidden_layer_sizes=(2,), max_iter=1).fit(rows[:, :1], rows[:, 1])
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    "options",
    [{"impute": "median", "scaling": "robust"}, {"impute": "most_frequent"}],
    ids=["median+robust", "most_frequent"],
)
def test_every_summary_pass_waits_through_the_watchdog(client, monkeypatch, options):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    from deltaprop.tabular.dask import fit_preprocessor

    computed, waited = [], []
    compute, gather = client.compute, _memory.Waiter.gather

    def recording_compute(work, *args, **kw):
        futures = compute(work, *args, **kw)
        computed.extend(futures if isinstance(futures, list) else [futures])
        return futures

    def recording_gather(self, futures):
        waited.extend(futures if isinstance(futures, list) else [futures])
        return gather(self, futures)

    monkeypatch.setattr(client, "compute", recording_compute)
    monkeypatch.setattr(_memory.Waiter, "gather", recording_gather)
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"a": rng.normal(size=60), "b": rng.integers(0, 3, 60) * 1.0})
    table.loc[::7, "a"] = np.nan
    table["y"] = rng.normal(size=60)
    fit_preprocessor(dd.from_pandas(table, npartitions=3), "y", client, **options)
    # survey, moments, and the radix selection's passes or the reduction of value counts
    assert len(computed) >= 3 * 2 + 1
    assert {f.key for f in computed} <= {f.key for f in waited}


# -- the command line ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def parquet_folder(tmp_path_factory):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    folder = tmp_path_factory.mktemp("rows")
    rng = np.random.default_rng(5)
    for i, n in enumerate((40, 25, 35)):
        frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
        frame["y"] = 2.0 * frame.a - frame.b + 0.1 * rng.normal(size=n)
        frame.to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


def test_cli_streams_on_request_and_writes_the_same_model(dask_cluster, parquet_folder, capsys):
    pytest.importorskip("sklearn")
    from deltaprop.cli.main import main

    models = {}
    for mode in ("persist", "stream"):
        out = parquet_folder.parent / f"{mode}.deltaprop"
        argv = ["train", str(parquet_folder), "--target", "y", "--solver", "gd", "--hidden", "4"]
        argv += ["--max-iter", "3", "--out", str(out), "--dask-data", mode]
        assert main([*argv, "--dask-scheduler", dask_cluster.scheduler_address]) == 0
        models[mode] = dp.load(out).estimator_
        printed = capsys.readouterr().out
        held = "data streamed (stream)" if mode == "stream" else "data kept in the workers'"
        assert f"{held}" in printed and f"'{mode}' was asked for; about 2.4 kB of blocks" in printed
    for a, b in zip(models["persist"].coefs_, models["stream"].coefs_, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dask-data", "stream"], "--dask-data needs --dask or --dask-scheduler ADDRESS"),
        (
            ["--dask-scheduler", "tcp://127.0.0.1:1", "--dask-worker-memory", "1GB"],
            "--dask-worker-memory sizes a local cluster; it does not go with --dask-scheduler",
        ),
        (["--dask", "--dask-worker-memory", "lots"], "must be a size such as 400MB"),
        (["--dask", "--dask-data", "disk"], "invalid choice: 'disk'"),
    ],
)
def test_cli_refuses_bad_data_options(parquet_folder, capsys, extra, message):
    pytest.importorskip("sklearn")
    from deltaprop.cli.main import main

    argv = ["train", str(parquet_folder), "--target", "y", "--out", "never.deltaprop"]
    try:
        code = main([*argv, *extra])
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    assert code == 2
    assert message in capsys.readouterr().err


# -- a real cluster of processes over data larger than their memory ------------------------
def _write_parquet(folder, n_files, rows, seed=0):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    for i in range(n_files):
        X = rng.normal(size=(rows, 20))
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(20)])
        frame["y"] = (X[:, 0] + X[:, 1] > 0).astype(float)
        frame.to_parquet(folder / f"part-{i:03d}.parquet", index=False)
    return sum(p.stat().st_size for p in folder.glob("*.parquet"))


@pytest.mark.out_of_core
def test_data_larger_than_the_workers_memory_trains_streamed(tmp_path, caplog):
    """2 worker processes of 450 MB each (900 MB) over 1 GB of Parquet (1 GB of blocks).

    (Workers of 300 MB do not do here: Python, Dask, pandas and pyarrow hold about 230 MB
    of a worker's memory once it has read a partition, above the 80% at which Dask pauses
    it, and the run stops with "all the workers paused for memory". Workers of 400 MB
    passed, but once on the 2-core CI machine one paused at 314 MiB, 82% of its limit,
    and the pass waited on it: 450 MB leaves Dask's pause some room.)
    """
    dd = pytest.importorskip("dask.dataframe")
    pytest.importorskip("pyarrow")
    size = _write_parquet(tmp_path, n_files=120, rows=50_000)
    assert size > 0.8e9
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, memory_limit="450MB", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
        caplog.at_level(logging.INFO, logger="deltaprop.parallel"),
    ):
        before = set(client.scheduler_info(n_workers=-1)["workers"])
        frame = dd.read_parquet(str(tmp_path))
        layers = [dp.Dense(20, 8, "tanh"), dp.Dense(8, 1, "sigmoid")]
        net = dp.Network(layers, loss="binary_cross_entropy", random_state=0)
        # one array of all the columns: the inputs and the target share its partitions
        # (Dask may merge the partitions of a projection onto one small column)
        table = frame.to_dask_array()
        history = parallel_train(
            net,
            table[:, :20],
            table[:, 20],
            client=client,
            solver="gd",
            learning_rate=0.5,
            max_iter=2,
        )
        after = set(client.scheduler_info(n_workers=-1)["workers"])
    (line,) = [r.getMessage() for r in caplog.records if r.name == "deltaprop.parallel"]
    # 6 000 000 rows x (20 inputs + 1 target) x 8 bytes
    assert "data streamed (stream): about 1.01 GB of blocks > 50% of the workers' 900 MB" in line
    assert len(history.loss) == 2 and history.loss[1] < history.loss[0]
    assert before == after  # no worker was killed and restarted
