"""The verifier's domain entry points: :func:`verify` and :func:`verify_all` (no Flask here).

Offline by design: keys, CSCAs and CRLs come only from the :class:`~verifier.trust.TrustStore`;
only a *live* store (the demo's development store, :mod:`verifier.live`) first fetches its
issuers' published keys and revocation lists. Nothing about a certificate is stored or logged;
one log line carries the outcome code only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

from vaxcert.policy import Finding
from verifier import _inputs, _shc, _vdsnc
from verifier.models import Result
from verifier.trust import TrustStore

log = logging.getLogger(__name__)

DEFAULT_CLOCK_SKEW = dt.timedelta(minutes=5)


def _moment(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.UTC)
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def verify_all(
    data: str | bytes | Path,
    trust: TrustStore,
    at: dt.datetime | None = None,
    *,
    clock_skew: dt.timedelta = DEFAULT_CLOCK_SKEW,
    source: str = "input",
    frame: bool = False,
) -> list[Result]:
    """One :class:`Result` per certificate found in ``data`` (never empty, never raising for bad
    input: unreadable input gives one invalid result with its reason).

    ``data`` is QR text (``shc:/…`` or VDS-NC JSON), a compact JWS, a ``.smart-health-card``
    file, image bytes (PNG, JPEG, …; several QR codes allowed) or a certificate PDF; a
    :class:`~pathlib.Path` is read first. ``at`` (default: now) is the time checks are made at.
    ``frame`` selects a cheaper image decode for camera frames.
    """
    moment = _moment(at)
    if isinstance(data, Path):
        source = data.name if source == "input" else source
        try:
            data = data.read_bytes()
        except OSError as exc:
            return [
                _refused("input_unrecognised", f"cannot read file: {exc.strerror}", source, moment)
            ]
    try:
        items = _inputs.items_from(data, source, frame=frame)
    except _inputs.InputError as exc:
        results = [_refused(exc.code, exc.detail, source, moment)]
    else:
        if items and trust.live is not None:
            trust.live.update(trust)  # only once a certificate was found: not for empty frames
        results = [_verify_item(item, trust, moment, clock_skew) for item in items]
    for result in results:
        if frame and result.outcome == "no_certificate_found":
            continue  # camera frames without a code are the normal case, not an event
        # The outcome code and format only: never names, dates or certificate content (C08).
        log.info(
            "verification",
            extra={"outcome": result.outcome, "verdict": result.verdict, "format": result.format},
        )
    return results


def verify_texts(
    texts: Sequence[str],
    trust: TrustStore,
    at: dt.datetime | None = None,
    *,
    clock_skew: dt.timedelta = DEFAULT_CLOCK_SKEW,
) -> list[Result]:
    """The results of several QR texts read together from one sheet (a browser's own QR
    decoder sends what it read; docs/verifier.md): trust data is brought up to date once, and
    each text is verified as :func:`verify_all` would."""
    moment = _moment(at)
    if trust.live is not None and texts:
        trust.live.update(trust)
    results: list[Result] = []
    for number, text in enumerate(texts, start=1):
        source = f"code {number}/{len(texts)}"
        try:
            items = _inputs.items_from(text, source)
        except _inputs.InputError as exc:
            results.append(_refused(exc.code, exc.detail, source, moment))
            continue
        results += [_verify_item(item, trust, moment, clock_skew) for item in items]
    for result in results:
        # The outcome code and format only (C08), as verify_all logs.
        log.info(
            "verification",
            extra={"outcome": result.outcome, "verdict": result.verdict, "format": result.format},
        )
    return results


def verify(
    data: str | bytes | Path,
    trust: TrustStore,
    at: dt.datetime | None = None,
    *,
    clock_skew: dt.timedelta = DEFAULT_CLOCK_SKEW,
) -> Result:
    """Verify an input holding exactly one certificate; see :func:`verify_all` for the inputs.

    An input with several certificates (a 海外用 page, a multi-card file) gives an invalid result
    with ``multiple_certificates``: use :func:`verify_all` for those.
    """
    results = verify_all(data, trust, at, clock_skew=clock_skew)
    if len(results) == 1:
        return results[0]
    return _refused(
        "multiple_certificates", f"{len(results)} certificates", "input", results[0].checked_at
    )


def _verify_item(
    item: _inputs.Item, trust: TrustStore, at: dt.datetime, clock_skew: dt.timedelta
) -> Result:
    if item.origin == "qr":
        return _shc.verify_numeric(item.text, item.source, trust, at, clock_skew)
    if item.origin in ("jws", "file"):
        origin: _shc.Origin = "jws" if item.origin == "jws" else "file"
        return _shc.verify_jws(item.text, origin, item.source, trust, at, clock_skew)
    if item.origin == "vdsnc":
        return _vdsnc.verify_text(item.text, item.source, trust, at, clock_skew)
    return _refused("input_unrecognised", "QR code is not a certificate", item.source, at)


def _refused(code: str, detail: str, source: str, at: dt.datetime) -> Result:
    return Result(False, "unknown", source, at, reasons=(Finding(code, detail),))
