"""Dealerships, dealer groups, regions, territories, staff memberships and roles, and the scoping rule."""
