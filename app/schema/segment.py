"""The CustomerSegment enum, registered once for Customer.segment and the reports."""

from __future__ import annotations

import strawberry

from app.domain.segments import CustomerSegment

strawberry.enum(
    CustomerSegment,
    description="From recency, frequency and spend (docs/analytics.md): NEW bought once, "
    "REPEAT more often, LOYAL among the chain's most frequent and biggest spenders, AT_RISK "
    "a repeat customer gone quiet, LAPSED gone long.",
)

__all__ = ["CustomerSegment"]
