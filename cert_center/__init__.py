"""vaxcert: cert_center."""
