"""Garbage from the server: the worker's SeedLink source pointed at a peer that is not a
SeedLink server, or that sends garbage in place of packets, logs it and keeps trying; it
never crashes and never hands out a packet made of garbage. Real sockets on loopback."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from ingest.seedlink.source import Packet, SeedLinkSource


class _Garbage(socketserver.BaseRequestHandler):
    """Answers HELLO like a v3 server, then sends bytes that are not SeedLink packets."""

    mode = "immediate"

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        try:
            if self.mode == "immediate":
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + bytes(range(256)) * 8)
                return
            buf = b""
            while b"END" not in buf:
                chunk = sock.recv(1024)
                if not chunk:
                    return
                buf += chunk
                for line in chunk.split(b"\r"):
                    if line.strip().startswith(b"HELLO"):
                        sock.sendall(b"SeedLink v3.1 (garbage) :: SLPROTO:3.1\r\nnobody\r\n")
                    elif line.strip()[:7] in (b"STATION", b"SELECT", b"DATA"):
                        sock.sendall(b"OK\r\n")
            sock.sendall(b"SLZZZZZZ" + b"\xff" * 512 + b"not seedlink at all" * 50)
            time.sleep(0.5)
        except OSError:
            return


@pytest.fixture(params=["immediate", "after_handshake"])
def garbage_server(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_Garbage,), {"mode": request.param})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_garbage_is_logged_and_the_source_keeps_trying(
    garbage_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = SeedLinkSource(
        garbage_server,
        [("TJ", "SAREZ")],
        "HH?",
        {},
        keepalive_s=30,
        idle_timeout_s=2,
        reconnect_delay_s=0.2,
        max_backoff_s=0.5,
        protocol="3",
    )
    got: list[Packet] = []
    failed: list[BaseException] = []

    def read() -> None:
        try:
            got.extend(source.packets())
        except BaseException as e:  # the test asserts there is none
            failed.append(e)

    caplog.set_level(logging.WARNING)
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    time.sleep(12)
    assert thread.is_alive(), failed  # still trying, not crashed
    assert failed == []
    assert got == []  # nothing made of garbage was handed out
    assert caplog.records, "the garbage was not logged"
    assert any(garbage_server in r.getMessage() or "seedlink" in r.name for r in caplog.records)
