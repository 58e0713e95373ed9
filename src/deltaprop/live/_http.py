"""The standard library's HTTP server, bounded: a fixed pool of threads and strict limits.

:class:`PooledHTTPServer` replaces ``ThreadingHTTPServer`` (one new thread per
connection, no timeouts): a fixed number of worker threads take connections from a
queue of bounded length, and a connection that finds the queue full is answered
``503`` at once by the thread that accepted it. :class:`BoundedHandler` gives each
request :data:`REQUEST_TIMEOUT` seconds to arrive whole (a client that sends a byte a
second is cut off with ``408``), reads at most :data:`MAX_HEAD` bytes of head and a body
of at most :data:`MAX_BODY` bytes, cuts off a client that does not read its answer for
:data:`WRITE_TIMEOUT` seconds, and is quiet about clients that go away: the server's
log goes through :mod:`logging` (logger ``deltaprop.live``), never to stderr directly.
:func:`parse_json` reads a body with a nesting depth and a number length bounded before
:mod:`json` sees it.

Every limit here is a module constant, documented in SECURITY.md ("Live page").
"""

from __future__ import annotations

import io
import json
import logging
import queue
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from itertools import accumulate
from typing import Any

logger = logging.getLogger("deltaprop.live")

#: Worker threads answering requests (an open event stream holds one).
WORKERS = 32
#: Accepted connections waiting for a worker; one more is answered 503.
QUEUE_SIZE = 64
#: Seconds a request's head and body have, together, to arrive.
REQUEST_TIMEOUT = 10.0
#: Seconds a client may leave its answer unread before it is cut off.
WRITE_TIMEOUT = 10.0
#: Seconds the server reads what a client still sends after its answer, before closing.
LINGER = 1.0
#: The largest request head (request line and headers), in bytes.
MAX_HEAD = 16 * 1024
#: The largest request body, in bytes (a control message is a few hundred).
MAX_BODY = 64 * 1024
#: The deepest nesting of JSON arrays and objects in a body.
MAX_DEPTH = 16
#: The most characters of one JSON number (more is refused before it is converted).
MAX_NUMBER_CHARS = 40

#: What a client that goes away raises; answered by nothing, logged at debug level.
DISCONNECTS = (ConnectionError, TimeoutError, socket.timeout)


class RequestError(Exception):
    """A request refused with ``status`` and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = int(status)


class _TooLarge(Exception):
    """More bytes arrived than the request may have."""


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, until a deadline and up to a byte budget.

    ``socket.settimeout`` alone bounds the wait for *each* byte, so a client sending
    one byte a second never times out; this bounds the wait for the whole request.
    """

    def __init__(self, sock: socket.socket, seconds: float, budget: int) -> None:
        self._sock = sock
        self.deadline = time.monotonic() + seconds
        self.budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.budget <= 0:
            raise _TooLarge
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(left)
        try:
            n = self._sock.recv_into(memoryview(buffer)[: self.budget])
        finally:
            self._sock.settimeout(WRITE_TIMEOUT)
        self.budget -= n
        return n


