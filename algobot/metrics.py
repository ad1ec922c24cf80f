"""Prometheus metrics for `/metrics`, on algobot's own registry.

Counters and histograms are updated where things happen (dispatcher, WSGI, API client, sender);
gauges that describe stored state (builds tracked, outbox depth) are read from the database when
`/metrics` is scraped, so they are right whichever process did the work.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from algobot.pending import pending_writes
from algobot.store import open_store

REGISTRY = CollectorRegistry(auto_describe=True)

COMMANDS = Counter(
    "algobot_commands",
    "Slash commands, buttons and dialogs handled, by subcommand and outcome.",
    ["command", "source", "outcome"],
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "algobot_ack_seconds",
    "Time from a Slack request's arrival to algobot's answer (the ack).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
    registry=REGISTRY,
)
COMMANDS_NOT_ANSWERED = Counter(
    "algobot_commands_not_answered",
    "Commands told they were not run or not waited for: busy (queue full), waiting or running past the"
    " deadline, stopping (shutdown).",
    ["reason"],
    registry=REGISTRY,
)
ALGORITHMIA_REQUESTS = Counter(
    "algobot_algorithmia_requests",
    "Requests to Algorithmia, by method and outcome.",
    ["method", "outcome"],
    registry=REGISTRY,
)
ALGORITHMIA_SECONDS = Histogram(
    "algobot_algorithmia_request_seconds",
    "Latency of requests to Algorithmia.",
    ["method"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
NOTICES_SENT = Counter("algobot_notices_sent", "Build notices Slack accepted, by kind.", ["kind"], registry=REGISTRY)
NOTICES_FAILED = Counter(
    "algobot_notices_failed",
    "Notice deliveries that failed, by reason (retried unless permanent).",
    ["reason"],
    registry=REGISTRY,
)


def algorithmia_outcome(status: int | None) -> str:
    """Bucket an answer for the requests counter: ok, client_error, server_error, unreachable."""
    if status is None:
        return "unreachable"
    if status < 400:
        return "ok"
    return "client_error" if status < 500 else "server_error"


def observe_algorithmia(method: str, status: int | None, seconds: float) -> None:
    ALGORITHMIA_REQUESTS.labels(method=method, outcome=algorithmia_outcome(status)).inc()
    ALGORITHMIA_SECONDS.labels(method=method).observe(seconds)


def _state_gauges(db_path: str) -> bytes:
    """Gauges read from the database at scrape time."""
    registry = CollectorRegistry(auto_describe=False)
    db = open_store(db_path)
    try:
        tracked = db.execute("select count(*) from tracked_builds where state in ('tracking', 'final')").fetchone()[0]
        outbox = db.execute("select count(*) from outbox").fetchone()[0]
        subscriptions = db.execute("select count(*) from subscriptions").fetchone()[0]
    finally:
        db.close()
    waiting = len(pending_writes(db_path))

    class _Collector:
        def collect(self):  # noqa: ANN202 - prometheus collector protocol
            yield GaugeMetricFamily("algobot_builds_tracked", "Builds being followed until they end.", value=tracked)
            yield GaugeMetricFamily(
                "algobot_outbox_depth", "Notices written but not yet accepted by Slack.", value=outbox
            )
            yield GaugeMetricFamily("algobot_subscriptions", "Watched (channel, algorithm) pairs.", value=subscriptions)
            yield GaugeMetricFamily(
                "algobot_records_waiting",
                "Records of commands this process could not write yet (the database stayed locked); lost if it stops.",
                value=waiting,
            )

    registry.register(_Collector())
    return generate_latest(registry)


def render(db_path: str) -> bytes:
    """The text exposition of every metric."""
    return generate_latest(REGISTRY) + _state_gauges(db_path)
