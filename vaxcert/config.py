"""One typed settings model for every service.

Sources, highest priority first: explicit overrides, ``VAXCERT_*`` environment variables (nested
with ``__``, e.g. ``VAXCERT_LISTENERS__VRS__PORT=9441``), an optional TOML file (``VAXCERT_CONFIG``
or ``--config``), then the embedded defaults, which run the whole product on loopback.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vaxcert import lgcode as municipality
from vaxcert.errors import ConfigError

TlsMode = Literal["mtls", "tls", "plain"]


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/vaxcert`` (``~/.local/share/vaxcert``): where the development PKI and the
    VRS stub's SQLite file go by default, the same from a checkout, an installed wheel or any
    working directory (``/`` included)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or "")
    # The XDG spec ignores a relative value.
    return (base if base.is_absolute() else Path.home() / ".local" / "share") / "vaxcert"


class Listener(BaseModel):
    """Where one service surface listens."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    # Behind a TLS edge (docker/nginx, launch/topology.py) an mTLS surface accepts only the edge's
    # client certificate: the PKI item name of the edge's CA (e.g. internal-ca). None: the
    # surface's own client CA (launch/surfaces.py).
    client_ca: str | None = Field(default=None, pattern=r"^[a-z0-9-]{1,64}$")


class Listeners(BaseModel):
    """Every listening surface of the product, with the default ports of design.md."""

    model_config = ConfigDict(extra="forbid")

    kiosk: Listener = Listener(port=8080)
    center_kiosk_api: Listener = Listener(port=8443)
    center_app_api: Listener = Listener(port=8444)
    center_ops: Listener = Listener(port=8445)
    vrs: Listener = Listener(port=8441)
    signer_api: Listener = Listener(port=8442)
    signer_public: Listener = Listener(port=8446)
    verifier: Listener = Listener(port=8090)


class TlsSettings(BaseModel):
    """Channel policy (C09, C10)."""

    model_config = ConfigDict(extra="forbid")

    # C09: decommissioned kiosks and other withdrawn clients, by SHA-256 fingerprint (hex) of
    # their certificate; a match is refused with 403 client_cert_denied.
    denied_client_fingerprints: list[str] = []
    # Only when a TLS terminator in front of us verified the client certificate: the addresses it
    # connects from and the header it puts the URL-escaped PEM in (nginx $ssl_client_escaped_cert).
    trusted_proxies: list[str] = []
    trusted_client_cert_header: str | None = None
    # The TLS edge of every listener (launch/edge.py): a handshake not done by this many seconds
    # is closed, and at most max_handshakes are in progress per worker (the oldest make room).
    handshake_timeout: float = Field(default=5.0, gt=0, le=60)
    max_handshakes: int = Field(default=64, ge=1, le=4096)
    # Strict-Transport-Security on every TLS listener's responses; 0 tells browsers to forget it.
    hsts_max_age: int = Field(default=31_536_000, ge=0)

    @field_validator("denied_client_fingerprints")
    @classmethod
    def _fingerprints_are_sha256_hex(cls, values: list[str]) -> list[str]:
        normalised = []
        for value in values:
            cleaned = value.replace(":", "").strip().lower()
            if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
                raise ValueError(f"{value!r} is not a SHA-256 fingerprint (64 hex digits)")
            normalised.append(cleaned)
        return normalised


