"""A SeedLink v3 and v4 server on asyncio streams.

What it speaks in v3 (as SeisComP's ``seedlink`` and ringserver do, where they agree):

- ``HELLO`` (two lines), ``CAPABILITIES ...`` (OK), ``BATCH`` (OK, then no replies to
  STATION/SELECT/DATA/FETCH/TIME), ``BYE``; commands end in CR, LF or CRLF.
- ``INFO ID|CAPABILITIES|STATIONS|STREAMS`` in any state, answered as ``SLINFO *`` /
  ``SLINFO  `` packets of 512-byte miniSEED log records carrying the XML. ``INFO GAPS`` and
  ``INFO CONNECTIONS`` (and any other level) answer ``ERROR``.
- Multi-station: ``STATION sta [net]`` (``?``/``*`` wildcards; without ``net`` any network)
  answers OK if it matches a station the server knows and ERROR otherwise (SeisComP answers
  OK for anything that matches its configuration; ringserver answers OK always). Then
  ``SELECT [!][LL]CCC[.T]`` (no argument clears the selectors), one of ``DATA [seq [time]]``,
  ``FETCH [seq [time]]`` or ``TIME begin [end]``, and ``END`` starts the flow.
- Uni-station: ``SELECT`` s then ``DATA``/``FETCH``/``TIME`` without ``STATION`` start the flow
  at once for every station, without a reply (as libslink and EarthScope's client expect;
  ObsPy's uni-station mode waits for an ``OK`` and does not work with this server).

Sequence numbers are per station (1 .. FFFFFF, then 1 again), as SeisComP keeps them.
Resuming follows real servers' rules (ringserver 4.5; SeisComP's seedlink alike), never
kinder: ``DATA seq time`` continues after packet ``seq - 1`` only if the ring still holds it
**and** its record starts in the second ``time`` names (libslink sends the start time of the
last record it received); otherwise the flow starts at the station's first packet ending at
or after ``time``. ``DATA seq`` without a time continues after ``seq - 1`` if that packet is
held, else with new data only (what the ring still held is skipped: the gap the client must
notice). ``DATA`` alone: new data only. ``FETCH`` sends what the ring holds and then ``END``.
``TIME begin [end]`` sends the packets overlapping the window, from the ring and then live;
with an end, ``END`` follows once every selected station has data starting 10 s past the end
(or the newest data anywhere are 30 s past it).

SeedLink v4 (FDSN SeedLink 4.0): ``HELLO`` advertises ``SLPROTO:4.0`` (and ``SLPROTO:3.1``);
``SLPROTO 4.0``, before any other command but ``HELLO``, switches the connection to v4. Then:

- ``USERAGENT ...`` (OK, logged); ``AUTH ...`` answers ``ERROR UNSUPPORTED``: Larza's feed has
  no restricted stations, so every client sees every station without authenticating.
- ``STATION NET_STA`` (``*``/``?`` wildcards; the v3 form ``STATION STA NET`` too) answers OK
  even when no station matches yet (a station published later is served), as ringserver does:
  EarthScope's client treats a refused v4 ``STATION`` as fatal. A station matched by an
  earlier ``STATION`` keeps that request.
- ``SELECT [!]LOC_B_S_SS[.FS][:filter]`` (``FS`` matched from its start against ``2D``; a
  lone letter, as in ``*_H_H_Z.D``, is taken as the subformat, since clients translate v3's
  ``HHZ.D`` so; filters ``native``, ``2`` and ``3``, the last served as stored since
  miniSEED 3 is not produced here); a v3 selector (``[LL]CCC[.T]``) is accepted too.
  ``SELECT`` alone is an error in v4.
- ``DATA [seq|ALL] [start [end]]``: decimal sequence numbers (``-1`` = next), ISO times.
  With a sequence number, the start time is a resume's check, as in v3 and as ringserver
  does: the flow continues after packet ``seq - 1`` if the ring holds it and its record starts
  in that second, else at the first packet ending at or after the time; without a time, after
  ``seq - 1`` if held, else with new data only (also when the ring was re-created and that
  number now names another record: a client that sends no time cannot be told). ``DATA ALL
  start [end]`` is a window: packets with ``end > start`` and ``start < end``, from the
  oldest held. A sequence number with a station wildcard applies to each matching station.
  ``END`` starts the real-time flow, ``ENDFETCH`` the dial-up flow (what the ring holds, then
  ``END``).
- Packets: ``SE``, format ``2``, subformat ``D``, payload length (uint32 LE), sequence number
  (uint64 LE), station ID length and ``NET_STA``, then the stored 512-byte miniSEED 2 record.
  Sequence numbers are the station's ring numbers, unwrapped past FFFFFF (see ``_v4``).
- ``INFO ID|CAPABILITIES|FORMATS|STATIONS|STREAMS [station [stream]]`` in any state: one JSON
  packet (format ``J``, subformat ``I``), or subformat ``E`` with an ``error`` object.
- Refusals are ``ERROR CODE text`` (``UNSUPPORTED``, ``UNEXPECTED``, ``ARGUMENTS``); once the
  flow has started, commands other than ``INFO`` and ``BYE`` are ignored.

Limitations: no ``INFO GAPS``/``CONNECTIONS``, no authentication, no ``CAT``, no TLS or
WebSocket, no miniSEED 3; only data records (type ``D``) are stored; a client whose next packet
leaves the ring before it was sent is disconnected (it can resume and will see the gap); v4
sequence numbers are unwrapped correctly only while the ring holds fewer than FFFFFF packets
of a station.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ingest.feed._mseed import pack_text, record_info
from ingest.feed._protocol import (
    CAPABILITIES,
    SOFTWARE,
    StreamMatcher,
    info_xml,
    parse_selector,
    parse_sequence,
    parse_time,
    previous_sequence,
    selectors_match,
    wildcard_match,
)
from ingest.feed._ring import Packet, Ring
from ingest.feed._v4 import (
    FORMAT_MSEED2,
    SUBFORMAT_DATA,
    CommandError,
    SequenceNumbers,
    error_document,
    frame,
    info_document,
    info_packet,
    parse_data,
    parse_station_pattern,
    parse_stream_selector,
    pattern_match,
    station_id,
)

logger = logging.getLogger("larza.feed")

_MAX_LINE = 256
_WRITE_HIGH_WATER = 256 * 1024
_WINDOW_GRACE_NS = 30 * 1_000_000_000
_WINDOW_PAST_NS = 10 * 1_000_000_000
"""A station has passed a window's end when a packet starts this long after it (records of
other channels that began before the end may still follow shortly)."""
_INFO_LEVELS = ("ID", "CAPABILITIES", "STATIONS", "STREAMS")

Mode = Literal["data", "fetch", "time"]


@dataclass(slots=True)
class _Request:
    """What a client asked for one station pattern (or, in uni-station mode, for all)."""

    network: str
    station: str
    selectors: list[StreamMatcher] = field(default_factory=list)
    mode: Mode = "data"
    seq: int | None = None
    after_ns: int | None = None
    """A resume's time: the start of the client's last record (``DATA seq time``)."""
    begin_ns: int | None = None
    end_ns: int | None = None
    station_id: str | None = None
    """v4: the ``NET_STA`` pattern (``network`` and ``station`` are then ``*``)."""
    all_data: bool = False
    """v4 ``DATA ALL``: from the oldest packet held."""

    def matches(self, key: tuple[str, str]) -> bool:
        if self.station_id is not None:
            return pattern_match(self.station_id, station_id(*key))
        return wildcard_match(self.network, key[0]) and wildcard_match(self.station, key[1])


@dataclass(slots=True)
class _Plan:
    """A request resolved for one station: where its packets start, and its filters."""

    request: _Request
    start_gid: int
    done: bool = False

    def wants(self, p: Packet) -> bool:
        if p.gid < self.start_gid:
            return False
        r, info = self.request, p.info
        if r.begin_ns is not None and info.end_ns < r.begin_ns:
            return False
        if r.end_ns is not None and info.start_ns >= r.end_ns:
            return False
        return selectors_match(r.selectors, info.location, info.channel)


class _Client:
    """One connection: the command loop, and once the flow starts, a sender task."""

    def __init__(
        self,
        server: SeedLinkServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.requests: list[_Request] = []
        self.uni_selectors: list[StreamMatcher] = []
        self.current: _Request | None = None
        self.batch = False
        self.cursor = 0
        self.sender: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.sent = 0
        self.dropped = False
        self.plans: dict[tuple[str, str], _Plan | None] = {}
        self.v4 = False

    # -- commands --------------------------------------------------------------------------

    async def run(self) -> None:
        logger.info("feed: client %s connected", self.peer)
        buf = b""
        try:
            while True:
                chunk = await self.reader.read(4096)
                if not chunk:
                    break
                buf += chunk
                lines = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
                buf = lines.pop()
                if len(buf) > _MAX_LINE:
                    logger.warning("feed: client %s sent an over-long line; closing", self.peer)
                    break
                stop = False
                for raw in lines:
                    line = raw.decode("ascii", "replace").strip()
                    if line and not await self.command(line):
                        stop = True
                        break
                if stop:
                    break
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            logger.debug("feed: client %s: %s", self.peer, e)
        finally:
            await self.close()

    async def command(self, line: str) -> bool:
        """Handle one command line; ``False`` ends the connection."""
        logger.debug("feed: client %s: %s", self.peer, line)
        words = line.split()
        verb, args = words[0].upper(), words[1:]
        streaming = self.sender is not None
        if verb == "BYE":
            return False
        if verb == "INFO":
            if self.v4:
                self.info_v4(args)
            else:
                self.info(args[0].upper() if args else "")
            return True
        if verb == "HELLO":
            self.reply_raw(f"{SOFTWARE} :: {CAPABILITIES}\r\n{self.server.organization}\r\n")
            return True
        if self.v4:
            if streaming:
                logger.debug("feed: client %s: %s ignored while streaming", self.peer, verb)
            else:
                self.command_v4(verb, args)
            return True
        if streaming:
            self.reply_raw("ERROR\r\n")
            return True
        if verb == "SLPROTO":
            self.slproto(args)
        elif verb == "CAPABILITIES":
            self.reply_raw("OK\r\n")
        elif verb == "BATCH":
            self.reply_raw("OK\r\n")
            self.batch = True
        elif verb == "STATION" and 1 <= len(args) <= 2:
            request = _Request(network=args[1] if len(args) == 2 else "*", station=args[0])
            if any(request.matches(k) for k in self.server.ring.station_keys):
                self.requests.append(request)
                self.current = request
                self.reply(True)
            else:
                self.current = None
                self.reply(False)
        elif verb == "SELECT" and len(args) <= 1:
            self.select(args)
        elif verb in ("DATA", "FETCH", "TIME"):
            self.action(verb, args)
        elif verb == "END" and not args:
            if not self.requests:
                self.reply_raw("ERROR\r\n")
            else:
                self.start_flow()
        else:
            logger.debug("feed: client %s: unknown command %r", self.peer, line)
            self.reply_raw("ERROR\r\n")
        return True

    def slproto(self, args: list[str]) -> None:
        version = args[0] if len(args) == 1 else ""
        if version in ("4", "4.0"):
            if self.requests or self.uni_selectors or self.batch:
                msg = "SLPROTO must come before any other command but HELLO"
                self.reply_raw(CommandError("UNEXPECTED", msg).reply())
                return
            self.v4 = True
            self.reply_raw("OK\r\n")
        elif version in ("3", "3.0", "3.1"):
            self.reply_raw("OK\r\n")
        else:
            msg = f"protocol {version or '(none)'} is not served; SLPROTO 4.0 or 3.1"
            self.reply_raw(CommandError("UNSUPPORTED", msg).reply())

    def command_v4(self, verb: str, args: list[str]) -> None:
        """One v4 handshaking command: ``OK``, ``ERROR CODE text``, or the flow starts."""
        try:
            if verb in ("END", "ENDFETCH") and not args:
                if not self.requests:
                    raise CommandError("UNEXPECTED", f"{verb} before any STATION")
                if verb == "ENDFETCH":
                    for r in self.requests:
                        r.mode = "fetch"
                self.start_flow()
                return
            if verb == "USERAGENT":
                if not args:
                    raise CommandError("ARGUMENTS", "USERAGENT needs program/version items")
                logger.info("feed: client %s is %s", self.peer, " ".join(args))
            elif verb == "AUTH":
                raise CommandError("UNSUPPORTED", "no authentication: every station is public")
            elif verb == "SLPROTO":
                raise CommandError("UNEXPECTED", "the protocol version is already chosen")
            elif verb == "STATION":
                self.current = _Request("*", "*", station_id=parse_station_pattern(args))
                self.requests.append(self.current)
            elif verb in ("SELECT", "DATA"):
                if self.current is None:
                    raise CommandError("UNEXPECTED", f"{verb} before STATION")
                if verb == "DATA":
                    data = parse_data(args)
                    self.current.seq, self.current.all_data = data.seq, data.all
                    start = data.start_ns
                    if data.seq is not None:
                        # A resume: the time checks and, if need be, replaces the sequence
                        # number (as ringserver does); it positions, it does not filter.
                        self.current.after_ns = start
                    else:
                        # A window: packets ending after the start, i.e. end >= start + 1
                        self.current.begin_ns = None if start is None else start + 1
                    self.current.end_ns = data.end_ns
                elif len(args) != 1:
                    raise CommandError("ARGUMENTS", "SELECT takes one pattern (none: not in v4)")
                else:
                    self.current.selectors.append(parse_stream_selector(args[0]))
            else:
                raise CommandError("UNSUPPORTED", f"{verb} is not a SeedLink v4 command")
        except CommandError as e:
            logger.debug("feed: client %s: %s %s: %s", self.peer, verb, args, e)
            self.reply_raw(e.reply())
            return
        self.reply_raw("OK\r\n")

    def reply_raw(self, text: str) -> None:
        self.writer.write(text.encode("ascii"))

    def reply(self, ok: bool) -> None:
        if not self.batch:
            self.reply_raw("OK\r\n" if ok else "ERROR\r\n")

    def select(self, args: list[str]) -> None:
        target = self.current.selectors if self.current is not None else self.uni_selectors
        if self.current is None and self.requests:
            self.reply(False)  # SELECT after a rejected STATION
            return
        if not args:
            target.clear()
            self.reply(True)
            return
        try:
            target.append(parse_selector(args[0]))
        except ValueError:
            self.reply(False)
            return
        self.reply(True)

    def action(self, verb: str, args: list[str]) -> None:
        uni = not self.requests
        if uni:
            request = _Request(network="*", station="*", selectors=list(self.uni_selectors))
        elif self.current is None:
            self.reply(False)
            return
        else:
            request = self.current
        try:
            if verb == "TIME":
                if not 1 <= len(args) <= 2:
                    raise ValueError("TIME needs a begin and an optional end")
                request.mode = "time"
                request.begin_ns = parse_time(args[0])
                request.end_ns = parse_time(args[1]) if len(args) == 2 else None
            else:
                if len(args) > 2:
                    raise ValueError(f"{verb} takes at most a sequence number and a time")
                request.mode = "fetch" if verb == "FETCH" else "data"
                request.seq = parse_sequence(args[0]) if args else None
                request.after_ns = parse_time(args[1]) if len(args) == 2 else None
        except ValueError as e:
            logger.debug("feed: client %s: %s", self.peer, e)
            if uni:
                self.reply_raw("ERROR\r\n")
            else:
                self.reply(False)
            return
        if uni:
            self.requests.append(request)
            self.start_flow()
        else:
            self.reply(True)

    def info(self, level: str) -> None:
        if level not in _INFO_LEVELS:
            logger.debug("feed: client %s: INFO %s refused", self.peer, level)
            self.reply_raw("ERROR\r\n")
            return
        ring = self.server.ring
        xml = info_xml(
            level,
            organization=self.server.organization,
            started_ns=self.server.started_ns,
            stations=ring.station_infos(with_streams=level == "STREAMS"),
        )
        records = pack_text("SL", "INFO", "", "LOG", time.time_ns(), xml)
        for i, rec in enumerate(records):
            more = i < len(records) - 1
            self.writer.write((b"SLINFO *" if more else b"SLINFO  ") + rec)

    def info_v4(self, args: list[str]) -> None:
        item = args[0].upper() if args else ""
        server, ring = self.server, self.server.ring
        try:
            doc = info_document(
                item,
                software=SOFTWARE,
                organization=server.organization,
                stations=ring.station_infos(with_streams=item == "STREAMS"),
                numbers=server.numbers,
                station_pattern=args[1] if len(args) > 1 else "*",
                stream_pattern=args[2] if len(args) > 2 else "*",
            )
        except CommandError as e:
            error = error_document(SOFTWARE, server.organization, e.code, e.message)
            self.writer.write(info_packet(error, error=True))
            return
        self.writer.write(info_packet(doc))

    # -- the flow --------------------------------------------------------------------------

    def start_flow(self) -> None:
        ring = self.server.ring
        for key in ring.station_keys:
            self.plans[key] = self.plan_for(key, existing=True)
        starts = [p.start_gid for p in self.plans.values() if p is not None]
        self.cursor = min(starts, default=ring.next_gid)
        logger.info(
            "feed: client %s starts %s for %d station(s)",
            self.peer,
            "/".join(sorted({r.mode for r in self.requests})),
            sum(p is not None for p in self.plans.values()),
        )
        self.sender = asyncio.create_task(self.send_loop())

    def plan_for(self, key: tuple[str, str], existing: bool) -> _Plan | None:
        ring = self.server.ring
        request = next((r for r in self.requests if r.matches(key)), None)
        if request is None:
            return None
        if not existing:  # a station first heard of after the flow started
            return _Plan(request, ring.oldest_of(key))
        if self.v4:
            return self.plan_v4(key, request)
        if request.mode == "time" or (request.mode == "fetch" and request.seq is None):
            return _Plan(request, ring.oldest_of(key))
        if request.seq is None:
            return _Plan(request, ring.next_gid)
        start, how = ring.resume_after(key, previous_sequence(request.seq), request.after_ns)
        self.log_resume(key, f"{request.seq:06X}", how)
        return _Plan(request, start)

    def log_resume(self, key: tuple[str, str], asked: str, how: str) -> None:
        if how == "found":
            return
        logger.info(
            "feed: client %s asked %s.%s from %s: %s",
            self.peer,
            key[0],
            key[1],
            asked,
            "no longer held or not that record; by time"
            if how == "time"
            else "no longer held or not that record; new data only",
        )

    def plan_v4(self, key: tuple[str, str], request: _Request) -> _Plan:
        ring = self.server.ring
        if request.all_data:
            return _Plan(request, ring.oldest_of(key))
        if request.seq is None:
            return _Plan(request, ring.next_gid)
        start, how = self.server.numbers.resume_after(ring, key, request.seq - 1, request.after_ns)
        self.log_resume(key, str(request.seq), how)
        return _Plan(request, start)

    def frame(self, packet: Packet) -> bytes:
        if not self.v4:
            return packet.frame
        info = packet.info
        number = self.server.numbers.number(packet)
        sid = station_id(info.network, info.station)
        return frame(FORMAT_MSEED2, SUBFORMAT_DATA, number, sid, packet.frame[8:])

    async def send_loop(self) -> None:
        ring = self.server.ring
        windowed = [p for p in self.plans.values() if p is not None]
        dialup = any(r.mode == "fetch" for r in self.requests)
        try:
            while True:
                while self.cursor < ring.next_gid:
                    packet = ring.get(self.cursor)
                    if packet is None:
                        self.drop("fell behind the ring")
                        return
                    self.cursor += 1
                    key = packet.key
                    if key not in self.plans:
                        self.plans[key] = self.plan_for(key, existing=False)
                        if self.plans[key] is not None:
                            windowed.append(self.plans[key])  # type: ignore[arg-type]
                    plan = self.plans[key]
                    if plan is None or plan.done:
                        continue
                    end_ns = plan.request.end_ns
                    if end_ns is not None and packet.info.start_ns >= end_ns + _WINDOW_PAST_NS:
                        plan.done = True
                        continue
                    if plan.wants(packet):
                        self.writer.write(self.frame(packet))
                        self.sent += 1
                        transport = self.writer.transport
                        if transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
                            await self.writer.drain()
                await self.writer.drain()
                if dialup or (not self.v4 and self.window_complete(windowed)):
                    self.writer.write(b"END")
                    await self.writer.drain()
                    logger.info("feed: client %s: END after %d packets", self.peer, self.sent)
                    return
                self.wake.clear()
                await self.wake.wait()
        except ConnectionError as e:
            logger.debug("feed: client %s: %s", self.peer, e)

    def window_complete(self, plans: list[_Plan]) -> bool:
        if not plans or any(p.request.end_ns is None for p in plans):
            return False
        latest = self.server.ring.latest_end_ns
        return all(p.done or latest >= (p.request.end_ns or 0) + _WINDOW_GRACE_NS for p in plans)

    def drop(self, why: str) -> None:
        if self.dropped:
            return
        self.dropped = True
        logger.warning("feed: dropping client %s: %s (sent %d)", self.peer, why, self.sent)
        self.writer.transport.abort()

    async def close(self) -> None:
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sender
        with contextlib.suppress(ConnectionError):
            self.writer.close()
            await self.writer.wait_closed()
        logger.info("feed: client %s disconnected (sent %d packets)", self.peer, self.sent)


class SeedLinkServer:
    """A SeedLink v3/v4 server holding the last ``ring_size`` published records.

    ``publish(record)`` stores a 512-byte miniSEED record, gives it the station's next
    sequence number and wakes the streaming clients; it never waits for a client. Each client
    reads the ring at its own pace; one that falls behind the ring's tail is disconnected.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 18000,
        ring_size: int = 100_000,
        organization: str = "Larza demo feed",
        stations: list[tuple[str, str, str]] | None = None,
        ring_file: Path | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self.organization = organization
        self.ring_file = ring_file
        self.ring = Ring(ring_size)
        self.numbers = SequenceNumbers()
        """The v4 sequence numbers of the ring's packets."""
        if ring_file is not None and ring_file.exists():
            self.ring, extra = Ring.load(ring_file, ring_size)
            self.numbers = SequenceNumbers.from_state(extra.get("numbers"))
            logger.info("feed: ring of %d packets loaded from %s", len(self.ring), ring_file)
        for net, sta, description in stations or []:
            self.ring.add_station(net, sta, description)
        self.started_ns = time.time_ns()
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port (after ``start``), else the configured one."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def client_count(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._port)
        self.started_ns = time.time_ns()
        logger.info("feed: SeedLink v3/v4 server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and end every client's connection (idempotent)."""
        if self._server is not None:
            self._server.close()
        # Closing the sockets lets each client's task end by itself; cancelling a
        # connection task instead makes asyncio log it as an error.
        for client in list(self._clients):
            client.writer.transport.abort()
        if self._tasks:
            _done, pending = await asyncio.wait(list(self._tasks), timeout=5.0)
            for task in pending:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        self._server = None
        self.save_ring()
        logger.info("feed: server stopped")

    def save_ring(self) -> None:
        """Keep the ring in ``ring_file`` (if set) for the next start."""
        if self.ring_file is not None:
            self.ring.save(self.ring_file, {"numbers": self.numbers.state()})
            logger.info("feed: ring saved to %s", self.ring_file)

    def publish(self, record: bytes) -> int:
        """Store ``record`` and push it to the streaming clients; returns its sequence number.

        Raises ``ValueError`` if ``record`` is not one 512-byte miniSEED record.
        """
        packet, evicted = self.ring.append(bytes(record), record_info(record))
        self.numbers.published(packet)
        if evicted:
            oldest = self.ring.oldest_gid
            for client in list(self._clients):
                if client.sender is not None and client.cursor < oldest:
                    client.drop("fell behind the ring")
        for client in self._clients:
            client.wake.set()
        return packet.seq

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(self, reader, writer)
        self._clients.add(client)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await client.run()
        finally:
            self._clients.discard(client)
            if task is not None:
                self._tasks.discard(task)
