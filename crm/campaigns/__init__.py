"""Marketing campaigns: the manufacturer's (network-wide) and each dealership's own (docs/campaigns.md)."""
