"""The app's side of the app API protocol: transport, registration, challenges, signed requests.

Everything here is what a real app team builds into the app; :class:`DevPlatform` is the one
stand-in (for Play Integrity / App Attest), and docs/app-api.md says what replaces it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vaxcert import attestation, pki
from vaxcert.errors import VaxcertError

CERTIFICATES_PATH = "/api/v1/app/certificates"
Attest = Callable[[ec.EllipticCurvePublicKey, str], list[str]]


class Transport(Protocol):
    """One HTTP exchange with the app API: (status, JSON body, headers)."""

    def __call__(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]: ...


class HttpsTransport:
    """HTTPS to the app API, trusting only ``ca_file`` (C10); one kept-alive session."""

    def __init__(self, base_url: str, ca_file: Path, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False  # platform.md: the environment overrides `verify`
        self.ca_file = str(ca_file)
        self.timeout = timeout

    def __call__(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                data=body,
                headers={"Content-Type": "application/json", **headers} if body else headers,
                verify=self.ca_file,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise VaxcertError("service_unavailable", type(exc).__name__) from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        return response.status_code, data if isinstance(data, dict) else {}, dict(response.headers)


class DevPlatform:
    """The development platform attestation service: signs statements with the dev
    attestation CA of ``pki_dir`` (a real app asks Play Integrity / App Attest instead)."""

    def __init__(self, pki_dir: Path, app_id: str) -> None:
        key = pki.load_key(pki.key_path(pki_dir, "attest-ca"))
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the attestation CA key is not an EC key")
        self.key = key
        self.cert = pki.load_cert(pki.cert_path(pki_dir, "attest-ca"))
        self.app_id = app_id

    def __call__(self, instance_key: ec.EllipticCurvePublicKey, challenge: str) -> list[str]:
        return attestation.dev_attestation(
            self.cert, self.key, instance_key, self.app_id, challenge
        )


@dataclass
class InstanceState:
    """The app instance: its key pair (never leaves the state dir) and its registered id."""

    directory: Path
    key: ec.EllipticCurvePrivateKey
    instance_id: str | None = None

    @classmethod
    def load_or_create(cls, directory: Path) -> InstanceState:
        """The instance kept in ``directory``, or a fresh key pair written there (0600)."""
        directory.mkdir(parents=True, exist_ok=True)
        key_file = directory / "instance-key.pem"
        if key_file.exists():
            key = serialization.load_pem_private_key(key_file.read_bytes(), None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_file} is not an EC key")
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            pki.write_private(
                key_file,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
        state = cls(directory, key)
        info = directory / "instance.json"
        if info.exists():
            state.instance_id = json.loads(info.read_text()).get("instance_id")
        return state

    def save(self, instance_id: str) -> None:
        """Remember the registered id."""
        self.instance_id = instance_id
        info = self.directory / "instance.json"
        info.write_text(json.dumps({"instance_id": instance_id}) + "\n")
        os.chmod(info, 0o600)

    def forget(self) -> None:
        """Drop the registration (the server no longer knows it): register again next time."""
        self.instance_id = None
        (self.directory / "instance.json").unlink(missing_ok=True)


class AppApiRefusalError(VaxcertError):
    """The app API refused; ``code`` is its reason code."""


class AppClient:
    """The app's calls: config, challenges, registration, a signed application."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        status, data, _ = self.transport(method, path, raw, headers or {})
        if status >= 400:
            error = data.get("error")
            code = str(error.get("code", "internal_error")) if isinstance(error, dict) else ""
            code = code or ("service_unavailable" if status >= 500 else "bad_request")
            try:
                raise AppApiRefusalError(code, f"HTTP {status}")
            except KeyError:  # a code this client does not know
                raise VaxcertError("service_unavailable", f"HTTP {status} {code}") from None
        return data

    def config(self) -> dict[str, Any]:
        """Terms (C07) and municipalities."""
        return self._call("GET", "/api/v1/app/config")

    def challenge(self, purpose: str, instance_id: str | None = None) -> str:
        """A fresh single-use challenge."""
        body: dict[str, Any] = {"purpose": purpose}
        if instance_id is not None:
            body["instance_id"] = instance_id
        return str(self._call("POST", "/api/v1/app/challenges", body)["challenge"])

    def register(self, state: InstanceState, platform: Attest) -> str:
        """Register ``state``'s key with the platform's attestation; keeps the id in ``state``."""
        challenge = self.challenge("register")
        chain = platform(state.key.public_key(), challenge)
        answer = self._call(
            "POST", "/api/v1/app/instances", {"challenge": challenge, "attestation": chain}
        )
        state.save(str(answer["instance_id"]))
        return str(answer["instance_id"])

    def apply(self, state: InstanceState, body: dict[str, Any]) -> dict[str, Any]:
        """One signed application (C06): a challenge for this instance, the signature over the
        challenge and the exact body bytes."""
        assert state.instance_id is not None
        challenge = self.challenge("apply", state.instance_id)
        raw = json.dumps(body, ensure_ascii=False).encode()
        signature = attestation.sign_request(state.key, "POST", CERTIFICATES_PATH, challenge, raw)
        headers = {
            attestation.INSTANCE_HEADER: state.instance_id,
            attestation.CHALLENGE_HEADER: challenge,
            attestation.SIGNATURE_HEADER: signature,
        }
        return self._call("POST", CERTIFICATES_PATH, raw, headers)
