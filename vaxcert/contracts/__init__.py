"""Models that cross a wire, one definition shared by caller and callee.

- :mod:`vaxcert.contracts.kiosk_api`: kiosk ↔ center (dedicated line).
- :mod:`vaxcert.contracts.signing`: center ↔ signer.
- :mod:`vaxcert.contracts.vrs_relay`: center ↔ VRS (LGWAN).

Every model forbids unknown fields (C04).
"""
