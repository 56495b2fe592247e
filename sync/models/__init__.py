"""Models of the lead exchange: inbound (intake documents, imports) and outbound (destinations, deliveries)."""

from sync.models.inbound import *  # noqa: F403
from sync.models.outbound import *  # noqa: F403
