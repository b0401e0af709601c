"""One typed settings model for every service.

Sources, highest priority first: explicit overrides, ``VAXCERT_*`` environment variables (nested
with ``__``, e.g. ``VAXCERT_LISTENERS__VRS__PORT=9441``), an optional TOML file (``VAXCERT_CONFIG``
or ``--config``), then the embedded defaults, which run the whole product on loopback.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vaxcert.errors import ConfigError

TlsMode = Literal["mtls", "tls", "plain"]


class Listener(BaseModel):
    """Where one service surface listens."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


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
    data_dir: Path = Path("var/vrs")
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


class Settings(BaseSettings):
    """The effective configuration of a vaxcert process."""

    model_config = SettingsConfigDict(
        env_prefix="VAXCERT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    environment: Literal["development", "test", "production"] = "development"
    pki_dir: Path = Path("certs_dev/generated")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    listeners: Listeners = Listeners()
    tls: TlsSettings = TlsSettings()
    vrs: VrsSettings = VrsSettings()
    workers: int = Field(default=2, ge=1, le=64)
    threads: int = Field(default=8, ge=1, le=256)
    redis_url: str | None = None
    issuer_url: str = "https://127.0.0.1:8446/issuer"
    demo_kiosks: list[str] = ["KIOSK-0001", "KIOSK-0002"]
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

    def url(self, listener: str) -> str:
        """The base URL of a listening surface, by its name in :class:`Listeners`."""
        where: Listener = getattr(self.listeners, listener)
        scheme = "http" if listener in ("kiosk", "verifier") else "https"
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
            setting = "VAXCERT_" + "__".join(str(part).upper() for part in first["loc"])
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


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data with every secret masked, for `vaxcert config show`."""

    def mask(node: Any, name: str = "") -> Any:
        if isinstance(node, dict):
            return {key: mask(value, key) for key, value in node.items()}
        if isinstance(node, list):
            return [mask(value, name) for value in node]
        if isinstance(node, str) and any(word in name for word in _SECRET_NAMES) and node:
            return "********"
        if isinstance(node, str) and name == "redis_url" and "@" in node:
            scheme, _, rest = node.partition("://")
            return f"{scheme}://********@{rest.rpartition('@')[2]}"
        return node

    data = json.loads(settings.model_dump_json())
    return dict(mask(data))
