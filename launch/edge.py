"""The gunicorn worker of every listener: TLS handshakes off the request threads, JSON errors.

gunicorn's gthread worker hands each accepted connection to its thread pool, which then does the
TLS handshake blocking and without a deadline: a few clients that send three bytes and stop hold
every thread, and no certificate is needed for that. :class:`EdgeWorker` instead runs each
handshake non-blocking in the worker's poller loop, with a deadline per handshake and a cap on
handshakes in progress (the oldest one makes room: a real client finishes in milliseconds, a
stalled one never does), and gives a connection to the thread pool only once its handshake is
done and its first bytes of a request have arrived. Reads and writes inside a request thread wait
at most ``client_io_timeout``. Errors gunicorn answers itself (414, 431, a malformed request) are
the product's JSON errors with reason codes, like every other refusal. Each request carries the
time it was ready to be served (``environ["vaxcert.arrived_at"]``), taken before it waits for a
thread, so admission control counts that wait too (``vaxcert.web.admit``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any, ClassVar

from gunicorn import http, util
from gunicorn import sock as gsock
from gunicorn.http import errors as herrors
from gunicorn.workers.gthread import TConn, ThreadWorker

from vaxcert import web
from vaxcert.errors import VaxcertError
from vaxcert.logging import new_request_id


@dataclass(frozen=True, slots=True)
class EdgePolicy:
    """How long a handshake and a client's stalled I/O may take, how many handshakes may be in
    progress at once, and the HSTS header of TLS listeners (None: a plain-http listener)."""

    handshake_timeout: float = 5.0
    max_handshakes: int = 64
    client_io_timeout: float = 10.0
    hsts: str | None = None


# Exceptions of gunicorn's request parser, by the reason code we answer them with; the first
# match wins, so subclasses come before their bases. Anything else it raises is a client's
# malformed request (bad_request); an error of ours or of the application is internal_error.
_PARSER_REASONS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((herrors.InvalidResponseHeader, herrors.InvalidResponseHeaderName), "internal_error"),
    (herrors.ConfigurationProblem, "internal_error"),
    (herrors.LimitRequestLine, "uri_too_long"),
    (herrors.LimitRequestHeaders, "header_fields_too_large"),
    (herrors.ExpectationFailed, "expectation_failed"),
    (herrors.UnsupportedTransferCoding, "transfer_coding_unsupported"),
    ((herrors.ParseException, ssl.SSLError), "bad_request"),
)


def reason_for(exc: BaseException) -> str:
    """The reason code of an error gunicorn answers itself."""
    for kinds, code in _PARSER_REASONS:
        if isinstance(exc, kinds):
            return code
    return "internal_error"


def error_bytes(exc: BaseException, accept_language: str | None, hsts: str | None) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response with the product's JSON error body."""
    error = VaxcertError(reason_for(exc))
    body = json.dumps(
        web.error_body(error, web.language_of(accept_language)), ensure_ascii=False
    ).encode()
    headers = [
        f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "X-Content-Type-Options: nosniff",
        f"X-Request-ID: {new_request_id(None)}",
    ]
    if hsts is not None:
        headers.append(f"Strict-Transport-Security: {hsts}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body


# The arrival time of the request the current pool thread is handling.
_arrival = threading.local()


class _Stamped:
    """The application, with the arrival time of each request in its environ."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        arrived_at = getattr(_arrival, "at", None)
        if arrived_at is not None:
            environ[web.ARRIVED_AT] = arrived_at
        return self.app(environ, start_response)


class _Conn(TConn):  # type: ignore[misc]
    """A connection whose reads and writes in a request thread wait at most the policy's I/O
    timeout; for TLS, one whose handshake the poller already completed."""

    initialized: bool  # set by TConn

    def __init__(self, cfg: Any, sock: Any, client: Any, server: Any, io_timeout: float) -> None:
        super().__init__(cfg, sock, client, server)
        self.io_timeout = io_timeout
        self.handshaken = False
        self.ready_at: float | None = None

    def init(self) -> None:
        # The thread pool calls this before every request on the connection, right after making
        # the socket blocking: this is where the stall bound goes.
        if not self.initialized and self.handshaken:
            self.initialized = True
            if gsock.is_http2_negotiated(self.sock):
                self.is_http2 = True
                self.parser = http.get_parser(
                    self.cfg, self.sock, self.client, http2_connection=True
                )
                self.parser.initiate_connection()
            else:
                self.parser = http.get_parser(self.cfg, self.sock, self.client)
        else:
            super().init()
        self.sock.settimeout(self.io_timeout)


class _StalledClientFilter(logging.Filter):
    """gunicorn logs a client that outwaits ``client_io_timeout`` as a socket error with a trace;
    it is a client's stall, not a fault of ours: one warning line without the trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TimeoutError):
            record.msg, record.args = "closed a connection whose client stalled mid-request", ()
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


class EdgeWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with TLS handshakes in the poller loop under a deadline, and JSON errors.

    ``policy`` is set by the launcher on a subclass (launch/serve.py).
    """

    policy: ClassVar[EdgePolicy] = EdgePolicy()
    wsgi: Any  # the application, set by gunicorn's load_wsgi

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Insertion order is deadline order: every handshake gets the same time from its accept.
        self._handshakes: dict[_Conn, float] = {}

    def init_process(self) -> None:
        """Set up the worker (then run its loop: this does not return)."""
        self.log.error_log.addFilter(_StalledClientFilter())
        super().init_process()

    def load_wsgi(self) -> None:
        """Load the application, wrapped so that it sees each request's arrival time."""
        super().load_wsgi()
        self.wsgi = _Stamped(self.wsgi)

    def enqueue_req(self, conn: _Conn) -> None:
        """Hand a connection to the thread pool, noting when its request was ready.

        A kept-alive connection or one the poller saw readable has its request waiting now; a
        new plain-http connection may not have sent anything yet, so it gets no stamp (the
        application then counts from when it sees the request).
        """
        conn.ready_at = time.monotonic() if conn.initialized or conn.data_ready else None
        super().enqueue_req(conn)

    def handle(self, conn: _Conn) -> Any:
        """Serve one request of ``conn`` in a pool thread (gthread's), with its arrival time."""
        _arrival.at = conn.ready_at
        try:
            return super().handle(conn)
        finally:
            _arrival.at = None

    def accept(self, listener: socket.socket) -> None:
        """Accept a connection: plain ones go to the pool as in gthread, TLS ones to handshake."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        if not self.cfg.is_ssl:
            client_sock.setblocking(True)
            conn = _Conn(
                self.cfg,
                client_sock,
                client_addr,
                listener.getsockname(),
                self.policy.client_io_timeout,
            )
            self.enqueue_req(conn)
            return
        try:
            tls_sock = gsock.ssl_context(self.cfg).wrap_socket(
                client_sock,
                server_side=True,
                do_handshake_on_connect=False,
                suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
            )
        except OSError:
            # The client left between accept and wrap (ENOTCONN).
            self.nr_conns -= 1
            util.close(client_sock)
            return
        conn = _Conn(
            self.cfg, tls_sock, client_addr, listener.getsockname(), self.policy.client_io_timeout
        )
        if len(self._handshakes) >= self.policy.max_handshakes:
            self._drop_handshake(next(iter(self._handshakes)))
        self._handshakes[conn] = time.monotonic() + self.policy.handshake_timeout
        self._advance_handshake(conn)

    def _watch(self, conn: _Conn, events: int) -> None:
        callback = partial(self._on_handshake_ready, conn)
        try:
            self.poller.modify(conn.sock, events, callback)
        except KeyError:
            self.poller.register(conn.sock, events, callback)

    def _on_handshake_ready(self, conn: _Conn, _fileobj: Any) -> None:
        if conn in self._handshakes:
            self._advance_handshake(conn)

    def _advance_handshake(self, conn: _Conn) -> None:
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(conn, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._watch(conn, selectors.EVENT_WRITE)
            return
        except OSError as exc:
            # Refused client certificate (C09), not TLS at all, or the client went away.
            self.log.debug("TLS handshake failed: %s", type(exc).__name__)
            self._drop_handshake(conn)
            return
        del self._handshakes[conn]
        conn.handshaken = True
        if not self.alive:
            self._close(conn)
        elif conn.sock.pending():
            # The request came with the client's last handshake record: it is already decrypted
            # and buffered, so the socket will not turn readable for it.
            self._unwatch(conn)
            conn.data_ready = True
            self.enqueue_req(conn)
        else:
            # Like gthread's deferred connections: wait for the request in the poller.
            conn.timeout = time.monotonic() + self.cfg.keepalive
            self.pending_conns.append(conn)
            self._watch_for_request(conn)

    def _watch_for_request(self, conn: _Conn) -> None:
        callback = partial(self.on_pending_socket_readable, conn)
        try:
            self.poller.modify(conn.sock, selectors.EVENT_READ, callback)
        except KeyError:
            self.poller.register(conn.sock, selectors.EVENT_READ, callback)

    def _unwatch(self, conn: _Conn) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _close(self, conn: _Conn) -> None:
        self._unwatch(conn)
        self.nr_conns -= 1
        conn.close()

    def _drop_handshake(self, conn: _Conn) -> None:
        self._handshakes.pop(conn, None)
        self._close(conn)

    def murder_pending(self) -> None:
        """Close connections waiting for a first request past keepalive, and handshakes past
        their deadline (the loop calls this at least once a second)."""
        super().murder_pending()
        now = time.monotonic()
        while self._handshakes:
            conn, deadline = next(iter(self._handshakes.items()))
            if deadline > now:
                break
            self._drop_handshake(conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer an error gunicorn met itself with the product's JSON error body.

        Logs the reason code and the exception type only: gunicorn's own message quotes the
        request line, which may hold anything a client put in a URL (C08).
        """
        code = reason_for(exc)
        if code == "internal_error":
            # Like vaxcert.web's 500s: the scrubber drops the trace text, the type stays.
            self.log.error("server error outside the application", exc_info=exc)
        else:
            self.log.warning("refused a request the server could not take: %s", code)
        accept_language = None
        req = req or getattr(exc, "req", None)  # a header error knows its request
        if req is not None:
            for name, value in getattr(req, "headers", ()):
                if name == "ACCEPT-LANGUAGE":
                    accept_language = value
        hsts = self.policy.hsts if self.cfg.is_ssl else None
        try:
            util.write_nonblock(client, error_bytes(exc, accept_language, hsts))
        except Exception:  # the client may be gone: nothing left to tell it
            self.log.debug("could not send the error answer")


def worker_class(policy: EdgePolicy) -> type[EdgeWorker]:
    """An :class:`EdgeWorker` class that applies ``policy`` (gunicorn instantiates it)."""
    return type("EdgeWorker", (EdgeWorker,), {"policy": policy})
