"""Admin pages for the outbound side of the lead exchange."""
