"""Request and response models of the center's kiosk API (C02, C04: no typed My Number, no free
text, unknown fields refused)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from vaxcert.contracts.dates import IsoDate

CertificateKind = Literal["domestic", "overseas"]
# strict: JSON semantics only (no "true" or 1 for a boolean, no number for a date or a string).
_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=False, strict=True)


class MunicipalityView(BaseModel):
    """A participating municipality as the kiosk shows it (C05)."""

    code: str
    name_ja: str
    name_en: str
    fee_yen: int


class KioskConfig(BaseModel):
    """``GET /v1/kiosk/config``: everything the kiosk may show; the center controls it (C05)."""

    kiosk_id: str
    store_name: str
    municipalities: list[MunicipalityView]
    service_hours: str
    timezone: str
    open_now: bool
    languages: list[str]
    terms_version: str
    terms_ja: str
    terms_en: str
    # Reading aids (the kiosk shows the English terms where one is empty).
    terms_zh: str = ""
    terms_ko: str = ""
    maintenance: bool
    max_copies: int


class Receipt(BaseModel):
    """``POST /v1/kiosk/receipts``: what happened at the printer and the cash unit.

    Money, so delivered at least once and counted at most once: ``receipt_id`` is chosen by the
    kiosk (random, nothing else in it) and the center acknowledges a repeat without counting it.
    No certificate data and no personal data (C08): the kiosk keeps receipts on disk until
    acknowledged, and settlement counts by municipality only.
    """

    model_config = _STRICT

    receipt_id: str = Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")
    municipality_code: str = Field(pattern=r"^[0-9]{6}$")
    copies: int = Field(ge=0, le=20)
    # printed: the fee collected; misprint_refunded: the fee paid back; cancelled: 0. The center
    # checks it against copies × the municipality's fee.
    amount_yen: int = Field(ge=0, le=100_000)
    outcome: Literal["printed", "misprint_refunded", "cancelled"]
    # The number the kiosk showed the resident after a refunded misprint (no personal data).
    incident_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{4,48}$")


DeviceState = Literal["ok", "warning", "error", "absent"]


MunicipalityCode = Annotated[str, Field(pattern=r"^[0-9]{6}$")]
# Bounds of one heartbeat's lockout report; a kiosk sends at most this much and keeps the rest.
MAX_LOCKOUTS_PER_MUNICIPALITY = 10_000
MAX_LOCKOUT_MUNICIPALITIES = 64


class Heartbeat(BaseModel):
    """``POST /v1/kiosk/heartbeat``: device status of one kiosk, and the PIN lockouts it saw.

    ``pin_lockouts``: cards found PIN-locked (or locked by a wrong PIN) since the last
    acknowledged heartbeat, by the municipality chosen in the session. Counts only (C08): no
    card, no time, no session (the center tallies them per hour and alerts on bursts, C21).
    Left out when there is nothing to report, so a center that predates it still takes the
    heartbeat.
    """

    model_config = _STRICT

    reader: DeviceState
    printer: DeviceState
    paper: Literal["ok", "low", "empty"]
    cash_unit: DeviceState
    app_version: str = Field(pattern=r"^[0-9A-Za-z.+-]{1,32}$")
    pin_lockouts: (
        dict[MunicipalityCode, Annotated[int, Field(ge=1, le=MAX_LOCKOUTS_PER_MUNICIPALITY)]] | None
    ) = Field(default=None, max_length=MAX_LOCKOUT_MUNICIPALITIES)


class Accepted(BaseModel):
    """A plain acknowledgement."""

    status: Literal["accepted"] = "accepted"


class CardFilesIn(BaseModel):
    """The Kenhojo files as read by the kiosk, base64 (C02: the My Number comes only from here)."""

    model_config = _STRICT

    ef0001: str = Field(max_length=8192)
    ef0002: str = Field(max_length=8192)
    ef0003: str = Field(max_length=8192)
    ef0004: str = Field(max_length=8192)
    ef0005: str = Field(max_length=8192)


class Consent(BaseModel):
    """The terms of use the resident accepted before the card was read (C07)."""

    model_config = _STRICT

    terms_version: str = Field(min_length=1, max_length=32)
    accepted: bool  # False is well-formed and refused as consent_required (C07)


class CertificateRequest(BaseModel):
    """``POST /v1/kiosk/certificates``: no typed My Number, no free text anywhere (C02, C04)."""

    model_config = _STRICT

    card: CardFilesIn
    municipality_code: str = Field(pattern=r"^[0-9]{6}$")
    kind: CertificateKind
    consent: Consent
    nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")


class IssuedMunicipality(BaseModel):
    """The issuing municipality as printed (its mayor issues the certificate) and its fee."""

    code: str
    name_ja: str
    name_en: str
    mayor_ja: str
    fee_yen: int


class HolderView(BaseModel):
    """The holder as the certificate states it; never the My Number (C22)."""

    name: str
    name_roman: str | None
    birth_date: IsoDate
    nationality: str | None
    passport_number: str | None


class DoseView(BaseModel):
    """One dose for the confirmation screen and the printed certificate."""

    dose_number: int
    date: IsoDate
    product_ja: str
    product_en: str
    maker_ja: str
    maker_en: str
    lot: str
    country: str


class CertificateIssued(BaseModel):
    """The reply to the kiosk: display fields and the QR contents, kept only in kiosk memory."""

    certificate_id: str
    kind: CertificateKind
    issue_date: IsoDate
    municipality: IssuedMunicipality
    holder: HolderView
    # A certificate always shows at least one dose: a reply without any is refused by the kiosk
    # as an outage, never shown as "0 doses".
    doses: list[DoseView] = Field(min_length=1, max_length=10)
    shc_qr_text: str
    vdsnc: str | None
