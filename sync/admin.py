"""Admin registrations live beside each side of the exchange."""

import sync.inbound.admin
import sync.outbound.admin  # noqa: F401
