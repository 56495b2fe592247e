"""The REST API for dealer management systems (DESIGN.md section 5)."""
