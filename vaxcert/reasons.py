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
_REISSUE_JA = (
    "証明書を確認できません。別の方法で接種歴を確認するか、証明書の再発行を案内してください。"
)
_REISSUE_EN = (
    "The certificate cannot be accepted. Check vaccination another way or ask the holder "
    "to have the certificate re-issued."
)

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
    # Refused by the HTTP server itself, before any application sees the request.
    Reason(
        "uri_too_long",
        414,
        "要求のアドレス(URL)が長すぎます。",
        "The request URI is too long.",
        "アドレスを短くして送り直してください。",
        "Please send the request again with a shorter URI.",
    ),
    Reason(
        "header_fields_too_large",
        431,
        "要求のヘッダーが大きすぎるか、多すぎます。",
        "The request headers are too large or too many.",
        "ヘッダーを減らして送り直してください。",
        "Please send the request again with fewer or smaller headers.",
    ),
    Reason(
        "expectation_failed",
        417,
        "要求の Expect ヘッダーには応じられません。",
        "The request's Expect header cannot be met.",
        "Expect ヘッダーを付けずに送り直してください。",
        "Please send the request again without the Expect header.",
    ),
    Reason(
        "transfer_coding_unsupported",
        501,
        "要求の転送エンコーディングに対応していません。",
        "The request's transfer coding is not supported.",
        "chunked か Content-Length で送り直してください。",
        "Please send the body again with chunked encoding or a Content-Length.",
    ),
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
        "ops_token_required",
        401,
        "運用画面の認証情報が必要です。",
        "An ops token is required.",
        "有効なトークンを指定してください。",
        "Present a valid bearer token.",
    ),
    Reason(
        "auditor_token_required",
        401,
        "監査者の認証情報が必要です。",
        "An auditor token is required.",
        "有効な監査者トークンを指定してください。",
        "Present a valid auditor token.",
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
    # Card layer (vaxcert/card): reader states, PIN (C01) and card-data verification (C03).
    Reason(
        "card_reader_unavailable",
        503,
        "カードリーダーを利用できません。",
        "The card reader is not available.",
        "係員にお知らせください。",
        "Please ask a member of staff.",
    ),
    Reason(
        "card_not_present",
        409,
        "カードが置かれていません。",
        "No card is on the reader.",
        "マイナンバーカードをカードリーダーに置いてください。",
        "Please place your My Number card on the reader.",
    ),
    Reason(
        "card_not_my_number",
        422,
        "マイナンバーカードではありません。",
        "This is not a My Number card.",
        "マイナンバーカードを置いてください。",
        "Please place your My Number card on the reader.",
    ),
    Reason(
        "card_removed",
        409,
        "読み取り中にカードが離れました。",
        "The card was removed while it was being read.",
        "カードを置き直して、もう一度お試しください。",
        "Please place the card again and retry.",
    ),
    Reason(
        "card_timeout",
        504,
        "カードの読み取りが時間内に終わりませんでした。",
        "Reading the card took too long.",
        "カードを置き直して、もう一度お試しください。",
        "Please place the card again and retry.",
    ),
    Reason(
        "card_communication_failed",
        502,
        "カードと通信できませんでした。",
        "The card could not be read.",
        "カードを置き直して、もう一度お試しください。",
        "Please place the card again and retry.",
    ),
    Reason(
        "card_unexpected_status",
        502,
        "カードから想定外の応答がありました。",
        "The card gave an unexpected answer.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "card_access_denied",
        403,
        "暗証番号の確認前にカードの情報は読めません。",
        "The card data cannot be read before the PIN is verified.",
        "暗証番号を入力してください。",
        "Please enter your PIN.",
    ),
    Reason(
        "pin_format_invalid",
        422,
        "暗証番号は数字4桁です。",
        "The PIN has exactly 4 digits.",
        "券面事項入力補助用の暗証番号(数字4桁)を入力してください。",
        "Please enter the 4-digit PIN for the text input support application.",
    ),
    Reason(
        "pin_incorrect",
        403,
        "暗証番号が違います。",
        "The PIN is incorrect.",
        "3回続けて間違えるとロックされます。残り回数を確認して入力してください。",
        "Three wrong entries in a row lock the card; mind the tries left.",
    ),
    Reason(
        "card_data_malformed",
        422,
        "カードの情報の形式が正しくありません。",
        "The card data is malformed.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "card_ca_unknown",
        422,
        "カードの発行元を確認できませんでした。",
        "The card's issuing authority is not known.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "card_cvc_signature_invalid",
        422,
        "カードの証明書を確認できませんでした。",
        "The card's certificate could not be verified.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "card_data_signature_invalid",
        422,
        "カードの情報の署名を確認できませんでした。",
        "The signature over the card data is invalid.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "card_digest_mismatch",
        422,
        "カードの情報が改ざんされている可能性があります。",
        "The card data does not match its signed digests.",
        _COUNTER_JA,
        _COUNTER_EN,
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
        "サービス提供時間外です。",
        "The service is closed now.",
        # No hours here: they are configuration (center.service_hours), not catalogue text.
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
        "overloaded",
        503,
        "ただいま混み合っています。",
        "The service is busy right now.",
        "少し待ってからもう一度お試しください。料金はかかっていません。",
        "Please try again in a moment. You have not been charged.",
    ),
    Reason(
        "maintenance",
        503,
        "ただいまメンテナンス中です。",
        "The service is under maintenance.",
        _RETRY_JA,
        _RETRY_EN,
    ),
    # Certificate encodings (vaxcert.formats), shared by the signer and the verifier.
    *(
        Reason(code, 422, ja, en)
        for code, ja, en in (
            ("b64url_invalid", "base64url の形式が正しくありません。", "A value is not base64url."),
            ("jwk_invalid", "公開鍵の形式が正しくありません。", "A public key (JWK) is malformed."),
            (
                "signature_malformed",
                "署名の形式が正しくありません。",
                "The signature is malformed.",
            ),
            (
                "shc_prefix_missing",
                "SMART Health Card ではありません。",
                "The text is not a SMART Health Card (no shc:/ prefix).",
            ),
            (
                "shc_whitespace",
                "QRデータに空白が含まれています。",
                "The QR text contains whitespace.",
            ),
            (
                "shc_chunked",
                "分割QRコードには対応していません。",
                "Chunked (multi-QR) cards are not accepted.",
            ),
            (
                "shc_not_numeric",
                "QRデータに数字以外が含まれています。",
                "The QR text holds non-digit characters.",
            ),
            (
                "shc_odd_digits",
                "QRデータの桁数が正しくありません。",
                "The QR text has an odd number of digits.",
            ),
            (
                "shc_digit_out_of_range",
                "QRデータの値が範囲外です。",
                "The QR text holds a digit pair above 77.",
            ),
            (
                "shc_too_large",
                "証明書が1つのQRコードに収まりません。",
                "The card does not fit in one QR code.",
            ),
            (
                "shc_file_invalid",
                "ファイルの形式が正しくありません。",
                "The .smart-health-card file is malformed.",
            ),
            ("jws_malformed", "署名データの形式が正しくありません。", "The JWS is malformed."),
            (
                "payload_not_compressed",
                "証明書データが圧縮されていません。",
                "The payload is not DEFLATE-compressed.",
            ),
            (
                "payload_zlib_wrapped",
                "証明書データの圧縮形式が正しくありません。",
                "The payload is zlib-wrapped instead of raw DEFLATE.",
            ),
            (
                "payload_inflate_failed",
                "証明書データを展開できません。",
                "The payload cannot be inflated.",
            ),
            (
                "payload_bom",
                "証明書データにBOMが含まれています。",
                "The payload starts with a byte-order mark.",
            ),
            (
                "payload_not_utf8",
                "証明書データの文字コードが正しくありません。",
                "The payload is not UTF-8.",
            ),
            (
                "payload_not_json",
                "証明書データの形式が正しくありません。",
                "The payload is not a JSON object.",
            ),
            (
                "vdsnc_not_json",
                "VDS-NC のデータが JSON ではありません。",
                "The VDS-NC is not JSON.",
            ),
            (
                "vdsnc_structure_invalid",
                "VDS-NC の構造が正しくありません。",
                "The VDS-NC structure is invalid.",
            ),
        )
    ),
    # Verifier checks (verifier/): why a scanned certificate is not valid, and warnings. Failures
    # carry 422; the texts are shown to the person checking the certificate.
    *(
        Reason(code, 422, ja, en, _REISSUE_JA, _REISSUE_EN)
        for code, ja, en in (
            (
                "input_unrecognised",
                "証明書のQRコード・データとして認識できません。",
                "The input is not a certificate QR text, JWS, file, image or PDF.",
            ),
            (
                "no_certificate_found",
                "画像からQRコードを読み取れませんでした。",
                "No QR code could be read from the image.",
            ),
            ("image_unreadable", "画像を読み込めません。", "The image cannot be read."),
            ("image_too_large", "画像が大きすぎます。", "The image is too large."),
            ("pdf_unreadable", "PDFを読み込めません。", "The PDF cannot be read."),
            (
                "multiple_certificates",
                "複数の証明書が含まれています。",
                "The input holds more than one certificate.",
            ),
            (
                "jws_alg_unsupported",
                "署名方式が ES256 ではありません。",
                "The JWS algorithm is not ES256.",
            ),
            (
                "jws_zip_missing",
                "署名データのヘッダに圧縮指定(zip DEF)がありません。",
                "The JWS header lacks zip DEF.",
            ),
            (
                "jws_kid_missing",
                "署名データのヘッダに鍵ID(kid)がありません。",
                "The JWS header lacks a key id (kid).",
            ),
            (
                "payload_claims_invalid",
                "証明書データの必須項目(iss, nbf, vc)が正しくありません。",
                "The payload's iss, nbf or vc claim is missing or malformed.",
            ),
            (
                "iss_not_https",
                "発行者URLが https ではありません。",
                "The issuer URL is not https.",
            ),
            (
                "iss_trailing_slash",
                "発行者URLの末尾に / があります。",
                "The issuer URL ends with a slash.",
            ),
            (
                "issuer_untrusted",
                "信頼された発行者の証明書ではありません。",
                "The issuer is not in the trust store.",
            ),
            (
                "kid_unknown",
                "発行者の署名鍵が見つかりません。",
                "The issuer has no trusted key with this key id.",
            ),
            (
                "signature_der",
                "署名が DER 形式です(r‖s 形式が必要です)。",
                "The signature is DER-encoded instead of raw r‖s.",
            ),
            (
                "signature_invalid",
                "署名が正しくありません(改ざんの可能性があります)。",
                "The signature is invalid: the certificate may have been altered.",
            ),
            (
                "signature_algorithm_unsupported",
                "署名方式に対応していません。",
                "The signature algorithm does not fit the key.",
            ),
            ("expired", "証明書の有効期限が切れています。", "The certificate has expired."),
            ("revoked", "証明書は失効しています。", "The certificate has been revoked."),
            (
                "not_health_card",
                "ワクチン接種証明書(health-card)ではありません。",
                "The card is not a SMART Health Card (no #health-card type).",
            ),
            (
                "bundle_invalid",
                "証明書の内容(FHIR Bundle)の形式が正しくありません。",
                "The FHIR bundle is malformed.",
            ),
            (
                "bundle_reference_invalid",
                "証明書の内容に resource:N 形式でない参照があります。",
                "The FHIR bundle holds a reference that is not resource:N.",
            ),
            (
                "bundle_reference_unresolved",
                "証明書の内容に解決できない参照があります。",
                "The FHIR bundle holds a reference to a missing entry.",
            ),
            (
                "bundle_no_patient",
                "証明書に接種者の情報がありません。",
                "The FHIR bundle has no patient.",
            ),
            (
                "x5c_invalid",
                "発行者の証明書チェーン(x5c)が正しくありません。",
                "The issuer key's x5c certificate chain is invalid.",
            ),
            (
                "x5c_expired",
                "発行者の証明書チェーン(x5c)の有効期間外です。",
                "The issuer key's x5c chain is not valid at this time.",
            ),
            (
                "vdsnc_type_unsupported",
                "ワクチン接種証明(icao.vacc v1)ではありません。",
                "The VDS-NC is not a proof of vaccination (icao.vacc v1).",
            ),
            (
                "bsc_malformed",
                "署名者証明書(BSC)を読み取れません。",
                "The barcode signer certificate cannot be parsed.",
            ),
            (
                "bsc_eku_missing",
                "署名者証明書に VDS-NC 用の拡張鍵用途がありません。",
                "The barcode signer certificate lacks the VDS-NC extended key usage.",
            ),
            (
                "bsc_nv_missing",
                "署名者証明書の文書種別に NV がありません。",
                "The barcode signer certificate does not list document type NV.",
            ),
            (
                "unknown_trust_anchor",
                "信頼された国の署名者ではありません(CSCA が不明です)。",
                "Unknown trust anchor: no trusted CSCA issued the barcode signer.",
            ),
            (
                "bsc_chain_invalid",
                "署名者証明書が信頼された CSCA で検証できません。",
                "The barcode signer certificate does not verify with any matching CSCA.",
            ),
            (
                "bsc_expired",
                "署名者証明書の有効期限が切れています。",
                "The barcode signer certificate has expired.",
            ),
            (
                "csca_expired",
                "国の署名証明書(CSCA)の有効期限が切れています。",
                "The country signing CA certificate has expired.",
            ),
            (
                "issuing_country_mismatch",
                "発行国が署名者の国と一致しません。",
                "The issuing country does not match the trusted CSCA's country.",
            ),
            (
                "bsc_revoked",
                "署名者証明書は失効しています。",
                "The barcode signer certificate has been revoked.",
            ),
            (
                "crl_signature_invalid",
                "失効リスト(CRL)の署名が正しくありません。",
                "The CSCA's revocation list has an invalid signature.",
            ),
            (
                "policy_empty",
                "検証項目が設定されていません。",
                "No checks were configured (refusing to pass).",
            ),
        )
    ),
    # Verifier warnings: the certificate may still be valid; the person checking should know.
    *(
        Reason(code, 200, ja, en, next_ja, next_en)
        for code, ja, en, next_ja, next_en in (
            (
                "clock_skew",
                "証明書の発行時刻が未来です。端末の時計が正しくない可能性があります。",
                "The certificate was issued in the future: the device clock may be wrong.",
                "端末の日時設定を確認してください。",
                "Check this device's date and time.",
            ),
            (
                "crl_stale",
                "失効リスト(CRL)の更新期限を過ぎています。",
                "The revocation list is past its next update.",
                "信頼データを更新してください(vaxcert trust refresh)。",
                "Refresh the trust data (vaxcert trust refresh).",
            ),
            (
                "crl_missing",
                "失効リスト(CRL)がないため失効を確認できません。",
                "No revocation list: revocation was not checked.",
                "信頼データを更新してください(vaxcert trust refresh)。",
                "Refresh the trust data (vaxcert trust refresh).",
            ),
            (
                "trust_stale",
                "信頼データ(公開鍵・失効リスト)が古くなっています。",
                "The trust data (keys, revocation lists) is out of date.",
                "信頼データを更新してください(vaxcert trust refresh)。",
                "Refresh the trust data (vaxcert trust refresh).",
            ),
        )
    ),
    Reason(
        "trust_store_invalid",
        500,
        "信頼データ(トラストストア)が正しくありません。",
        "The trust store is invalid.",
    ),
    # Certificate-issuance center (kiosk API, issuance rules).
    Reason("kiosk_unknown", 403, "この端末は登録されていません。", "This kiosk is not registered."),
    Reason("kiosk_disabled", 403, "この端末は利用停止中です。", "This kiosk is disabled."),
    Reason("rate_limited", 429, "要求が多すぎます。", "Too many requests.", _RETRY_JA, _RETRY_EN),
    Reason(
        "consent_required",
        422,
        "利用規約への同意が必要です。",
        "You must accept the current terms of use.",
        "利用規約を確認し、同意してください。",
        "Please read and accept the terms of use.",
    ),
    Reason(
        "request_replayed",
        409,
        "同じ申請が既に送信されています。",
        "This application was already sent.",
        "最初からやり直してください。",
        "Please start again.",
    ),
    Reason(
        "no_vaccination_record",
        404,
        "選択した市区町村に接種記録が見つかりません。",
        "No vaccination record was found in the municipality you chose.",
        "接種時に住民票があった市区町村を選び直すか、その市区町村の窓口で申請してください。",
        "Choose the municipality where you lived when vaccinated, or apply at its counter.",
    ),
    Reason(
        "record_mismatch",
        403,
        "カードの情報と接種記録が一致しません。",
        "The information on your card does not match the vaccination record.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "passport_not_on_file",
        403,
        "旅券(パスポート)の情報が登録されていません。",
        "No passport information is on file for an overseas certificate.",
        "アプリで一度申請するか、市区町村の窓口で申請してください。",
        "Apply once with the smartphone app, or at the municipal counter.",
    ),
    # App API (電子交付): the genuine app only (C06), passport MRZ for 海外用 (docs/app-api.md).
    *(
        Reason(
            code,
            401,
            ja,
            en,
            "アプリを最新の状態にして、もう一度お試しください。",
            "Please update the app and try again.",
        )
        for code, ja, en in (
            (
                "app_attestation_missing",
                "アプリの認証情報がありません。",
                "The request carries no app attestation.",
            ),
            (
                "app_attestation_invalid",
                "アプリの認証情報を確認できませんでした。",
                "The app attestation could not be verified.",
            ),
            (
                "app_attestation_stale",
                "アプリの認証情報の有効期限が切れています。",
                "The app attestation is not fresh.",
            ),
            ("app_id_mismatch", "対応していないアプリです。", "This app is not the genuine app."),
            (
                "app_instance_unknown",
                "このアプリは登録されていません。",
                "This app instance is not registered.",
            ),
            (
                "app_instance_revoked",
                "このアプリは利用停止されています。",
                "This app instance has been revoked.",
            ),
            (
                "app_challenge_invalid",
                "申請の確認コードが無効です。",
                "The challenge is unknown or has expired.",
            ),
            (
                "app_challenge_reused",
                "申請の確認コードは既に使われています。",
                "The challenge was already used.",
            ),
            (
                "app_signature_invalid",
                "申請の署名を確認できませんでした。",
                "The request signature does not verify.",
            ),
        )
    ),
    Reason(
        "mrz_invalid",
        422,
        "旅券(パスポート)の読み取り結果が正しくありません。",
        "The passport's machine-readable zone is invalid.",
        "旅券の顔写真のページをもう一度読み取ってください。",
        "Please scan the passport's photo page again.",
    ),
    Reason(
        "passport_expired",
        422,
        "旅券(パスポート)の有効期限が切れています。",
        "The passport has expired.",
        "有効な旅券で申請してください。",
        "Please apply with a valid passport.",
    ),
    Reason(
        "passport_mismatch",
        403,
        "旅券(パスポート)の情報と接種記録が一致しません。",
        "The passport does not match the vaccination record.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    # Certificate PDF (vaxcert/certificate/pdf.py, shared by the kiosk and the app API).
    Reason(
        "certificate_unprintable",
        502,
        "証明書を作成できませんでした。",
        "The certificate could not be produced.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    # Signer: who may call it, what it can sign, its keys.
    Reason(
        "client_not_allowed",
        403,
        "この接続元からは署名を依頼できません。",
        "This client may not call the signer.",
    ),
    Reason(
        "vaccine_product_unknown",
        422,
        "ワクチンの種類を特定できません。",
        "The vaccine product is not known.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "vaccine_not_issuable",
        422,
        "このワクチンの接種記録では証明書を交付できません。",
        "A certificate cannot be issued for this vaccine product.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "vaccine_code_mismatch",
        422,
        "ワクチンのコードが製品と一致しません。",
        "A vaccine code does not match the product table.",
    ),
    Reason(
        "dose_order_invalid",
        422,
        "接種回と接種日の順序が合っていません。",
        "The dose numbers do not follow the vaccination dates.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "vdsnc_overseas_only",
        422,
        "ICAO VDS-NC は海外用の証明書にのみ付与します。",
        "An ICAO VDS-NC is issued only for overseas certificates.",
    ),
    Reason(
        "vdsnc_too_large",
        422,
        "証明書が1つのQRコードに収まりません。",
        "The VDS-NC does not fit in one QR code.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "shc_bundle_nonconformant",
        422,
        "証明書データがQR用の形式に合っていません。",
        "The FHIR bundle does not follow the SMART Health Cards QR profile.",
    ),
    Reason(
        "signer_key_unavailable",
        503,
        "署名鍵を利用できません。",
        "The signing key is not available.",
        _RETRY_JA,
        _RETRY_EN,
    ),
    Reason(
        "signer_state_invalid",
        503,
        "署名サービスの鍵情報が正しくありません。",
        "The signer's key state is missing or invalid.",
        _RETRY_JA,
        _RETRY_EN,
    ),
    Reason(
        "signer_certificate_mismatch",
        422,
        "この証明書は申請中の署名鍵のものではありません。",
        "The certificate is not for a signer key that is waiting for one.",
        "`vaxcert signer status` の申請中の鍵と、CSCAに送った申請を確認してください。",
        "Check the pending keys in `vaxcert signer status` and the request sent to the CSCA.",
    ),
    Reason(
        "signer_certificate_untrusted",
        422,
        "この証明書はCSCAの署名者証明書として受け付けられません。",
        "The certificate is not a barcode signer certificate from the configured CSCA.",
        "理由を確認し、CSCAに証明書の発行をやり直してもらってください。",
        "Check the reasons given and ask the CSCA to issue the certificate again.",
    ),
    # VRS stub: relay API for the center, municipal staff API (C09, C12, C14, C19).
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
    Reason(
        "vrs_import_conflict",
        409,
        "同じ記録を別の取込が同時に登録しました。何も取り込んでいません。",
        "Another import registered the same records at the same time; nothing was imported.",
        "もう一度取り込んでください。",
        "Import the file again.",
    ),
    # Kiosk terminal (kiosk/): printer, cash unit, payment.
    Reason(
        "printer_unavailable",
        503,
        "プリンターが使用できません。",
        "The printer is not available.",
        "料金はお返ししました。別の店舗の端末をご利用ください。",
        "Your money has been returned. Please use a terminal in another store.",
    ),
    Reason(
        "misprint_refunded",
        503,
        "証明書を印刷できませんでした。料金はお返ししました。",
        "The certificate could not be printed. Your money has been returned.",
        "お問い合わせの際は、画面の受付番号をお伝えください。",
        "If you contact us, please give the incident number shown on the screen.",
    ),
    Reason(
        "payment_incomplete",
        422,
        "料金が不足しています。",
        "The fee has not been paid in full yet.",
        "不足分の硬貨または千円札を入れてください。",
        "Please insert coins or 1000-yen bills for the rest.",
    ),
    Reason(
        "cash_unit_busy",
        409,
        "精算機が使用できません。",
        "The cash unit is not ready.",
        "取消を押して、最初からやり直してください。",
        "Please press Cancel and start again.",
    ),
    Reason(
        "kiosk_busy",
        409,
        "この端末は別の方がご利用中です。",
        "Someone else is using this kiosk.",
        "前の方のご利用が終わるまでお待ちください。",
        "Please wait until the person before you has finished.",
    ),
    Reason(
        "receipt_amount_mismatch",
        422,
        "領収の金額が手数料と一致しません。",
        "The receipt's amount does not match the fee.",
        "運用担当者に連絡してください。",
        "Please contact the operator.",
    ),
    # Configuration.
    Reason("config_invalid", 500, "設定が正しくありません。", "The configuration is invalid."),
    Reason(
        "internal_error",
        500,
        "システムエラーが発生しました。",
        "An internal error occurred.",
        # A 500 cannot know what had happened before it (a payment, say): promise nothing.
        "しばらくしてからもう一度お試しください。",
        "Please try again later.",
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
