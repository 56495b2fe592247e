"""Outbound models: destinations, delivery state, dead letters."""
