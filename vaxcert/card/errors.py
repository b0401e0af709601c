"""Typed errors of the card layer, each carrying a reason code from :mod:`vaxcert.reasons`.

No message or attribute of these errors ever holds PIN digits or card data (C01, C08): details
name status words, counts and file ids only.
"""

from __future__ import annotations

from vaxcert.errors import VaxcertError


class CardError(VaxcertError):
    """Any failure while talking to a card reader or a card."""


class NoReaderError(CardError):
    """PC/SC is not running, or no (matching) reader is attached."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("card_reader_unavailable", detail)


class NoCardError(CardError):
    """The reader holds no card (or none arrived before the timeout)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("card_not_present", detail)


class NotMyNumberCardError(CardError):
    """The card has no 券面事項入力補助AP (SELECT by AID failed)."""

    def __init__(self, sw: int) -> None:
        self.sw = sw
        super().__init__("card_not_my_number", f"SELECT Kenhojo AP answered {sw:04X}")


class CardRemovedError(CardError):
    """The card left the reader while a command sequence was running."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("card_removed", detail)


class CardTimeoutError(CardError):
    """The operation did not finish before its deadline."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("card_timeout", detail)


class CardCommunicationError(CardError):
    """The reader reported a transport failure that is not a removal."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("card_communication_failed", detail)


class CardStatusError(CardError):
    """The card answered a status word the sequence does not expect."""

    def __init__(self, command: str, sw: int) -> None:
        self.command = command
        self.sw = sw
        super().__init__("card_unexpected_status", f"{command} answered {sw:04X}")


class CardAccessDeniedError(CardError):
    """A protected EF was read before the PIN was verified (SW 6982)."""

    def __init__(self, fid: int) -> None:
        self.fid = fid
        super().__init__("card_access_denied", f"EF{fid:04X} answered 6982")


class PinFormatError(CardError):
    """The PIN is not exactly four ASCII digits; nothing was sent to the card (C01)."""

    def __init__(self) -> None:
        super().__init__("pin_format_invalid", "the PIN must be exactly 4 ASCII digits")


class WrongPinError(CardError):
    """VERIFY failed; ``tries_left`` (1 or 2) more attempts remain before the card locks (C01)."""

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__("pin_incorrect", f"{tries_left} tries left", tries_left=tries_left)


class PinLockedError(CardError):
    """The PIN is blocked; no further VERIFY is ever sent for this card (C01)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("pin_locked", detail)


class CardDataError(VaxcertError):
    """The card's files fail parsing or verification (C03); subclasses name the failed step."""


class MalformedCardDataError(CardDataError):
    """A file is not the BER-TLV layout card.md §5 describes."""

    def __init__(self, detail: str) -> None:
        super().__init__("card_data_malformed", detail)


class UnknownCardCaError(CardDataError):
    """The CVC names an issuer key id that is not in the configured CA key table."""

    def __init__(self, detail: str) -> None:
        super().__init__("card_ca_unknown", detail)


class CvcSignatureError(CardDataError):
    """The CVC (EF0004) signature does not verify under the named CA key."""

    def __init__(self, detail: str = "CVC signature does not verify") -> None:
        super().__init__("card_cvc_signature_invalid", detail)


class DataSignatureError(CardDataError):
    """The integrity record (EF0003) signature does not verify under the CVC's key."""

    def __init__(self, detail: str = "EF0003 signature does not verify") -> None:
        super().__init__("card_data_signature_invalid", detail)


class DigestMismatchError(CardDataError):
    """EF0001 or EF0002 does not hash to the signed digest in EF0003."""

    def __init__(self, detail: str) -> None:
        super().__init__("card_digest_mismatch", detail)
