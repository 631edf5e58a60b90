"""The CloudWatch metrics the service and the relay write as Embedded Metric Format lines.

One definition for both sides: the emitters (emf.py, the relay's reporter) take names, units and
dimensions from here, and so do the dashboard and the sale alarms in components/, so a widget or an
alarm can only name a metric something emits. Plain data: the Pulumi program imports it without the
service's dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "FlashSale"
# The hot path's route template, as the request metrics label it (http/hot_path.py serves it).
RESERVATION_ROUTE = "/sales/{sale_id:int}/reservations"


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    unit: str  # a CloudWatch unit: Count, Milliseconds, Seconds
    dimensions: tuple[str, ...] = ()


# The service (reservation serve).
RESERVATION_REQUESTS = Metric("ReservationRequests", "Count", ("Result",))
STOCK_REMAINING = Metric("StockRemaining", "Count", ("SaleId",))  # read with Minimum across workers
BACKGROUND_FAILURES = Metric("BackgroundFailures", "Count", ("Task",))
REQUESTS = Metric("Requests", "Count", ("Route",))
REQUESTS_503 = Metric("Requests503", "Count", ("Route",))  # dependency failures answered 503
REQUEST_LATENCY_MEAN = Metric("RequestLatencyMean", "Milliseconds", ("Route",))
REQUEST_LATENCY_P50 = Metric("RequestLatencyP50", "Milliseconds", ("Route",))
REQUEST_LATENCY_P99 = Metric("RequestLatencyP99", "Milliseconds", ("Route",))

# The outbox relay (reservation relay).
RELAY_OLDEST_UNSENT_AGE = Metric("RelayOldestUnsentAgeSeconds", "Seconds")
RELAY_UNSENT_ROWS = Metric("RelayUnsentRows", "Count")
RELAY_PUBLISHED = Metric("RelayPublished", "Count", ("Topic",))
RELAY_PUBLISH_ERRORS = Metric("RelayPublishErrors", "Count", ("Topic",))

SERVICE_METRICS = (
    RESERVATION_REQUESTS,
    STOCK_REMAINING,
    BACKGROUND_FAILURES,
    REQUESTS,
    REQUESTS_503,
    REQUEST_LATENCY_MEAN,
    REQUEST_LATENCY_P50,
    REQUEST_LATENCY_P99,
)
RELAY_METRICS = (RELAY_OLDEST_UNSENT_AGE, RELAY_UNSENT_ROWS, RELAY_PUBLISHED, RELAY_PUBLISH_ERRORS)

# Values of ReservationRequests' Result dimension that the dashboard and the alarms single out.
RESERVED = "reserved"
SOLD_OUT = "sold_out"
USER_LIMIT = "user_limit"
TOO_MANY_ATTEMPTS = "too_many_attempts"  # a buyer's attempt bucket was empty (429)
COMPENSATED = "compensated"  # a hold whose commit failed: its units went back to Redis
GUARD_REFUSED = "guard_refused"  # PostgreSQL's oversell guard refused what Redis admitted (they disagree)
