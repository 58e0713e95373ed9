"""Load test of the live page: many clients, some hostile, while the network trains.

Starts ``deltaprop serve --toy moons`` in a child process and runs ``--clients``
concurrent clients against it for ``--seconds`` (default: 100 clients, 60 s). The
clients mix what a page, a script and an attacker do:

- readers (40 %): ``GET /state``, ``/init``, ``/``, ``/static/app.js``, now and then
  ``/model.deltaprop``;
- streams (10 %): ``GET /events``, read for 0.5-3 s, then drop the connection;
- setters (15 %): ``POST /control`` ``set`` with valid values, one in five out of range;
- steppers (10 %): ``step``, then ``play``;
- hostile (5 %): deeply nested JSON, a 4,000-digit number, a body over the limit, NaN;
- slow (10 %): send the request one byte a second (slowloris);
- abandoning (10 %): send a request (or half a body) and reset the connection.

It asserts that the server's thread count (``/proc/PID/status`` ``Threads``) never
exceeds its count at the start by more than 4, that its resident memory stays within
256 MiB of the start, that every request was answered or refused with a status (none
waited past its client's timeout, none got 5xx other than 503), that slow clients were
cut off, that the epoch counter grew in every tenth of the run, and that nothing was
written to the server's stderr. Linux only (``/proc``).

Run: ``PYTHONPATH=src python benchmarks/live_load.py`` (``--write`` puts the figures in
BENCHMARKS.md, ``--output FILE`` in another file; ``--json FILE`` writes them as JSON).
Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import cpu_model, write_section

ROOT = Path(__file__).resolve().parents[1]
#: A client's timeout: longer than the server's longest bounded wait (5 s + 30 s).
CLIENT_TIMEOUT = 45.0
#: The server's REQUEST_TIMEOUT, plus slack on a loaded machine.
SLOW_CUT_OFF = 10.0 + 5.0
KINDS = (
    ["reader"] * 8
    + ["stream"] * 2
    + ["setter"] * 3
    + ["stepper"] * 2
    + ["hostile"]
    + ["slow"] * 2
    + ["abandon"] * 2
)
#: The statuses each kind may get (any other is a failure).
EXPECTED = {
    "reader": {200, 503},
    "stream": {200, 503},
    "setter": {200, 400, 503},
    "stepper": {200, 503},
    "hostile": {400, 413, 503},
    "slow": {408, 503},
}


class Load:
    """The clients' shared record: outcomes per kind, failures, the end time."""

    def __init__(self, port: int, seconds: float) -> None:
        self.port = port
        self.end = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.failures: list[str] = []
        self.latencies: list[float] = []

    def record(self, kind: str, outcome: object, started: float | None = None) -> None:
        with self.lock:
            self.outcomes[kind][str(outcome)] += 1
            if started is not None:
                self.latencies.append(time.monotonic() - started)
            expected = EXPECTED.get(kind)
            if expected is not None and isinstance(outcome, int) and outcome not in expected:
                self.failures.append(f"{kind}: status {outcome}")
            if outcome == "hung":
                self.failures.append(f"{kind}: no answer within {CLIENT_TIMEOUT:g} s")

    def request(self, kind, method, path, body=None, read_for=None):
        """One request; records its status (or how it failed)."""
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
        headers = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            if read_for is None:
                data = response.read()
            else:  # an event stream: read a while, then drop it
                stop = time.monotonic() + read_for
                data = b""
                while time.monotonic() < stop and response.status == 200:
                    if not response.fp.readline():
                        break
            self.record(kind, response.status, started)
            return response.status, data
        except TimeoutError:
            self.record(kind, "hung")
        except (ConnectionError, http.client.HTTPException) as exc:
            self.record(kind, f"connection error: {type(exc).__name__}")
        finally:
            conn.close()
        return None, b""


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def reader(load: Load, rng: random.Random) -> None:
    path = rng.choice(["/state", "/state", "/init", "/", "/static/app.js"])
    if rng.random() < 0.03:
        path = "/model.deltaprop"
    load.request("reader", "GET", path)


def stream(load: Load, rng: random.Random) -> None:
    load.request("stream", "GET", "/events", read_for=rng.uniform(0.5, 3.0))


def setter(load: Load, rng: random.Random) -> None:
    settings = {
        "learning_rate": rng.uniform(0.05, 1.0),
        "batch_size": rng.choice([None, 16, 32, 64]),
        "epochs_per_second": None,
    }
    if rng.random() < 0.2:  # out of range: answered 400
        settings = rng.choice(
            [{"learning_rate": -1}, {"epochs_per_second": 1e-300}, {"batch_size": 0}]
        )
    load.request("setter", "POST", "/control", {"action": "set", **settings})


def stepper(load: Load, rng: random.Random) -> None:
    load.request("stepper", "POST", "/control", {"action": "step"})
    load.request("stepper", "POST", "/control", {"action": "play"})


