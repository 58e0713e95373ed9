"""The live page's HTTP server: the standard library's, bounded, with server-sent events.

Routes:

- ``GET /`` the page; ``GET /static/NAME`` its scripts and styles (shipped in the
  package, nothing from the network);
- ``GET /events`` the event stream: an ``init`` event (the data and the architecture,
  again after every reset), then ``frame`` events, at most one per 0.1 s per stream,
  always the newest (a slow page skips frames; it never slows training);
- ``GET /state`` the newest frame, ``GET /init`` the run's ``init`` message (JSON);
- ``POST /control`` with a JSON body ``{"action": ..., ...}`` (see
  :meth:`TrainingSession.control`);
- ``GET /model.deltaprop`` (and ``/preprocessor.deltaprop`` when there is one): the
  model file of the newest frame's weights, written by :func:`deltaprop.save`.

The server listens on 127.0.0.1 only and answers only requests whose ``Host`` header
names it (``127.0.0.1:PORT`` or ``localhost:PORT``), so a web page elsewhere cannot
reach it through a rebound DNS name; ``POST`` needs a JSON body and, when the browser
sends an ``Origin``, this server's own. A fixed pool of threads answers (see
:mod:`deltaprop.live._http` for the limits on connections, sizes and time), at most
:data:`MAX_STREAMS` event streams are open at once, and an answer is a status: 400 for
a bad message (``{"error": ..., "field": ...}``), 413 for a body too large, 503 with
``Retry-After`` when busy.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from http import HTTPStatus
from importlib import resources
from typing import Any

from deltaprop.files.container import save
from deltaprop.live._http import (
    DISCONNECTS,
    BoundedHandler,
    PooledHTTPServer,
    RequestError,
    parse_json,
)
from deltaprop.live._session import (
    FIELDS,
    MIN_FRAME_INTERVAL,
    SessionBusy,
    TrainingSession,
)

#: Seconds between keep-alive comments on an idle event stream.
KEEP_ALIVE = 15.0
#: Seconds between two looks, on an idle event stream, whether the page has gone.
STREAM_POLL = 1.0
#: Event streams open at once; one more is answered 503 (each holds a worker thread).
MAX_STREAMS = 16

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_STATIC_NAME = re.compile(r"^(vendor/)?[A-Za-z0-9_.-]+\.(js|css|html)$")
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _static(name: str) -> bytes | None:
    if not _STATIC_NAME.match(name) or ".." in name:
        return None
    path = resources.files("deltaprop.live").joinpath("static", *name.split("/"))
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


class _HTTPServer(PooledHTTPServer):
    session: TrainingSession


class _Handler(BoundedHandler):
    server: _HTTPServer
    server_version = "deltaprop-live"

    # -- checks ---------------------------------------------------------------------
    def _origins(self) -> set[str]:
        port = self.server.server_address[1]
        return {f"127.0.0.1:{port}", f"localhost:{port}"}

    def _allowed(self) -> bool:
        host = self.headers.get("Host", "").strip().lower()
        if host not in self._origins():
            self._send_text(HTTPStatus.FORBIDDEN, "403 forbidden: unexpected Host header\n")
            return False
        return True

    # -- responses --------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, extra=()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", _CSP)
        for key, value in extra:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _send_json(self, status: int, value: Any) -> None:
        body = json.dumps(value, allow_nan=False).encode()
        self._send(status, body, "application/json")

    # -- routes -----------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._allowed():
            return
        path = self.path.split("?", 1)[0]
        session = self.server.session
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, _static("index.html"), _CONTENT_TYPES[".html"])
        elif path.startswith("/static/"):
            name = path[len("/static/") :]
            body = _static(name)
            if body is None:
                self._send_text(HTTPStatus.NOT_FOUND, "404 not found\n")
            else:
                self._send(HTTPStatus.OK, body, _CONTENT_TYPES[os.path.splitext(name)[1]])
        elif path == "/events":
            self._events(session)
        elif path == "/state":
            latest = session.hub.latest()
            self._send_json(HTTPStatus.OK, None if latest is None else latest[1][0])
        elif path == "/init":
            self._send_json(HTTPStatus.OK, session.init)
        elif path == "/model.deltaprop":
            self._download(session.snapshot(), "model.deltaprop")
        elif path == "/preprocessor.deltaprop" and session.preprocessor is not None:
            self._download(session.preprocessor, "preprocessor.deltaprop")
        else:
            self._send_text(HTTPStatus.NOT_FOUND, "404 not found\n")

    def do_HEAD(self) -> None:
        if self.path.split("?", 1)[0] == "/events":  # a stream has no head of its own
            if self._allowed():
                self._send_text(HTTPStatus.METHOD_NOT_ALLOWED, "405 use GET\n")
            return
        self.do_GET()

    def do_POST(self) -> None:
        if not self._allowed():
            return
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{o}" for o in self._origins()}:
            self._send_text(HTTPStatus.FORBIDDEN, "403 forbidden: cross-origin request\n")
            return
        if self.path != "/control":
            self._send_text(HTTPStatus.NOT_FOUND, "404 not found\n")
            return
        try:
            reply = self._control()
        except RequestError as exc:
            self._send_error_json(exc.status, str(exc))
        except SessionBusy as exc:
            self._send_error_json(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), [("Retry-After", "1")])
        except (ValueError, TypeError, OverflowError) as exc:
            self._send_error_json(HTTPStatus.BAD_REQUEST, str(exc))
        else:
            self._send_json(HTTPStatus.OK, reply)

    def _control(self) -> dict[str, Any]:
        """Read, check and apply one ``POST /control``; its reply."""
        if self.headers.get_content_type() != "application/json":
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        message = parse_json(self.read_body() or b"null")
        if not isinstance(message, dict) or "action" not in message:
            raise ValueError('the body must be a JSON object with an "action"')
        action = message.pop("action")
        return self.server.session.control(action, message)

    def _send_error_json(self, status: int, error: str, extra=()) -> None:
        """``{"error": ...}``, with ``"field"``: the request's field the error names."""
        first = re.match(r"[A-Za-z_]+", error)
        field = first.group(0) if first and first.group(0) in FIELDS else None
        body = json.dumps({"error": error, "field": field}).encode()
        self._send(status, body, "application/json", extra)

    def _download(self, obj: Any, filename: str) -> None:
        folder = tempfile.mkdtemp(prefix="deltaprop-live-")
        path = os.path.join(folder, filename)
        try:
            save(obj, path)
            with open(path, "rb") as file:
                body = file.read()
        except (ValueError, TypeError) as exc:
            self._send_text(HTTPStatus.CONFLICT, f"cannot save the model: {exc}\n")
            return
        finally:
            if os.path.exists(path):
                os.unlink(path)
            os.rmdir(folder)
        disposition = ("Content-Disposition", f'attachment; filename="{filename}"')
        self._send(HTTPStatus.OK, body, "application/octet-stream", [disposition])

    def _events(self, session: TrainingSession) -> None:
        hub = session.hub
        if not hub.add_client(MAX_STREAMS):
            self._send_error_json(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"at most {MAX_STREAMS} event streams may be open at once",
                [("Retry-After", "5")],
            )
            return
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self._write("retry: 1000\n\n")
            _stream(self, session)
        except (*DISCONNECTS, EOFError, OSError):
            pass  # the page went away, or the server is closing
        finally:
            hub.remove_client()

    def _write(self, text: str) -> None:
        self.wfile.write(text.encode())
        self.wfile.flush()


