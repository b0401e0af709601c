"""vaxcert: shared configuration, TLS channels, logging, reason codes and the CLI."""
