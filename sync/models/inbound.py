"""Inbound models: intake documents, file imports."""
