"""One webhook POST over asyncio, within one deadline for all of it: resolving the host,
checking its addresses, connecting (TLS included), sending, and reading the status line.

A receiver that answers a byte at a time is cut off at the deadline like one that never
answers: a timeout per socket read would let it hold a delivery for ever. Only the status
line is read; the connection is then closed (``Connection: close``). Connections go
straight to the receiver's checked address: an HTTP proxy (``HTTP_PROXY``) is not used,
since it would connect on its own terms to whatever address the name has there.

What the caller hears back is kept apart from what it may show: :class:`Outcome` has the
status, or a reason a key holder may read in ``last_error`` (a refused address, a name
that does not resolve) or one generic sentence for every failure to get an HTTP answer.
Telling "connection refused" from "timed out" would tell a key holder which ports are
open; the exact cause is in ``detail``, for the operator's log only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.webhook_targets import Address, IpNetwork, Target, TargetRefused, checked_addresses

__all__ = ["NO_ANSWER", "Outcome", "post"]

NO_ANSWER = "the receiver gave no HTTP answer (no connection, or no answer in time)"
_STATUS_LINE_MAX = 4096


@dataclass(frozen=True)
class Outcome:
    """A delivery's result: ``status`` when the receiver answered; otherwise ``error``, safe
    to store and show, and ``detail``, the exact cause for the log."""

    status: int | None = None
    error: str | None = None
    detail: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def reason(self) -> str | None:
        """Why it was not delivered, in words that may be shown to the key's holder."""
        if self.delivered:
            return None
        if self.status is None:
            return self.error or NO_ANSWER
        if 300 <= self.status < 400:
            return f"HTTP {self.status}: redirects are not followed"
        return f"HTTP {self.status}"


async def post(
    target: Target,
    body: bytes,
    headers: Mapping[str, str],
    *,
    deadline_s: float,
    allowed: Sequence[IpNetwork],
    tls: ssl.SSLContext | None = None,
) -> Outcome:
    """POST ``body`` to ``target``; every failure is an :class:`Outcome`, never raised."""
    try:
        async with asyncio.timeout(deadline_s):
            addresses = await _addresses(target, allowed)
            return await _exchange(target, addresses, body, headers, tls)
    except TargetRefused as e:
        return Outcome(error=str(e), detail=str(e))
    except _Unresolved as e:
        return Outcome(error=f"the host name {target.host} does not resolve", detail=str(e))
    except TimeoutError:
        return Outcome(detail=f"no HTTP answer within {deadline_s:g} s")
    except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
        return Outcome(detail=f"{type(e).__name__}: {e}")


class _Unresolved(Exception):
    pass


async def _addresses(target: Target, allowed: Sequence[IpNetwork]) -> list[Address]:
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise _Unresolved(f"{type(e).__name__}: {e}") from e
    return checked_addresses(target, [(f, str(a[0])) for f, _t, _p, _c, a in found], allowed)


async def _exchange(
    target: Target,
    addresses: Sequence[Address],
    body: bytes,
    headers: Mapping[str, str],
    tls: ssl.SSLContext | None,
) -> Outcome:
    context = (tls or _default_tls()) if target.tls else None
    failures: list[str] = []
    for _family, ip, port in addresses:  # the checked addresses, never the name again
        try:
            reader, writer = await asyncio.open_connection(
                ip,
                port,
                ssl=context,
                server_hostname=target.host if context is not None else None,
                limit=_STATUS_LINE_MAX,
            )
        except OSError as e:
            failures.append(f"{ip}: {type(e).__name__}: {e}")
            continue
        try:
            writer.write(_request(target, body, headers))
            await writer.drain()
            line = await reader.readuntil(b"\n")
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):  # ssl.SSLError is an OSError
                await asyncio.wait_for(writer.wait_closed(), 1.0)
        return Outcome(status=_status(line))
    return Outcome(detail="; ".join(failures) or "no address to connect to")


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """The system's trusted certificates, loaded once."""
    return ssl.create_default_context()


def _request(target: Target, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [
        f"POST {target.path} HTTP/1.1",
        f"Host: {target.host_header}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


def _status(line: bytes) -> int:
    """The status code of an HTTP/1.x status line; ``ValueError`` for anything else."""
    version, _, rest = line.decode("latin-1").partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit() or not 100 <= int(code) <= 599:
        raise ValueError(f"not an HTTP status line: {line[:60]!r}")
    return int(code)