def hostile(load: Load, rng: random.Random) -> None:
    body = rng.choice(
        [
            b'{"action": "set", "x": ' + b"[" * 20000 + b"]" * 20000 + b"}",
            b'{"action": "set", "learning_rate": 1' + b"0" * 4000 + b"}",
            b'{"action": "pause", "pad": "' + b"x" * 100_000 + b'"}',
            b'{"action": "set", "learning_rate": NaN}',
        ]
    )
    load.request("hostile", "POST", "/control", body)


def slow(load: Load, rng: random.Random) -> None:
    """Send a request a byte a second; the server must cut it off."""
    started = time.monotonic()
    text = f"GET /state HTTP/1.1\r\nHost: 127.0.0.1:{load.port}\r\nX-Slow: {'z' * 200}"
    try:
        sock = socket.create_connection(("127.0.0.1", load.port), timeout=CLIENT_TIMEOUT)
    except OSError as exc:
        load.record("slow", f"connection error: {type(exc).__name__}")
        return
    outcome: object = "not cut off"
    try:
        for byte in text.encode():
            sock.sendall(bytes([byte]))
            if time.monotonic() - started > SLOW_CUT_OFF or time.monotonic() > load.end + 5:
                break
            time.sleep(1.0)
    except OSError:
        outcome = "cut off"
    if outcome != "cut off":
        sock.settimeout(2.0)
        try:
            answer = sock.recv(100)
            match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
            outcome = int(match.group(1)) if match else "cut off"
        except OSError:
            outcome = "cut off"
    sock.close()
    elapsed = time.monotonic() - started
    if outcome == "not cut off" and time.monotonic() > load.end + 5:
        outcome = "ended with the run"
    load.record("slow", outcome)
    if outcome == "not cut off" or elapsed > SLOW_CUT_OFF + 3:
        with load.lock:
            load.failures.append(f"slow: still connected after {elapsed:.1f} s")


def abandon(load: Load, rng: random.Random) -> None:
    host = f"Host: 127.0.0.1:{load.port}\r\n"
    request = rng.choice(
        [
            f"GET /state HTTP/1.1\r\n{host}\r\n",
            f"GET /model.deltaprop HTTP/1.1\r\n{host}\r\n",
            f"GET /events HTTP/1.1\r\n{host}\r\n",
            f"POST /control HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
            'Content-Length: 50\r\n\r\n{"action": ',
        ]
    )
    try:
        sock = socket.create_connection(("127.0.0.1", load.port), timeout=5)
        sock.sendall(request.encode())
        time.sleep(rng.uniform(0.0, 0.3))
        _reset(sock)
        load.record("abandon", "dropped")
    except OSError as exc:
        load.record("abandon", f"connection error: {type(exc).__name__}")


CLIENTS = {f.__name__: f for f in (reader, stream, setter, stepper, hostile, slow, abandon)}


def client(load: Load, kind: str, seed: int) -> None:
    rng = random.Random(seed)
    time.sleep(rng.uniform(0.0, 1.0))  # not all at the same instant
    while time.monotonic() < load.end:
        CLIENTS[kind](load, rng)
        time.sleep(rng.uniform(0.0, 0.2))


def proc_status(pid: int) -> tuple[int, int]:
    """The process's thread count and resident memory (bytes)."""
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0]) * 1024


def epoch_of(port: int) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/state")
        response = conn.getresponse()
        data = response.read()
        if response.status == 200 and data != b"null":
            return int(json.loads(data)["epoch"])
    except (OSError, http.client.HTTPException, ValueError):
        pass
    finally:
        conn.close()
    return None


def start_server(stderr) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "deltaprop.cli", "serve", "--toy", "moons", "--hidden", "16,8"]
    cmd += ["--max-iter", "1000000000", "--batch-size", "32", "--seed", "0"]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
    line = child.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if match is None:
        child.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return child, int(match.group(1))


def run(n_clients: int, seconds: float) -> dict:
    with tempfile.TemporaryFile(mode="w+") as stderr:
        child, port = start_server(stderr)
        try:
            result = _measure(child, port, n_clients, seconds)
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
                try:
                    result_code = child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    result_code = "killed"
            else:
                result_code = child.returncode
        stderr.seek(0)
        err = stderr.read()
    result["exit_status"] = result_code
    if result_code != 0:
        result["failures"].append(f"the server exited with {result_code} after Ctrl-C")
    # a Ctrl-C leaves the line "deltaprop: stopped"; anything else is a complaint
    other = [line for line in err.splitlines() if line.strip() and "deltaprop: stopped" not in line]
    result["stderr_lines"] = len(other)
    if other:
        result["failures"].append(f"the server wrote to stderr: {other[:5]}")
    return result


