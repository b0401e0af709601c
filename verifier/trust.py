"""The verifier's trust store: trusted SHC issuers (JWKS, rid CRLs) and VDS-NC CSCAs (certs, CRLs).

On disk a trust store is a directory holding ``trust.toml`` (docs/verifier.md); paths in it are
relative to that directory. ``state.json`` beside it records when each entry's data was last
fetched by ``vaxcert trust refresh``. Verification fetches nothing, except through a store's
:attr:`TrustStore.live` updater (the demo's development store, :mod:`verifier.live`); keys come
only from here, and only trusted issuers' keys are ever fetched.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import json
import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec

from vaxcert.errors import VaxcertError
from vaxcert.formats import FormatError, jose
from vaxcert.policy import Success, warn
from verifier import _x509
from verifier._uvci import UvciListError, UvciRevocations, parse_uvci_list

if TYPE_CHECKING:
    from verifier.live import LiveRevocation

log = logging.getLogger(__name__)

INDEX = "trust.toml"
STATE = "state.json"
# The page refreshes trust data every 900 s (verifier.refresh_interval_seconds): a day of
# failing refreshes (96 missed) must show as stale, not look green for a week (issue 19).
DEFAULT_STALE_AFTER = dt.timedelta(hours=24)


class TrustStoreError(VaxcertError):
    """The trust store (or a trust anchor given on the command line) cannot be used."""

    def __init__(self, detail: str) -> None:
        super().__init__("trust_store_invalid", detail)


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One SHC issuer key from a trusted JWKS."""

    kid: str
    public_key: ec.EllipticCurvePublicKey
    crl_version: int | None = None
    x5c: tuple[_x509.Certificate, ...] = ()
    x5c_error: str | None = None


@dataclass(frozen=True, slots=True)
class ShcRevocations:
    """An SHC rid CRL (``ISS/.well-known/crl/KID.json``)."""

    kid: str
    ctr: int
    rids: tuple[str, ...]


