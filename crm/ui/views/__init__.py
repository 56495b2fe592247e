"""Dealership pages of the prospect and lead domain, one module per area."""