def _measure(child: subprocess.Popen, port: int, n_clients: int, seconds: float) -> dict:
    time.sleep(2.0)  # training under way, BLAS and the page's first frames allocated
    threads_start, rss_start = proc_status(child.pid)
    epochs = [(0.0, epoch_of(port))]
    load = Load(port, seconds)
    clients = [
        threading.Thread(target=client, args=(load, KINDS[i % len(KINDS)], i), daemon=True)
        for i in range(n_clients)
    ]
    t0 = time.monotonic()
    for thread in clients:
        thread.start()
    threads_max, rss_max = threads_start, rss_start
    while time.monotonic() < load.end:
        time.sleep(0.25)
        threads, rss = proc_status(child.pid)
        threads_max, rss_max = max(threads_max, threads), max(rss_max, rss)
        if len(epochs) < 1 + (time.monotonic() - t0) // 1.0:  # about one a second
            epoch = epoch_of(port)
            if epoch is not None:  # refused (busy): again at the next tick
                epochs.append((time.monotonic() - t0, epoch))
    for thread in clients:
        thread.join(CLIENT_TIMEOUT + SLOW_CUT_OFF)
    load.request("after", "POST", "/control", {"action": "play"})
    time.sleep(1.0)
    epochs.append((time.monotonic() - t0, epoch_of(port)))
    threads_end, rss_end = proc_status(child.pid)
    return _summary(load, locals())


def _summary(load: Load, m: dict) -> dict:
    known = [(t, e) for t, e in m["epochs"] if e is not None]
    tenth = m["seconds"] / 10
    windows = []  # the epochs gained in each tenth of the run
    for k in range(10):
        inside = [e for t, e in known if k * tenth <= t <= (k + 1) * tenth + 1.0]
        windows.append(max(inside) - min(inside) if len(inside) > 1 else None)
    failures = list(load.failures)
    if m["threads_max"] > m["threads_start"] + 4:
        failures.append(f"threads grew from {m['threads_start']} to {m['threads_max']}")
    if m["rss_max"] > m["rss_start"] + 256 * 2**20:
        failures.append(f"memory grew from {m['rss_start']} to {m['rss_max']} bytes")
    if any(w is not None and w <= 0 for w in windows) or len(known) < 3:
        failures.append(f"training stalled: epochs gained per tenth of the run {windows}")
    latencies = sorted(load.latencies) or [0.0]
    return {
        "clients": m["n_clients"],
        "seconds": m["seconds"],
        "requests": sum(sum(c.values()) for c in load.outcomes.values()),
        "outcomes": {kind: dict(c) for kind, c in sorted(load.outcomes.items())},
        "hung": sum(c["hung"] for c in load.outcomes.values()),
        "latency_median_s": latencies[len(latencies) // 2],
        "latency_p99_s": latencies[int(0.99 * (len(latencies) - 1))],
        "latency_max_s": latencies[-1],
        "threads_start": m["threads_start"],
        "threads_max": m["threads_max"],
        "threads_end": m["threads_end"],
        "rss_start_mib": round(m["rss_start"] / 2**20, 1),
        "rss_max_mib": round(m["rss_max"] / 2**20, 1),
        "rss_end_mib": round(m["rss_end"] / 2**20, 1),
        "epochs_start": known[0][1] if known else None,
        "epochs_end": known[-1][1] if known else None,
        "epochs_per_tenth": windows,
        "failures": failures,
    }


def markdown(result: dict) -> list[str]:
    o = result["outcomes"]
    rows = [
        f"| {kind} | {sum(c.values())} | "
        + ", ".join(f"{k}: {v}" for k, v in sorted(c.items()))
        + " |"
        for kind, c in o.items()
    ]
    return [
        "<!-- live_load:start -->",
        "## Live page under load (issue 19)",
        "",
        f"`python benchmarks/live_load.py` ({time.strftime('%Y-%m-%d')}): "
        f"{result['clients']} concurrent clients for "
        f"{result['seconds']:g} s against `deltaprop serve --toy moons --hidden 16,8 "
        "--batch-size 32` in a child process, on "
        f"{cpu_model()} ({os.cpu_count()} cores, shared with other jobs: the machine was "
        "loaded, so latencies are pessimistic). The mix and the checks are in the script's "
        "docstring and docs/serve.md.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests (all kinds) | {result['requests']} |",
        f"| hung (no answer within {CLIENT_TIMEOUT:g} s) | {result['hung']} |",
        f"| latency median / 99th percentile / max | {result['latency_median_s']:.3f} s / "
        f"{result['latency_p99_s']:.3f} s / {result['latency_max_s']:.3f} s |",
        f"| server threads: start / max / end | {result['threads_start']} / "
        f"{result['threads_max']} / {result['threads_end']} |",
        f"| server RSS: start / max / end | {result['rss_start_mib']} / "
        f"{result['rss_max_mib']} / {result['rss_end_mib']} MiB |",
        f"| epochs: start / end | {result['epochs_start']} / {result['epochs_end']} |",
        f"| epochs gained per tenth of the run | {result['epochs_per_tenth']} |",
        f"| lines on the server's stderr | {result['stderr_lines']} |",
        f"| failed checks | {len(result['failures'])} |",
        "",
        "| client kind | requests | outcomes (status or what happened) |",
        "|---|---|---|",
        *rows,
        "<!-- live_load:end -->",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--output", type=Path, help="write the section into this file instead")
    args = parser.parse_args(argv)
    result = run(args.clients, args.seconds)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.write or args.output:
        lines = markdown(result)
        write_section(args.output or ROOT / "BENCHMARKS.md", lines, lines[0], lines[-1])
    for failure in result["failures"]:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
