"""vaxcert: signer."""
