"""The development PKI in a temp dir and the verifier's in-memory trust store over it.

A pytest plugin (tests/conftest.py loads it): the verifier tests and the end-to-end verifier
tests in tests/e2e share these fixtures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.verifier import issuance
from vaxcert import pki
from verifier import TrustStore
from verifier._uvci import parse_uvci_list
from verifier.dev_trust import dev_trust_store


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh development PKI (`vaxcert certs init`) in a temp dir."""
    directory = tmp_path_factory.mktemp("pki")
    pki.init(directory, issuance.ISSUER_URL, [], [])
    return directory


@pytest.fixture(scope="session")
def dev_store(dev_pki: Path) -> TrustStore:
    """The in-memory dev trust store (our issuer key, our CSCA + CRL, and the issuer's list of
    revoked certificate ids with none in it, so our VDS-NC's revocation counts as checked)."""
    store = dev_trust_store(dev_pki, issuance.ISSUER_URL)
    attach_uvci_list(store, dev_pki)
    return store


def attach_uvci_list(store: TrustStore, pki_dir: Path, revoked: Sequence[str] = ()) -> None:
    """Give ``store`` the dev issuer's signed list of revoked certificate ids, as fetched now."""
    now = dt.datetime.now(dt.UTC)
    revocations, anchors = parse_uvci_list(issuance.uvci_list(pki_dir, revoked), store, now)
    store.replace_uvci_list(anchors, revocations, now)
