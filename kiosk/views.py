"""The kiosk screens: one page URL (``/``) that shows the session's current screen, small POST
actions that each call one :class:`kiosk.services.Kiosk` method and redirect back (no data in any
URL), and ``/state`` that pages poll while a device or the center works."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request
from flask_babel import gettext as _

from kiosk.models import KioskSession
from kiosk.prompts import Playlists
from kiosk.services import Kiosk
from vaxcert import reasons
from vaxcert.contracts.kiosk_api import KioskConfig

bp = Blueprint("kiosk", __name__, static_folder="static", static_url_path="/static/kiosk")

# Screens whose page polls /state quickly: they wait for a device or the center.
FAST_POLL = frozenset(
    {"insert-card", "pin", "reading", "take-card", "payment", "printing", "take-certificate"}
)
# The step indicator: the resident's steps and the screens that belong to each. Welcome comes
# before them; refusals and errors end the flow and show no step.
STEPS: tuple[tuple[str, ...], ...] = (
    ("terms",),
    ("municipality",),
    ("kind",),
    ("copies",),
    ("insert-card", "pin", "reading", "take-card"),
    ("confirm",),
    ("payment", "printing"),
    ("take-certificate",),
)
STEP_OF = {screen: number for number, screens in enumerate(STEPS, 1) for screen in screens}


def _kiosk() -> Kiosk:
    kiosk: Kiosk = current_app.extensions["vaxcert_kiosk"]
    return kiosk


def _session() -> KioskSession:
    session: KioskSession = g.kiosk_session
    return session


def _date(value: dt.date, lang: str) -> str:
    if lang in ("ja", "zh"):
        return f"{value.year}年{value.month}月{value.day}日"
    if lang == "ko":
        return f"{value.year}년 {value.month}월 {value.day}일"
    return value.strftime("%d %b %Y")


def _kind_label(kind: str | None) -> str:
    if kind == "overseas":
        return str(_("For use abroad and in Japan (海外用及び日本国内用)"))
    return str(_("For use in Japan (日本国内用)"))


def _playlists(session: KioskSession, warning: int, returned_yen: int) -> dict[str, object]:
    """The recorded prompts (C11) this page may play, with the amounts it may say (the
    session's, what is still to pay, the timeout warning's seconds and the money just returned
    to the tray)."""
    playlists: Playlists = current_app.extensions["vaxcert_prompts"]
    amounts = [v for k, v in vars(session).items() if k.endswith("_yen") and isinstance(v, int)]
    still_to_pay = max(session.due_yen - session.inserted_yen, 0)
    spoken = [*amounts, still_to_pay, warning, *([returned_yen] if returned_yen else [])]
    return playlists.for_page(session.lang, spoken, [session.reason, session.notice])


def terms_text(config: KioskConfig, lang: str) -> str:
    """The terms of use in ``lang``; the English text where the center has none in it."""
    texts = {
        "ja": config.terms_ja,
        "en": config.terms_en,
        "zh": config.terms_zh,
        "ko": config.terms_ko,
    }
    return texts.get(lang) or config.terms_en


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    session: KioskSession | None = g.get("kiosk_session")
    lang = session.lang if session is not None else "ja"

    def reason(code: str | None) -> reasons.Reason | None:
        return reasons.CATALOGUE.get(code) if code else None

    return {
        "lang": lang,
        "reason": reason,
        "fmt_date": lambda value: _date(value, lang),
        "kind_label": _kind_label,
        "terms_text": terms_text,
        "yen": lambda amount: f"{amount:,}",
        # Japanese and Chinese take the full-width colon (no space after it).
        "colon": "：" if lang in ("ja", "zh") else ": ",
    }


@bp.get("/")
def index() -> Response | str:
    """The current screen of this browser's session."""
    kiosk = _kiosk()
    session = _session()
    g.kiosk_keep = True
    with kiosk.locked(session):
        kiosk.poll(session)
        if session.wiped:
            return redirect("/", code=303)  # type: ignore[return-value]
        screen = session.screen
        idle = kiosk.idle_limit(session)
        returned_yen = kiosk.money_returned() if screen == "welcome" else 0
        context: dict[str, Any] = {
            "s": session,
            "screen": screen,
            "idle": idle or 0,
            "warning": kiosk.options.warning_seconds,
            "poll_ms": 300 if screen in FAST_POLL else 2000,
            "prompts": _playlists(session, kiosk.options.warning_seconds, returned_yen),
            "config": session.config,
            "demo": kiosk.options.demo,
            "card_left": screen == "welcome" and kiosk.card_left(),
            "returned_yen": returned_yen,
            "retry": kiosk.retry_screen(session),
            "step": STEP_OF.get(screen),
            "steps": len(STEPS),
            "app_available": kiosk.options.app_available,
            "copies_range": range(1, (session.config.max_copies if session.config else 1) + 1),
        }
        return render_template(f"{screen}.html", **context)


