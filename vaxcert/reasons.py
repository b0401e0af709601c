"""The one catalogue of reason codes shared by every service, the kiosk, the app and the verifier.

Each reason has a stable code, an HTTP status for APIs, a ja/en message for the person in front of
the screen and a ja/en next step. Services raise :class:`vaxcert.errors.VaxcertError` with a
code from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Language = Literal["ja", "en"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One refusal or error cause: code, HTTP status and ja/en texts with the next step."""

    code: str
    status: int
    ja: str
    en: str
    next_ja: str = ""
    next_en: str = ""

    def message(self, lang: Language = "en") -> str:
        """The message in the requested language."""
        return self.ja if lang == "ja" else self.en

    def next_step(self, lang: Language = "en") -> str:
        """What the person should do next, in the requested language."""
        return self.next_ja if lang == "ja" else self.next_en


_COUNTER_JA = "お住まいの(接種時の)市区町村の窓口で申請してください。"
_COUNTER_EN = "Please apply at the counter of the municipality where you were vaccinated."
_RETRY_JA = "しばらくしてからもう一度お試しください。料金はかかっていません。"
_RETRY_EN = "Please try again later. You have not been charged."

_ALL: tuple[Reason, ...] = (
    # Generic request problems (4xx).
    Reason("bad_request", 400, "要求の形式が正しくありません。", "The request is malformed."),
    Reason("invalid_field", 422, "入力値が正しくありません。", "A field has an invalid value."),
    Reason(
        "unknown_field",
        422,
        "受け付けない項目が含まれています。",
        "The request has an unknown field.",
    ),
    Reason("missing_field", 422, "必要な項目がありません。", "A required field is missing."),
    Reason(
        "unsupported_media_type",
        415,
        "データ形式が対応していません。",
        "The content type is not supported.",
    ),
    Reason("not_found", 404, "見つかりません。", "Not found."),
    Reason("method_not_allowed", 405, "その操作はできません。", "Method not allowed."),
    Reason("payload_too_large", 413, "データが大きすぎます。", "The request is too large."),
    Reason(
        "csrf_failed",
        400,
        "画面の有効期限が切れました。",
        "The page expired.",
        "最初からやり直してください。",
        "Please start again.",
    ),
    # Channel / identity (C09, C10).
    Reason(
        "client_cert_required",
        401,
        "クライアント証明書が必要です。",
        "A client certificate is required.",
    ),
    Reason(
        "client_cert_denied",
        403,
        "この端末の証明書は利用停止されています。",
        "This client certificate has been withdrawn.",
    ),
    Reason(
        "tls_required", 403, "暗号化された通信が必要です。", "An encrypted connection is required."
    ),
    # Card (C01, C03).
    Reason(
        "card_signature_invalid",
        422,
        "カードの情報を確認できませんでした。",
        "The card data could not be verified.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "pin_locked",
        423,
        "暗証番号がロックされています。",
        "The card's PIN is locked.",
        "市区町村の窓口でロックの解除を受けてください。",
        "Please have the PIN reset at your municipal office.",
    ),
    # Issuance refusals (design.md §2).
    Reason(
        "municipality_not_participating",
        403,
        "この市区町村はコンビニ交付に対応していません。",
        "This municipality does not issue certificates at kiosks.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "outside_service_hours",
        403,
        "サービス提供時間外です(6:30〜23:00)。",
        "The service is closed now (open 06:30-23:00).",
        "サービス提供時間内にもう一度お試しください。",
        "Please come back during service hours.",
    ),
    Reason(
        "counter_required",
        403,
        "この端末では証明書を交付できません。",
        "A certificate cannot be issued at this terminal.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "service_unavailable",
        503,
        "ただいまサービスを利用できません。",
        "The service is temporarily unavailable.",
        _RETRY_JA,
        _RETRY_EN,
    ),
    Reason(
        "maintenance",
        503,
        "ただいまメンテナンス中です。",
        "The service is under maintenance.",
        _RETRY_JA,
        _RETRY_EN,
    ),
    # VRS stub (issue 6): relay API for the center, municipal staff API (C09, C12, C14, C19).
    Reason(
        "vrs_peer_not_allowed",
        403,
        "この接続元はこのAPIを利用できません。",
        "This client may not use this API.",
    ),
    Reason(
        "vrs_staff_token_required",
        401,
        "職員の認証情報が必要です。",
        "A staff token is required.",
        "有効な職員トークンを指定してください。",
        "Present a valid staff token.",
    ),
    Reason(
        "vrs_staff_scope_denied",
        403,
        "この操作は許可されていません(他の市区町村のデータまたは権限外の操作です)。",
        "This operation is not allowed (another municipality's data or a missing role).",
    ),
    Reason(
        "vrs_record_not_found",
        404,
        "該当する接種記録がありません。",
        "No such vaccination record in this municipality.",
    ),
    Reason(
        "vrs_issuance_conflict",
        409,
        "この証明書IDは別の内容で記録済みです。",
        "This certificate ID is already recorded with different content.",
    ),
    Reason(
        "vrs_import_invalid",
        422,
        "取込ファイルに誤りがあります。何も取り込んでいません。",
        "The import file has errors; nothing was imported.",
        "エラーの行を直してもう一度取り込んでください。",
        "Fix the lines listed and import the whole file again.",
    ),
    # Configuration.
    Reason("config_invalid", 500, "設定が正しくありません。", "The configuration is invalid."),
    Reason(
        "internal_error",
        500,
        "システムエラーが発生しました。",
        "An internal error occurred.",
        _RETRY_JA,
        _RETRY_EN,
    ),
)

CATALOGUE: dict[str, Reason] = {reason.code: reason for reason in _ALL}


def get(code: str) -> Reason:
    """The reason registered under ``code``; an unknown code is a programming error."""
    try:
        return CATALOGUE[code]
    except KeyError:
        raise KeyError(f"reason code {code!r} is not in the catalogue") from None


def register(*reasons: Reason) -> None:
    """Add service-specific reasons to the one catalogue; a code may be registered only once."""
    for reason in reasons:
        existing = CATALOGUE.get(reason.code)
        if existing is not None and existing != reason:
            raise ValueError(f"reason code {reason.code!r} registered twice with different texts")
        CATALOGUE[reason.code] = reason
