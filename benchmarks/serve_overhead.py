"""How much a page watching the training costs: epochs per second with and without it.

Trains the same network for the same number of epochs three ways and reports the
speed of each relative to a plain ``deltaprop.train`` call:

- ``train``: one ``deltaprop.train`` call;
- ``serve, no page``: ``deltaprop.serve`` with nobody connected (no frames computed);
- ``serve, page``: ``deltaprop.serve`` with an event stream open and read (frames
  computed and sent at up to 10 per second), as when the page is open.

Run: ``PYTHONPATH=src python benchmarks/serve_overhead.py`` (``--smoke``: a hundredth of
the epochs, one repetition; it checks that the script runs, its figures mean nothing).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

import deltaprop as dp
from deltaprop.datasets import load_breast_cancer

# The page is another process (a browser); so is this reader of the event stream.
READER = """
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=120)
conn.request("GET", "/events")
response = conn.getresponse()
frames = 0
for line in response:
    if line.startswith(b"data:") and b'"epoch"' in line:
        frames += 1
        if b'"state": "done"' in line:
            break
print(frames)
"""


def timed_serve(make_net, X, y, epochs, page, **options):
    server = dp.serve(make_net(), X, y, max_iter=epochs, paused=True, block=False, **options)
    with server:
        reader = None
        if page:
            reader = subprocess.Popen(
                [sys.executable, "-c", READER, str(server.port)], stdout=subprocess.PIPE, text=True
            )
            while server.session.hub.n_clients == 0:
                time.sleep(0.01)
        start = time.perf_counter()
        server.session.control("play")
        while server.session.state != "done":
            time.sleep(0.02)  # a tighter poll would take the GIL from training
        elapsed = time.perf_counter() - start
        frames = int(reader.communicate(timeout=60)[0]) if reader else 0
    return elapsed, frames


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, one repetition: checks that the script runs, its figures mean nothing",
    )
    args = parser.parse_args(argv)
    scale, repeats = (100, 1) if args.smoke else (1, 3)
    X, y, _, _ = load_breast_cancer()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    rng = np.random.default_rng(0)
    X2 = rng.normal(size=(300, 2))
    y2 = (X2[:, 0] * X2[:, 1] > 0).astype(float)
    cases = [
        ("breast cancer 569x30, 30-16-1, full batch", X, y, [16], 20000, {}),
        ("breast cancer 569x30, 30-16-1, batches of 32", X, y, [16], 2000, {"batch_size": 32}),
        ("quadrants 300x2, 2-8-8-1, full batch", X2, y2, [8, 8], 20000, {}),
    ]
    if args.smoke:
        print("smoke run: a hundredth of the epochs, one repetition; the figures mean nothing")
    for name, X_, y_, hidden, epochs, options in cases:
        epochs //= scale
        sizes = [X_.shape[1], *hidden, 1]

        def make_net(sizes=sizes):
            layers = [dp.Dense(sizes[i], sizes[i + 1], "tanh") for i in range(len(sizes) - 2)]
            return dp.Network([*layers, dp.Dense(sizes[-2], 1)], random_state=0)

        rows = []
        for _ in range(repeats):
            start = time.perf_counter()
            dp.train(make_net(), X_, y_, max_iter=epochs, **options)
            plain = time.perf_counter() - start
            quiet, _ = timed_serve(make_net, X_, y_, epochs, page=False, **options)
            watched, frames = timed_serve(make_net, X_, y_, epochs, page=True, **options)
            rows.append((plain, quiet, watched, frames))
        plain, quiet, watched, frames = np.median(np.array(rows), axis=0)
        print(f"{name}, {epochs} epochs (median of {repeats})")
        print(f"  train           {plain:7.3f} s  {epochs / plain:9.0f} epochs/s  100%")
        print(
            f"  serve, no page  {quiet:7.3f} s  {epochs / quiet:9.0f} epochs/s  "
            f"{100 * plain / quiet:4.0f}%"
        )
        print(
            f"  serve, page     {watched:7.3f} s  {epochs / watched:9.0f} epochs/s  "
            f"{100 * plain / watched:4.0f}%  ({frames:.0f} frames)"
        )


if __name__ == "__main__":
    main()
