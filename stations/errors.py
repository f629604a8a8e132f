"""Larza's errors. ``api`` maps them to HTTP in one place.

LarzaError
├── InventoryError        a StationXML file that cannot be imported
├── NotFoundError         a network, station, channel or event that does not exist
├── ConfigurationError    a setting or configuration file that is not valid
└── DatabaseUnavailable   the database cannot be reached, or its schema is not this Larza's
"""

from __future__ import annotations


class LarzaError(Exception):
    """Base of every error Larza raises on purpose."""


class InventoryError(LarzaError):
    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class NotFoundError(LarzaError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} {key!r}")
        self.kind = kind
        self.key = key


class ConfigurationError(LarzaError):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class DatabaseUnavailable(LarzaError):
    """``reason`` is short and safe to show anyone (a readiness probe's answer); ``detail``,
    when there is one, is the driver's own first line, for operators."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
