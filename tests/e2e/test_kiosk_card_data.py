"""C03, C08, C22: the kiosk hands the card's raw files to the center, the one authority that
verifies and parses them; the kiosk itself never holds a parsed My Number.

The kiosk service runs in this process over the real center, VRS and signer processes with the
in-process virtual card, so everything it holds can be walked while it works.
"""

from __future__ import annotations

import gc
import sys
import threading
import types
from collections import deque
from pathlib import Path

import pytest

import kiosk
from kiosk.app import build_kiosk
from kiosk.models import KioskSession
from kiosk.services import Kiosk, inline_runner
from launch.stack import Stack
from tests.e2e.conftest import MakeRig, Rig, stub_render
from vaxcert.card import ca_key_table, layout
from vaxcert.card.virtual import VirtualKenhojoCard
from vaxcert.contracts.kiosk_api import CertificateIssued, CertificateRequest
from vaxcert.errors import ConfigError
from vaxcert.residents import CANARY

pytestmark = pytest.mark.slow  # the center, VRS and signer run as processes

KIOSK_PACKAGE = Path(kiosk.__file__).resolve().parent
# Code and namespaces are not data the kiosk holds; the card in the reader is the resident's own.
# Raw bytes are not looked into: EF0001 carries the number as read, and the kiosk passes those
# bytes on unparsed; a parsed My Number is text (or a number).
_NOT_LOOKED_INTO = (
    bytes,
    bytearray,
    memoryview,
    float,
    types.NoneType,
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    VirtualKenhojoCard,
)


def _parsed_my_numbers(roots: dict[str, object], my_number: str) -> list[str]:
    """Paths to every str or int holding ``my_number`` reachable from ``roots``."""
    as_int = int(my_number)
    held: dict[int, object] = {}  # keeps what was visited alive, so ids stay unique
    found: list[str] = []
    queue: deque[tuple[str, object]] = deque(roots.items())
    while queue:
        path, obj = queue.popleft()
        if id(obj) in held:
            continue
        held[id(obj)] = obj
        if isinstance(obj, str):
            if my_number in obj:
                found.append(path)
            continue
        if isinstance(obj, int):
            if obj == as_int:
                found.append(path)
            continue
        if isinstance(obj, _NOT_LOOKED_INTO):
            continue
        for ref in gc.get_referents(obj):
            queue.append((f"{path} > {type(ref).__name__}", ref))
    return found


def _kiosk_frames() -> dict[str, object]:
    """The locals of every running frame of the kiosk package (the worker reading the card)."""
    frames: dict[str, object] = {}
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        if Path(frame.f_code.co_filename).resolve().is_relative_to(KIOSK_PACKAGE):
            frames[f"{frame.f_code.co_name}()"] = dict(frame.f_locals)
        frame = frame.f_back
    return frames


def _issue_while_watching(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> tuple[KioskSession, dict[str, list[str]]]:
    """The canary's flow up to the confirm screen; the kiosk's memory is walked while the center
    works on the request (the card was just read) and again once the card is out."""
    kiosk_service: Kiosk = rig.kiosk
    seen: dict[str, list[str]] = {}
    real = kiosk_service.center.certificates

    def watched(request: CertificateRequest) -> CertificateIssued:
        roots = {"kiosk": kiosk_service, **_kiosk_frames()}
        seen["while the center works"] = _parsed_my_numbers(roots, CANARY.my_number)
        return real(request)

    monkeypatch.setattr(kiosk_service.center, "certificates", watched)
    session = kiosk_service.new_session()
    kiosk_service.keep(session)
    kiosk_service.start(session)
    kiosk_service.accept_terms(session)
    kiosk_service.choose_municipality(session, "462012")
    kiosk_service.choose_kind(session, "domestic")
    kiosk_service.choose_copies(session, 1)
    rig.insert("canary")
    kiosk_service.poll(session)
    kiosk_service.submit_pin(session, CANARY.pin)
    assert session.screen == "take-card" and session.after_card == "confirm", session.reason
    rig.reader.remove()
    kiosk_service.poll(session)
    assert session.screen == "confirm"
    seen["on the confirm screen"] = _parsed_my_numbers({"kiosk": kiosk_service}, CANARY.my_number)
    return session, seen


def test_c08_c22_the_kiosk_never_holds_a_parsed_my_number(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig()
    session, seen = _issue_while_watching(rig, monkeypatch)
    assert "while the center works" in seen, "the center was never asked"
    assert seen == {"while the center works": [], "on the confirm screen": []}
    # The walk does find the number where it is held as text: it is not blind.
    probe = {"probe": {"held": [f"My Number {CANARY.my_number}"]}}
    assert _parsed_my_numbers(probe, CANARY.my_number) == ["probe > list > str"]
    rig.kiosk.cancel(session)


def test_c03_the_kiosk_never_parses_the_card(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig()
    parsed: list[str] = []
    real = layout.parse_my_number

    def recorded(ef0001: bytes) -> str:
        parsed.append(threading.current_thread().name)
        return real(ef0001)

    monkeypatch.setattr(layout, "parse_my_number", recorded)
    session, _ = _issue_while_watching(rig, monkeypatch)
    assert session.issued is not None and session.issued.holder.name == CANARY.name_kanji
    assert parsed == [], "the kiosk parsed the My Number out of the card files"
    rig.kiosk.cancel(session)


def test_c03_the_kiosk_runs_without_the_card_ca_keys(stack: Stack) -> None:
    """The CVC CA key table is the center's: a kiosk configured without one issues all the same."""
    card = stack.settings.card.model_copy(update={"ca_keys": []})
    settings = stack.settings.model_copy(update={"card": card})
    with pytest.raises(ConfigError):
        ca_key_table(settings)  # what the center would refuse to start with
    service = build_kiosk(settings, render=stub_render, run=inline_runner)
    session = service.new_session()
    service.keep(session)
    service.start(session)
    service.accept_terms(session)
    service.choose_municipality(session, "462012")
    service.choose_kind(session, "domestic")
    service.choose_copies(session, 1)
    service.poll(session)  # the configured virtual card lies in the reader
    service.submit_pin(session, CANARY.pin)
    assert (session.screen, session.after_card) == ("take-card", "confirm"), session.reason
    service.cancel(session)
