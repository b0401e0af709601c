"""The center's ops surface: live metrics for the scraper, daily sensitive aggregates for the
auditor, each behind its own bearer token.

Two credentials, not roles, for scripts: people use the operator console at ``/ops`` (accounts,
roles, a second factor: :mod:`cert_center.console`), whose auditor role shows the same aggregates.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import SecretStr

from cert_center import metrics
from cert_center.refusal_days import DailyRefusals
from vaxcert.config import OpsSettings
from vaxcert.errors import ConfigError, VaxcertError

ops = Blueprint("center_ops", __name__)


def _credential(value: SecretStr | None, file: Path | None, setting: str) -> bytes | None:
    """The configured token, from the setting or its file; None when neither is set."""
    if value is not None and value.get_secret_value():
        return value.get_secret_value().encode()
    if file is None:
        return None
    try:
        token = file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(setting, f"cannot read {file}: {exc.strerror}") from None
    if not token:
        raise ConfigError(setting, f"{file} is empty")
    return token.encode()


class OpsCredentials:
    """The scraper's and the auditor's tokens, read once at start-up."""

    def __init__(self, settings: OpsSettings) -> None:
        self.metrics = _credential(
            settings.metrics_token,
            settings.metrics_token_file,
            "VAXCERT_CENTER__OPS__METRICS_TOKEN_FILE",
        )
        self.auditor = _credential(
            settings.auditor_token,
            settings.auditor_token_file,
            "VAXCERT_CENTER__OPS__AUDITOR_TOKEN_FILE",
        )


def _require(expected: bytes | None, code: str) -> None:
    """401 ``code`` unless the request carries ``expected`` as its bearer token.

    No token configured means nobody gets in. The comparison takes the same time wherever the
    presented token first differs (hmac.compare_digest).
    """
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if (
        expected is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(presented.strip().encode(), expected)
    ):
        raise VaxcertError(code)


def _credentials() -> OpsCredentials:
    credentials: OpsCredentials = current_app.extensions["vaxcert_ops_credentials"]
    return credentials


@ops.get("/metrics")
def prometheus_metrics() -> Response:
    """Live metrics of every center process: refusals by public reason only (C08)."""
    _require(_credentials().metrics, "ops_token_required")
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


@ops.get("/audit/refusals")
def refusal_aggregates() -> Response:
    """Sensitive refusal categories per closed day, small counts suppressed (auditor only)."""
    _require(_credentials().auditor, "auditor_token_required")
    daily: DailyRefusals = current_app.extensions["vaxcert_daily_refusals"]
    return jsonify(
        {
            "suppressed_below": daily.threshold,
            "timezone": str(daily.zone),
            "days": daily.closed_days(),
        }
    )
