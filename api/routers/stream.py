"""``/api/v1/stream``: the change log as Server-Sent Events, for alerting scripts and
dashboards.

Each message carries the change's id (``id:``), its kind (``event:`` is ``event``,
``detection`` or ``state``) and, as ``data:``, the same JSON the REST API gives for it: an
event with its detections, a detection, or a station state change. A client that
reconnects with ``Last-Event-ID`` (browsers' ``EventSource`` does so by itself) gets
exactly the changes it missed; without it the stream starts at the current end.

Limitations: a message shows the event as it is when the message is sent, so an event
updated twice in quick succession may show its latest state in both messages. Changes are
found by polling the database (``stream_poll_s``), not pushed.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.auth import SessionFactoryDep
from api.deps import SettingsDep
from api.errors import BAD_REQUEST
from api.pagination import MAX_ID
from api.routers.detections import detection_out
from api.routers.events import event_out
from api.routers.stations import change_out
from stations.changes import last_change_id
from stations.models import ChangeKind, Detection, Event, StateChange
from stations.webhooks import ChangedRow, changed_rows, pending_changes

router = APIRouter(prefix="/api/v1", tags=["stream"], responses=BAD_REQUEST)

PAGE = 100
RETRY_MS = 2000


def change_data(row: ChangedRow | None) -> BaseModel | None:
    """A changed row as the REST API shows it (None for a row deleted since)."""
    if isinstance(row, Event):
        return event_out(row)
    if isinstance(row, Detection):
        return detection_out(row)
    if isinstance(row, StateChange):
        return change_out(row)
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


@dataclass(frozen=True)
class _Batch:
    messages: list[str]
    cursor: int
    full: bool


def _read(factory: sessionmaker[Session], after: int, kinds: set[ChangeKind]) -> _Batch:
    """One page of messages, in a session of its own (run in a worker thread)."""
    with factory() as session:
        page = pending_changes(session, after_id=after, kinds=kinds, limit=PAGE)
        rows = changed_rows(session, changes=page.changes)
        messages = []
        for change in page.changes:
            data = change_data(rows.get((change.kind, change.ref_id)))
            body = "null" if data is None else data.model_dump_json()
            messages.append(f"id: {change.id}\nevent: {change.kind.value}\ndata: {body}\n\n")
    return _Batch(messages, page.cursor, len(page.changes) == PAGE)


def _start(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return last_change_id(session)


async def _events(
    request: Request,
    factory: sessionmaker[Session],
    *,
    after: int,
    kinds: set[ChangeKind],
    poll_s: float,
    keepalive_s: float,
    stop: threading.Event,
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    quiet_since = time.monotonic()
    while not stop.is_set() and not await request.is_disconnected():
        batch = await run_in_threadpool(_read, factory, after, kinds)
        after = batch.cursor
        for message in batch.messages:
            yield message
        if batch.messages:
            quiet_since = time.monotonic()
            if batch.full:
                continue
        elif time.monotonic() - quiet_since >= keepalive_s:
            yield ": keepalive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(poll_s)


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
        Query(description="comma-separated kinds to receive: event, detection, state (all)"),
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
    stop: threading.Event = request.app.state.stream_stop
    return StreamingResponse(
        _events(
            request,
            factory,
            after=after,
            kinds=wanted,
            poll_s=settings.stream_poll_s,
            keepalive_s=settings.stream_keepalive_s,
            stop=stop,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def streams_end_on_shutdown(app: FastAPI) -> Iterator[None]:
    """Make open streams end when the server is asked to stop, for as long as the block runs.

    Servers wait for open responses to finish before they shut down, and an SSE stream
    never finishes by itself. Where the server handles SIGINT and SIGTERM itself (uvicorn,
    in the main thread), a handler is put in front of its own that first tells every stream
    to end; otherwise nothing is changed. Streams also end when the block exits.
    """
    stop = threading.Event()
    app.state.stream_stop = stop
    installed: dict[signal.Signals, tuple[Any, Any]] = {}  # signal: (the server's handler, ours)
    if threading.current_thread() is threading.main_thread():
        for sig in _SIGNALS:
            handler = signal.getsignal(sig)
            if callable(handler):

                def chained(signum: int, frame: FrameType | None, then: Any = handler) -> None:
                    stop.set()
                    then(signum, frame)

                installed[sig] = (handler, chained)
                signal.signal(sig, chained)
    try:
        yield
    finally:
        stop.set()
        for done, (handler, ours) in installed.items():
            if signal.getsignal(done) is ours:
                signal.signal(done, handler)
