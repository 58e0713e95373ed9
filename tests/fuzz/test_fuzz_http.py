"""Fuzz every HTTP endpoint of the live page: drawn requests against a running server.

One :func:`deltaprop.serve` runs in this process (a small network learning XOR, paced);
each example sends one request over a raw socket, then half-closes it: a request drawn
from its parts (method, path, ``Host``, ``Origin``, ``Content-Type``,
``Content-Length``, a JSON body of a control message with drawn parameters), or a
corpus request (``corpus/requests``), damaged or not.

Oracle: the server answers with a status line, or closes the connection (for requests
that are not HTTP/1.x), within :data:`ANSWER_SECONDS`; afterwards it still answers
``GET /state`` with 200, and its training thread is alive and not in the ``error`` state.
"""

from __future__ import annotations

import json
import re
import socket
import time

import numpy as np
import pytest
from hypothesis import strategies as st

import deltaprop as dp
from deltaprop.live._session import ACTIONS

from .harness import guard, out_of_time, outcome, run_for, skipped_known, target_seconds
from .known import known_defect
from .strategies import corpus_files, json_values, mutated

TARGET = "http"
ANSWER_SECONDS = 10.0
PATHS = ["/", "/index.html", "/static/app.js", "/static/style.css", "/static/nope.js",
         "/static/../_server.py", "/static/vendor/x.js", "/events", "/state", "/init",
         "/model.deltaprop", "/preprocessor.deltaprop", "/control", "/nope", "", "*",
         "http://127.0.0.1/state", "/state?x=1", "/%00", "//state", "/" + "a" * 3000]  # fmt: skip
METHODS = ["GET", "GET", "POST", "POST", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH",
           "CONNECT", "get", "G\x00T", ""]  # fmt: skip
NUMBER = st.one_of(
    st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e300, 5e-324, 2**63, 10**20, 1000.0, 1000.5]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**70), 2**70),
    json_values(4),
)


@st.composite
def control_bodies(draw) -> bytes:
    """A ``/control`` message: a known action with drawn parameters, or anything JSON."""
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(draw(json_values())).encode()
    action = draw(st.one_of(st.sampled_from(ACTIONS), json_values(2)))
    params = {}
    if action == "set":
        keys = ["learning_rate", "batch_size", "max_iter", "target_loss", "epochs_per_second"]
        params = draw(st.dictionaries(st.sampled_from(keys), NUMBER, max_size=3))
    elif action == "reset":
        params = draw(st.fixed_dictionaries({}, optional={
            "hidden": st.one_of(st.lists(st.integers(-1, 40), max_size=4), json_values(2)),
            "activation": st.sampled_from([*dp.ACTIVATIONS, "nope", 3]),
            "seed": st.one_of(st.integers(-5, 2**64), json_values(2)),
        }))  # fmt: skip
    elif action == "sample":
        params = {"index": draw(st.one_of(st.integers(-2, 6), NUMBER))}
    elif action == "param":
        params = draw(st.fixed_dictionaries({}, optional={
            "layer": st.integers(-1, 3), "kind": st.sampled_from(["weight", "bias", "x"]),
            "i": st.integers(-1, 5), "j": st.integers(-1, 5), "value": NUMBER,
        }))  # fmt: skip
    elif action == "data":
        params = {"name": draw(st.sampled_from(["given", "xor", "nope", ""]))}
    if draw(st.integers(0, 5)) == 0:
        params.update(draw(st.dictionaries(st.text(max_size=6), json_values(3), max_size=2)))
    body = {"action": action, **params}
    text = json.dumps(body, allow_nan=True)
    return text.encode()


#: A request line of HTTP/1.x: the server must answer it with a status line.
REQUEST_LINE = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\x21-\x7e]+ HTTP/1\.[01]\r?\n")


@st.composite
def requests(draw) -> bytes:
    """A raw request, with ``{HOST}`` for the server's ``127.0.0.1:PORT``."""
    if draw(st.integers(0, 4)) == 0:
        seed = draw(st.sampled_from(corpus_files("requests")))
        return draw(mutated(seed.read_bytes(), seed.name, max_edits=2))
    method = draw(st.sampled_from(METHODS))
    path = draw(st.sampled_from(PATHS))
    body = draw(control_bodies()) if method in ("POST", "PUT", "PATCH") else b""
    headers = [f"Host: {draw(st.sampled_from(['{HOST}'] * 8 + ['evil.example', '']))}"]
    if body or draw(st.booleans()):
        content_type = ["application/json"] * 6 + ["text/plain", "application/json; x=1", ""]
        headers.append(f"Content-Type: {draw(st.sampled_from(content_type))}")
        length = draw(st.sampled_from([len(body)] * 6 + [0, len(body) + 5, -1, 10**9, "x"]))
        headers.append(f"Content-Length: {length}")
    if draw(st.integers(0, 5)) == 0:
        origin = ["http://{HOST}", "http://evil.example", "null", ""]
        headers.append(f"Origin: {draw(st.sampled_from(origin))}")
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode() + body


def send(port: int, request: bytes) -> bytes:
    """Send ``request``, half-close, return what came back before close or the timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_SECONDS) as client:
        try:
            client.sendall(request)
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer (and close) before reading it all
        received = b""
        deadline = time.monotonic() + ANSWER_SECONDS
        while b"\r\n" not in received and time.monotonic() < deadline:
            try:
                chunk = client.recv(4096)
            except TimeoutError:
                break
            except OSError:  # reset by the server: it closed without reading everything
                return received or b"<reset>"
            if not chunk:
                return received or b"<closed>"
            received += chunk
        if b"\r\n" not in received:
            raise AssertionError(f"no answer within {ANSWER_SECONDS:g} s (got {received!r:.200})")
        return received


@pytest.fixture(scope="module")
def server():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    net = dp.Network([dp.Dense(2, 4, "tanh"), dp.Dense(4, 1)], random_state=0)
    with dp.serve(net, X, y, max_iter=10**9, epochs_per_second=200.0, block=False) as live:
        yield live


def check_request(live, request: bytes) -> None:
    """The oracle: an answer, then a server that answers and a thread that trains."""
    answer = send(live.port, request)
    if REQUEST_LINE.match(request):
        assert answer.startswith(b"HTTP/1."), f"no status line: {answer!r:.300}"
    status = answer[9:12].decode(errors="replace") if answer.startswith(b"HTTP/1.") else "none"
    after = send(live.port, f"GET /state HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n\r\n".encode())
    assert after.startswith(b"HTTP/1.0 200") or after.startswith(b"HTTP/1.1 200"), after[:200]
    session = live.session
    assert session._thread.is_alive(), f"the training thread died: {session.message}"
    assert session.state != "error", f"training stopped by an error: {session.message}"
    outcome(TARGET, status)


@pytest.mark.timeout(target_seconds() + 300)
def test_every_endpoint_answers_and_training_survives(server):
    host = f"127.0.0.1:{server.port}".encode()

    def request_one(request):
        if out_of_time(TARGET):
            return
        raw = bytes(request).replace(b"{HOST}", host)
        known = known_defect(TARGET, raw)
        if known is not None:
            skipped_known(TARGET, known.name)
            return
        with guard(f"the request {raw!r:.3000}", seconds=3 * ANSWER_SECONDS + 5):
            check_request(server, raw)

    run_for(TARGET, request_one, request=requests())
