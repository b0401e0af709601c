"""Typed errors that carry a reason code from :mod:`vaxcert.reasons`."""

from __future__ import annotations

from typing import Any

from vaxcert import reasons


class VaxcertError(Exception):
    """An expected failure with a reason code; the web layer turns it into a 4xx/5xx JSON reply.

    ``detail`` is for operators and tests (never personal data); the public text comes from the
    catalogue. ``retry_after`` (seconds) goes out as ``Retry-After``.
    """

    def __init__(
        self, code: str, detail: str = "", *, retry_after: int | None = None, **extra: Any
    ) -> None:
        self.reason = reasons.get(code)
        self.detail = detail
        # Seconds after which a retry may succeed: the answer's Retry-After header.
        self.retry_after = retry_after
        self.extra = extra
        super().__init__(f"{code}: {detail}" if detail else code)

    @property
    def code(self) -> str:
        """The reason code."""
        return self.reason.code

    @property
    def status(self) -> int:
        """The HTTP status that goes with the reason."""
        return self.reason.status


class ConfigError(VaxcertError):
    """The configuration is invalid; the message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__("config_invalid", f"setting {setting}: {problem}")
