"""The certificate as printed and as QR codes: one home for the QR rules and the A4 PDF.

Public names: :func:`vaxcert.certificate.pdf.render_certificate` (the kiosk's and the app's
printout), the QR builders of :mod:`vaxcert.certificate.qr` and the fast exact encoder
:mod:`vaxcert.certificate.qrmatrix`.
"""
