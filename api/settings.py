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


@lru_cache
def get_settings() -> ApiSettings:
    return ApiSettings()
