"""vaxcert: kiosk."""