@bp.get("/state")
def state() -> Response:
    """The screen and its version; pages reload when it changes. Never creates a session."""
    kiosk = _kiosk()
    session = _session()
    if kiosk.sessions.get(session.id) is None:
        return jsonify({"screen": "welcome", "version": -1, "active": False})
    with kiosk.locked(session):
        kiosk.poll(session)
        state = {"screen": session.screen, "version": session.version, "active": not session.wiped}
        if session.screen == "welcome":
            # The welcome screen's notices follow the devices live (a card left, money returned).
            state.update(_tray(kiosk))
        return jsonify(state)


def _tray(kiosk: Kiosk) -> dict[str, Any]:
    return {"card_left": kiosk.card_left(), "returned_yen": kiosk.money_returned()}


def _act(action: Callable[[Kiosk, KioskSession], None]) -> Response:
    kiosk = _kiosk()
    session = _session()
    if kiosk.sessions.get(session.id) is not None:
        with kiosk.locked(session):
            action(kiosk, session)
    return redirect("/", code=303)  # type: ignore[return-value]


def _form(name: str) -> str:
    value = request.form.get(name, "")
    return value if len(value) <= 16 else ""


@bp.post("/start")
def start() -> Response:
    return _act(lambda k, s: k.start(s))


@bp.post("/lang")
def language() -> Response:
    return _act(lambda k, s: k.set_language(s, _form("lang")))


@bp.post("/speech")
def speech() -> Response:
    """The voice guidance toggle (on every screen; this session only)."""
    return _act(lambda k, s: k.toggle_speech(s))


@bp.post("/terms")
def terms() -> Response:
    return _act(lambda k, s: k.accept_terms(s))


@bp.post("/municipality")
def municipality() -> Response:
    return _act(lambda k, s: k.choose_municipality(s, _form("code")))


@bp.post("/kind")
def kind() -> Response:
    return _act(lambda k, s: k.choose_kind(s, _form("kind")))


@bp.post("/copies")
def copies() -> Response:
    raw = _form("copies")
    number = int(raw) if raw.isascii() and raw.isdigit() else 0
    return _act(lambda k, s: k.choose_copies(s, number))


@bp.post("/pin")
def pin() -> Response:
    # C01, C04: four digits from the on-screen pad; nothing else is accepted or kept.
    return _act(lambda k, s: k.submit_pin(s, _form("pin")))


@bp.post("/confirm")
def confirm() -> Response:
    return _act(lambda k, s: k.confirm(s))


@bp.post("/pay")
def pay() -> Response:
    return _act(lambda k, s: k.pay(s))


@bp.post("/retry")
def retry() -> Response:
    """Try again after a refusal the resident can act on (never a sensitive one)."""
    return _act(lambda k, s: k.retry(s))


@bp.post("/back")
def back() -> Response:
    return _act(lambda k, s: k.back(s))


@bp.post("/cancel")
def cancel() -> Response:
    """Cancel, available on every screen: refund, report, wipe (C08)."""
    return _act(lambda k, s: k.cancel(s))


@bp.post("/timeout")
def timeout() -> Response:
    """The on-screen countdown ran out (WCAG 2.2.1): wipe and show welcome (C08)."""
    return _act(lambda k, s: k.cancel(s))


@bp.post("/keepalive")
def keepalive() -> tuple[str, int]:
    """The resident is still there ("continue", or taps on the PIN pad)."""
    _act(lambda k, s: k.touch(s))
    return "", 204
