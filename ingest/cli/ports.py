"""Whether a server can listen where it is told to, asked before it starts: a port in use
is then one clear line, not a traceback from deep inside asyncio or uvicorn."""

from __future__ import annotations

import errno
import socket

from stations.errors import ConfigurationError

__all__ = ["check_port_free"]


def check_port_free(host: str, port: int) -> None:
    """Raise ``ConfigurationError`` when a server could not listen on ``host:port``: the port
    is in use, the address is not this machine's, or listening there is not allowed.

    Binds each address ``host`` stands for, as the servers do (``SO_REUSEADDR``, so a port
    left in TIME_WAIT is free), and closes the sockets at once."""
    where = f"{host}:{port}"
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        raise ConfigurationError(where, f"cannot listen there: {e}") from e
    except OverflowError as e:
        raise ConfigurationError(where, "cannot listen there: the port must be 0-65535") from e
    for family, kind, proto, _name, address in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as e:
                raise ConfigurationError(where, f"cannot listen there: {_why(e)}") from e


def _why(error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return "the port is in use by another program (another larza process?)"
    if error.errno == errno.EADDRNOTAVAIL:
        return "the address is not one of this machine's"
    if error.errno == errno.EACCES:
        return "not allowed (ports below 1024 need privileges)"
    return error.strerror or str(error)
