"""Keys and revocation lists fetched while verifying, for a store that has no refresh job.

The demo's development store is built in memory from the dev PKI: nobody runs `vaxcert trust
refresh` for it, and a key derived from the PKI says nothing about revocation. Such a store is
*live*: before certificates are checked, :class:`LiveRevocation` fetches each trusted issuer's
JWKS and rid CRLs and each CSCA's CRL from their well-known URLs (https, pinned CA, short
timeout, revalidated with ETags) and puts them in place of what the store held. A fetch that
fails leaves the data as it was, and its server (scheme, host and port) is not asked again for
``retry_after`` seconds, so an unreachable or hung issuer costs one timeout, not one per scan;
results then say how old the data is, or that revocation was not checked at all.

Configured trust stores are never live: they are refreshed by `vaxcert trust refresh` on the
operator's schedule, and an issuer does not learn when its certificates are checked.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from urllib.parse import urlsplit

from verifier import _x509
from verifier._uvci import UvciListError
from verifier.clients import FetchError, TrustFetcher
from verifier.refresh import fetch_csca_crl, fetch_shc, fetch_uvci_list
from verifier.trust import TrustStore, TrustStoreError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0
DEFAULT_RETRY_AFTER = 30.0


class LiveRevocation:
    """Brings a store's keys and revocation lists up to date before a verification."""

    def __init__(
        self,
        fetcher: TrustFetcher,
        retry_after: float = DEFAULT_RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher
        self._retry_after = retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self._quiet_until: dict[str, float] = {}  # server or URL -> not asked before this time

    def update(self, store: TrustStore) -> None:
        """Fetch every trusted issuer's JWKS and CRLs and every CSCA CRL that has a URL.

        Never raises for the network or a bad publication: the store keeps its data and the
        results say what could not be checked. One thread fetches at a time; the others wait
        for it, then use what it fetched.
        """
        with self._lock:
            for iss, issuer in list(store.shc.items()):
                self._attempt(issuer.jwks_url, partial(self._shc, store, iss))
            for url in dict.fromkeys(csca.crl_url for csca in store.cscas if csca.crl_url):
                self._attempt(url, partial(self._csca, store, url))
            lists = dict.fromkeys(c.uvci_list_url for c in store.cscas if c.uvci_list_url)
            for url in lists:
                self._attempt(url, partial(self._uvci_list, store, url))

    def close(self) -> None:
        """Close pooled connections."""
        self._fetcher.close()

    def _attempt(self, url: str, fetch: Callable[[], None]) -> None:
        server = _server(url)
        now = self._clock()
        if now < max(self._quiet_until.get(server, 0.0), self._quiet_until.get(url, 0.0)):
            return
        try:
            fetch()
        except (FetchError, TrustStoreError, UvciListError, _x509.X509Error) as exc:
            # A server that does not answer is left alone as a whole (its other documents would
            # cost another timeout each); a bad document only itself.
            quiet = server if isinstance(exc, FetchError) else url
            self._quiet_until[quiet] = self._clock() + self._retry_after
            # Names the URL and why (FetchError never carries a body); nothing about the
            # certificate being checked (C08).
            log.warning(
                "revocation data not fetched (%s); %s not asked again for %.0f s",
                exc,
                quiet,
                self._retry_after,
            )
        else:
            self._quiet_until.pop(server, None)
            self._quiet_until.pop(url, None)

    def _shc(self, store: TrustStore, iss: str) -> None:
        issuer = store.shc[iss]
        jwks, crls = fetch_shc(iss, issuer.jwks_url, self._fetcher)
        bodies = [json.loads(body) for body in crls.values()]
        store.replace_shc_keys(iss, jwks, bodies, dt.datetime.now(dt.UTC))

    def _uvci_list(self, store: TrustStore, url: str) -> None:
        _uvci_list_of(store, url, self._fetcher)

    def _csca(self, store: TrustStore, url: str) -> None:
        entries = [entry for entry in store.cscas if entry.crl_url == url]
        crl = fetch_csca_crl(url, [entry.cert for entry in entries], self._fetcher)
        now = dt.datetime.now(dt.UTC)
        for entry in entries:
            if entry.issued(crl) and _x509.signature_holds(crl.signed, entry.cert.public_key):
                store.replace_crl(entry, crl, now)


def _uvci_list_of(store: TrustStore, url: str, fetcher: TrustFetcher) -> None:
    revocations, anchors = fetch_uvci_list(url, store, fetcher)
    listed = [csca for csca in anchors if csca.uvci_list_url == url]
    store.replace_uvci_list(listed, revocations, dt.datetime.now(dt.UTC))


def _server(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
