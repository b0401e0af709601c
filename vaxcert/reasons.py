"""The one catalogue of reason codes shared by every service, the kiosk, the app and the verifier.

Each reason has a stable code, an HTTP status for APIs, a message for the person in front of the
screen and a next step, in Japanese and English, and for the kiosk's residents also in Simplified
Chinese and Korean (issue 13). Services raise :class:`vaxcert.errors.VaxcertError` with a code
from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, get_args

Language = Literal["ja", "en", "zh", "ko"]
LANGUAGES: tuple[Language, ...] = get_args(Language)


@dataclass(frozen=True, slots=True)
class Reason:
    """One refusal or error cause: code, HTTP status and texts with the next step per language."""

    code: str
    status: int
    ja: str
    en: str
    next_ja: str = ""
    next_en: str = ""
    zh: str = ""
    next_zh: str = ""
    ko: str = ""
    next_ko: str = ""

    def message(self, lang: Language = "en") -> str:
        """The message in the requested language (English where a translation is missing)."""
        text: str = getattr(self, lang) if lang in LANGUAGES else ""
        return text or self.en

    def next_step(self, lang: Language = "en") -> str:
        """What the person should do next, in the requested language."""
        text: str = getattr(self, f"next_{lang}") if lang in LANGUAGES else ""
        return text or self.next_en


_COUNTER_JA = "お住まいの（接種時の）市区町村の窓口で申請してください。"
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
        "お住まいの市区町村の窓口で暗証番号の再設定を受けてください。",
        "Please have the PIN re-set at your municipal office.",
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
        "カードを読み取れませんでした。",
        "Your card could not be read.",
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
        "券面事項入力補助用の暗証番号（数字4桁）を入力してください。",
        "Please enter the 4-digit PIN for the text input support application.",
    ),
    Reason(
        "pin_incorrect",
        403,
        "暗証番号が違います。",
        "The PIN is incorrect.",
        "3回続けて間違えるとロックされます。残り回数を確認して入力してください。",
        "Three wrong PINs in a row lock the card. Check the tries left before you try again.",
    ),
    Reason(
        "card_data_malformed",
        422,
        "カードの情報を正しく読み取れませんでした。",
        "Your card could not be read correctly.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "card_ca_unknown",
        422,
        "このカードは確認できませんでした。",
        "Your card could not be checked.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "card_cvc_signature_invalid",
        422,
        "このカードは確認できませんでした。",
        "Your card could not be checked.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "card_data_signature_invalid",
        422,
        "このカードは確認できませんでした。",
        "Your card could not be checked.",
        _COUNTER_JA,
        _COUNTER_EN,
    ),
    Reason(
        "card_digest_mismatch",
        422,
        "このカードは確認できませんでした。",
        "Your card could not be checked.",
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
            (
                "uvci_list_missing",
                "発行者の失効証明書リストがないため、この証明書の失効は確認していません。",
                "The issuer's list of revoked certificates is not available: this "
                "certificate's revocation was not checked.",
                "信頼データに発行者の失効証明書リスト(uvci_list_url)を設定してください。",
                "Add the issuer's list of revoked certificates (uvci_list_url) to the trust data.",
            ),
        )
    ),
    # The verifier page's one verdict per sheet, in words a person at a gate understands.
    *(
        Reason(code, 422, ja, en, next_ja, next_en)
        for code, ja, en, next_ja, next_en in (
            (
                "sheet_not_certificate",
                "ワクチン接種証明書ではありません。",
                "This is not a vaccination certificate.",
                "接種証明書のQRコード(紙またはアプリの画面)を見せてもらってください。",
                "Ask for the QR code of the vaccination certificate (paper or app screen).",
            ),
            (
                "sheet_damaged",
                "コードが破損しているか、改ざんされています。",
                "The code is damaged or has been altered.",
                "原本(紙またはアプリの画面)でもう一度読み取ってください。原本でも同じ場合は"
                "受け付けず、証明書の再発行を案内してください。",
                "Scan the original (paper or app screen) again. If the original gives the same "
                "result, do not accept it: the holder must have the certificate re-issued.",
            ),
            (
                "sheet_revoked",
                "この証明書は発行者によって取り消されています。",
                "This certificate has been withdrawn (revoked) by its issuer.",
                "受け付けないでください。別の方法で接種歴を確認してください。",
                "Do not accept it. Check vaccination another way.",
            ),
            (
                "sheet_untrusted",
                "信頼できる発行者の証明書ではありません。",
                "This certificate is not from a trusted issuer.",
                "受け付けないでください。別の方法で接種歴を確認してください。",
                "Do not accept it. Check vaccination another way.",
            ),
            (
                "sheet_expired",
                "証明書の有効期限が切れています。",
                "The certificate has expired.",
                "新しい証明書を見せてもらってください。",
                "Ask for a current certificate.",
            ),
            (
                "sheet_unreadable",
                "コードを読み取れませんでした。",
                "The code could not be read.",
                "コード全体を枠に入れ、明るい場所で、ゆっくり近づけてください。",
                "Hold the whole code in the frame, in good light, and bring it slowly closer.",
            ),
            (
                "sheet_mismatch",
                "この用紙のコードは別々の人、または別々の証明書のものです。",
                "The codes on this sheet belong to different people or different certificates.",
                "受け付けないでください。本人の証明書の原本を見せてもらってください。",
                "Do not accept the sheet. Ask for the holder's own original certificate.",
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
        "旅券（パスポート）の情報が登録されていません。",
        "No passport information is on file for an overseas certificate.",
        # The smartphone app is mentioned by the kiosk only when it exists (kiosk.app_available).
        "日本国内用を選ぶか、海外用は市区町村の窓口で申請してください。",
        "Choose the certificate for use in Japan, or apply for the overseas one at the "
        "municipal counter.",
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

# --- 简体中文 and 한국어 (issue 13): for residents who read neither Japanese nor English ---
# Kept apart from the ja/en entries above so that a reason's four languages are checked together
# (tests/test_languages.py: every code has zh and ko wherever it has ja and en).
_COUNTER_ZH = "请到接种时所住市区町村的窗口申请。"
_COUNTER_KO = "접종 당시 거주하신 시구정촌 창구에서 신청해 주십시오."
_RETRY_ZH = "请稍后再试。您没有被收取任何费用。"
_RETRY_KO = "잠시 후 다시 시도해 주십시오. 요금은 청구되지 않았습니다."
_REISSUE_ZH = "无法接受此证明书。请用其他方式确认接种记录，或请持有人重新申请发行证明书。"
_REISSUE_KO = (
    "이 증명서는 인정할 수 없습니다. 다른 방법으로 접종 이력을 확인하거나, "
    "소지자에게 증명서 재발급을 안내해 주십시오."
)
_CARD_AGAIN_ZH = "请重新放置卡片后再试一次。"
_CARD_AGAIN_KO = "카드를 다시 올려놓고 다시 시도해 주십시오."
_PLACE_CARD_ZH = "请将个人编号卡（My Number卡）放在读卡器上。"
_PLACE_CARD_KO = "마이넘버 카드를 카드 리더기에 올려놓아 주십시오."
_REFRESH_TRUST_ZH = "请更新信任数据（vaxcert trust refresh）。"
_REFRESH_TRUST_KO = "신뢰 데이터를 갱신해 주십시오(vaxcert trust refresh)."

# code: (zh, next_zh, ko, next_ko)
_ZH_KO: dict[str, tuple[str, str, str, str]] = {
    "bad_request": ("请求格式不正确。", "", "요청 형식이 올바르지 않습니다.", ""),
    "invalid_field": ("输入的值不正确。", "", "입력한 값이 올바르지 않습니다.", ""),
    "unknown_field": (
        "请求中含有不受理的项目。",
        "",
        "허용되지 않는 항목이 포함되어 있습니다.",
        "",
    ),
    "missing_field": ("缺少必要的项目。", "", "필요한 항목이 없습니다.", ""),
    "unsupported_media_type": ("不支持此数据格式。", "", "지원하지 않는 데이터 형식입니다.", ""),
    "not_found": ("未找到。", "", "찾을 수 없습니다.", ""),
    "method_not_allowed": ("不允许此操作。", "", "허용되지 않는 조작입니다.", ""),
    "payload_too_large": ("数据过大。", "", "데이터가 너무 큽니다.", ""),
    "uri_too_long": (
        "请求的地址（URL）过长。",
        "请缩短地址后重新发送。",
        "요청 주소(URL)가 너무 깁니다.",
        "주소를 줄여서 다시 보내 주십시오.",
    ),
    "header_fields_too_large": (
        "请求头过大或过多。",
        "请减少请求头后重新发送。",
        "요청 헤더가 너무 크거나 너무 많습니다.",
        "헤더를 줄여서 다시 보내 주십시오.",
    ),
    "expectation_failed": (
        "无法满足请求的 Expect 头。",
        "请不带 Expect 头重新发送。",
        "요청의 Expect 헤더에 응할 수 없습니다.",
        "Expect 헤더 없이 다시 보내 주십시오.",
    ),
    "transfer_coding_unsupported": (
        "不支持请求的传输编码。",
        "请使用 chunked 或 Content-Length 重新发送。",
        "요청의 전송 인코딩을 지원하지 않습니다.",
        "chunked 또는 Content-Length로 다시 보내 주십시오.",
    ),
    "csrf_failed": (
        "页面已过期。",
        "请从头开始。",
        "화면의 유효 기간이 지났습니다.",
        "처음부터 다시 해 주십시오.",
    ),
    "client_cert_required": ("需要客户端证书。", "", "클라이언트 인증서가 필요합니다.", ""),
    "client_cert_denied": (
        "此终端的证书已停止使用。",
        "",
        "이 단말기의 인증서는 사용이 정지되었습니다.",
        "",
    ),
    "ops_token_required": (
        "需要运维界面的认证信息。",
        "请提供有效的令牌。",
        "운영 화면의 인증 정보가 필요합니다.",
        "유효한 토큰을 제시해 주십시오.",
    ),
    "auditor_token_required": (
        "需要审计员的认证信息。",
        "请提供有效的审计员令牌。",
        "감사자의 인증 정보가 필요합니다.",
        "유효한 감사자 토큰을 제시해 주십시오.",
    ),
    "tls_required": ("需要加密连接。", "", "암호화된 연결이 필요합니다.", ""),
    "card_signature_invalid": (
        "无法验证卡内的数据。",
        _COUNTER_ZH,
        "카드 데이터를 확인할 수 없습니다.",
        _COUNTER_KO,
    ),
    "pin_locked": (
        "此卡的密码已被锁定。",
        "请到您所在市区町村的政府窗口重新设定密码。",
        "카드 비밀번호가 잠겼습니다.",
        "거주하시는 시구정촌 관공서 창구에서 비밀번호를 재설정해 주십시오.",
    ),
    "card_reader_unavailable": (
        "读卡器无法使用。",
        "请向店员咨询。",
        "카드 리더기를 사용할 수 없습니다.",
        "직원에게 문의해 주십시오.",
    ),
    "card_not_present": (
        "读卡器上没有卡片。",
        _PLACE_CARD_ZH,
        "카드 리더기에 카드가 없습니다.",
        _PLACE_CARD_KO,
    ),
    "card_not_my_number": (
        "这不是个人编号卡（My Number卡）。",
        _PLACE_CARD_ZH,
        "마이넘버 카드가 아닙니다.",
        _PLACE_CARD_KO,
    ),
    "card_removed": (
        "读取过程中卡片被取走了。",
        _CARD_AGAIN_ZH,
        "읽는 도중에 카드가 제거되었습니다.",
        _CARD_AGAIN_KO,
    ),
    "card_timeout": (
        "读取卡片的时间过长。",
        _CARD_AGAIN_ZH,
        "카드를 읽는 데 시간이 너무 오래 걸렸습니다.",
        _CARD_AGAIN_KO,
    ),
    "card_communication_failed": (
        "无法读取卡片。",
        _CARD_AGAIN_ZH,
        "카드를 읽을 수 없습니다.",
        _CARD_AGAIN_KO,
    ),
    "card_unexpected_status": (
        "卡片的应答异常。",
        _COUNTER_ZH,
        "카드에서 예상하지 못한 응답이 왔습니다.",
        _COUNTER_KO,
    ),
    "card_access_denied": (
        "验证密码之前无法读取卡内的数据。",
        "请输入密码。",
        "비밀번호를 확인하기 전에는 카드 데이터를 읽을 수 없습니다.",
        "비밀번호를 입력해 주십시오.",
    ),
    "pin_format_invalid": (
        "密码为4位数字。",
        "请输入“券面事项输入辅助用”的4位数密码。",
        "비밀번호는 숫자 4자리입니다.",
        "권면사항 입력보조용 비밀번호 4자리를 입력해 주십시오.",
    ),
    "pin_incorrect": (
        "密码不正确。",
        "连续输错3次，卡片将被锁定。请留意剩余的次数。",
        "비밀번호가 올바르지 않습니다.",
        "연속으로 3번 틀리면 카드가 잠깁니다. 남은 횟수에 주의해 주십시오.",
    ),
    "card_data_malformed": (
        "卡内的数据格式不正确。",
        _COUNTER_ZH,
        "카드 데이터의 형식이 올바르지 않습니다.",
        _COUNTER_KO,
    ),
    "card_ca_unknown": (
        "无法确认此卡的发行机构。",
        _COUNTER_ZH,
        "카드 발급 기관을 확인할 수 없습니다.",
        _COUNTER_KO,
    ),
    "card_cvc_signature_invalid": (
        "无法验证卡内的证书。",
        _COUNTER_ZH,
        "카드의 인증서를 확인할 수 없습니다.",
        _COUNTER_KO,
    ),
    "card_data_signature_invalid": (
        "卡内数据的签名无效。",
        _COUNTER_ZH,
        "카드 데이터의 서명이 유효하지 않습니다.",
        _COUNTER_KO,
    ),
    "card_digest_mismatch": (
        "卡内的数据与其签名不一致。",
        _COUNTER_ZH,
        "카드 데이터가 서명 내용과 일치하지 않습니다.",
        _COUNTER_KO,
    ),
    "municipality_not_participating": (
        "该市区町村不在便利店的终端发行证明书。",
        _COUNTER_ZH,
        "이 시구정촌은 편의점 단말기에서 증명서를 발급하지 않습니다.",
        _COUNTER_KO,
    ),
    "outside_service_hours": (
        "现在不在服务时间内。",
        "请在服务时间内再来。",
        "지금은 서비스 시간이 아닙니다.",
        "서비스 시간 중에 다시 이용해 주십시오.",
    ),
    "counter_required": (
        "无法在此终端发行证明书。",
        _COUNTER_ZH,
        "이 단말기에서는 증명서를 발급할 수 없습니다.",
        _COUNTER_KO,
    ),
    "service_unavailable": (
        "服务暂时无法使用。",
        _RETRY_ZH,
        "서비스를 일시적으로 이용할 수 없습니다.",
        _RETRY_KO,
    ),
    "overloaded": (
        "服务目前十分繁忙。",
        "请稍等片刻再试。您没有被收取任何费用。",
        "지금 서비스가 매우 혼잡합니다.",
        "잠시 후 다시 시도해 주십시오. 요금은 청구되지 않았습니다.",
    ),
    "maintenance": ("服务正在维护中。", _RETRY_ZH, "서비스 점검 중입니다.", _RETRY_KO),
    "b64url_invalid": ("有值不是 base64url 格式。", "", "base64url 형식이 아닌 값이 있습니다.", ""),
    "jwk_invalid": ("公钥（JWK）格式不正确。", "", "공개 키(JWK)의 형식이 올바르지 않습니다.", ""),
    "signature_malformed": ("签名格式不正确。", "", "서명의 형식이 올바르지 않습니다.", ""),
    "shc_prefix_missing": (
        "此文本不是 SMART Health Card（没有 shc:/ 前缀）。",
        "",
        "이 텍스트는 SMART Health Card가 아닙니다(shc:/ 접두어가 없음).",
        "",
    ),
    "shc_whitespace": (
        "二维码文本中含有空白字符。",
        "",
        "QR 코드 텍스트에 공백 문자가 있습니다.",
        "",
    ),
    "shc_chunked": (
        "不接受分割（多个二维码）的卡。",
        "",
        "분할된(여러 QR 코드) 카드는 받지 않습니다.",
        "",
    ),
    "shc_not_numeric": (
        "二维码文本中含有非数字字符。",
        "",
        "QR 코드 텍스트에 숫자가 아닌 문자가 있습니다.",
        "",
    ),
    "shc_odd_digits": ("二维码文本的位数为奇数。", "", "QR 코드 텍스트의 자릿수가 홀수입니다.", ""),
    "shc_digit_out_of_range": (
        "二维码文本中有大于77的两位数。",
        "",
        "QR 코드 텍스트에 77보다 큰 두 자리 수가 있습니다.",
        "",
    ),
    "shc_too_large": (
        "内容无法放入一个二维码。",
        "",
        "내용이 QR 코드 하나에 들어가지 않습니다.",
        "",
    ),
    "shc_file_invalid": (
        ".smart-health-card 文件格式不正确。",
        "",
        ".smart-health-card 파일의 형식이 올바르지 않습니다.",
        "",
    ),
    "jws_malformed": ("JWS 格式不正确。", "", "JWS의 형식이 올바르지 않습니다.", ""),
    "payload_not_compressed": (
        "有效载荷未经 DEFLATE 压缩。",
        "",
        "페이로드가 DEFLATE로 압축되어 있지 않습니다.",
        "",
    ),
    "payload_zlib_wrapped": (
        "有效载荷是 zlib 封装，而不是原始 DEFLATE。",
        "",
        "페이로드가 순수 DEFLATE가 아니라 zlib로 감싸져 있습니다.",
        "",
    ),
    "payload_inflate_failed": ("无法解压有效载荷。", "", "페이로드의 압축을 풀 수 없습니다.", ""),
    "payload_bom": (
        "有效载荷以字节顺序标记（BOM）开头。",
        "",
        "페이로드가 바이트 순서 표시(BOM)로 시작합니다.",
        "",
    ),
    "payload_not_utf8": ("有效载荷不是 UTF-8。", "", "페이로드가 UTF-8이 아닙니다.", ""),
    "payload_not_json": ("有效载荷不是 JSON 对象。", "", "페이로드가 JSON 객체가 아닙니다.", ""),
    "vdsnc_not_json": ("VDS-NC 不是 JSON。", "", "VDS-NC가 JSON이 아닙니다.", ""),
    "vdsnc_structure_invalid": (
        "VDS-NC 的结构不正确。",
        "",
        "VDS-NC의 구조가 올바르지 않습니다.",
        "",
    ),
    "input_unrecognised": (
        "输入的内容不是证明书的二维码文本、JWS、文件、图像或 PDF。",
        _REISSUE_ZH,
        "입력한 내용이 증명서의 QR 코드 텍스트, JWS, 파일, 이미지, PDF 중 어느 것도 아닙니다.",
        _REISSUE_KO,
    ),
    "no_certificate_found": (
        "无法从图像中读取二维码。",
        _REISSUE_ZH,
        "이미지에서 QR 코드를 읽을 수 없습니다.",
        _REISSUE_KO,
    ),
    "image_unreadable": ("无法读取图像。", _REISSUE_ZH, "이미지를 읽을 수 없습니다.", _REISSUE_KO),
    "image_too_large": ("图像过大。", _REISSUE_ZH, "이미지가 너무 큽니다.", _REISSUE_KO),
    "pdf_unreadable": ("无法读取 PDF。", _REISSUE_ZH, "PDF를 읽을 수 없습니다.", _REISSUE_KO),
    "multiple_certificates": (
        "输入中含有多份证明书。",
        _REISSUE_ZH,
        "입력에 증명서가 여러 개 있습니다.",
        _REISSUE_KO,
    ),
    "jws_alg_unsupported": (
        "JWS 的算法不是 ES256。",
        _REISSUE_ZH,
        "JWS 알고리즘이 ES256이 아닙니다.",
        _REISSUE_KO,
    ),
    "jws_zip_missing": (
        "JWS 头中没有 zip DEF。",
        _REISSUE_ZH,
        "JWS 헤더에 zip DEF가 없습니다.",
        _REISSUE_KO,
    ),
    "jws_kid_missing": (
        "JWS 头中没有密钥 ID（kid）。",
        _REISSUE_ZH,
        "JWS 헤더에 키 ID(kid)가 없습니다.",
        _REISSUE_KO,
    ),
    "payload_claims_invalid": (
        "有效载荷的 iss、nbf 或 vc 声明缺失或格式不正确。",
        _REISSUE_ZH,
        "페이로드의 iss, nbf 또는 vc 클레임이 없거나 형식이 올바르지 않습니다.",
        _REISSUE_KO,
    ),
    "iss_not_https": (
        "发行者的 URL 不是 https。",
        _REISSUE_ZH,
        "발급자 URL이 https가 아닙니다.",
        _REISSUE_KO,
    ),
    "iss_trailing_slash": (
        "发行者的 URL 以斜杠结尾。",
        _REISSUE_ZH,
        "발급자 URL이 슬래시로 끝납니다.",
        _REISSUE_KO,
    ),
    "issuer_untrusted": (
        "发行者不在信任列表中。",
        _REISSUE_ZH,
        "발급자가 신뢰 목록에 없습니다.",
        _REISSUE_KO,
    ),
    "kid_unknown": (
        "发行者没有与此密钥 ID 对应的受信任密钥。",
        _REISSUE_ZH,
        "발급자에게 이 키 ID에 해당하는 신뢰할 수 있는 키가 없습니다.",
        _REISSUE_KO,
    ),
    "signature_der": (
        "签名是 DER 编码，而不是原始的 r‖s。",
        _REISSUE_ZH,
        "서명이 순수한 r‖s가 아니라 DER로 인코딩되어 있습니다.",
        _REISSUE_KO,
    ),
    "signature_invalid": (
        "签名无效：证明书可能已被修改。",
        _REISSUE_ZH,
        "서명이 유효하지 않습니다. 증명서가 변경되었을 수 있습니다.",
        _REISSUE_KO,
    ),
    "signature_algorithm_unsupported": (
        "签名算法与密钥不符。",
        _REISSUE_ZH,
        "서명 알고리즘이 키와 맞지 않습니다.",
        _REISSUE_KO,
    ),
    "expired": ("证明书已过期。", _REISSUE_ZH, "증명서의 유효 기간이 지났습니다.", _REISSUE_KO),
    "revoked": ("证明书已被吊销。", _REISSUE_ZH, "증명서가 폐기되었습니다.", _REISSUE_KO),
    "not_health_card": (
        "此卡不是 SMART Health Card（没有 #health-card 类型）。",
        _REISSUE_ZH,
        "이 카드는 SMART Health Card가 아닙니다(#health-card 유형이 없음).",
        _REISSUE_KO,
    ),
    "bundle_invalid": (
        "FHIR 数据包格式不正确。",
        _REISSUE_ZH,
        "FHIR 번들의 형식이 올바르지 않습니다.",
        _REISSUE_KO,
    ),
    "bundle_reference_invalid": (
        "FHIR 数据包中有不是 resource:N 形式的引用。",
        _REISSUE_ZH,
        "FHIR 번들에 resource:N 형식이 아닌 참조가 있습니다.",
        _REISSUE_KO,
    ),
    "bundle_reference_unresolved": (
        "FHIR 数据包中有指向不存在条目的引用。",
        _REISSUE_ZH,
        "FHIR 번들에 존재하지 않는 항목을 가리키는 참조가 있습니다.",
        _REISSUE_KO,
    ),
    "bundle_no_patient": (
        "FHIR 数据包中没有患者信息。",
        _REISSUE_ZH,
        "FHIR 번들에 환자 정보가 없습니다.",
        _REISSUE_KO,
    ),
    "x5c_invalid": (
        "发行者密钥的 x5c 证书链无效。",
        _REISSUE_ZH,
        "발급자 키의 x5c 인증서 체인이 유효하지 않습니다.",
        _REISSUE_KO,
    ),
    "x5c_expired": (
        "发行者密钥的 x5c 证书链在当前时间无效。",
        _REISSUE_ZH,
        "발급자 키의 x5c 인증서 체인이 현재 시점에 유효하지 않습니다.",
        _REISSUE_KO,
    ),
    "vdsnc_type_unsupported": (
        "此 VDS-NC 不是接种证明（icao.vacc v1）。",
        _REISSUE_ZH,
        "이 VDS-NC는 접종 증명(icao.vacc v1)이 아닙니다.",
        _REISSUE_KO,
    ),
    "bsc_malformed": (
        "无法解析条码签名者证书。",
        _REISSUE_ZH,
        "바코드 서명자 인증서를 해석할 수 없습니다.",
        _REISSUE_KO,
    ),
    "bsc_eku_missing": (
        "条码签名者证书缺少 VDS-NC 扩展密钥用途。",
        _REISSUE_ZH,
        "바코드 서명자 인증서에 VDS-NC 확장 키 용도가 없습니다.",
        _REISSUE_KO,
    ),
    "bsc_nv_missing": (
        "条码签名者证书中没有列出文件类型 NV。",
        _REISSUE_ZH,
        "바코드 서명자 인증서에 문서 유형 NV가 없습니다.",
        _REISSUE_KO,
    ),
    "unknown_trust_anchor": (
        "未知的信任锚：没有受信任的 CSCA 签发该条码签名者证书。",
        _REISSUE_ZH,
        "알 수 없는 신뢰 앵커입니다. 신뢰하는 CSCA가 바코드 서명자 인증서를 발급하지 않았습니다.",
        _REISSUE_KO,
    ),
    "bsc_chain_invalid": (
        "条码签名者证书无法用任何相符的 CSCA 验证。",
        _REISSUE_ZH,
        "바코드 서명자 인증서를 해당하는 어떤 CSCA로도 검증할 수 없습니다.",
        _REISSUE_KO,
    ),
    "bsc_expired": (
        "条码签名者证书已过期。",
        _REISSUE_ZH,
        "바코드 서명자 인증서의 유효 기간이 지났습니다.",
        _REISSUE_KO,
    ),
    "csca_expired": (
        "国家签名 CA 证书已过期。",
        _REISSUE_ZH,
        "국가 서명 CA 인증서의 유효 기간이 지났습니다.",
        _REISSUE_KO,
    ),
    "issuing_country_mismatch": (
        "发行国与受信任 CSCA 的国家不一致。",
        _REISSUE_ZH,
        "발급 국가가 신뢰하는 CSCA의 국가와 일치하지 않습니다.",
        _REISSUE_KO,
    ),
    "bsc_revoked": (
        "条码签名者证书已被吊销。",
        _REISSUE_ZH,
        "바코드 서명자 인증서가 폐기되었습니다.",
        _REISSUE_KO,
    ),
    "crl_signature_invalid": (
        "CSCA 的证书吊销列表签名无效。",
        _REISSUE_ZH,
        "CSCA 인증서 폐기 목록의 서명이 유효하지 않습니다.",
        _REISSUE_KO,
    ),
    "policy_empty": (
        "未设置任何检查项目（因此不予通过）。",
        _REISSUE_ZH,
        "설정된 검사 항목이 없습니다(따라서 통과시키지 않습니다).",
        _REISSUE_KO,
    ),
    "clock_skew": (
        "证明书的发行时间在未来：本设备的时钟可能不准。",
        "请检查本设备的日期和时间。",
        "증명서 발급 시각이 미래입니다. 이 기기의 시계가 틀렸을 수 있습니다.",
        "이 기기의 날짜와 시간을 확인해 주십시오.",
    ),
    "crl_stale": (
        "证书吊销列表已超过下次更新时间。",
        _REFRESH_TRUST_ZH,
        "인증서 폐기 목록이 다음 갱신 시각을 지났습니다.",
        _REFRESH_TRUST_KO,
    ),
    "crl_missing": (
        "没有证书吊销列表：未检查吊销状态。",
        _REFRESH_TRUST_ZH,
        "인증서 폐기 목록이 없어 폐기 여부를 확인하지 않았습니다.",
        _REFRESH_TRUST_KO,
    ),
    "trust_stale": (
        "信任数据（密钥、吊销列表）已过时。",
        _REFRESH_TRUST_ZH,
        "신뢰 데이터(키, 폐기 목록)가 오래되었습니다.",
        _REFRESH_TRUST_KO,
    ),
    "trust_store_invalid": ("信任列表无效。", "", "신뢰 목록이 유효하지 않습니다.", ""),
    "kiosk_unknown": ("此终端未登记。", "", "이 단말기는 등록되어 있지 않습니다.", ""),
    "kiosk_disabled": ("此终端已停用。", "", "이 단말기는 사용이 중지되었습니다.", ""),
    "rate_limited": ("请求过于频繁。", _RETRY_ZH, "요청이 너무 많습니다.", _RETRY_KO),
    "consent_required": (
        "您需要同意最新的使用条款。",
        "请阅读并同意使用条款。",
        "최신 이용 약관에 동의하셔야 합니다.",
        "이용 약관을 읽고 동의해 주십시오.",
    ),
    "request_replayed": (
        "此申请已经发送过了。",
        "请从头开始。",
        "이 신청은 이미 전송되었습니다.",
        "처음부터 다시 해 주십시오.",
    ),
    "no_vaccination_record": (
        "在您选择的市区町村中没有找到接种记录。",
        "请选择接种时您所居住的市区町村，或到该市区町村的窗口申请。",
        "선택하신 시구정촌에서 접종 기록을 찾을 수 없습니다.",
        "접종 당시 거주하신 시구정촌을 선택하시거나, 그 시구정촌 창구에서 신청해 주십시오.",
    ),
    "record_mismatch": (
        "卡内的信息与接种记录不一致。",
        _COUNTER_ZH,
        "카드의 정보가 접종 기록과 일치하지 않습니다.",
        _COUNTER_KO,
    ),
    "passport_not_on_file": (
        "没有登记护照信息，无法发行海外用证明书。",
        "请先通过智能手机应用程序申请一次，或到市区町村窗口申请。",
        "여권 정보가 등록되어 있지 않아 해외용 증명서를 발급할 수 없습니다.",
        "스마트폰 앱으로 한 번 신청하시거나, 시구정촌 창구에서 신청해 주십시오.",
    ),
    "certificate_unprintable": (
        "无法制作证明书。",
        _COUNTER_ZH,
        "증명서를 만들 수 없습니다.",
        _COUNTER_KO,
    ),
    "client_not_allowed": (
        "此客户端不能调用签名服务。",
        "",
        "이 클라이언트는 서명 서비스를 호출할 수 없습니다.",
        "",
    ),
    "vaccine_product_unknown": (
        "无法识别该疫苗产品。",
        _COUNTER_ZH,
        "알 수 없는 백신 제품입니다.",
        _COUNTER_KO,
    ),
    "vaccine_not_issuable": (
        "无法为该疫苗产品发行证明书。",
        _COUNTER_ZH,
        "이 백신 제품으로는 증명서를 발급할 수 없습니다.",
        _COUNTER_KO,
    ),
    "vaccine_code_mismatch": (
        "疫苗代码与产品表不一致。",
        "",
        "백신 코드가 제품표와 일치하지 않습니다.",
        "",
    ),
    "dose_order_invalid": (
        "接种次数与接种日期的顺序不符。",
        _COUNTER_ZH,
        "접종 회차가 접종 날짜의 순서와 맞지 않습니다.",
        _COUNTER_KO,
    ),
    "vdsnc_overseas_only": (
        "ICAO VDS-NC 仅用于海外用证明书。",
        "",
        "ICAO VDS-NC는 해외용 증명서에만 발급됩니다.",
        "",
    ),
    "vdsnc_too_large": (
        "VDS-NC 无法放入一个二维码。",
        _COUNTER_ZH,
        "VDS-NC가 QR 코드 하나에 들어가지 않습니다.",
        _COUNTER_KO,
    ),
    "shc_bundle_nonconformant": (
        "FHIR 数据包不符合 SMART Health Cards 二维码规范。",
        "",
        "FHIR 번들이 SMART Health Cards QR 프로필을 따르지 않습니다.",
        "",
    ),
    "signer_key_unavailable": (
        "签名密钥无法使用。",
        _RETRY_ZH,
        "서명 키를 사용할 수 없습니다.",
        _RETRY_KO,
    ),
    "signer_state_invalid": (
        "签名服务的密钥状态缺失或无效。",
        _RETRY_ZH,
        "서명 서비스의 키 상태가 없거나 유효하지 않습니다.",
        _RETRY_KO,
    ),
    "signer_certificate_mismatch": (
        "该证书不属于正在等待证书的签名密钥。",
        "请检查 `vaxcert signer status` 中待处理的密钥，以及发送给 CSCA 的申请。",
        "이 인증서는 인증서를 기다리는 서명 키의 것이 아닙니다.",
        "`vaxcert signer status`의 대기 중인 키와 CSCA에 보낸 요청을 확인해 주십시오.",
    ),
    "signer_certificate_untrusted": (
        "该证书不是由所设置的 CSCA 签发的条码签名者证书。",
        "请查看所给出的原因，并请 CSCA 重新签发证书。",
        "이 인증서는 설정된 CSCA가 발급한 바코드 서명자 인증서가 아닙니다.",
        "제시된 이유를 확인하고 CSCA에 인증서 재발급을 요청해 주십시오.",
    ),
    "vrs_peer_not_allowed": (
        "此客户端不能使用该接口。",
        "",
        "이 클라이언트는 이 API를 사용할 수 없습니다.",
        "",
    ),
    "vrs_staff_token_required": (
        "需要职员令牌。",
        "请提供有效的职员令牌。",
        "직원 토큰이 필요합니다.",
        "유효한 직원 토큰을 제시해 주십시오.",
    ),
    "vrs_staff_scope_denied": (
        "不允许此操作（其他市区町村的数据，或缺少相应权限）。",
        "",
        "허용되지 않는 조작입니다(다른 시구정촌의 데이터이거나 권한이 없습니다).",
        "",
    ),
    "vrs_record_not_found": (
        "该市区町村中没有这条接种记录。",
        "",
        "이 시구정촌에 해당 접종 기록이 없습니다.",
        "",
    ),
    "vrs_issuance_conflict": (
        "此证明书 ID 已以不同的内容登记。",
        "",
        "이 증명서 ID는 이미 다른 내용으로 등록되어 있습니다.",
        "",
    ),
    "vrs_import_invalid": (
        "导入文件有错误，未导入任何数据。",
        "请修改所列出的行，然后重新导入整个文件。",
        "가져오기 파일에 오류가 있어 아무것도 가져오지 않았습니다.",
        "표시된 줄을 수정한 후 파일 전체를 다시 가져와 주십시오.",
    ),
    "vrs_import_conflict": (
        "另一次导入同时登记了相同的记录，未导入任何数据。",
        "请重新导入该文件。",
        "다른 가져오기 작업이 같은 기록을 동시에 등록하여 아무것도 가져오지 않았습니다.",
        "파일을 다시 가져와 주십시오.",
    ),
    "printer_unavailable": (
        "打印机无法使用。",
        "您的钱已退还。请使用其他店铺的终端。",
        "프린터를 사용할 수 없습니다.",
        "넣으신 돈은 반환되었습니다. 다른 매장의 단말기를 이용해 주십시오.",
    ),
    "misprint_refunded": (
        "证明书未能打印。您的钱已退还。",
        "如需咨询，请告知屏幕上显示的事故编号。",
        "증명서를 인쇄하지 못했습니다. 넣으신 돈은 반환되었습니다.",
        "문의하실 때는 화면에 표시된 사고 번호를 알려 주십시오.",
    ),
    "payment_incomplete": (
        "费用尚未付清。",
        "请投入硬币或1000日元纸币补足差额。",
        "요금이 아직 다 지불되지 않았습니다.",
        "부족한 금액만큼 동전이나 1000엔 지폐를 넣어 주십시오.",
    ),
    "cash_unit_busy": (
        "收款机无法使用。",
        "请按“取消”，然后从头开始。",
        "정산기를 사용할 수 없습니다.",
        "'취소'를 누르고 처음부터 다시 해 주십시오.",
    ),
    "kiosk_busy": (
        "此终端正在由其他人使用。",
        "请等前一位客人使用完毕。",
        "다른 분이 이 단말기를 이용 중입니다.",
        "앞의 분이 이용을 마칠 때까지 기다려 주십시오.",
    ),
    "receipt_amount_mismatch": (
        "收据金额与手续费不一致。",
        "请联系运维人员。",
        "영수 금액이 수수료와 일치하지 않습니다.",
        "운영 담당자에게 연락해 주십시오.",
    ),
    "config_invalid": ("设置不正确。", "", "설정이 올바르지 않습니다.", ""),
    "internal_error": (
        "发生了系统错误。",
        "请稍后再试。",
        "시스템 오류가 발생했습니다.",
        "잠시 후 다시 시도해 주십시오.",
    ),
    # The verifier's verdict for a whole sheet (verifier/sheet.py), in words a gate agent uses.
    "sheet_damaged": (
        "二维码已损坏或被篡改。",
        "请再次扫描原件（纸质或应用画面）。如果原件结果相同，请不要接受：持有人需要重新申请证明书。",
        "코드가 손상되었거나 변조되었습니다.",
        "원본(종이 또는 앱 화면)을 다시 스캔해 주십시오. 원본도 같은 결과라면 받아들이지 마십시오. "
        "소지자가 증명서를 다시 발급받아야 합니다.",
    ),
    "sheet_expired": (
        "该证明书已过有效期。",
        "请出示有效期内的证明书。",
        "증명서의 유효기간이 지났습니다.",
        "유효한 증명서를 요청해 주십시오.",
    ),
    "sheet_mismatch": (
        "此页上的二维码属于不同的人或不同的证明书。",
        "请不要接受此页。请出示持有人本人的证明书原件。",
        "이 용지의 코드는 서로 다른 사람 또는 다른 증명서의 것입니다.",
        "이 용지를 받아들이지 마십시오. 소지자 본인의 증명서 원본을 요청해 주십시오.",
    ),
    "sheet_not_certificate": (
        "这不是疫苗接种证明书。",
        "请出示疫苗接种证明书的二维码（纸质或应用画面）。",
        "예방접종증명서가 아닙니다.",
        "예방접종증명서의 QR코드(종이 또는 앱 화면)를 요청해 주십시오.",
    ),
    "sheet_revoked": (
        "该证明书已被发行机构撤销。",
        "请不要接受。请通过其他方式确认接种情况。",
        "이 증명서는 발급 기관에 의해 취소되었습니다.",
        "받아들이지 마십시오. 다른 방법으로 접종 여부를 확인해 주십시오.",
    ),
    "sheet_unreadable": (
        "无法读取二维码。",
        "请将整个二维码放入取景框内，在明亮处慢慢靠近。",
        "코드를 읽을 수 없습니다.",
        "코드 전체를 화면 안에 넣고 밝은 곳에서 천천히 가까이 대 주십시오.",
    ),
    "sheet_untrusted": (
        "该证明书不是由可信的发行机构发行的。",
        "请不要接受。请通过其他方式确认接种情况。",
        "신뢰할 수 있는 발급 기관의 증명서가 아닙니다.",
        "받아들이지 마십시오. 다른 방법으로 접종 여부를 확인해 주십시오.",
    ),
    "uvci_list_missing": (
        "无法获得发行机构的撤销证明书列表：未确认该证明书是否已被撤销。",
        "请在信任数据中添加发行机构的撤销证明书列表（uvci_list_url）。",
        "발급 기관의 취소 증명서 목록을 사용할 수 없어 "
        "이 증명서의 취소 여부를 확인하지 않았습니다.",
        "신뢰 데이터에 발급 기관의 취소 증명서 목록(uvci_list_url)을 추가해 주십시오.",
    ),
    # The smartphone app API (cert_center/attestation.py, vaxcert/passport.py).
    "app_attestation_invalid": (
        "无法验证应用程序的认证。",
        "请更新应用程序后重试。",
        "앱 인증을 확인할 수 없습니다.",
        "앱을 업데이트한 후 다시 시도해 주십시오.",
    ),
    "app_attestation_missing": (
        "请求中没有应用程序的认证。",
        "请更新应用程序后重试。",
        "요청에 앱 인증이 없습니다.",
        "앱을 업데이트한 후 다시 시도해 주십시오.",
    ),
    "app_attestation_stale": (
        "应用程序的认证已过期。",
        "请更新应用程序后重试。",
        "앱 인증이 최신이 아닙니다.",
        "앱을 업데이트한 후 다시 시도해 주십시오.",
    ),
    "app_challenge_invalid": (
        "验证码未知或已过期。",
        "请更新应用程序后重试。",
        "챌린지를 알 수 없거나 만료되었습니다.",
        "앱을 업데이트한 후 다시 시도해 주십시오.",
    ),
    "app_challenge_reused": (
        "该验证码已被使用。",
        "请更新应用程序后重试。",
        "이미 사용된 챌린지입니다.",
        "앱을 업데이트한 후 다시 시도해 주십시오.",
    ),
    "app_id_mismatch": (
        "这不是正版应用程序。",
        "请更新应用程序后重试。",
        "정식 앱이 아닙니다.",
        "앱을 업데이트한 후 다시 시도해 주십시오.",
    ),
    "app_instance_revoked": (
        "此应用程序实例已被吊销。",
        "请更新应用程序后重试。",
        "이 앱 인스턴스는 취소되었습니다.",
        "앱을 업데이트한 후 다시 시도해 주십시오.",
    ),
    "app_instance_unknown": (
        "此应用程序实例未注册。",
        "请更新应用程序后重试。",
        "이 앱 인스턴스는 등록되어 있지 않습니다.",
        "앱을 업데이트한 후 다시 시도해 주십시오.",
    ),
    "app_signature_invalid": (
        "无法验证请求的签名。",
        "请更新应用程序后重试。",
        "요청 서명을 확인할 수 없습니다.",
        "앱을 업데이트한 후 다시 시도해 주십시오.",
    ),
    "mrz_invalid": (
        "护照的机读区无效。",
        "请重新扫描护照的照片页。",
        "여권의 기계 판독 영역이 올바르지 않습니다.",
        "여권 사진 면을 다시 스캔해 주십시오.",
    ),
    "passport_expired": (
        "护照已过有效期。",
        "请使用有效的护照申请。",
        "여권의 유효기간이 지났습니다.",
        "유효한 여권으로 신청해 주십시오.",
    ),
    "passport_mismatch": (
        "护照与接种记录不一致。",
        "请到接种时所在市町村的窗口办理。",
        "여권이 접종 기록과 일치하지 않습니다.",
        "접종 당시의 시정촌 창구에서 신청해 주십시오.",
    ),
}


def _translated(reason: Reason) -> Reason:
    zh, next_zh, ko, next_ko = _ZH_KO.get(reason.code, ("", "", "", ""))
    return replace(reason, zh=zh, next_zh=next_zh, ko=ko, next_ko=next_ko)


CATALOGUE: dict[str, Reason] = {reason.code: _translated(reason) for reason in _ALL}


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
