"""``/api/v1/stream``: the change log as Server-Sent Events, for alerting scripts and
dashboards.

Each message carries the change's id (``id:``), its kind (``event:`` is ``event``,
``detection`` or ``state``) and, as ``data:``, the same JSON the REST API gives for it: an
event with its detections, a detection, or a station state change. A client that
reconnects with ``Last-Event-ID`` (browsers' ``EventSource`` does so by itself) gets
exactly the changes it missed; without it the stream starts at the current end.

Changes are found by one poller per API process (``api.watch``, every ``stream_poll_s``),
which hands each batch, rendered once, to every client of the process (``api.hub``); a
client that resumes first reads what it missed from the database.

Limitations: a message shows the event as it is when the message is read, so an event
updated twice in quick succession may show its latest state in both messages.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.alert_schemas import alert_station_ids, alert_version_out
from api.auth import SessionFactoryDep
from api.deps import SettingsDep
from api.errors import BAD_REQUEST
from api.hub import Batch, ChangeHub, Message
from api.pagination import MAX_ID
from api.routers.detections import detection_out
from api.routers.events import event_out
from api.routers.stations import change_out
from api.watch import Watcher
from stations.alerts import alert_stations
from stations.changes import last_change_id
from stations.models import AlertVersion, ChangeKind, Detection, Event, StateChange, Station
from stations.quakes import DetectionUse, EventQuake, detection_uses, event_quakes
from stations.webhooks import ChangedRow, changed_rows, pending_changes

router = APIRouter(prefix="/api/v1", tags=["stream"], responses=BAD_REQUEST)

PAGE = 100
RETRY_MS = 2000


@dataclass(frozen=True)
class ChangeExtras:
    """What the changed events, detections and alerts show beyond their rows."""

    quakes: Mapping[int, EventQuake]
    uses: Mapping[int, DetectionUse]
    stations: Mapping[str, Station] = field(default_factory=dict)  # alerts': by NET.STA


def change_quakes(
    session: Session, rows: Mapping[tuple[ChangeKind, int], ChangedRow]
) -> ChangeExtras:
    """The origins, magnitudes and ground motion of the changed events among ``rows``, the
    events and arrivals of the changed detections, and the stations the alerts name."""
    events = [row.id for row in rows.values() if isinstance(row, Event)]
    detections = [row.id for row in rows.values() if isinstance(row, Detection)]
    named = alert_station_ids(row for row in rows.values() if isinstance(row, AlertVersion))
    return ChangeExtras(
        event_quakes(session, event_ids=events) if events else {},
        detection_uses(session, detection_ids=detections) if detections else {},
        alert_stations(session, ids=named) if named else {},
    )


def change_data(row: ChangedRow | None, extras: ChangeExtras | None = None) -> BaseModel | None:
    """A changed row as the REST API shows it (None for a row deleted since); an event with
    its origin, magnitudes and ground motion, a detection with its event, from ``extras``."""
    if isinstance(row, Event):
        return event_out(row, extras.quakes.get(row.id) if extras else None)
    if isinstance(row, Detection):
        return detection_out(row, extras.uses.get(row.id) if extras else None)
    if isinstance(row, StateChange):
        return change_out(row)
    if isinstance(row, AlertVersion):
        return alert_version_out(row, row.alert, extras.stations if extras else None)
    return None


def parse_kinds(text: str | None) -> set[ChangeKind]:
    """``event,state`` as a set of kinds; None or empty means all of them."""
    if not text:
        return set(ChangeKind)
    names = [name.strip() for name in text.split(",")]
    known = {kind.value for kind in ChangeKind}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "kinds"),
                    "msg": f"unknown change kind(s) {', '.join(map(repr, unknown))}: "
                    f"kinds is a comma-separated list of {', '.join(sorted(known))}",
                    "input": text,
                }
            ]
        )
    return {ChangeKind(name) for name in names}


def read_batch(
    session: Session, after: int, kinds: Collection[ChangeKind] | None = None
) -> tuple[Batch, bool]:
    """The next page of changes (of ``kinds``; all when None) after ``after``, rendered as
    SSE messages, and whether the page is full (more may follow at once)."""
    page = pending_changes(session, after_id=after, kinds=kinds, limit=PAGE)
    rows = changed_rows(session, changes=page.changes)
    quakes = change_quakes(session, rows)
    messages = []
    for change in page.changes:
        data = change_data(rows.get((change.kind, change.ref_id)), quakes)
        body = "null" if data is None else data.model_dump_json()
        text = f"id: {change.id}\nevent: {change.kind.value}\ndata: {body}\n\n"
        messages.append(Message(change.id, change.kind, text))
    return Batch(tuple(messages), page.cursor), len(page.changes) == PAGE


def _read(
    factory: sessionmaker[Session], after: int, kinds: Collection[ChangeKind]
) -> tuple[Batch, bool]:
    """:func:`read_batch` in a session of its own (run in a worker thread)."""
    with factory() as session:
        return read_batch(session, after, kinds)


def _start(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return last_change_id(session)


async def _events(
    hub: ChangeHub,
    factory: sessionmaker[Session],
    *,
    after: int,
    kinds: set[ChangeKind],
    keepalive_s: float,
) -> AsyncIterator[str]:
    """The messages after change ``after``: those the hub's batches hold, and before them
    those read from the database (a client resuming, or one that fell behind)."""
    yield f"retry: {RETRY_MS}\n\n"
    quiet_since = time.monotonic()
    while not hub.closed:
        subscription = hub.subscribe(kinds)
        try:
            while after < subscription.start:  # catch up to where the hub's batches begin
                batch, _ = await run_in_threadpool(_read, factory, after, kinds)
                for message in batch.messages:
                    if message.id <= subscription.start:
                        yield message.text
                        quiet_since = time.monotonic()
                after = min(batch.cursor, subscription.start)
            while not (subscription.closed or subscription.dropped):
                await subscription.wait(keepalive_s - (time.monotonic() - quiet_since))
                for batch in subscription.take():
                    for message in batch.messages:
                        if message.id > after and message.kind in kinds:
                            yield message.text
                            quiet_since = time.monotonic()
                    after = max(after, batch.cursor)
                if time.monotonic() - quiet_since >= keepalive_s:
                    yield ": keepalive\n\n"
                    quiet_since = time.monotonic()
        finally:
            hub.unsubscribe(subscription)


@router.get(
    "/stream",
    summary="Changes as Server-Sent Events: events, detections, station state changes",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "``id: <change id>``, ``event: event|detection|state``, "
            "``data: <JSON>`` per change; ``: keepalive`` comments while quiet",
        }
    },
)
async def stream(
    request: Request,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    kinds: Annotated[
        str | None,
        Query(description="comma-separated kinds to receive: event, detection, state, alert (all)"),
    ] = None,
    last_event_id: Annotated[
        int | None,
        Query(
            ge=0, le=MAX_ID, description="start after this change id (the header wins when both)"
        ),
    ] = None,
    last_event_id_header: Annotated[
        int | None,
        Header(alias="Last-Event-ID", ge=0, le=MAX_ID, description="start after this change id"),
    ] = None,
) -> StreamingResponse:
    wanted = parse_kinds(kinds)
    after = last_event_id_header if last_event_id_header is not None else last_event_id
    if after is None:
        after = await run_in_threadpool(_start, factory)
    hub: ChangeHub = request.app.state.change_hub
    watcher: Watcher = request.app.state.watcher
    watcher.start()  # started already, unless the app runs in its caller's transactions
    await hub.ready.wait()
    return StreamingResponse(
        _events(hub, factory, after=after, kinds=wanted, keepalive_s=settings.stream_keepalive_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def streams_end_on_shutdown(hub: ChangeHub) -> Iterator[None]:
    """Make open streams end when the server is asked to stop, for as long as the block runs.

    Servers wait for open responses to finish before they shut down, and an SSE stream
    never finishes by itself. Where the server handles SIGINT and SIGTERM itself (uvicorn,
    in the main thread), a handler is put in front of its own that first closes the hub,
    which ends every stream; otherwise nothing is changed. The hub also closes when the
    block exits.
    """
    installed: dict[signal.Signals, tuple[Any, Any]] = {}  # signal: (the server's handler, ours)
    if threading.current_thread() is threading.main_thread():
        for sig in _SIGNALS:
            handler = signal.getsignal(sig)
            if callable(handler):

                def chained(signum: int, frame: FrameType | None, then: Any = handler) -> None:
                    hub.close_threadsafe()  # a signal handler must not touch the loop itself
                    then(signum, frame)

                installed[sig] = (handler, chained)
                signal.signal(sig, chained)
    try:
        yield
    finally:
        hub.close()
        for done, (handler, ours) in installed.items():
            if signal.getsignal(done) is ours:
                signal.signal(done, handler)
