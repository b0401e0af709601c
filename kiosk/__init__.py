"""The kiosk terminal: the store's screen (Flask, shown in Chromium), its card reader, printer and
cash unit, and its client of the center's kiosk API.

Public names: :func:`create_app` and :class:`Kiosk` (the terminal's flow, without Flask). The rest
is internal and may change.
"""

from kiosk.app import create_app
from kiosk.services import Kiosk

__all__ = ["Kiosk", "create_app"]
