"""``vaxcert trust refresh``: fetch the JWKS and CRLs of *trusted* issuers and record when.

Only entries of trust.toml are fetched (an untrusted issuer's keys are never fetched). Each
download is validated before it replaces the file it updates (written atomically); an entry whose
download fails keeps its old files and its old refresh time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier import _x509
from verifier._uvci import UvciListError, UvciRevocations, parse_uvci_list
from verifier.clients import FetchError, TrustFetcher
from verifier.trust import (
    STATE,
    TrustedCsca,
    TrustStore,
    TrustStoreError,
    default_jwks_path,
    index_path,
    load_trust_store,
    parse_jwks,
    parse_shc_crl,
    read_state,
)


@dataclass
class RefreshReport:
    """What a refresh updated and what failed."""

    updated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step (a temp file in the same directory, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def refresh(store: Path, fetcher: TrustFetcher) -> RefreshReport:
    """Fetch and validate every trusted entry's published data; record the time per entry."""
    index = index_path(store)
    root = index.parent
    try:
        config = tomllib.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TrustStoreError(f"{index}: {exc}") from None
    state = read_state(root)
    report = RefreshReport()
    for entry in config.get("shc", []):
        iss = str(entry.get("iss", ""))
        try:
            _refresh_shc(root, entry, iss, fetcher)
        except (FetchError, TrustStoreError) as exc:
            report.failed.append(f"{iss}: {exc}")
            continue
        state.setdefault("shc", {})[iss] = report.at.isoformat()
        report.updated.append(iss)
    for entry in config.get("csca", []):
        if not entry.get("crl_url") and not entry.get("uvci_list_url"):
            continue
        key = str(entry.get("name") or (entry.get("certificates") or ["?"])[0])
        try:
            if entry.get("crl_url"):
                _refresh_csca_crl(root, entry, fetcher)
            if entry.get("uvci_list_url"):
                # Validated against the store as it is now (its CSCA CRL just refreshed).
                _refresh_uvci_list(root, entry, load_trust_store(index), fetcher)
        except (FetchError, TrustStoreError, UvciListError, _x509.X509Error) as exc:
            report.failed.append(f"{key}: {exc}")
            continue
        state.setdefault("csca", {})[key] = report.at.isoformat()
        report.updated.append(key)
    write_atomic(root / STATE, json.dumps(state, indent=2, ensure_ascii=False).encode("utf-8"))
    return report


def fetch_shc(iss: str, jwks_url: str, fetcher: TrustFetcher) -> tuple[Any, dict[str, bytes]]:
    """An issuer's JWKS and the rid CRL of each of its keys with ``crlVersion``, validated: the
    JWKS (its parsed JSON) and the CRL bodies by kid. Raises :class:`FetchError` or
    :class:`TrustStoreError`."""
    if not iss.startswith("https://") or iss.endswith("/"):
        raise TrustStoreError("iss must be an https URL without a trailing slash")
    body = fetcher.get(jwks_url)
    try:
        jwks = json.loads(body)
    except ValueError:
        raise TrustStoreError("JWKS is not JSON") from None
    # Validates shape, refuses private keys (d) and drops keys whose kid is not their thumbprint.
    keys = parse_jwks(jwks, iss)
    if not keys:
        raise TrustStoreError("JWKS holds no usable ES256 key")
    crls: dict[str, bytes] = {}
    for kid, key in keys.items():
        if key.crl_version is None:
            continue
        crl_body = fetcher.get(f"{iss}/.well-known/crl/{kid}.json")
        try:
            parsed = parse_shc_crl(json.loads(crl_body), iss)
        except ValueError:
            raise TrustStoreError(f"CRL of {kid} is not JSON") from None
        if parsed.kid != kid:
            raise TrustStoreError(f"CRL fetched for {kid} names kid {parsed.kid}")
        crls[kid] = crl_body
    return jwks, crls


def fetch_csca_crl(url: str, cscas: list[_x509.Certificate], fetcher: TrustFetcher) -> _x509.Crl:
    """The CRL at ``url``, only if one of ``cscas`` signed it. Raises :class:`FetchError`,
    :class:`TrustStoreError` or :class:`~verifier._x509.X509Error`."""
    crl = _x509.parse_crl(fetcher.get(url))
    if not any(
        crl.issuer == c.subject and _x509.signature_holds(crl.signed, c.public_key) for c in cscas
    ):
        raise TrustStoreError("fetched CRL is not signed by this entry's CSCA")
    return crl


def _refresh_shc(root: Path, entry: dict[str, Any], iss: str, fetcher: TrustFetcher) -> None:
    url = str(entry.get("jwks_url") or f"{iss}/.well-known/jwks.json")
    jwks, crls = fetch_shc(iss, url, fetcher)
    jwks_path = (root / str(entry.get("jwks") or default_jwks_path(iss))).resolve()
    # Only the public members are written (what parse_jwks accepted is public by construction).
    write_atomic(jwks_path, json.dumps(jwks, indent=2).encode("utf-8"))
    for kid, crl_body in crls.items():
        write_atomic(jwks_path.parent / "crl" / f"{kid}.json", crl_body)


def _refresh_csca_crl(root: Path, entry: dict[str, Any], fetcher: TrustFetcher) -> None:
    targets = entry.get("crls") or []
    if not targets:
        raise TrustStoreError("crl_url is set but crls names no file to keep it in")
    cscas = []
    for file in entry.get("certificates", []):
        for der in _x509.pem_blocks((root / file).read_bytes()):
            cscas.append(_x509.parse_certificate(der))
    crl = fetch_csca_crl(str(entry["crl_url"]), cscas, fetcher)
    write_atomic((root / str(targets[0])).resolve(), crl.der)


def fetch_uvci_list(
    url: str, store: TrustStore, fetcher: TrustFetcher
) -> tuple[UvciRevocations, list[TrustedCsca]]:
    """The issuer's list of revoked certificate ids at ``url``, verified against ``store``: the
    list and the CSCAs it speaks for. Raises :class:`FetchError` or :class:`UvciListError`."""
    body = fetcher.get(url)
    revocations, anchors = parse_uvci_list(
        body.decode("ascii", "replace"), store, dt.datetime.now(dt.UTC)
    )
    # An older list (a replay of one from before a revocation) never replaces a newer one.
    held = max((c.uvci_list.ctr for c in anchors if c.uvci_list is not None), default=0)
    if revocations.ctr < held:
        raise UvciListError(f"older than the list held (ctr {revocations.ctr} < {held})")
    return revocations, anchors


def _refresh_uvci_list(
    root: Path, entry: dict[str, Any], store: TrustStore, fetcher: TrustFetcher
) -> None:
    target = entry.get("uvci_list")
    if not target:
        raise TrustStoreError("uvci_list_url is set but uvci_list names no file to keep it in")
    revocations, _ = fetch_uvci_list(str(entry["uvci_list_url"]), store, fetcher)
    write_atomic((root / str(target)).resolve(), revocations.text.encode("ascii"))
