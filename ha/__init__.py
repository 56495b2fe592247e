"""Health, role and drain state for the cluster manager."""
