"""JSON calls between our services over pinned (m)TLS sessions, with one error mapping.

A peer's refusal (4xx with a catalogue reason code) becomes the same typed error here; anything
else (connection failure, timeout, 5xx, a body we cannot read) is ``service_unavailable``.
"""

from __future__ import annotations

from typing import TypeVar

import requests
from pydantic import BaseModel, TypeAdapter, ValidationError

from vaxcert import reasons
from vaxcert.errors import VaxcertError
from vaxcert.logging import request_id_var
from vaxcert.tls import ThreadLocalSessions

T = TypeVar("T")


def post_json(
    sessions: ThreadLocalSessions,
    url: str,
    body: BaseModel,
    answer: TypeAdapter[T],
    target: str,
    timeout: float,
    exclude_none: bool = False,
) -> T:
    """POST ``body`` as JSON and validate the 2xx answer into ``answer``."""
    try:
        response = sessions.get().post(
            url,
            data=body.model_dump_json(exclude_none=exclude_none),
            # The request id travels with the call so logs of every hop line up.
            headers={
                "Content-Type": "application/json",
                "X-Request-ID": request_id_var.get() or "",
            },
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise VaxcertError("service_unavailable", f"{target}: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise refusal_from(response, target)
    try:
        return answer.validate_json(response.content)
    except ValidationError:
        raise VaxcertError("service_unavailable", f"{target} answered an unexpected body") from None


def refusal_from(response: requests.Response, target: str) -> VaxcertError:
    """A peer's JSON refusal as our typed error; anything else is an outage."""
    try:
        error = response.json()["error"]
        code = str(error["code"])
        detail = str(error.get("detail", ""))
    except (ValueError, KeyError, TypeError):
        code, detail = "", ""
    if code in reasons.CATALOGUE and response.status_code < 500:
        return VaxcertError(code, detail or f"{target} refused")
    return VaxcertError("service_unavailable", f"{target} answered {response.status_code}")
