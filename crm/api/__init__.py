"""The REST API for dealer management systems (docs/api.md)."""
