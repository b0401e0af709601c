"""Request and response models of the center's app API (電子交付, docs/app-api.md).

The OpenAPI document (cert_center/openapi/app-api.json) is generated from these models, so the
contract and the code cannot drift apart. Requests forbid unknown fields and take JSON semantics
only (C04); no field takes a typed My Number (C02): it comes from the card's files alone.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vaxcert.contracts.kiosk_api import CardFilesIn, CertificateIssued, CertificateKind, Consent

_STRICT = ConfigDict(extra="forbid", strict=True)
_OUT = ConfigDict(extra="forbid")

# base64url without padding of 32 random bytes (43 characters).
CHALLENGE_PATTERN = r"^[A-Za-z0-9_-]{43}$"
# base64url without padding of the SHA-256 of the instance's public key (43 characters).
INSTANCE_ID_PATTERN = r"^[A-Za-z0-9_-]{43}$"
# ICAO 9303 TD3: two lines of 44 characters, joined by one line feed.
MRZ_PATTERN = r"^[A-Z0-9<]{44}\n[A-Z0-9<]{44}$"


class AppMunicipality(BaseModel):
    """A municipality the resident may choose: where they lived when vaccinated."""

    model_config = _OUT

    code: str
    name_ja: str
    name_en: str


class AppConfig(BaseModel):
    """``GET /api/v1/app/config``: the terms to show and accept (C07) and the municipalities."""

    model_config = _OUT

    terms_version: str
    terms_ja: str
    terms_en: str
    municipalities: list[AppMunicipality]
    service_hours: str
    timezone: str
    open_now: bool


class ChallengeRequest(BaseModel):
    """``POST /api/v1/app/challenges``: a single-use challenge, to register or to apply (C06)."""

    model_config = _STRICT

    purpose: Literal["register", "apply"]
    # Required to apply: the challenge is bound to the instance that will sign with it.
    instance_id: str | None = Field(default=None, pattern=INSTANCE_ID_PATTERN)

    @model_validator(mode="after")
    def _instance_to_apply(self) -> ChallengeRequest:
        if (self.purpose == "apply") != (self.instance_id is not None):
            raise ValueError("instance_id is required to apply and refused to register")
        return self


class Challenge(BaseModel):
    """A challenge, valid once, until it expires."""

    model_config = _OUT

    challenge: str = Field(pattern=CHALLENGE_PATTERN)
    expires_in_seconds: int


class InstanceRegistration(BaseModel):
    """``POST /api/v1/app/instances``: the platform's attestation of a new instance key (C06).

    ``attestation`` is the chain the platform's attestation service issued, leaf first, each
    certificate base64 (standard alphabet) DER. The leaf's public key is the instance key and it
    carries the app id and the SHA-256 of ``challenge`` (docs/app-api.md, "Attestation").
    """

    model_config = _STRICT

    challenge: str = Field(pattern=CHALLENGE_PATTERN)
    attestation: list[Annotated[str, Field(min_length=1, max_length=8192)]] = Field(
        min_length=1, max_length=4
    )


class InstanceRegistered(BaseModel):
    """The instance id the app sends with every later request."""

    model_config = _OUT

    instance_id: str = Field(pattern=INSTANCE_ID_PATTERN)
    expires_in_days: int


class AppCertificateRequest(BaseModel):
    """``POST /api/v1/app/certificates``: consent (C07), kind, municipality, the card's files as
    read with the PIN (C01, C02) and, for 海外用, the passport's MRZ (TD3)."""

    model_config = _STRICT

    consent: Consent
    kind: CertificateKind
    municipality_code: str = Field(pattern=r"^[0-9]{6}$")
    card: CardFilesIn
    passport_mrz: str | None = Field(default=None, pattern=MRZ_PATTERN)

    @model_validator(mode="after")
    def _mrz_for_overseas(self) -> AppCertificateRequest:
        if (self.kind == "overseas") != (self.passport_mrz is not None):
            raise ValueError("passport_mrz is required for overseas and refused for domestic")
        return self


class AppCertificateIssued(BaseModel):
    """The certificate for the app to keep (nothing is kept server-side, C08): the display fields
    and QR contents (never the My Number, C22), the SHC's JWS, the certificate image (PNG, the
    PDF page) and the PDF, both base64."""

    model_config = _OUT

    certificate: CertificateIssued
    shc_jws: str
    image_png: str
    pdf: str


class ErrorDetail(BaseModel):
    """A refusal: the reason code (vaxcert/reasons.py) with its text and the next step."""

    code: str
    message: str
    next_step: str
    detail: str | None = None
    fields: list[str] | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    model_config = _OUT

    error: ErrorDetail


class Health(BaseModel):
    """``GET /healthz``."""

    status: Literal["ok"]
    service: str
