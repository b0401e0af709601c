"""The signer's key state: which key is active, which public keys stay published, the CRLs and the
rid secret, kept in one directory and always written atomically (temp file, fsync, rename).

Layout of ``<state_dir>`` (docs/signer.md):
``state.json`` (this model), ``rid-secret`` (0600), ``keys/`` (generated key files 0600, chains,
BSC certificates, certificate requests) and ``.lock`` (serialises writers: the CLI and service
workers).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vaxcert.errors import VaxcertError

Status = Literal["active", "retired", "compromised"]


class KeyRef(BaseModel):
    """Where a private key lives: a PEM file, or an object on the PKCS#11 token (by CKA_ID)."""

    model_config = ConfigDict(extra="forbid")

    custody: Literal["file", "pkcs11"]
    path: str | None = None
    key_id: str | None = None
    label: str | None = None


class ShcKey(BaseModel):
    """One SHC issuer key: its public JWK, its x5c chain file, its CRL."""

    model_config = ConfigDict(extra="forbid")

    kid: str
    jwk: dict[str, str]
    key: KeyRef
    chain: str | None = None  # PEM: leaf first
    created: int
    status: Status
    crl_ctr: int = Field(default=1, ge=1)
    crl_rids: list[str] = []


class BscKey(BaseModel):
    """One VDS-NC barcode signer key with its certificate (DER file)."""

    model_config = ConfigDict(extra="forbid")

    serial: str  # hex
    kid: str
    key: KeyRef
    certificate: str
    created: int
    status: Status


class PendingBscKey(BaseModel):
    """A barcode signer key whose certificate the CSCA has not returned yet (CSR sent)."""

    model_config = ConfigDict(extra="forbid")

    kid: str
    key: KeyRef
    created: int
    csr: str  # PEM file of the request, in keys/


class KeyState(BaseModel):
    """The whole state file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    shc_active: str
    shc_keys: list[ShcKey]
    # None until the first certificate from an external CSCA is imported (production start).
    bsc_active: str | None
    bsc_keys: list[BscKey]
    bsc_pending: list[PendingBscKey] = []
    # Certificate ids revoked with `vaxcert signer revoke`: a VDS-NC (uvci) has no revocation of
    # its own, so the signed list of their digests is published beside the SHC CRLs.
    revoked_certificate_ids: list[str] = []
    revoked_ctr: int = Field(default=1, ge=1)

    def shc(self, kid: str) -> ShcKey:
        """The SHC key ``kid``."""
        for key in self.shc_keys:
            if key.kid == kid:
                return key
        raise KeyError(kid)

    def bsc(self, serial: str) -> BscKey:
        """The BSC with hex serial ``serial``."""
        for key in self.bsc_keys:
            if key.serial == serial:
                return key
        raise KeyError(serial)


class StateStore:
    """Reads and atomically writes the state directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.state_file = directory / "state.json"
        self.secret_file = directory / "rid-secret"
        self.keys_dir = directory / "keys"
        self.lock_file = directory / ".lock"

    def exists(self) -> bool:
        """Whether the state was initialised."""
        return self.state_file.is_file()

    def prepare(self) -> None:
        """Create the directories (0700)."""
        for directory in (self.directory, self.keys_dir):
            directory.mkdir(parents=True, exist_ok=True)
            os.chmod(directory, 0o700)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the writer lock (one read-modify-write at a time, across processes)."""
        self.prepare()
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def stamp(self) -> tuple[int, int, int, int] | None:
        """Identity of the current state file; changes whenever it is replaced."""
        try:
            st = os.stat(self.state_file)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)

    def load(self) -> KeyState:
        """The state; missing or invalid state is a typed error."""
        try:
            text = self.state_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise VaxcertError(
                "signer_state_invalid", "no key state (run `vaxcert signer init`)"
            ) from None
        try:
            return KeyState.model_validate_json(text)
        except ValidationError:
            raise VaxcertError("signer_state_invalid", "state.json does not validate") from None

    def save(self, state: KeyState) -> None:
        """Replace the state file atomically."""
        self.write_atomic(self.state_file, (state.model_dump_json(indent=2) + "\n").encode())

    def write_atomic(self, path: Path, data: bytes, mode: int = 0o644) -> None:
        """Write ``data`` to ``path`` so readers see the old or the new file, never a mix."""
        self.prepare()
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def rid_secret(self) -> str:
        """The secret of revocation ids (HMAC key with the kid appended)."""
        try:
            return self.secret_file.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise VaxcertError("signer_state_invalid", "the rid secret is missing") from None

    def create_rid_secret(self) -> None:
        """Make the rid secret once (0600); an existing one is kept."""
        if not self.secret_file.exists():
            self.write_atomic(self.secret_file, secrets.token_urlsafe(32).encode(), mode=0o600)

    def path(self, stored: str) -> Path:
        """A stored path: absolute as written, or relative to the state directory."""
        candidate = Path(stored)
        return candidate if candidate.is_absolute() else self.directory / candidate

    def relative(self, path: Path) -> str:
        """How to store ``path``: relative when inside the state directory."""
        try:
            return str(path.resolve().relative_to(self.directory.resolve()))
        except ValueError:
            return str(path.resolve())
