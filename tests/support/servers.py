"""A WSGI app served over real TLS (or plain HTTP) on a free loopback port, in a thread.

Werkzeug's server puts the verified client certificate in ``environ["SSL_CLIENT_CERT"]``, as the
product's gunicorn middleware does, so views see the peer exactly as in production. Its
handshake runs in the accept loop: fine for one test's clients, not for load (platform.md).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from vaxcert import pki, tls

WsgiApp = Callable[..., Any]


@dataclass
class LiveServer:
    """A running server: its base URL and port; :meth:`stop` shuts it down."""

    url: str
    port: int
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        """Shut the server down, close its socket and wait for its thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_server(app: WsgiApp, context: ssl.SSLContext | None = None) -> LiveServer:
    """Serve ``app`` on 127.0.0.1 and a free port; HTTPS when ``context`` is given."""
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    scheme = "https" if context is not None else "http"
    return LiveServer(
        f"{scheme}://127.0.0.1:{server.server_port}", server.server_port, server, thread
    )


def pki_context(pki_dir: Path, server: str, client_ca: str | None = None) -> ssl.SSLContext:
    """The product's server TLS policy with the dev PKI item ``server``'s certificate; with
    ``client_ca`` (a CA item) a client certificate that CA issued is required (mTLS)."""
    ca = pki.cert_path(pki_dir, client_ca) if client_ca is not None else None
    return tls.server_context(pki.cert_path(pki_dir, server), pki.key_path(pki_dir, server), ca)


@contextlib.contextmanager
def serving(app: WsgiApp, context: ssl.SSLContext | None = None) -> Iterator[LiveServer]:
    """:func:`start_server` for the ``with`` block; stopped at its end."""
    live = start_server(app, context)
    try:
        yield live
    finally:
        live.stop()
