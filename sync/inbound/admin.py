"""Admin pages for the inbound side of the lead exchange."""
