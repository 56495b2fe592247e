"""Lead intake from the manufacturer's channels, routing, SLA escalation, and inbound file imports."""