class _AllBytes(io.RawIOBase):
    """A socket's writer that sends every byte it is given, or raises.

    ``socket.makefile("wb", 0)`` gives a raw writer whose ``write`` may send only part of
    its bytes (it returns how many): a frame of a few megabytes to a page that reads
    slowly was cut, and the next frame followed the cut mid-number. ``sendall`` waits at
    most ``WRITE_TIMEOUT`` for each part, then raises ``TimeoutError``.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.sendall(data)
        return len(data)


class BoundedHandler(BaseHTTPRequestHandler):
    """One request per connection (HTTP/1.0), read under :data:`REQUEST_TIMEOUT`.

    Subclasses define ``do_GET`` and friends; :meth:`read_body` reads a bounded body.
    """

    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def setup(self) -> None:
        self.connection = self.request
        self.connection.settimeout(WRITE_TIMEOUT)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self._reader = _DeadlineReader(self.connection, REQUEST_TIMEOUT, MAX_HEAD)
        self.rfile = io.BufferedReader(self._reader)
        self.wfile = _AllBytes(self.connection)
        self._answered = False

    def send_response_only(self, code: int, message: str | None = None) -> None:
        self._answered = True
        super().send_response_only(code, message)

    def handle(self) -> None:
        self.close_connection = True
        try:
            self._handle_one()
        except DISCONNECTS as exc:
            logger.debug("client %s went away: %r", self.client_address, exc)
        except Exception:  # a bug: answer 500 when still possible, log, keep serving
            logger.exception("error answering %r", getattr(self, "requestline", ""))
            self._late_error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (logged)")

    def _handle_one(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                return
            if len(self.raw_requestline) > 65536:
                raise _TooLarge
            if not self.parse_request():
                return  # parse_request answered
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"unsupported method {self.command}")
                return
            method()
            self.wfile.flush()
        except TimeoutError as exc:
            logger.debug("client %s timed out: %r", self.client_address, exc)
            self._late_error(HTTPStatus.REQUEST_TIMEOUT, "the request did not arrive in time")
        except _TooLarge:
            self._late_error(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"the request head must be at most {MAX_HEAD} bytes",
            )

    def _late_error(self, status: int, message: str) -> None:
        """Answer ``status`` unless an answer has begun; then just close."""
        if self._answered:
            return
        if not hasattr(self, "request_version"):
            self.request_version = "HTTP/1.0"
            self.requestline = self.command = ""
        try:
            self.send_error(status, message)
        except (*DISCONNECTS, OSError):
            pass

    def read_body(self) -> bytes:
        """The body: ``Content-Length`` bytes, at most :data:`MAX_BODY`.

        Raises
        ------
        RequestError
            411 without a length (chunked bodies are not taken), 413 over the limit,
            400 for a malformed length.
        """
        if "Transfer-Encoding" in self.headers:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        text = self.headers.get("Content-Length")
        if text is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        if not re.fullmatch(r"[0-9]{1,12}", text.strip()):
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"Content-Length must be a number of bytes, got {text!r}"
            )
        length = int(text)
        if length > MAX_BODY:
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body must be at most {MAX_BODY} bytes, got a Content-Length of {length}",
            )
        self._reader.budget += length
        body = self.rfile.read(length)
        if len(body) != length:
            # answered all the same: a client that only closed its sending side reads it
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"the body ended after {len(body)} of its Content-Length of {length} bytes",
            )
        return body

    def peer_closed(self) -> bool:
        """Whether the client has closed its end (for long answers: an event stream).

        The client sends nothing after its request, so a readable socket means the
        end of its data, or garbage that ends the answer as well.
        """
        sock = self.connection
        try:
            sock.setblocking(False)
            sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            try:
                sock.settimeout(WRITE_TIMEOUT)
            except OSError:
                pass
        return True

    def finish(self) -> None:
        try:
            super().finish()
            _linger(self.connection)
        except (*DISCONNECTS, OSError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class PooledHTTPServer(HTTPServer):
    """An HTTP server whose requests are answered by :data:`WORKERS` threads.

    Connections wait in a queue of at most :data:`QUEUE_SIZE`; beyond that they are
    answered ``503`` with ``Retry-After: 1`` by the accepting thread, which never
    blocks on a client. The number of threads is fixed whatever clients do.
    """

    allow_reuse_address = False  # a taken port is an error, not shared
    request_queue_size = 128  # the listen backlog: a burst of connections is not dropped

    def __init__(self, address: tuple[str, int], handler: type[BoundedHandler]) -> None:
        super().__init__(address, handler)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._workers = [
            threading.Thread(target=self._work, name=f"deltaprop-live-worker-{i}", daemon=True)
            for i in range(WORKERS)
        ]

    def start_workers(self) -> None:
        for worker in self._workers:
            worker.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        # only this (the accepting) thread puts, so the size cannot grow past the check
        if self._queue.qsize() >= QUEUE_SIZE or self._closing.is_set():
            _refuse(request)
            self.shutdown_request(request)
            return
        self._queue.put((request, client_address))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            request, client_address = item
            try:
                if not self._closing.is_set():
                    self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("error with client %s", client_address, exc_info=True)

    def server_close(self) -> None:
        self._closing.set()
        super().server_close()
        started = [w for w in self._workers if w.is_alive()]
        for _ in started:
            self._queue.put(None)
        deadline = time.monotonic() + 2.0
        for worker in started:
            worker.join(max(0.0, deadline - time.monotonic()))


def _linger(sock: socket.socket) -> None:
    """Half-close, then read what the client still sends (at most :data:`LINGER` s).

    Closing a socket with unread bytes (a body answered 413 unread, a slow client's
    head) sends a reset, and the client may lose the answer before it reads it.
    """
    sock.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + LINGER
    budget = MAX_HEAD + MAX_BODY
    while budget > 0:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        data = sock.recv(min(budget, 65536))
        if not data:
            return
        budget -= len(data)


_BUSY = json.dumps({"error": "the server is busy: too many connections; try again"}).encode()


def _refuse(sock: socket.socket) -> None:
    """Answer 503 without waiting on the client."""
    head = (
        "HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(_BUSY)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    try:
        sock.setblocking(False)
        # read what has come: closing on unread bytes would reset the connection, and
        # the client would lose the answer
        try:
            sock.recv(MAX_HEAD)
        except BlockingIOError:
            pass
        sock.send(head.encode() + _BUSY)
    except OSError:
        pass


def _reject_constant(name: str) -> Any:
    raise RequestError(HTTPStatus.BAD_REQUEST, f"the body must be JSON: {name} is not a number")


def _number(text: str, convert: type) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"numbers in the body must have at most {MAX_NUMBER_CHARS} characters, got one "
            f"of {len(text)} ({text[:12]}...)",
        )
    return convert(text)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in the JSON ``text`` (0 for a scalar).

    Brackets inside strings do not count; malformed text gives some number, and
    :func:`json.loads` refuses it afterwards.

    Examples
    --------
    >>> json_depth('{"a": [1, [2]], "b": "[[["}')
    3
    """
    brackets = _BRACKET.findall(_STRING.sub('""', text))
    steps = (1 if b in "[{" else -1 for b in brackets)
    return max(accumulate(steps, initial=0))


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``, read within :data:`MAX_DEPTH` and :data:`MAX_NUMBER_CHARS`.

    Raises
    ------
    RequestError
        400 for a body that is not UTF-8 JSON, nests deeper than :data:`MAX_DEPTH`,
        or holds a longer number, ``NaN`` or ``Infinity``.

    Examples
    --------
    >>> parse_json(b'{"action": "set", "learning_rate": 0.1}')
    {'action': 'set', 'learning_rate': 0.1}
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be UTF-8 JSON") from None
    depth = json_depth(text)
    if depth > MAX_DEPTH:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"the body must nest arrays and objects at most {MAX_DEPTH} deep, got {depth}",
        )
    try:
        return json.loads(
            text,
            parse_int=lambda s: _number(s, int),
            parse_float=lambda s: _number(s, float),
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"the body must be JSON: {exc}") from None
