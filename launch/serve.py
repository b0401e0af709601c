"""Run one service surface under gunicorn with gthread workers, keep-alive and our TLS policy."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from launch import edge, lifetime
from launch.surfaces import ServiceSpec
from vaxcert import logging as vlogging
from vaxcert import pki, tls, web
from vaxcert.config import Settings
from vaxcert.errors import ConfigError


class _ScrubbedLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, routed through the JSON handler and PII scrubber of vaxcert.logging."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for name in ("gunicorn.error", "gunicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
            # Start-up chatter (worker boots) only when debugging.
            logger.setLevel(logging.DEBUG if cfg.loglevel == "debug" else logging.WARNING)


def workers_for(spec: ServiceSpec, settings: Settings) -> int:
    """How many gunicorn workers ``spec`` may have.

    The kiosk keeps its sessions in process memory (C08) and drives one terminal's devices: one
    worker. The center's kiosk API keeps nonces and rate limits in Redis; without Redis they live
    in process memory, so it runs one worker (more would let a replay through another worker).
    The app API's instances and single-use challenges (C06) likewise.
    """
    if spec.name == "kiosk":
        return 1
    if spec.name in ("center-kiosk-api", "center-app-api") and settings.redis_url is None:
        return 1
    return settings.workers


# Surfaces whose requests run under admission control (cert_center/app.py, vaxcert/admission.py).
ADMITTED = frozenset({"center-kiosk-api", "center-app-api"})


def threads_for(spec: ServiceSpec, settings: Settings) -> int:
    """How many request threads each worker of ``spec`` gets.

    ``VAXCERT_THREADS``, except on a surface under admission control: one thread per slot and per
    place in its queue, and a few spare for cheap calls and refusals. A request must wait in that
    queue, which is bounded in length and time and refuses with ``Retry-After``, never in
    gunicorn's thread-pool queue, which is neither.
    """
    if spec.name not in ADMITTED:
        return settings.threads
    admission = (
        settings.center.app.admission
        if spec.name == "center-app-api"
        else settings.center.admission
    )
    return admission.concurrency + admission.queue + admission.spare_threads


def metric_files_id(service: str, pid: int) -> str:
    """What names a process's files in the shared metrics directory: host, surface and pid.

    prometheus_client names them by pid alone; containers that share the directory (the center's
    replicas on one volume, the ops sidecar beside the kiosk API in a pod) each have their own
    pid namespace, so two processes could write one file.
    """
    return f"{socket.gethostname()}-{service}-{pid}"


def _share_metric_files(service: str) -> None:
    from prometheus_client import values

    values.ValueClass = values.MultiProcessValue(  # type: ignore[no-untyped-call]
        process_identifier=lambda: metric_files_id(service, os.getpid())
    )


def _child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        service = server.cfg.proc_name.removeprefix("vaxcert-")
        multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
            metric_files_id(service, worker.pid)
        )


class _ServerContext:
    """gunicorn's ``ssl_context`` hook, asked once per connection: one context while the
    certificate, key and client CA files stay as they are (loading them costs more than a
    handshake, and a kept context resumes sessions), a new one from the first connection after
    one of them was replaced."""

    def __init__(self, cert: Path, key: Path, client_ca: Path | None) -> None:
        self._files = (cert, key, client_ca)
        self._stamp: tuple[int, ...] = ()
        self._context: ssl.SSLContext | None = None

    def __call__(self, _conf: Any, _default: Any) -> ssl.SSLContext:
        stamp = tuple(path.stat().st_mtime_ns for path in self._files if path is not None)
        if self._context is None or stamp != self._stamp:
            cert, key, client_ca = self._files
            assert cert is not None and key is not None
            self._context, self._stamp = tls.server_context(cert, key, client_ca), stamp
        return self._context


class _Application(BaseApplication):  # type: ignore[misc]
    def __init__(self, spec: ServiceSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        listener = getattr(self.settings.listeners, self.spec.listener)
        files = self.spec.files(self.settings)
        tls_settings = self.settings.tls
        policy = edge.EdgePolicy(
            handshake_timeout=tls_settings.handshake_timeout,
            max_handshakes=tls_settings.max_handshakes,
            client_io_timeout=self.settings.client_io_timeout,
            hsts=web.hsts_value(tls_settings.hsts_max_age) if self.spec.tls != "plain" else None,
        )
        options: dict[str, Any] = {
            "bind": f"{listener.host}:{listener.port}",
            # gthread with TLS handshakes under a deadline off the request threads (edge.py).
            "worker_class": edge.worker_class(policy),
            "workers": workers_for(self.spec, self.settings),
            "threads": threads_for(self.spec, self.settings),
            "keepalive": 75,
            "timeout": 60,
            "graceful_timeout": 5,
            # platform.md: by default every gunicorn instance shares one control socket.
            "control_socket_disable": True,
            "logger_class": _ScrubbedLogger,
            "accesslog": None,
            "proc_name": f"vaxcert-{self.spec.name}",
            "child_exit": _child_exit,
        }
        if self.spec.tls != "plain":
            cert, key = files["cert"], files["key"]
            assert cert is not None and key is not None
            client_ca = files["client_ca"] if self.spec.tls == "mtls" else None
            options["certfile"] = str(cert)
            options["keyfile"] = str(key)

            options["ssl_context"] = _ServerContext(cert, key, client_ca)
        for option, value in options.items():
            self.cfg.set(option, value)

    def load(self) -> Flask:
        vlogging.configure(self.settings.log_level, self.spec.name)
        app = self.spec.create_app(self.settings)
        if self.spec.tls != "plain":
            web.add_hsts(app, self.settings.tls.hsts_max_age)  # C10
        return app


def shared_metrics_dir(settings: Settings) -> Path:
    """Where the center's processes share metric files (aggregate counters only, C08)."""
    directory = settings.center.metrics_dir or (
        Path(tempfile.gettempdir()) / f"vaxcert-center-metrics-{os.getuid()}"
    )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def run(spec: ServiceSpec, settings: Settings) -> None:
    """Serve ``spec`` in the foreground until SIGTERM/SIGINT (or until its launcher dies)."""
    lifetime.adopt_launcher()
    if settings.environment == "production":
        found = pki.development_material(settings.pki_dir)
        if found:
            raise ConfigError(
                "VAXCERT_PKI_DIR",
                f"development PKI material in production: {', '.join(found)} "
                "(`vaxcert --dev serve` for development)",
            )
    vlogging.configure(settings.log_level, spec.name)
    if spec.name.startswith("center-"):
        # Set before any worker imports prometheus_client (it reads this at import time).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared_metrics_dir(settings))
        _share_metric_files(spec.name)
    _Application(spec, settings).run()
