"""Settings of the ingest worker (environment variables prefixed ``LARZA_``)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.seedlink.source import HELD


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LARZA_", extra="ignore")

    database_url: str = "sqlite:///var/larza.sqlite"
    archive_dir: str = Field("var/archive", description="SDS archive root; empty: no archive")
    seedlink: str = Field("127.0.0.1:18000", description="SeedLink server as host:port")
    selectors: str = Field("HH? HN?", description="SeedLink stream selectors, space separated")
    seedlink_protocol: Literal["auto", "3", "4"] = Field(
        "auto", description="SeedLink version: auto (v4 if offered), 3 or 4"
    )
    seedlink_uni_station: bool = Field(
        False, description="v3 uni-station mode (one station, no STATION command)"
    )
    stations: str = Field("", description="NET.STA list, comma separated; empty: every station")
    keepalive_s: float = Field(30.0, gt=0, description="send INFO ID this often while idle")
    idle_timeout_s: float = Field(60.0, gt=0, description="reconnect after this long without data")
    reconnect_delay_s: float = Field(2.0, ge=0)
    batch_max_packets: int = Field(500, ge=1, description="packets stored in one transaction")
    batch_max_wait_s: float = Field(0.2, gt=0, description="wait for a packet before storing")
    queue_size: int = Field(20_000, ge=1, description="packets read ahead of processing")
    lease_ttl_s: float = Field(
        30.0, ge=3, description="a dead worker's stations are taken over after this long"
    )
    inventory_interval_s: float = Field(
        60.0, gt=0, description="look for stations and channels added to the inventory this often"
    )
    config: str = Field(
        "", description="larza.toml: detector profiles, association, health thresholds"
    )
    sqlite_timeout_s: float = Field(
        30.0, gt=0, description="SQLite: how long a write waits for another process's lock"
    )
    new_station_start: str = Field(
        "held",
        description="where a station without a stored position starts: held (everything the "
        "server still holds), now (new data only) or an ISO time",
    )

    @field_validator("seedlink")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"seedlink must be host:port, got {value!r}")
        return value

    @field_validator("stations")
    @classmethod
    def _station_list(cls, value: str) -> str:
        for item in filter(None, (s.strip() for s in value.split(","))):
            if item.count(".") != 1:
                raise ValueError(f"stations must be NET.STA items, got {item!r}")
        return value

    @field_validator("new_station_start")
    @classmethod
    def _start(cls, value: str) -> str:
        if value not in ("held", "now"):
            try:
                datetime.fromisoformat(value)
            except ValueError as e:
                raise ValueError(
                    f"new_station_start must be held, now or an ISO time, got {value!r}"
                ) from e
        return value

    def new_start(self) -> datetime | None:
        """The begin of a station without a position (None: new data only)."""
        if self.new_station_start == "held":
            return HELD
        if self.new_station_start == "now":
            return None
        begin = datetime.fromisoformat(self.new_station_start)
        return begin if begin.tzinfo else begin.replace(tzinfo=UTC)

    def station_list(self) -> list[tuple[str, str]]:
        items = filter(None, (s.strip().upper() for s in self.stations.split(",")))
        return [(net, sta) for net, sta in (i.split(".") for i in items)]


@lru_cache
def get_settings() -> WorkerSettings:
    return WorkerSettings()
