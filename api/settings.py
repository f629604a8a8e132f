"""Settings of the API process (environment variables prefixed ``LARZA_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.webhook_targets import IpNetwork, parse_networks


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
    dataselect_max_bytes: int = Field(
        512 * 2**20,
        gt=0,
        description="most archive bytes one dataselect request may read (the committed sizes "
        "of the day files it needs): a day of about 60 channels at 100 sps",
    )
    dataselect_max_body_bytes: int = Field(
        2**20, gt=0, le=64 * 2**20, description="largest dataselect POST body"
    )
    dataselect_max_lines: int = Field(
        10_000, ge=1, le=1_000_000, description="most request lines in a dataselect POST"
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
        1.0,
        gt=0,
        le=60,
        description="how often webhook delivery looks for retries falling due; new changes "
        "are sent at once (the change poller wakes it, every stream_poll_s)",
    )
    webhook_timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="deadline of one webhook delivery, from resolving the receiver's name to "
        "its status line",
    )
    webhook_backoff_max_s: float = Field(
        300.0, gt=0, description="longest wait before retrying a failing webhook"
    )
    webhook_allow_networks: Annotated[tuple[IpNetwork, ...], NoDecode] = Field(
        (),
        description="networks webhooks may be delivered to although they are not public "
        "(loopback, private, link-local...), comma separated: 10.1.0.0/16,127.0.0.0/8",
    )

    @field_validator("webhook_allow_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        return parse_networks(value) if isinstance(value, str) else value


@lru_cache
def get_settings() -> ApiSettings:
    return ApiSettings()