class VerifierSettings(BaseModel):
    """The verifier (web page and `vaxcert verify` defaults)."""

    model_config = ConfigDict(extra="forbid")

    # A trust store directory (or its trust.toml). None: outside production, a store built in
    # memory from the dev PKI (our SHC issuer key and the dev CSCA + CRL).
    trust: Path | None = None
    # nbf / BSC notBefore this far in the future is tolerated; beyond it, a clock warning.
    clock_skew_seconds: int = Field(default=300, ge=0, le=86400)
    # Phone photos are large; PDFs and QR images are small.
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    # The page: a result goes back to the neutral scanning state after this many seconds (0:
    # stays until "scan next"); a check that takes longer than request_timeout_seconds is
    # reported as impossible, with a retry.
    result_seconds: int = Field(default=30, ge=0, le=3600)
    request_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Trust data (keys, revocation lists) is refreshed in the background this often (0: never;
    # then only `vaxcert trust refresh` or, for the dev store, each verification updates it).
    refresh_interval_seconds: int = Field(default=900, ge=0, le=7 * 86400)
    # The page's TLS certificate and key (PEM) in production; unset, the PKI directory's
    # `verifier` server certificate (the dev CA's in the demo).
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @model_validator(mode="after")
    def _certificate_with_its_key(self) -> VerifierSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key are set together")
        return self


class KioskEntry(BaseModel):
    """One kiosk of the registry: its id is the CN of its dedicated-line client certificate."""

    model_config = ConfigDict(extra="forbid")

    kiosk_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$")
    store_name: str
    enabled: bool = True


class MunicipalityEntry(BaseModel):
    """A municipality taking part in kiosk issuance (C05), with its fee."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{6}$")
    # Printed on every certificate: a blank name is refused at start-up, not at the printer.
    name_ja: str = Field(min_length=1, pattern=r"\S")
    name_en: str = Field(min_length=1, pattern=r"\S")
    fee_yen: int = Field(default=120, ge=0, le=10_000)
    mayor_ja: str = ""

    @field_validator("code")
    @classmethod
    def _code_has_its_check_digit(cls, value: str) -> str:
        if not municipality.is_valid(value):
            raise ValueError(f"{value} is not a 全国地方公共団体コード (check digit)")
        return value


_TERMS_JA = (
    "この端末で新型コロナウイルス感染症予防接種証明書を申請します。"
    "マイナンバーカードのICチップから個人番号と基本4情報を読み取り、接種時に住民票があった"
    "市区町村の予防接種記録と照合して証明書を交付します。読み取った情報と証明書の内容は"
    "この端末と証明書交付センターには記録されません。"
)
_TERMS_EN = (
    "You are applying for a COVID-19 vaccination certificate at this terminal. Your individual "
    "number and basic four details are read from the IC chip of your My Number Card and checked "
    "against the vaccination record of the municipality where you lived when vaccinated. Neither "
    "this terminal nor the certificate issuance center records what is read or the certificate."
)
# Reading aids for residents who read neither Japanese nor English (the kiosk's 简体中文 and
# 한국어); a municipality that publishes its own translation replaces them by configuration.
_TERMS_ZH = (
    "您正在本终端申请新冠病毒疫苗接种证明书。将从个人编号卡（My Number卡）的IC芯片读取个人编号"
    "和基本四项信息，与您接种时住民票所在市町村的预防接种记录进行核对后发放证明书。本终端和证明书"
    "发放中心均不会记录所读取的信息和证明书的内容。"
)
_TERMS_KO = (
    "이 단말기에서 코로나19 예방접종증명서를 신청합니다. 마이넘버 카드의 IC칩에서 개인번호와 "
    "기본 4정보를 읽어, 접종 당시 주민표가 있던 시정촌의 예방접종 기록과 대조한 후 증명서를 "
    "발급합니다. 읽은 정보와 증명서 내용은 이 단말기와 증명서 발급 센터에 기록되지 않습니다."
)


class OpsSettings(BaseModel):
    """Who may read the center's ops surface: the Prometheus scraper and the auditor.

    Each credential is a bearer token, set directly or as a file holding it (a mounted secret);
    none set means nobody gets in (401), never an open door.
    """

    model_config = ConfigDict(extra="forbid")

    # The scraper's token for GET /metrics (live, no sensitive refusal category).
    metrics_token: SecretStr | None = None
    metrics_token_file: Path | None = None
    # The auditor's token for GET /audit/refusals (daily sensitive aggregates, closed days only).
    auditor_token: SecretStr | None = None
    auditor_token_file: Path | None = None
    # Daily counts below this are shown as "<k" (k-anonymity of one visit).
    small_count_threshold: int = Field(default=10, ge=2, le=1000)
    # How many closed days the auditor view covers; older day counters expire in the store.
    aggregate_days: int = Field(default=31, ge=1, le=400)


class ConsoleSettings(BaseModel):
    """The operator console on the ops surface (C15, C17): sign-in policy and sessions."""

    model_config = ConfigDict(extra="forbid")

    # A signed-in operator who does nothing for this long must sign in again (C17).
    idle_timeout_minutes: int = Field(default=15, ge=1, le=480)
    # So many failed sign-ins in a row lock the user id for lockout_minutes (C17).
    max_failed_logins: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=1440)
    # Sign-in attempts per client address and minute, whatever the user ids (password spraying;
    # each attempt costs an argon2 hash).
    login_attempts_per_minute: int = Field(default=10, ge=1, le=1000)
    # How long a kiosk API process trusts the shared copy of a kiosk's enabled state before it
    # reads the database again; an operator's change is written to the shared copy at once.
    kiosk_state_cache_seconds: int = Field(default=30, ge=1, le=3600)


class CardUseSettings(BaseModel):
    """Card-use anomaly detection (C21): daily limits per card, counted under a keyed daily tag."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # The secret the daily tag keys are derived from; never stored beside the counts. Unset:
    # outside production a file card-use.secret is generated in pki_dir (mode 0600).
    secret_file: Path | None = None
    max_kiosks: int = Field(default=2, ge=1)
    max_municipalities: int = Field(default=3, ge=1)
    max_attempts: int = Field(default=6, ge=1)
    max_issuances: int = Field(default=3, ge=1)
    # "alert": metric and audit event only; "refuse": also answer counter_required past a limit.
    action: Literal["alert", "refuse"] = "alert"


class AlertRule(BaseModel):
    """One alert rule (C21): it fires when ``threshold`` events of its kind from one subject
    (a kiosk, a relay target) fall within ``window_seconds``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    threshold: int = Field(ge=1, le=1_000_000)
    window_seconds: int = Field(ge=10, le=7 * 86_400)


class AlertSettings(BaseModel):
    """Alert rules over the center's own signals (C21; cert_center/alerts.py, docs/operations.md).

    An alert is an audit event, ``vaxcert_alerts_total{rule}``, a banner in the console and,
    when ``webhook_url`` is set, a POST of JSON without personal data.
    """

    model_config = ConfigDict(extra="forbid")

    # Refusals (4xx answers to certificate requests) from one kiosk.
    kiosk_refusals: AlertRule = AlertRule(threshold=30, window_seconds=600)
    # Kiosk-API calls without a client certificate, with a deny-listed one, or from a kiosk
    # that is unknown or disabled, per certificate CN.
    client_certificate_refusals: AlertRule = AlertRule(threshold=5, window_seconds=600)
    # Card files whose signature chain does not verify (C03), per kiosk.
    card_signature_failures: AlertRule = AlertRule(threshold=3, window_seconds=3600)
    # Outages of VRS or the signer seen by the center, per target.
    relay_errors: AlertRule = AlertRule(threshold=10, window_seconds=300)
    # PIN lockouts reported by one kiosk.
    pin_lockouts: AlertRule = AlertRule(threshold=3, window_seconds=3600)
    # One alert per rule and subject per cool-down; the console shows it for active_seconds.
    cooldown_seconds: int = Field(default=900, ge=10, le=86_400)
    active_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    # Optional webhook (chat, pager): POSTed off the request path, bounded queue, timeout. A
    # secret: chat webhooks carry their credential in the URL (masked by `vaxcert config show`).
    webhook_url: SecretStr | None = None
    webhook_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    webhook_queue: int = Field(default=100, ge=1, le=10_000)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_http(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value


class SignalSettings(BaseModel):
    """What the center keeps for the console's fleet and issuance views (aggregates only, C08;
    cert_center/fleet.py, cert_center/tallies.py)."""

    model_config = ConfigDict(extra="forbid")

    # Hourly counters per municipality expire this many days after their hour.
    hourly_retention_days: int = Field(default=8, ge=1, le=400)
    # Daily counters (certificates, refusals by public reason, fees) and incident lists.
    daily_retention_days: int = Field(default=400, ge=1, le=3660)
    # A kiosk's last heartbeat is forgotten this long after it arrived.
    heartbeat_retention_days: int = Field(default=30, ge=1, le=400)
    # A kiosk whose last heartbeat is older than this is shown (and alerted) as silent.
    silent_after_seconds: int = Field(default=120, ge=10, le=86_400)


class AdmissionSettings(BaseModel):
    """Admission control of a surface whose requests call other services (vaxcert/admission.py).

    Per worker process: ``concurrency`` requests at work, ``queue`` more waiting at most
    ``max_wait_seconds`` from their arrival, the rest refused at once with 503 ``overloaded`` and
    ``Retry-After``. An admitted request's calls to other services end by ``deadline_seconds``
    after its arrival, so its caller always gets an answer before it gives up. The surface runs
    ``concurrency + queue + spare_threads`` request threads per worker (not ``VAXCERT_THREADS``).
    """

    model_config = ConfigDict(extra="forbid")

    # The 32 kiosks at once of design.md §5 never wait for a slot, however the kept-alive
    # connections happen to be split between the workers.
    concurrency: int = Field(default=32, ge=1, le=256)
    queue: int = Field(default=16, ge=0, le=1024)
    # design.md §5: a refusal within 100 ms, so no request waits longer for its slot.
    max_wait_seconds: float = Field(default=0.1, gt=0, le=10)
    retry_after_seconds: int = Field(default=2, ge=1, le=3600)
    deadline_seconds: float = Field(default=8.0, gt=0, le=60)
    # Threads beyond the slots and the queue, for the cheap calls (configuration, receipts,
    # heartbeats, health) and for answering refusals while every slot is busy.
    spare_threads: int = Field(default=8, ge=0, le=256)

    @model_validator(mode="after")
    def _wait_within_deadline(self) -> AdmissionSettings:
        if self.max_wait_seconds >= self.deadline_seconds:
            raise ValueError("max_wait_seconds must be below deadline_seconds")
        return self


class AppApiSettings(BaseModel):
    """The center's app API (電子交付, docs/app-api.md): attestation (C06), limits, images."""

    model_config = ConfigDict(extra="forbid")

    # The genuine app's id as the platform attests it (Play Integrity package name / App Attest
    # team + bundle id); anything else is refused (C06).
    app_id: str = Field(default="jp.go.digital.vaccinecert", min_length=1, max_length=128)
    # An attestation statement is accepted this long after the platform made it.
    attestation_max_age_seconds: int = Field(default=300, ge=10, le=86_400)
    # A challenge is single-use and lives this long (shared store, TTL).
    challenge_ttl_seconds: int = Field(default=120, ge=5, le=3600)
    # A registered instance is forgotten this long after registering (the app registers again).
    instance_ttl_days: int = Field(default=400, ge=1, le=3650)
    # Flask-Limiter limits, shared by all workers and replicas through Redis when configured.
    per_instance_limit: str = Field(default="30/minute", pattern=r"^[0-9a-z /;]+$")
    per_address_limit: str = Field(default="1200/minute", pattern=r"^[0-9a-z /;]+$")
    # Resolution of the certificate image the app may save (1-bit PNG of the printed page).
    image_dpi: int = Field(default=150, ge=72, le=300)
    admission: AdmissionSettings = AdmissionSettings(deadline_seconds=10.0)


