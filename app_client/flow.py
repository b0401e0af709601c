"""`vaxcert app-client`: one application as the app makes it, against the configured app API.

Terms first (C07), then the card with its PIN (C01, the My Number only from the chip: C02), the
passport's MRZ for 海外用, a signed application (C06), and the certificate files written into the
output directory only. The app keeps certificates; the server keeps nothing (C08).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from app_client.client import (
    AppApiRefusalError,
    AppClient,
    DevPlatform,
    HttpsTransport,
    InstanceState,
)
from vaxcert import passport, pki, reasons, residents
from vaxcert.card import PinLockedError, WrongPinError, cards, create_reader
from vaxcert.card.slot import card_slot
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError

Outcome = Literal["issued", "refused", "error"]
STATE_DIR_NAME = ".app-instance"


@dataclass(frozen=True)
class AppResult:
    """What the command prints."""

    outcome: Outcome
    reason: str | None = None
    certificate_id: str | None = None

    def to_json(self) -> dict[str, str | None]:
        """The one JSON line."""
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "certificate_id": self.certificate_id,
        }


def failed(code: str) -> AppResult:
    """A refusal (4xx reason) or an error (5xx or unknown)."""
    reason = reasons.CATALOGUE.get(code)
    return AppResult("refused" if reason is not None and reason.status < 500 else "error", code)


def read_card(settings: Settings, resident: str, pin: str, reader: str) -> dict[str, str]:
    """The resident's card files as read with ``pin`` (raw, unparsed: the center verifies)."""
    card = settings.card.model_copy(update={"reader": "virtual" if reader == "memory" else "pcsc"})
    settings = settings.model_copy(update={"card": card})
    card_reader = create_reader(settings)
    timeout = settings.card.timeout_seconds
    with card_slot(settings, card_reader, resident, timeout) as (insert, _remove):
        insert()
        return card_reader.read_files(pin).to_json()


def write_certificate(out: Path, issued: dict[str, Any]) -> None:
    """certificate.pdf, certificate.png, shc.txt and (海外用) vdsnc.json into ``out``, readable
    by their owner only: they hold the holder's name, birth date and doses."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    certificate = issued["certificate"]
    files = {
        "certificate.pdf": base64.b64decode(issued["pdf"]),
        "certificate.png": base64.b64decode(issued["image_png"]),
        "shc.txt": (certificate["shc_qr_text"] + "\n").encode(),
    }
    if certificate.get("vdsnc"):
        document = json.loads(certificate["vdsnc"])
        files["vdsnc.json"] = (json.dumps(document, ensure_ascii=False) + "\n").encode()
    for name, content in files.items():
        descriptor = os.open(out / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)


def run(
    settings: Settings,
    *,
    resident: str,
    pin: str,
    municipality: str,
    kind: str,
    out: Path,
    mrz: str | None = None,
    reader: str = "memory",
    state_dir: Path | None = None,
    client: AppClient | None = None,
) -> AppResult:
    """One application; the instance is registered once and kept in ``state_dir``
    (default: ``out/.app-instance``)."""
    if resident not in cards.card_keys():
        raise KeyError(f"unknown resident {resident!r}")
    if kind == "overseas" and mrz is None:
        person = residents.RESIDENTS.get(resident)
        if person is None or person.passport is None:
            return AppResult("error", "mrz_invalid")  # nothing to scan: no passport in the fixture
        mrz = passport.synthetic_td3(person)
    client = client or AppClient(
        HttpsTransport(settings.url("center_app_api"), pki.cert_path(settings.pki_dir, "public-ca"))
    )
    state = InstanceState.load_or_create(state_dir or out / STATE_DIR_NAME)
    try:
        if state.instance_id is None:
            client.register(state, DevPlatform(settings.pki_dir, settings.center.app.app_id))
        config = client.config()
        # C07: the terms are shown and accepted before the card is read.
        consent = {"terms_version": config["terms_version"], "accepted": True}
        try:
            files = read_card(settings, resident, pin, reader)
        except WrongPinError:
            return failed("pin_incorrect")
        except PinLockedError:
            return failed("pin_locked")
        body: dict[str, Any] = {
            "consent": consent,
            "kind": kind,
            "municipality_code": municipality,
            "card": files,
        }
        if kind == "overseas":
            body["passport_mrz"] = mrz
        try:
            issued = client.apply(state, body)
        except AppApiRefusalError as refusal:
            if refusal.code not in ("app_instance_unknown",):
                raise
            # Forgotten by the server (expired registration): register once more and retry.
            state.forget()
            client.register(state, DevPlatform(settings.pki_dir, settings.center.app.app_id))
            issued = client.apply(state, body)
    except VaxcertError as exc:
        return failed(exc.code)
    tmp = out / ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    write_certificate(tmp, issued)
    for item in tmp.iterdir():  # all or nothing: never a half-written certificate
        item.replace(out / item.name)
    tmp.rmdir()
    return AppResult("issued", None, str(issued["certificate"]["certificate_id"]))
