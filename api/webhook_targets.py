"""Where a webhook may send: its URL checked whole, and its host's addresses checked against
the networks a delivery must not reach (server-side request forgery).

Any API key can register a webhook, and the API then POSTs from inside the operator's
network: to ``127.0.0.1:22``, a cloud's metadata service at ``169.254.169.254`` or a
router at ``10.0.0.1`` if nothing stopped it. So a receiver must be a public address:
loopback, link-local, private, shared (CGNAT), multicast, reserved and unspecified
addresses are refused, and so are IPv6 addresses that embed such an IPv4 address
(IPv4-mapped, 6to4, NAT64). An operator allows a range with ``webhook_allow_networks``
(``LARZA_WEBHOOK_ALLOW_NETWORKS=10.1.0.0/16,127.0.0.0/8``) for receivers on their own
network.

The check is made at registration and again at each delivery, after resolving the host
name, on every address it resolves to; the delivery then connects to one of the addresses
it checked, never to a name resolved a second time (a name that resolves to a public
address when checked and to a private one when used is no way around it).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from stations.errors import LarzaError

__all__ = [
    "IpNetwork",
    "Target",
    "TargetRefused",
    "WebhookUrlError",
    "checked_addresses",
    "parse_networks",
    "parse_webhook_url",
    "refusal",
    "resolve",
]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = tuple[int, str, int]
"""A checked address to connect to: (socket family, IP address, port)."""

_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_ALLOW_HINT = "an operator can allow its network with LARZA_WEBHOOK_ALLOW_NETWORKS"


class WebhookUrlError(LarzaError):
    """A webhook URL that cannot be delivered to, whatever its host resolves to."""


class TargetRefused(LarzaError):
    """A webhook's host is (or resolves to) an address deliveries must not reach."""


@dataclass(frozen=True)
class Target:
    """What a delivery needs of a webhook URL."""

    tls: bool
    host: str
    """The host name in ASCII (IDNA), or an IP address without brackets."""
    port: int
    path: str
    """Path and query, as sent in the request line."""

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_webhook_url(url: str) -> Target:
    """The URL's parts, after checking every one of them; ``WebhookUrlError`` says what is
    wrong. Only ``http`` and ``https``, no user name or password, no fragment, a host
    that is an IP address or a valid DNS name, a port from 1 to 65535, and a path and
    query in printable ASCII (percent-encode anything else)."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise WebhookUrlError("the URL holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise WebhookUrlError(f"not a URL: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebhookUrlError(f"the URL must start with http:// or https://, got {url[:40]!r}")
    if "@" in parts.netloc:
        raise WebhookUrlError(
            "a user name or password in the URL is not supported: receivers check the "
            "X-Larza-Signature header instead"
        )
    if parts.fragment or url.endswith("#"):
        raise WebhookUrlError("a fragment (#...) is never sent: leave it out of the URL")
    host = _host(parts.hostname or "")
    if port == 0:
        raise WebhookUrlError("the port must be 1 to 65535")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.isascii() or not path.startswith("/"):
        raise WebhookUrlError("the path and query must be ASCII: percent-encode other characters")
    tls = scheme == "https"
    return Target(tls=tls, host=host, port=port or (443 if tls else 80), path=path)


def _host(hostname: str) -> str:
    if not hostname:
        raise WebhookUrlError("the URL has no host")
    try:
        return str(ipaddress.ip_address(hostname))
    except ValueError:
        pass
    try:
        ascii_name = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise WebhookUrlError(f"{hostname[:60]!r} is not a valid host name") from None
    name = ascii_name.removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise WebhookUrlError(f"{hostname[:60]!r} is not a valid host name")
    return name


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """``10.1.0.0/16,127.0.0.0/8`` (commas or spaces) as networks; a bad one is a
    ``ValueError`` naming it."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as e:
            raise ValueError(f"{item!r} is not a network such as 10.1.0.0/16: {e}") from None
    return tuple(networks)


def _embedded(ip: IpAddress) -> list[IpAddress]:
    """``ip`` and any IPv4 address it carries (IPv4-mapped, 6to4, NAT64)."""
    found: list[IpAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            found.append(ip.sixtofour)
        if ip in _NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def refusal(ip: IpAddress, allowed: Sequence[IpNetwork]) -> str | None:
    """Why a delivery must not reach ``ip`` ("a loopback address", ...), or None."""
    candidates = _embedded(ip)
    if any(c in network for c in candidates for network in allowed if c.version == network.version):
        return None
    for c in reversed(candidates):  # an embedded IPv4 address says more than its wrapping
        for kind, test in (
            ("a loopback", c.is_loopback),
            ("a link-local", c.is_link_local),
            ("a multicast", c.is_multicast),
            ("an unspecified", c.is_unspecified),
            ("a private", c.is_private),
            ("a reserved", c.is_reserved),
            ("a non-public", not c.is_global),
        ):
            if test:
                return f"{kind} address"
    return None


def checked_addresses(
    target: Target, found: Sequence[tuple[int, str]], allowed: Sequence[IpNetwork]
) -> list[Address]:
    """The addresses a name resolved to, each (family, IP) checked: one refused address
    refuses them all (a name that resolves to a public and a private address is refused)."""
    addresses: list[Address] = []
    for family, text in found:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # no IPv6 zone
        why = refusal(ip, allowed)
        if why is not None:
            shown = target.host if target.host == str(ip) else f"{target.host} ({ip})"
            raise TargetRefused(f"{shown} is {why}: not allowed ({_ALLOW_HINT})")
        if (family, str(ip), target.port) not in addresses:
            addresses.append((family, str(ip), target.port))
    if not addresses:
        raise TargetRefused(f"{target.host} has no address")
    return addresses


def resolve(target: Target, allowed: Sequence[IpNetwork]) -> list[Address]:
    """The target's checked addresses, resolving its name here (a blocking call: for
    registration). A name that does not resolve now is an empty list: it is checked again
    at each delivery."""
    try:
        found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return checked_addresses(target, [(f, str(a[0])) for f, _t, _p, _c, a in found], allowed)