class CenterSettings(BaseModel):
    """The issuance center: kiosk registry, what kiosks may show (C05), rules, relays."""

    model_config = ConfigDict(extra="forbid")

    kiosks: list[KioskEntry] = [
        KioskEntry(kiosk_id="KIOSK-0001", store_name="デモ店 鹿児島中央駅前"),
        KioskEntry(kiosk_id="KIOSK-0002", store_name="デモ店 霧島国分"),
    ]
    municipalities: list[MunicipalityEntry] = [
        MunicipalityEntry(
            code="462012", name_ja="鹿児島市", name_en="Kagoshima City", mayor_ja="鹿児島市長"
        ),
        MunicipalityEntry(
            code="462187", name_ja="霧島市", name_en="Kirishima City", mayor_ja="霧島市長"
        ),
    ]
    service_hours: str = Field(default="06:30-23:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    timezone: str = "Asia/Tokyo"
    languages: list[Literal["ja", "en", "zh", "ko"]] = ["ja", "en", "zh", "ko"]
    terms_version: str = "2022-07-26"
    terms_ja: str = _TERMS_JA
    terms_en: str = _TERMS_EN
    terms_zh: str = _TERMS_ZH
    terms_ko: str = _TERMS_KO
    maintenance: bool = False
    max_copies: int = Field(default=5, ge=1, le=20)
    nonce_ttl_seconds: int = Field(default=900, ge=60)
    kiosk_requests_per_minute: int = Field(default=120, ge=1)
    relay_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    # The kiosk API's admission control; its deadline stays below the kiosk's own timeout.
    admission: AdmissionSettings = AdmissionSettings()
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset_seconds: float = Field(default=10.0, gt=0)
    # Whether a record flagged moved out / deceased may still get a certificate at a kiosk.
    kiosk_allows_moved_out: bool = False
    kiosk_allows_deceased: bool = False
    # Where gunicorn processes of the center share aggregate metric files (prometheus multiprocess
    # mode): counters only, never personal data (C08). Unset: a per-run temp dir.
    metrics_dir: Path | None = None
    ops: OpsSettings = OpsSettings()
    card_use: CardUseSettings = CardUseSettings()
    alerts: AlertSettings = AlertSettings()
    signals: SignalSettings = SignalSettings()
    # The center's own database: console users, audit trail (C15), kiosk enabled states. None:
    # a SQLite file center.sqlite3 in data_dir. PostgreSQL: postgresql+psycopg://user@host/db.
    database_url: SecretStr | None = None
    data_dir: Path = Field(default_factory=lambda: user_data_dir() / "center")
    console: ConsoleSettings = ConsoleSettings()
    app: AppApiSettings = AppApiSettings()


class Pkcs11Settings(BaseModel):
    """Where the signer's PKCS#11 token is (SoftHSM2 in tests, an HSM in production)."""

    model_config = ConfigDict(extra="forbid")

    library: Path = Path("/usr/lib/softhsm/libsofthsm2.so")
    label: str = "vaxcert-signer"
    user_pin: SecretStr = SecretStr("")


class ShcProfileSettings(BaseModel):
    """Choices of our SMART Health Card profile (formats.md §1, §3; docs/signer.md)."""

    model_config = ConfigDict(extra="forbid")

    # 海外用 only: the passport as Patient.identifier; {nationality} is the holder's ISO 3166 code.
    passport_identifier_system: str = "http://hl7.org/fhir/sid/passport-{nationality}"
    # Cards carry no exp unless set (Japan's cards had none).
    validity_days: int | None = Field(default=None, ge=1, le=3650)
    # Cards carry vc.rid and the JWKS carries crlVersion (revocation by certificate id).
    revocation: bool = True


class VdsncProfileSettings(BaseModel):
    """Choices of our ICAO VDS-NC profile (formats.md §2)."""

    model_config = ConfigDict(extra="forbid")

    issuing_country: str = Field(default="JPN", pattern=r"^[A-Z]{3}$")
    # Japan omitted pid.sex.
    emit_sex: bool = False
    # The document signer certificate (ICAO Doc 9303 Part 12; docs/signer.md §4): its subject
    # (an RFC 4514 string, most specific first, with the country), how long one key signs
    # (private key usage period) and where the CSCA's CRL is published (unset: the signer's own
    # <issuer origin>/vdsnc/crl.der).
    signer_subject: str = "CN=JP dev VDS-NC signer,O=vaxcert development,C=JP"
    private_key_usage_days: int = Field(default=365, ge=1, le=3650)
    crl_distribution_points: list[str] | None = None

    @field_validator("signer_subject")
    @classmethod
    def _subject_names_a_country(cls, value: str) -> str:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        try:
            name = x509.Name.from_rfc4514_string(value)
        except ValueError:
            raise ValueError("must be an RFC 4514 name such as CN=...,C=JP") from None
        if not name.get_attributes_for_oid(NameOID.COUNTRY_NAME):
            raise ValueError("must name the country (C=..., ICAO Doc 9303 Part 12)")
        return value

    @field_validator("crl_distribution_points")
    @classmethod
    def _crl_urls(cls, values: list[str] | None) -> list[str] | None:
        for value in values or []:
            if not value.startswith(("https://", "http://", "ldap://")):
                raise ValueError(f"{value!r} is not an http(s) or ldap URL")
        return values


class VaccineOverride(BaseModel):
    """Per-product codes and names that replace the built-in table (docs/signer.md §2)."""

    model_config = ConfigDict(extra="forbid")

    name_ja: str | None = None
    name_en: str | None = None
    maker_ja: str | None = None
    maker_en: str | None = None
    cvx: str | None = Field(default=None, pattern=r"^[0-9]{1,3}$")
    icd11: str | None = Field(default=None, pattern=r"^[A-Z0-9]{2,8}(\.[0-9A-Z]{1,4})?$")
    nam: str | None = Field(default=None, pattern=r"^[\x20-\x2e\x30-\x7e]{1,40}$")
    issuable: bool | None = None


class SignerSettings(BaseModel):
    """The signer: key custody, key state, who may call it and the two format profiles."""

    model_config = ConfigDict(extra="forbid")

    # Where new keys are made and kept: key files (dev) or a PKCS#11 token (keys never leave it).
    custody: Literal["file", "pkcs11"] = "file"
    pkcs11: Pkcs11Settings = Pkcs11Settings()
    # Active kid, retired public keys, CRLs, rid secret; default: <pki_dir>/signer-state.
    state_dir: Path | None = None
    # C09: common names of client certificates (internal CA) that may call the signing API.
    allowed_clients: list[str] = ["cert-center"]
    shc: ShcProfileSettings = ShcProfileSettings()
    vdsnc: VdsncProfileSettings = VdsncProfileSettings()
    vaccines: dict[str, VaccineOverride] = {}


_CARD_KEY_ID = re.compile(r"^(\d{7}/\d{3}|[0-9A-Fa-f]{32})$")


class CardCaKey(BaseModel):
    """One trusted CVC issuer of the Kenhojo AP (C03): its key id and RSA public key file."""

    model_config = ConfigDict(extra="forbid")

    # "NNNNNNN/NNN" (7 digits, 08 05, 3 digits, 4 zero bytes) or the full 16-byte id in hex.
    key_id: str
    # PEM SubjectPublicKeyInfo; a relative path is taken under pki_dir.
    public_key: Path

    @field_validator("key_id")
    @classmethod
    def _key_id_form(cls, value: str) -> str:
        if not _CARD_KEY_ID.match(value):
            raise ValueError("must be 7 digits/3 digits (e.g. 5000033/001) or 32 hex digits")
        return value


class CardSettings(BaseModel):
    """The card layer (vaxcert/card): which reader, its timeout, and the CA key table (C01, C03)."""

    model_config = ConfigDict(extra="forbid")

    # "virtual": an in-process virtual card (demo); "pcsc": a PC/SC reader through pcscd.
    reader: Literal["virtual", "pcsc"] = "virtual"
    # PC/SC reader name, exact or a prefix; None takes the first reader.
    pcsc_reader: str | None = None
    # Card key (vaxcert.residents or a card edge case) of the in-process virtual card.
    virtual_card: str = "canary"
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Dev default: the dev "J-LIS" test CA of the dev PKI. Production configures 5000033/001.
    ca_keys: list[CardCaKey] = [CardCaKey(key_id="9000033/001", public_key=Path("jlis-ca.pub.pem"))]


class VrsSettings(BaseModel):
    """The VRS stub: where records live, its keys, who may call which API (C09, C12, C13)."""

    model_config = ConfigDict(extra="forbid")

    # SQLAlchemy URL; None: a SQLite file `vrs.sqlite3` in data_dir. PostgreSQL:
    # postgresql+psycopg://user@host:5432/db (design.md §6: PostgreSQL in production).
    database_url: SecretStr | None = None
    # PostgreSQL only: the schema that holds the VRS tables (created when missing).
    db_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # PostgreSQL: wait for the WAL flush on every commit (provision records survive a crash the
    # moment the reply leaves). False trades that for latency (synchronous_commit=off).
    durable_commits: bool = True
    # Where the SQLite file and, outside production, the generated dev master key live.
    data_dir: Path = Field(default_factory=lambda: user_data_dir() / "vrs")
    # C13: the 32-byte master key (base64) that wraps every municipality's data keys, or a file
    # holding it. Production needs one of them; elsewhere a key is generated into
    # data_dir/vrs-master.key (mode 0600) on first use.
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    # C09: client certificate CNs (LGWAN CA) allowed on the relay API: only the center.
    relay_client_cns: list[str] = ["cert-center"]
    # Municipal staff API (C15, C19): LGWAN terminals with a per-municipality bearer token.
    staff_token_days: int = Field(default=90, ge=1, le=400)
    max_import_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    @field_validator("relay_client_cns")
    @classmethod
    def _relay_clients_named(cls, values: list[str]) -> list[str]:
        if not values or any(not value.strip() for value in values):
            raise ValueError("name at least one client certificate CN, none empty")
        return values


class KioskSettings(BaseModel):
    """The kiosk terminal (kiosk/): its identity on the dedicated line, timeouts and devices."""

    model_config = ConfigDict(extra="forbid")

    # The CN of this kiosk's dedicated-line client certificate (kiosk-<id> in the PKI dir, C09).
    kiosk_id: str = Field(default="KIOSK-0001", pattern=r"^[A-Za-z0-9-]{1,32}$")
    # None: the center kiosk API listener of this configuration.
    center_url: str | None = None
    center_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # How long the center's screen configuration (C05) is reused before it is fetched again.
    config_refresh_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Inactivity (WCAG 2.2.1): warning after idle_seconds (pin_idle_seconds on the PIN pad),
    # then a countdown of warning_seconds with a one-tap "continue", then wipe.
    idle_seconds: int = Field(default=60, ge=5, le=600)
    pin_idle_seconds: int = Field(default=120, ge=5, le=600)
    warning_seconds: int = Field(default=20, ge=20, le=120)
    # The take-certificate reminder stays until the paper is taken or this many seconds pass.
    take_certificate_seconds: int = Field(default=60, ge=5, le=600)
    # Card reader: see `card` (virtual | pcsc). Printer and cash unit:
    printer: Literal["simulator", "cups"] = "simulator"
    cups_destination: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.@-]{1,127}$")
    # Seconds a CUPS job may take before it counts as failed.
    print_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    cash_unit: Literal["simulator"] = "simulator"
    heartbeat_seconds: float = Field(default=30.0, ge=0, le=3600)
    # The receipt outbox (kiosk.outbox): receipts not yet acknowledged by the center survive a
    # restart here; money data only, never certificate or personal data (C08).
    # None: `<user data dir>/kiosk/receipts-<kiosk_id>.json`.
    outbox_path: Path | None = None
    # Whether the smartphone app takes applications (the center's app API is live): only then
    # may a refusal point residents to it (no passport on file: "apply once with the app").
    app_available: bool = False
    # Demo mode: the reader starts empty and /demo offers a panel that inserts virtual cards,
    # takes paper, jams the printer and inserts coins. Never on in production.
    demo: bool = False

    @field_validator("center_url")
    @classmethod
    def _center_is_https(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("https://") or value.endswith("/")):
            raise ValueError("must be an https:// URL without a trailing slash (C09)")
        return value