@dataclass(slots=True)
class ShcIssuer:
    """A trusted SMART Health Cards issuer."""

    iss: str
    name: str
    keys: dict[str, TrustedKey] = field(default_factory=dict)
    crls: dict[str, ShcRevocations] = field(default_factory=dict)
    updated_at: dt.datetime | None = None
    jwks_url: str = ""
    x5c_roots: tuple[_x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        if not self.jwks_url:
            self.jwks_url = f"{self.iss}/.well-known/jwks.json"

    def crl_url(self, kid: str) -> str:
        """Where the issuer publishes the rid CRL of ``kid`` (SHC spec)."""
        return f"{self.iss}/.well-known/crl/{kid}.json"


@dataclass(slots=True)
class TrustedCsca:
    """A trusted VDS-NC country signing CA certificate and the CRLs it signed."""

    name: str
    country: str | None  # the ICAO alpha-3 code VDS-NC headers carry in ``is``
    cert: _x509.Certificate
    crls: list[_x509.Crl] = field(default_factory=list)  # signature verified with cert
    bad_crls: list[_x509.Crl] = field(default_factory=list)  # issued in its name, bad signature
    updated_at: dt.datetime | None = None
    crl_url: str | None = None
    # The issuer's signed list of revoked certificate ids (VDS-NC uvci; verifier/_uvci.py), where
    # it is fetched from, and when it was last fetched. No list: a single certificate's
    # revocation is not checked.
    uvci_list_url: str | None = None
    uvci_list: UvciRevocations | None = None
    uvci_list_at: dt.datetime | None = None

    def issued(self, crl: _x509.Crl) -> bool:
        """Whether ``crl`` claims to come from this CSCA (issuer name, and key id when both have
        one: a link certificate of an older key shares the name but not the key id)."""
        if crl.issuer != self.cert.subject:
            return False
        return crl.aki is None or self.cert.ski is None or crl.aki == self.cert.ski


class TrustStore:
    """Trusted SHC issuers and VDS-NC CSCAs, held in memory and read-only while verifying."""

    def __init__(self, stale_after: dt.timedelta = DEFAULT_STALE_AFTER) -> None:
        self.stale_after = stale_after
        self.shc: dict[str, ShcIssuer] = {}
        self.cscas: list[TrustedCsca] = []
        self.source: Path | None = None
        self.tls_ca: Path | None = None
        self.load_warnings: list[str] = []
        # Set on a store that fetches its issuers' keys and revocation lists while verifying.
        self.live: LiveRevocation | None = None
        # (BSC DER, CSCA DER) -> whether the CSCA's key verifies the BSC. Both are immutable, so
        # the answer is too; it keeps VDS-NC verification within its budget (design.md §5).
        self._chain_cache: dict[tuple[bytes, bytes], bool] = {}

    @property
    def empty(self) -> bool:
        """Whether nothing at all is trusted."""
        return not self.shc and not self.cscas

    # SHC issuers ---------------------------------------------------------------------------

    def add_shc_issuer(
        self,
        iss: str,
        name: str | None,
        jwks: Mapping[str, Any],
        crls: Iterable[Mapping[str, Any]] = (),
        updated_at: dt.datetime | None = None,
        jwks_url: str | None = None,
        x5c_roots: Iterable[bytes] = (),
    ) -> ShcIssuer:
        """Trust ``iss`` with the keys of ``jwks``; keys whose kid is not their thumbprint are
        dropped with a load warning, and a JWKS holding private key material is refused."""
        if iss in self.shc:
            raise TrustStoreError(f"SHC issuer {iss} is listed twice")
        issuer = ShcIssuer(
            iss=iss,
            name=name or iss,
            jwks_url=jwks_url or "",
            x5c_roots=tuple(_parse_cert(data, f"x5c root of {iss}") for data in x5c_roots),
        )
        self.shc[iss] = self._with_keys(issuer, jwks, crls, updated_at, self.load_warnings)
        return self.shc[iss]

    def replace_shc_keys(
        self,
        iss: str,
        jwks: Mapping[str, Any],
        crls: Iterable[Mapping[str, Any]],
        updated_at: dt.datetime,
    ) -> ShcIssuer:
        """Put freshly fetched keys and CRLs in place of a trusted issuer's (same name, URL and
        x5c roots); the issuer object is swapped whole, so a verification running meanwhile
        sees either the old data or the new, never a mix."""
        old = self.shc[iss]
        fresh = ShcIssuer(iss=iss, name=old.name, jwks_url=old.jwks_url, x5c_roots=old.x5c_roots)
        # Not kept in load_warnings: a live store replaces its keys for as long as it runs.
        dropped: list[str] = []
        self.shc[iss] = self._with_keys(fresh, jwks, crls, updated_at, dropped)
        for warning in dropped:
            log.warning("trust store: %s", warning)
        return self.shc[iss]

    def _with_keys(
        self,
        issuer: ShcIssuer,
        jwks: Mapping[str, Any],
        crls: Iterable[Mapping[str, Any]],
        updated_at: dt.datetime | None,
        warnings: list[str],
    ) -> ShcIssuer:
        iss = issuer.iss
        keys = parse_jwks(jwks, iss, warnings)
        # The chain's shape and signatures do not depend on the time of verification: check them
        # once here, so each verification only compares validity windows.
        issuer.keys = {
            kid: replace(key, x5c_error=key.x5c_error or x5c_problem(key, iss, issuer.x5c_roots))
            if key.x5c
            else key
            for kid, key in keys.items()
        }
        for crl in crls:
            revocations = parse_shc_crl(crl, iss)
            if revocations.kid not in issuer.keys:
                warnings.append(f"{iss}: CRL for unknown kid {revocations.kid} ignored")
                continue
            issuer.crls[revocations.kid] = revocations
        issuer.updated_at = updated_at
        return issuer

    def shc_issuer(self, iss: str) -> ShcIssuer | None:
        """The trusted issuer ``iss`` exactly as listed, or None."""
        return self.shc.get(iss)

    # VDS-NC CSCAs --------------------------------------------------------------------------

    def add_csca(
        self,
        data: bytes,
        name: str | None = None,
        country: str | None = None,
        updated_at: dt.datetime | None = None,
        crl_url: str | None = None,
        uvci_list_url: str | None = None,
    ) -> list[TrustedCsca]:
        """Trust every certificate of a DER file or PEM bundle as a CSCA."""
        added = []
        for der in _x509.pem_blocks(data):
            cert = _parse_cert(der, "CSCA certificate")
            if not cert.is_ca:
                self.load_warnings.append(f"CSCA {cert.subject_text} is not marked as a CA")
            csca = TrustedCsca(
                name=name or cert.subject_text,
                country=country,
                cert=cert,
                updated_at=updated_at,
                crl_url=crl_url,
                uvci_list_url=uvci_list_url,
            )
            self.cscas.append(csca)
            added.append(csca)
        return added

    def add_crl(self, data: bytes, source: str = "CRL") -> int:
        """Attach a CSCA CRL to every trusted CSCA that issued it, checking its signature with
        each; returns how many CSCAs it was attached to."""
        attached = 0
        for der in _x509.pem_blocks(data):
            try:
                crl = _x509.parse_crl(der)
            except _x509.X509Error as exc:
                raise TrustStoreError(f"{source}: {exc}") from None
            issuers = [csca for csca in self.cscas if csca.issued(crl)]
            if not issuers:
                self.load_warnings.append(
                    f"{source}: no trusted CSCA issued it ({crl.issuer_text})"
                )
            for csca in issuers:
                if _x509.signature_holds(crl.signed, csca.cert.public_key):
                    csca.crls.append(crl)
                else:
                    csca.bad_crls.append(crl)
            attached += len(issuers)
        return attached

    def replace_crl(self, csca: TrustedCsca, crl: _x509.Crl, updated_at: dt.datetime) -> None:
        """Put a freshly fetched CRL, already checked to be signed by ``csca``, in place of the
        CRLs it held (the entry is swapped whole, as :meth:`replace_shc_keys` does)."""
        fresh = replace(csca, crls=[crl], bad_crls=[], updated_at=updated_at)
        self.cscas = [fresh if entry is csca else entry for entry in self.cscas]

    def replace_uvci_list(
        self, cscas: list[TrustedCsca], revocations: UvciRevocations, fetched_at: dt.datetime
    ) -> None:
        """Attach a verified list of revoked certificate ids to the CSCAs it speaks for (entries
        swapped whole, as :meth:`replace_crl` does)."""
        chosen = {id(csca) for csca in cscas}
        self.cscas = [
            replace(entry, uvci_list=revocations, uvci_list_at=fetched_at)
            if id(entry) in chosen
            else entry
            for entry in self.cscas
        ]

    def cscas_for(self, bsc: _x509.Certificate) -> list[TrustedCsca]:
        """Every trusted CSCA that may have issued ``bsc``: matching key identifier (several,
        e.g. link certificates, may share one) or, without one, matching name."""
        if bsc.aki is not None:
            return [c for c in self.cscas if c.cert.ski == bsc.aki]
        return [c for c in self.cscas if c.cert.subject == bsc.issuer]

    def chain_holds(self, bsc: _x509.Certificate, csca: TrustedCsca) -> bool:
        """Whether ``csca``'s key signed ``bsc`` (cached: both are immutable)."""
        key = (bsc.der, csca.cert.der)
        cached = self._chain_cache.get(key)
        if cached is None:
            cached = _x509.signature_holds(bsc.signed, csca.cert.public_key)
            if len(self._chain_cache) > 4096:
                self._chain_cache.clear()
            self._chain_cache[key] = cached
        return cached


def parse_jwks(
    jwks: Mapping[str, Any], iss: str, warnings: list[str] | None = None
) -> dict[str, TrustedKey]:
    """The usable ES256 keys of a JWKS by kid; private key material is refused outright."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise TrustStoreError(f"{iss}: JWKS has no keys list")
    found: dict[str, TrustedKey] = {}
    for entry in keys:
        if not isinstance(entry, Mapping):
            raise TrustStoreError(f"{iss}: JWKS entry is not an object")
        if "d" in entry:
            raise TrustStoreError(f"{iss}: JWKS holds private key material (d); refusing it")
        kid = str(entry.get("kid", ""))
        if entry.get("crv") != "P-256" or entry.get("alg", "ES256") != "ES256":
            _note(warnings, f"{iss}: key {kid} is not an ES256 P-256 key; ignored")
            continue
        if entry.get("use", "sig") != "sig":
            _note(warnings, f"{iss}: key {kid} is not a signing key; ignored")
            continue
        try:
            public_key = _x509.fast_key(jose.jwk_public_key(entry))
            thumbprint = jose.ec_thumbprint(entry)
        except FormatError as exc:
            _note(warnings, f"{iss}: key {kid} is malformed ({exc.detail}); ignored")
            continue
        if kid != thumbprint:
            _note(warnings, f"{iss}: key {kid} is not its JWK thumbprint; ignored")
            continue
        crl_version = entry.get("crlVersion")
        if crl_version is not None and (
            not isinstance(crl_version, int) or isinstance(crl_version, bool)
        ):
            raise TrustStoreError(f"{iss}: key {kid} has a non-integer crlVersion")
        chain, error = _x5c(entry.get("x5c"))
        found[kid] = TrustedKey(kid, public_key, crl_version, chain, error)
    return found


def x5c_problem(key: TrustedKey, iss: str, roots: tuple[_x509.Certificate, ...]) -> str | None:
    """Why the key's x5c chain is unacceptable, time aside (None when it is fine): the leaf
    certifies the key with SAN URI = iss, each certificate is issued and signed by the next, and
    the chain ends at one of ``roots`` when any are configured."""
    chain = key.x5c
    leaf = chain[0]
    if not leaf.same_key(key.public_key):
        return "leaf certificate does not hold the JWK's key"
    if iss not in leaf.uris:
        return "leaf SAN URI is not the issuer"
    for child, parent in itertools.pairwise(chain):
        if child.issuer != parent.subject or not parent.is_ca:
            return "chain order or CA flag is wrong"
        if not _x509.signature_holds(child.signed, parent.public_key):
            return "a chain signature does not verify"
    top = chain[-1]
    if roots and not any(
        root.der == top.der
        or (top.issuer == root.subject and _x509.signature_holds(top.signed, root.public_key))
        for root in roots
    ):
        return "chain does not end at a configured root"
    return None


def _x5c(value: Any) -> tuple[tuple[_x509.Certificate, ...], str | None]:
    if value is None:
        return (), None
    if not isinstance(value, list) or not value:
        return (), "x5c is not a list of certificates"
    chain = []
    for item in value:
        try:
            chain.append(_x509.parse_certificate(base64.b64decode(str(item), validate=True)))
        except (binascii.Error, _x509.X509Error) as exc:
            return (), f"x5c certificate unreadable: {exc}"
    return tuple(chain), None


def parse_shc_crl(body: Mapping[str, Any], iss: str) -> ShcRevocations:
    """An SHC rid CRL: ``{"kid","method":"rid","ctr","rids":[…]}``."""
    kid, ctr, rids = body.get("kid"), body.get("ctr"), body.get("rids")
    if body.get("method", "rid") != "rid":
        raise TrustStoreError(f"{iss}: CRL method {body.get('method')!r} is not rid")
    if (
        not isinstance(kid, str)
        or not isinstance(ctr, int)
        or isinstance(ctr, bool)
        or not isinstance(rids, list)
        or not all(isinstance(r, str) for r in rids)
    ):
        raise TrustStoreError(f"{iss}: CRL is not of the form kid, ctr, rids")
    return ShcRevocations(kid, ctr, tuple(rids))


def _note(warnings: list[str] | None, text: str) -> None:
    if warnings is not None:
        warnings.append(text)


def _parse_cert(data: bytes, what: str) -> _x509.Certificate:
    try:
        return _x509.parse_certificate(data)
    except _x509.X509Error as exc:
        raise TrustStoreError(f"{what}: {exc}") from None


# Loading from disk ------------------------------------------------------------------------


def index_path(path: Path) -> Path:
    """``trust.toml`` of a trust store given as its directory or as the file itself."""
    return path / INDEX if path.is_dir() else path


def load_trust_store(path: Path | str) -> TrustStore:
    """Load the trust store at ``path`` (its directory, or its TOML file)."""
    index = index_path(Path(path))
    if not index.is_file():
        raise TrustStoreError(f"{index} does not exist")
    root = index.parent
    try:
        config = tomllib.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TrustStoreError(f"{index}: {exc}") from None
    state = read_state(root)
    unknown = set(config) - {"stale_after_days", "tls_ca", "shc", "csca"}
    if unknown:
        raise TrustStoreError(f"{index}: unknown keys {sorted(unknown)}")
    stale_days = config.get("stale_after_days", DEFAULT_STALE_AFTER / dt.timedelta(days=1))
    if not isinstance(stale_days, int | float) or stale_days <= 0:
        raise TrustStoreError(f"{index}: stale_after_days must be a positive number")
    store = TrustStore(dt.timedelta(days=stale_days))
    store.source = index
    if "tls_ca" in config:
        store.tls_ca = _resolve(root, config["tls_ca"], "tls_ca")
    for number, entry in enumerate(_tables(config, "shc", index)):
        _load_shc_entry(store, root, entry, state, f"{index} [[shc]] #{number + 1}")
    for number, entry in enumerate(_tables(config, "csca", index)):
        _load_csca_entry(store, root, entry, state, f"{index} [[csca]] #{number + 1}")
    for warning in store.load_warnings:
        log.warning("trust store: %s", warning)
    return store


def _tables(config: dict[str, Any], key: str, index: Path) -> list[dict[str, Any]]:
    value = config.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TrustStoreError(f"{index}: {key} must be an array of tables ([[{key}]])")
    return value


def _resolve(root: Path, value: Any, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise TrustStoreError(f"{what} must be a path")
    return (root / value).resolve()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TrustStoreError(f"{what}: cannot read {path}: {exc.strerror}") from None


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(_read(path, what))
    except ValueError:
        raise TrustStoreError(f"{what}: {path} is not JSON") from None


_SHC_KEYS = {"iss", "name", "jwks", "jwks_url", "crls", "x5c_roots"}
_CSCA_KEYS = {"name", "country", "certificates", "crls", "crl_url", "uvci_list", "uvci_list_url"}


def _load_shc_entry(
    store: TrustStore, root: Path, entry: dict[str, Any], state: dict[str, Any], where: str
) -> None:
    unknown = set(entry) - _SHC_KEYS
    if unknown:
        raise TrustStoreError(f"{where}: unknown keys {sorted(unknown)}")
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss.startswith("https://") or iss.endswith("/"):
        raise TrustStoreError(f"{where}: iss must be an https URL without a trailing slash")
    jwks_path = _resolve(root, entry.get("jwks", default_jwks_path(iss)), f"{where} jwks")
    jwks = _read_json(jwks_path, where) if jwks_path.exists() else {"keys": []}
    if not jwks_path.exists():
        store.load_warnings.append(f"{iss}: no JWKS yet at {jwks_path} (run trust refresh)")
    crl_paths = [_resolve(root, p, f"{where} crls") for p in entry.get("crls", [])]
    crl_dir = jwks_path.parent / "crl"
    if crl_dir.is_dir():
        crl_paths += sorted(p.resolve() for p in crl_dir.glob("*.json"))
    crls = [_read_json(p, where) for p in dict.fromkeys(crl_paths)]
    roots = [
        _read(_resolve(root, p, f"{where} x5c_roots"), where) for p in entry.get("x5c_roots", [])
    ]
    store.add_shc_issuer(
        iss,
        entry.get("name"),
        jwks,
        crls,
        updated_at=_state_time(state, "shc", iss),
        jwks_url=entry.get("jwks_url"),
        x5c_roots=[der for data in roots for der in _x509.pem_blocks(data)],
    )


def _load_csca_entry(
    store: TrustStore, root: Path, entry: dict[str, Any], state: dict[str, Any], where: str
) -> None:
    unknown = set(entry) - _CSCA_KEYS
    if unknown:
        raise TrustStoreError(f"{where}: unknown keys {sorted(unknown)}")
    files = entry.get("certificates")
    if not isinstance(files, list) or not files:
        raise TrustStoreError(f"{where}: certificates must list at least one file")
    name = entry.get("name")
    country = entry.get("country")
    if country is not None and (not isinstance(country, str) or len(country) != 3):
        raise TrustStoreError(f"{where}: country must be the ICAO 3-letter code (e.g. JPN)")
    key = name or str(files[0])
    added: list[TrustedCsca] = []
    for file in files:
        path = _resolve(root, file, f"{where} certificates")
        added += store.add_csca(
            _read(path, where),
            name,
            country,
            updated_at=_state_time(state, "csca", key),
            crl_url=entry.get("crl_url"),
            uvci_list_url=entry.get("uvci_list_url"),
        )
    for file in entry.get("crls", []):
        path = _resolve(root, file, f"{where} crls")
        if path.exists():
            store.add_crl(_read(path, where), str(path.name))
        else:
            store.load_warnings.append(f"{where}: CRL {path} missing (run trust refresh)")
    if "uvci_list" in entry:
        path = _resolve(root, entry["uvci_list"], f"{where} uvci_list")
        if not path.exists():
            store.load_warnings.append(f"{where}: uvci list {path} missing (run trust refresh)")
            return
        try:
            revocations, anchors = parse_uvci_list(
                _read(path, where).decode("ascii", "replace"), store, dt.datetime.now(dt.UTC)
            )
        except UvciListError as exc:
            store.load_warnings.append(f"{where}: uvci list {path.name} refused: {exc}")
            return
        mine = {id(csca) for csca in added}
        store.replace_uvci_list(
            [csca for csca in anchors if id(csca) in mine],
            revocations,
            _state_time(state, "csca", key) or revocations.issued_at,
        )


def default_jwks_path(iss: str) -> str:
    """Where ``trust refresh`` keeps an issuer's JWKS when trust.toml names no path."""
    slug = "".join(c if c.isalnum() or c in "-." else "_" for c in iss.removeprefix("https://"))
    return f"shc/{slug}/jwks.json"


def read_state(root: Path) -> dict[str, Any]:
    """The refresh record (``state.json``): when each entry's data was last fetched."""
    path = root / STATE
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise TrustStoreError(f"{path} is not JSON") from None
    return state if isinstance(state, dict) else {}


def _state_time(state: dict[str, Any], kind: str, key: str) -> dt.datetime | None:
    value = state.get(kind, {}).get(key) if isinstance(state.get(kind), dict) else None
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def trust_freshness(
    updated_at: dt.datetime | None, at: dt.datetime, stale_after: dt.timedelta
) -> Success:
    """Warn ``trust_stale`` when trust data was last updated more than ``stale_after`` ago."""
    if updated_at is not None and at - updated_at > stale_after:
        return warn("trust_stale", f"updated {updated_at.date().isoformat()}")
    return Success()
