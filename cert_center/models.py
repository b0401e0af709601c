"""Request and response models of the center's kiosk API (C02, C04: no typed My Number, no free
text, unknown fields refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CertificateKind = Literal["domestic", "overseas"]
_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=False)


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
    maintenance: bool
    max_copies: int


class Receipt(BaseModel):
    """``POST /v1/kiosk/receipts``: what happened at the printer and the cash unit."""

    model_config = _STRICT

    certificate_id: str = Field(pattern=r"^[A-Z0-9]{12}$")
    municipality_code: str = Field(pattern=r"^[0-9]{6}$")
    copies: int = Field(ge=0, le=20)
    amount_yen: int = Field(ge=0, le=100_000)
    outcome: Literal["printed", "misprint_refunded", "cancelled"]


DeviceState = Literal["ok", "warning", "error", "absent"]


class Heartbeat(BaseModel):
    """``POST /v1/kiosk/heartbeat``: device status of one kiosk."""

    model_config = _STRICT

    reader: DeviceState
    printer: DeviceState
    paper: Literal["ok", "low", "empty"]
    cash_unit: DeviceState
    app_version: str = Field(pattern=r"^[0-9A-Za-z.+-]{1,32}$")


class Accepted(BaseModel):
    """A plain acknowledgement."""

    status: Literal["accepted"] = "accepted"
