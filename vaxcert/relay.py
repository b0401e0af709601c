"""JSON calls between our services over pinned, mutually authenticated, kept-alive TLS.

:class:`Channel` keeps one ``http.client`` connection per thread (gunicorn gthread workers keep
their threads, so every hop stays kept-alive; platform.md). It is deliberately thin: the
service-to-service hops are the center's hot path (design.md §5), and ``requests`` costs several
times more CPU per call. A peer's refusal (4xx with a catalogue reason code) becomes the same typed
error here; anything else (connection failure, timeout, 5xx, an unreadable body) is
``service_unavailable``.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from vaxcert import reasons, tls
from vaxcert.errors import VaxcertError
from vaxcert.logging import request_id_var

T = TypeVar("T")

# A kept-alive connection the peer closed in the meantime fails like this on first use. gunicorn
# closes a connection idle past its keep-alive without a TLS close_notify: reusing it then raises
# SSLEOFError (platform.md), so every hop's first call after a quiet spell would otherwise fail.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)


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

    def _connection(self) -> tuple[http.client.HTTPSConnection, bool]:
        connection: http.client.HTTPSConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, True
        connection = _NoDelayConnection(
            self.host, self.port, timeout=self.timeout, context=self._context
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
        """Send one request and return status and body; outages raise ``service_unavailable``.

        A kept-alive connection that turns out closed is replaced once; a fresh one is not.
        """
        headers = {
            "Content-Type": "application/json",
            # The request id travels with the call so logs of every hop line up.
            "X-Request-ID": request_id_var.get() or "",
        }
        for _ in range(2):
            connection, reused = self._connection()
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
            return response.status, data
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
