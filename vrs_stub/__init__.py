"""vaxcert: vrs_stub."""
