"""vaxcert: verifier."""
