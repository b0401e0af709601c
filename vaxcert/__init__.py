"""vaxcert's ground floor: what every service may use, and nothing that knows a service.

Configuration (:mod:`vaxcert.config`), typed errors and the one reason catalogue
(:mod:`vaxcert.errors`, :mod:`vaxcert.reasons`), the certificate codecs (:mod:`vaxcert.formats`),
TLS and relay channels, PII-scrubbing logs, the ephemeral key-value store, the development PKI,
the My Number card layer (:mod:`vaxcert.card`), the printed certificate and its QR codes
(:mod:`vaxcert.certificate`), the wire contracts between services (:mod:`vaxcert.contracts`), the
vaccine table (:mod:`vaxcert.vaccines`) and the one policy shape (:mod:`vaxcert.policy`).
docs/architecture.md says what may import what.
"""