class Settings(BaseSettings):
    """The effective configuration of a vaxcert process."""

    model_config = SettingsConfigDict(
        env_prefix="VAXCERT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    # Production unless asked: only "development" (`vaxcert --dev`, `vaxcert demo`) and "test" (the
    # test stack) accept the development PKI, the dev J-LIS CA and the kiosk demo panel, and they
    # log a warning at every use of that trust. Production refuses all of it.
    environment: Literal["development", "test", "production"] = "production"
    pki_dir: Path = Field(default_factory=lambda: user_data_dir() / "pki")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    listeners: Listeners = Listeners()
    tls: TlsSettings = TlsSettings()
    verifier: VerifierSettings = VerifierSettings()
    card: CardSettings = CardSettings()
    vrs: VrsSettings = VrsSettings()
    kiosk: KioskSettings = KioskSettings()
    workers: int = Field(default=2, ge=1, le=64)
    threads: int = Field(default=8, ge=1, le=256)
    # How long one read or write on a client connection may wait inside a request thread: a
    # client that stalls mid-request frees its thread after this many seconds.
    client_io_timeout: float = Field(default=10.0, gt=0, le=300)
    redis_url: str | None = None
    # Every Redis key starts with this, so deployments (and test runs) sharing a server never mix.
    redis_prefix: str = Field(default="vaxcert:", pattern=r"^[A-Za-z0-9:_-]{1,64}$")
    issuer_url: str = "https://127.0.0.1:8446/issuer"
    demo_kiosks: list[str] = ["KIOSK-0001", "KIOSK-0002"]
    center: CenterSettings = CenterSettings()
    signer: SignerSettings = SignerSettings()
    # Signs Flask session and CSRF tokens; a fresh random value per process unless configured.
    secret_key: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))

    @field_validator("issuer_url")
    @classmethod
    def _issuer_is_https_without_trailing_slash(cls, value: str) -> str:
        if not value.startswith("https://") or value.endswith("/"):
            raise ValueError("must be an https:// URL without a trailing slash (SHC spec)")
        return value

    @field_validator("demo_kiosks")
    @classmethod
    def _kiosk_ids_are_plain(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value or not all(c.isascii() and (c.isalnum() or c == "-") for c in value):
                raise ValueError(f"kiosk id {value!r} may hold only ASCII letters, digits and '-'")
        return values

    @model_validator(mode="after")
    def _center_answers_before_the_kiosk_gives_up(self) -> Settings:
        deadline = self.center.admission.deadline_seconds
        if deadline >= self.kiosk.center_timeout_seconds:
            raise ValueError(
                f"VAXCERT_CENTER__ADMISSION__DEADLINE_SECONDS ({deadline}) must be below "
                f"VAXCERT_KIOSK__CENTER_TIMEOUT_SECONDS ({self.kiosk.center_timeout_seconds}): "
                "the kiosk would give up before the center answers"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("VAXCERT_CONFIG")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)

    def signer_state_dir(self) -> Path:
        """The signer's key-state directory (configured, or ``signer-state`` in the PKI dir)."""
        return (self.signer.state_dir or self.pki_dir / "signer-state").resolve()

    def url(self, listener: str) -> str:
        """The base URL of a listening surface, by its name in :class:`Listeners`."""
        where: Listener = getattr(self.listeners, listener)
        scheme = "http" if listener == "kiosk" else "https"
        return f"{scheme}://{where.host}:{where.port}"


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build and validate the settings; a bad value raises :class:`ConfigError` naming it."""
    previous = os.environ.get("VAXCERT_CONFIG")
    try:
        if config_file is not None:
            path = Path(config_file)
            if not path.is_file():
                raise ConfigError("VAXCERT_CONFIG", f"file {path} does not exist")
            os.environ["VAXCERT_CONFIG"] = str(path)
        elif previous and not Path(previous).is_file():
            raise ConfigError("VAXCERT_CONFIG", f"file {previous} does not exist")
        try:
            settings = Settings(**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            # A check across settings has no location of its own: its message names them.
            setting = "VAXCERT_" + "__".join(str(part).upper() for part in first["loc"])
            if not first["loc"]:
                setting = "VAXCERT_*"
            raise ConfigError(setting, first["msg"]) from None
        except ValueError as exc:  # e.g. a TOML syntax error
            raise ConfigError("VAXCERT_CONFIG", str(exc)) from None
    finally:
        if config_file is not None:
            if previous is None:
                os.environ.pop("VAXCERT_CONFIG", None)
            else:
                os.environ["VAXCERT_CONFIG"] = previous
    return settings.model_copy(update={"pki_dir": settings.pki_dir.resolve()})


_SECRET_NAMES = ("secret", "password", "key", "token")
# Names that contain "key" but hold public data (the card CA key table, C03).
_PUBLIC_NAMES = frozenset({"key_id", "public_key"})


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data with every secret masked, for `vaxcert config show`."""

    def mask(node: Any, name: str = "") -> Any:
        if isinstance(node, dict):
            return {key: mask(value, key) for key, value in node.items()}
        if isinstance(node, list):
            return [mask(value, name) for value in node]
        secret = name not in _PUBLIC_NAMES and any(word in name for word in _SECRET_NAMES)
        if isinstance(node, str) and secret and node:
            return "********"
        if isinstance(node, str) and name == "redis_url" and "@" in node:
            scheme, _, rest = node.partition("://")
            return f"{scheme}://********@{rest.rpartition('@')[2]}"
        return node

    data = json.loads(settings.model_dump_json())
    return dict(mask(data))


def settings_from(ctx: click.Context) -> Settings:
    """The validated settings of this invocation; a bad setting ends it with its name."""
    obj: dict[str, Any] = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(obj.get("config_file"), **obj.get("overrides", {}))
        except ConfigError as exc:
            raise click.ClickException(f"invalid configuration: {exc.detail}") from None
    settings: Settings = obj["settings"]
    return settings
