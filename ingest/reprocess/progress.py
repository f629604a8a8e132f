"""The progress bar of a run on stderr: chunks and station-days done, rate, ETA."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import IO


@dataclass
class Bar:
    """``total`` chunks of ``days`` station-days in all; ``done``/``days_done`` counted by
    :meth:`advance` (chunks skipped on resume count as done, not in the rate)."""

    total: int
    days: float
    stream: IO[str] | None = None
    done: int = 0
    failed: int = 0
    empty: int = 0  # finished with no data in them
    days_done: float = 0.0
    _days_now: float = 0.0  # done in this process, for the rate
    started: float = field(default_factory=time.monotonic)
    _shown: float = 0.0

    def skip(self, days: float) -> None:
        self.done += 1
        self.days_done += days

    def advance(self, days: float, *, ok: bool, empty: bool = False) -> None:
        self.done += 1
        self.failed += not ok
        self.empty += ok and empty
        self.days_done += days
        self._days_now += days
        self.show()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self._days_now / elapsed * 60
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        left = self.days - self.days_done
        eta = _clock(left / rate * 60) if rate > 0 else "--:--:--"
        failed = f", {self.failed} failed" if self.failed else ""
        empty = f", empty chunks: {self.empty}" if self.empty else ""
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} chunks, "
            f"{self.days_done:.2f}/{self.days:.2f} station-days, {rate:.1f} station-days/min, "
            f"ETA {eta}{failed}{empty}"
        )

    def show(self, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if not force and now - self._shown < 0.5:
            return
        self._shown = now
        self.stream.write("\r" + self.line() + ("\n" if force else ""))
        self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
