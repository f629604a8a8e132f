"""Webhook delivery: the API process POSTs the change log to every registered webhook, in
order, signed, retried with backoff until the receiver answers 2xx.

Each webhook is delivered by a task of its own, on an event loop in a thread of its own:
a receiver that is slow, down or hostile delays only its own webhook. The loop looks for
active webhooks that are due and have changes after their cursor, and starts a task for
each that has none running (at most ``IN_FLIGHT`` at once): at once when :meth:`wake` is
called (the API's change poller calls it when new changes are stored, every
``stream_poll_s``, so an alert message leaves within about 50 ms, not at the next poll)
and when a delivery succeeds (the changes stored meanwhile follow it at once), and otherwise
every ``webhook_poll_s`` (for retries falling due). A task claims its webhook
(:func:`stations.webhooks.claim_webhook`: a lease committed at once, so two API processes
never deliver to one webhook together and no database connection is held over the
delivery), reads up to 100 changes of its kinds, POSTs them as one body within one
deadline (``webhook_timeout_s``, for everything from resolving the name to the status
line) and records the outcome. A 2xx answer moves the
cursor past them (and past any changes of kinds the webhook does not want); anything else
keeps the cursor, counts the failure and puts the next attempt off by ``2**failures``
seconds, at most ``webhook_backoff_max_s``. Whatever goes wrong with one webhook (a URL
stored before URLs were checked, a refused address, a receiver that answers garbage) is
recorded on that webhook and nowhere else.

Stopping cancels the deliveries in progress at once and gives their webhooks back (their
next attempt is due; a claim under way is let finish, a database write, and given back
too, so that of several API processes stopping together none leaves a webhook leased);
the API's shutdown never waits on a receiver.

Limitations: delivery is at least once. A receiver whose 2xx answer is lost, or a process
that stops between the POST and recording its answer, makes the same changes be sent
again; receivers can drop repeats by change id (``X-Larza-Delivery`` names the first and
last). Redirects are not followed: a 3xx answer counts as a failure. The receiver's
address must be public unless ``webhook_allow_networks`` allows its range (see
:mod:`api.webhook_targets`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from api.routers.stream import change_data, change_quakes
from api.webhook_http import Outcome, post
from api.webhook_targets import IpNetwork, WebhookUrlError, parse_webhook_url
from stations.webhooks import (
    changed_rows,
    claim_webhook,
    due_webhook_ids,
    pending_changes,
    record_failure,
    record_success,
    release_webhook,
    webhook_kinds,
)

__all__ = ["BATCH", "IN_FLIGHT", "WebhookDelivery", "sign"]

log = logging.getLogger("larza.webhooks")

BATCH = 100
"""Most changes in one delivery."""
IN_FLIGHT = 100
"""Most deliveries in progress at once; webhooks due beyond it wait for the next round."""
_STOP_WAIT_S = 10.0


def sign(secret: str, body: bytes) -> str:
    """The ``X-Larza-Signature`` value of ``body``: ``sha256=`` and the HMAC's hex digest."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Work:
    """A claimed webhook and what to send it."""

    webhook_id: int
    url: str
    secret: str
    failures: int
    cursor: int
    first: int | None
    last: int | None
    body: bytes
    lease_until: datetime


