"""Settings of the API process (environment variables prefixed ``LARZA_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LARZA_", extra="ignore")

    database_url: str = "sqlite:///var/larza.sqlite"
    latency_ok_s: float = Field(60.0, gt=0, description="data latency up to this is OK")
    latency_down_s: float = Field(600.0, gt=0, description="data latency above this is DOWN")
    page_size_max: int = Field(1000, ge=1, le=10_000)
    stale_after_s: float = Field(
        600.0, gt=0, description="a stored station state older than this is stale"
    )
    archive_dir: str = Field(
        "var/archive", description="SDS archive root the worker writes; empty: no archive"
    )
    dataselect_max_days: float = Field(
        31.0, gt=0, le=366, description="most days of data one dataselect request may span"
    )
    read_requires_key: bool = Field(
        False, description="reading needs an API key too (every request but /healthz and docs)"
    )
    api_threads: int = Field(
        32,
        ge=1,
        le=1000,
        description="threads of one API process for blocking work (database reads, files); "
        "its database pool holds as many connections and a few more",
    )
    api_pool_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="a request that waits longer than this for a database connection is "
        "answered 503 with Retry-After",
    )
    stream_poll_s: float = Field(
        0.05,
        gt=0,
        le=60,
        description="how often each API process looks for new changes (one poller feeds all "
        "its SSE clients) and for a new health evaluation round",
    )
    api_cache_max_age_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="the station list and /metrics are built again at least this often, "
        "even without a new evaluation round (a station no worker evaluates turns stale)",
    )
    stream_keepalive_s: float = Field(
        15.0, gt=0, le=300, description="a quiet SSE stream sends a keepalive comment this often"
    )
    webhooks_enabled: bool = Field(True, description="this process delivers webhooks")
    webhook_poll_s: float = Field(
        1.0, gt=0, le=60, description="how often webhook delivery looks for work"
    )
    webhook_timeout_s: float = Field(
        10.0, gt=0, le=120, description="socket timeout of one webhook delivery"
    )
    webhook_backoff_max_s: float = Field(
        300.0, gt=0, description="longest wait before retrying a failing webhook"
    )


@lru_cache
def get_settings() -> ApiSettings:
    return ApiSettings()
