"""JSON calls between our services over pinned, mutually authenticated, kept-alive TLS.

:class:`Channel` keeps one ``http.client`` connection per thread (gunicorn gthread workers keep
their threads, so every hop stays kept-alive; platform.md). It is deliberately thin: the
service-to-service hops are the center's hot path (design.md §5), and ``requests`` costs several
times more CPU per call. A peer's refusal (4xx with a catalogue reason code) becomes the same typed
error here; anything else (connection failure, timeout, 5xx, an unreadable body) is
``service_unavailable``.

A request may carry a deadline (:data:`deadline_var`, set by admission control in
:func:`vaxcert.web.admit`): every call made for it waits at most until then, and a call with no
time left is not sent at all, so the request's own caller gets an answer before it gives up.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import ssl
import threading
import time
from contextvars import ContextVar
from pathlib import Path
from typing import NamedTuple, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from vaxcert import reasons, tls
from vaxcert.errors import VaxcertError
from vaxcert.logging import request_id_var

T = TypeVar("T")

# The monotonic time by which the current request must be answered (None: no deadline).
deadline_var: ContextVar[float | None] = ContextVar("vaxcert_deadline", default=None)


class NoTimeLeftError(VaxcertError):
    """The request's deadline has passed: the call was not sent (the peer never saw it)."""

    def __init__(self, target: str) -> None:
        super().__init__("service_unavailable", f"{target}: no time left before the deadline")


class Reply(NamedTuple):
    """A peer's answer: status, headers and the whole body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes


# A kept-alive connection the peer closed in the meantime fails like this on first use. gunicorn
# closes idle connections without a TLS close_notify, which reads as SSLEOFError (platform.md).
_STALE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)


def _closed_by_peer(connection: http.client.HTTPSConnection) -> bool:
    """Whether an idle kept-alive connection has anything to read: only the peer's close.

    Every response was read whole, so an idle connection that turns readable holds an EOF (or a
    TLS alert before it). Checking costs one poll, and spares the request a doomed send.
    """
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _NoDelayConnection(http.client.HTTPSConnection):
    """Small request/response exchanges must not wait for Nagle's algorithm."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Channel:
    """Calls to one peer (``https://host:port``) with a client certificate and a pinned CA."""

    def __init__(
        self,
        base_url: str,
        ca: Path,
        cert: Path | None,
        key: Path | None,
        timeout: float,
        target: str,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"{target}: {base_url!r} is not an https URL")
        self.host = parts.hostname
        self.port = parts.port or 443
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.target = target
        self._context = tls.client_context(ca, cert, key)
        self._local = threading.local()

    def _time_left(self) -> float:
        """How long this call may wait: the channel's timeout, or less before a deadline."""
        deadline = deadline_var.get()
        if deadline is None:
            return self.timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoTimeLeftError(self.target)
        return min(self.timeout, left)

    def _connection(self, timeout: float) -> tuple[http.client.HTTPSConnection, bool]:
        connection: http.client.HTTPSConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            if not _closed_by_peer(connection):
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                return connection, True
            connection.close()
        connection = _NoDelayConnection(
            self.host, self.port, timeout=timeout, context=self._context
        )
        self._local.connection = connection
        return connection, False

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON); see :meth:`exchange`."""
        return self.exchange("POST", path, body)

    def exchange(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request and return status and body; see :meth:`call`."""
        reply = self.call(method, path, body)
        return reply.status, reply.body

    def call(self, method: str, path: str, body: bytes | None = None) -> Reply:
        """Send one request and return the whole reply; outages raise ``service_unavailable``.

        A kept-alive connection that turns out closed is replaced once; a fresh one is not. Each
        wait ends by the request's deadline; with none left, nothing is sent.
        """
        headers = {
            "Content-Type": "application/json",
            # The request id travels with the call so logs of every hop line up.
            "X-Request-ID": request_id_var.get() or "",
        }
        for _ in range(2):
            connection, reused = self._connection(self._time_left())
            try:
                connection.request(method, self.prefix + path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except _STALE:
                self._drop()
                if reused:
                    continue
                raise VaxcertError(
                    "service_unavailable", f"{self.target}: connection lost"
                ) from None
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                self._drop()
                raise VaxcertError(
                    "service_unavailable", f"{self.target}: {type(exc).__name__}"
                ) from None
            if response.will_close:
                self._drop()
            return Reply(response.status, response.headers, data)
        raise VaxcertError("service_unavailable", f"{self.target}: connection lost")

    def post_json(
        self, path: str, body: BaseModel, answer: TypeAdapter[T], exclude_none: bool = False
    ) -> T:
        """POST a model and validate the 2xx answer into ``answer``."""
        status, data = self.post(path, body.model_dump_json(exclude_none=exclude_none).encode())
        return self._answer(status, data, answer)

    def get_json(self, path: str, answer: TypeAdapter[T]) -> T:
        """GET ``path`` and validate the 2xx answer into ``answer``."""
        status, data = self.exchange("GET", path)
        return self._answer(status, data, answer)

    def _answer(self, status: int, data: bytes, answer: TypeAdapter[T]) -> T:
        if status >= 300:
            raise refusal_from(status, data, self.target)
        try:
            return answer.validate_json(data)
        except ValidationError:
            raise VaxcertError(
                "service_unavailable", f"{self.target} answered an unexpected body"
            ) from None


def refusal_from(status: int, data: bytes, target: str) -> VaxcertError:
    """A peer's JSON refusal as our typed error; anything else is an outage."""
    try:
        error = json.loads(data)["error"]
        code = str(error["code"])
        detail = str(error.get("detail", ""))
    except (ValueError, KeyError, TypeError):
        code, detail = "", ""
    if code in reasons.CATALOGUE and status < 500:
        return VaxcertError(code, detail or f"{target} refused")
    return VaxcertError("service_unavailable", f"{target} answered {status}")