class WebhookDelivery:
    """Delivers webhooks from an event loop in a thread of its own; :meth:`start` and
    :meth:`stop` it, or run single rounds with :meth:`run_once`."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        poll_s: float,
        timeout_s: float,
        backoff_max_s: float,
        allow_networks: Sequence[IpNetwork] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._factory = factory
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._backoff_max_s = backoff_max_s
        self._allowed = tuple(allow_networks)
        self._clock = clock
        self._lease = timedelta(seconds=timeout_s + 60)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._woken: asyncio.Event | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            asyncio.run(self._main(ready))

        self._thread = threading.Thread(target=run, name="larza-webhooks", daemon=True)
        self._thread.start()
        ready.wait(timeout=_STOP_WAIT_S)

    def stop(self) -> None:
        """Cancel the deliveries in progress, give their webhooks back and stop: at once,
        whatever the receivers do (at most a few database writes)."""
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(stopping.set)
        if thread is not None:
            thread.join(timeout=_STOP_WAIT_S)
            if thread.is_alive():
                log.error("webhook delivery did not stop within %.0f s", _STOP_WAIT_S)
            self._thread = None

    def wake(self) -> None:
        """Look for work now, not at the next poll (from any thread; does nothing before
        :meth:`start` or after :meth:`stop`)."""
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(woken.set)

    def run_once(self) -> int:
        """One round, every delivery finished before it returns; how many were attempted."""
        return asyncio.run(self._round(wait=True))

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._woken = woken = asyncio.Event()
        ready.set()
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                woken.clear()  # before the round: a wake during it makes another
                await self._round(wait=False)
                waking = asyncio.ensure_future(woken.wait())
                await asyncio.wait(
                    {stopping, waking}, timeout=self._poll_s, return_when="FIRST_COMPLETED"
                )
                waking.cancel()
        finally:
            stopping.cancel()
            await self._cancel_all()

    async def _round(self, *, wait: bool) -> int:
        try:
            due = await asyncio.to_thread(self._due)
        except Exception:  # the database is away, say: log it and try again next round
            log.exception("webhook delivery: cannot read the due webhooks")
            return 0
        if self._stopping is not None and self._stopping.is_set():
            return 0  # asked to stop meanwhile: claim nothing more
        started = []
        for webhook_id in due:
            if webhook_id in self._tasks or len(self._tasks) >= IN_FLIGHT:
                continue
            task = asyncio.create_task(self._deliver(webhook_id), name=f"webhook {webhook_id}")
            self._tasks[webhook_id] = task
            task.add_done_callback(self._forget)
            started.append(task)
        if wait and started:
            await asyncio.gather(*started)
        return len(started)

    def _forget(self, task: asyncio.Task[None]) -> None:
        for webhook_id, running in list(self._tasks.items()):
            if running is task:
                del self._tasks[webhook_id]

    async def _cancel_all(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _due(self) -> list[int]:
        with self._factory() as session:
            return due_webhook_ids(session, now=self._clock())

    async def _deliver(self, webhook_id: int) -> None:
        """Claim, send, record: any error stays with this webhook."""
        work: _Work | None = None
        claim = asyncio.ensure_future(asyncio.to_thread(self._claim, webhook_id))
        try:
            work = await asyncio.shield(claim)
            if work is None:
                return
            outcome = await self._send(work)
            await asyncio.to_thread(self._record, work, outcome)
            if outcome.delivered and self._woken is not None:
                self._woken.set()  # changes stored during the delivery go out at once
        except asyncio.CancelledError:
            if work is None:  # stopped while claiming: the claim's thread goes on, and commits
                with contextlib.suppress(Exception):  # a failed claim holds nothing
                    work = await claim
            if work is not None:  # stopping: its next attempt is due, in this process or another
                await asyncio.shield(asyncio.to_thread(self._release, work))
            raise
        except Exception:
            log.exception("webhook %d: delivery failed inside Larza", webhook_id)

    def _claim(self, webhook_id: int) -> _Work | None:
        now = self._clock()
        with self._factory() as session, session.begin():
            webhook = claim_webhook(session, webhook_id=webhook_id, now=now, lease=self._lease)
            if webhook is None:
                return None
            page = pending_changes(
                session, after_id=webhook.cursor, kinds=webhook_kinds(webhook), limit=BATCH
            )
            if not page.changes:  # only changes of kinds it does not want
                record_success(session, webhook_id=webhook_id, cursor=page.cursor)
                return None
            rows = changed_rows(session, changes=page.changes)
            quakes = change_quakes(session, rows)
            changes = []
            for change in page.changes:
                data = change_data(rows.get((change.kind, change.ref_id)), quakes)
                changes.append(
                    {
                        "id": change.id,
                        "kind": change.kind.value,
                        "time": change.time.isoformat(),
                        "data": None if data is None else data.model_dump(mode="json"),
                    }
                )
            body = json.dumps({"webhook": webhook.id, "changes": changes}, separators=(",", ":"))
            return _Work(
                webhook_id=webhook.id,
                url=webhook.url,
                secret=webhook.secret,
                failures=webhook.failures,
                cursor=page.cursor,
                first=page.changes[0].id,
                last=page.changes[-1].id,
                body=body.encode(),
                lease_until=now + self._lease,
            )

    async def _send(self, work: _Work) -> Outcome:
        try:
            target = parse_webhook_url(work.url)
        except WebhookUrlError as e:  # stored before URLs were checked at registration
            return Outcome(error=f"the URL is not valid: {e}", detail=str(e))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Larza-Webhooks/1",
            "X-Larza-Signature": sign(work.secret, work.body),
            "X-Larza-Delivery": f"{work.first}-{work.last}",
        }
        return await post(
            target, work.body, headers, deadline_s=self._timeout_s, allowed=self._allowed
        )

    def _record(self, work: _Work, outcome: Outcome) -> None:
        with self._factory() as session, session.begin():
            if outcome.delivered:
                record_success(session, webhook_id=work.webhook_id, cursor=work.cursor)
                log.info(
                    "webhook %d: delivered changes %s-%s", work.webhook_id, work.first, work.last
                )
                return
            failures = work.failures + 1
            retry = record_failure(
                session,
                webhook_id=work.webhook_id,
                failures=failures,
                error=outcome.reason or "not delivered",
                now=self._clock(),
                backoff_max_s=self._backoff_max_s,
            )
        log.warning(
            "webhook %d: delivering changes %s-%s failed (%d in a row), next attempt at %s: %s",
            work.webhook_id,
            work.first,
            work.last,
            failures,
            f"{retry:%H:%M:%S}",
            outcome.detail or outcome.reason,
        )

    def _release(self, work: _Work) -> None:
        try:
            with self._factory() as session, session.begin():
                release_webhook(session, webhook_id=work.webhook_id, lease_until=work.lease_until)
        except Exception:  # the lease then runs out by itself
            log.exception("webhook %d: cannot give the webhook back", work.webhook_id)