def _stream(handler: _Handler, session: TrainingSession) -> None:
    """Send frames to one page: the newest, at most one per ``MIN_FRAME_INTERVAL``.

    Between frames it looks every :data:`STREAM_POLL` s whether the page has gone
    (then the stream ends and frees its worker), and sends a keep-alive comment
    every :data:`KEEP_ALIVE` s.
    """
    hub = session.hub
    seq, run, n_loss, n_accuracy = 0, None, 0, 0
    last_sent = -MIN_FRAME_INTERVAL
    last_write = time.monotonic()
    while True:
        item = hub.wait(seq, STREAM_POLL)
        if item is None:
            if handler.peer_closed():
                return
            if time.monotonic() - last_write >= KEEP_ALIVE:
                handler._write(": keep-alive\n\n")
                last_write = time.monotonic()
            continue
        wait = last_sent + MIN_FRAME_INTERVAL - session.elapsed
        if wait > 0:
            hub.sleep(wait)
            item = hub.latest()  # newest wins
        seq, (frame, meta) = item
        if frame["run"] != run:
            run, n_loss, n_accuracy = frame["run"], 0, 0
            handler._write(f"event: init\ndata: {json.dumps(meta['init'], allow_nan=False)}\n\n")
        curves = meta["curves"]
        end_loss = max(n_loss, meta["n_loss"])
        curve = {
            "start": n_loss,
            "loss": curves["loss"][n_loss:end_loss],
            "val_loss": curves["val_loss"][n_loss:end_loss],
            "accuracy": curves["accuracy"][n_accuracy : meta["n_accuracy"]],
        }
        n_loss, n_accuracy = end_loss, max(n_accuracy, meta["n_accuracy"])
        last_sent = session.elapsed
        payload = {**frame, "curve": curve, "sent": last_sent}
        handler._write(f"event: frame\ndata: {json.dumps(payload, allow_nan=False)}\n\n")
        last_write = time.monotonic()


class LiveServer:
    """A running live page: its URL, its training session, and how to stop it.

    Created by :func:`deltaprop.serve`. Use as a context manager, or call
    :meth:`close`.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT/``.
    port : int
    session : TrainingSession
        ``session.net`` is the network being trained.
    """

    def __init__(self, session: TrainingSession, host: str, port: int) -> None:
        self.session = session
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.session = session
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="deltaprop-live-http",
            daemon=True,
        )
        self._closed = threading.Event()

    @property
    def network(self):
        """The network being trained (replaced by a reset)."""
        return self.session.net

    def start(self) -> LiveServer:
        self.session.start()
        self._httpd.start_workers()
        self._thread.start()
        return self

    def wait(self) -> None:
        """Block until :meth:`close` (or Ctrl-C, which raises ``KeyboardInterrupt``)."""
        while not self._closed.is_set():
            time.sleep(0.2)  # unlike Event.wait, sleep lets Ctrl-C through cleanly

    def close(self) -> None:
        """Stop training and the server; open event streams end."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.session.close()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()  # ends the worker threads
        deadline = time.monotonic() + 2.0
        while self.session.hub.n_clients and time.monotonic() < deadline:
            time.sleep(0.01)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed.is_set() else self.session.state
        return f"<LiveServer {self.url} {state}>"
