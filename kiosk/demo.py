"""Demo-only panel (registered only when ``kiosk.demo`` is on, never in production): the kiosk
screen in a frame beside controls that play the physical world. Insert a chosen virtual card,
take it out, insert coins, take the paper, jam the printer.

The JSON API is exempt from the CSRF token but needs the ``X-Kiosk-Demo: 1`` header and a JSON
body: a cross-site form can send neither without a CORS preflight, which this app never grants.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from kiosk.devices import ACCEPTED_YEN, SimulatedCashUnit, SimulatedPrinter
from kiosk.services import Kiosk
from vaxcert import residents
from vaxcert.card import cards
from vaxcert.card.inprocess import InProcessCardReader

page = Blueprint("kiosk_demo", __name__)
api = Blueprint("kiosk_demo_api", __name__, url_prefix="/demo/api")


def _kiosk() -> Kiosk:
    kiosk: Kiosk = current_app.extensions["vaxcert_kiosk"]
    return kiosk


def demo_cards() -> list[dict[str, str]]:
    """Every virtual card with its PIN and what it shows (residents and card edge cases)."""
    listing = []
    for key in cards.card_keys():
        resident = cards.resident_for(key)
        case = cards.EDGE_CASES.get(key)
        listing.append(
            {
                "key": key,
                "pin": resident.pin,
                "description": case.description if case else resident.description,
            }
        )
    return listing


@page.get("/demo")
def panel() -> str:
    """The kiosk screen in a frame, with the device controls beside it."""
    return render_template(
        "demo.html",
        cards=demo_cards(),
        coins=ACCEPTED_YEN,
        residents=residents.RESIDENTS,
    )


@api.before_request
def _guard() -> None:
    if request.method == "POST" and (
        request.headers.get("X-Kiosk-Demo") != "1" or not request.is_json
    ):
        abort(400)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _reader() -> InProcessCardReader:
    reader = _kiosk().devices.reader
    if not isinstance(reader, InProcessCardReader):
        abort(409)
    return reader


@api.post("/card")
def insert_card() -> Response:
    """Place the chosen virtual card on the reader (its PIN counter starts fresh)."""
    key = str(_body().get("card", ""))
    if key not in cards.card_keys():
        abort(404)
    reader = _reader()
    issuer = cards.CardIssuer.from_pki(_kiosk().settings.pki_dir)
    reader.insert(cards.make_card(key, issuer))
    return jsonify({"card": "inserted"})


@api.post("/card/remove")
def remove_card() -> Response:
    """Take the card off the reader."""
    _reader().remove()
    return jsonify({"card": "removed"})


@api.post("/cash")
def insert_cash() -> Response:
    """A coin or bill goes into the cash unit."""
    cash = _kiosk().devices.cash
    if not isinstance(cash, SimulatedCashUnit):
        abort(409)
    yen = _body().get("yen")
    accepted = isinstance(yen, int) and cash.insert(yen)
    return jsonify({"accepted": accepted, "inserted": cash.inserted()})


def _printer() -> SimulatedPrinter:
    printer = _kiosk().devices.printer
    if not isinstance(printer, SimulatedPrinter):
        abort(409)
    return printer


@api.post("/paper/take")
def take_paper() -> Response:
    """Take the printout from the tray; the demo shows it (from memory, never from a file)."""
    taken = _printer().take_paper()
    return jsonify({"documents": [base64.b64encode(doc).decode() for doc in taken]})


@api.post("/printer/jam")
def jam() -> Response:
    """The next print jobs jam."""
    times = _body().get("times", 1)
    _printer().jam_next(times if isinstance(times, int) and 0 < times < 10 else 1)
    return jsonify({"jams": "armed"})


@api.get("/status")
def status() -> Response:
    """What the devices report."""
    kiosk = _kiosk()
    printer = kiosk.devices.printer
    return jsonify(
        {
            "card_present": kiosk.card_left(),
            "inserted": kiosk.devices.cash.inserted(),
            "tray": printer.tray() if isinstance(printer, SimulatedPrinter) else None,
            "devices": kiosk.device_status().model_dump(),
        }
    )
