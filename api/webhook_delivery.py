"""Webhook delivery: a background thread of the API process POSTs the change log to every
registered webhook, in order, signed, retried with backoff until the receiver answers 2xx.

Each round, for every active webhook that is due and has changes after its cursor: claim
it (see :func:`stations.webhooks.claim_webhook`: on PostgreSQL a row lock held over the
delivery, so two API processes never deliver to one webhook at once), read up to 100
changes of its kinds, POST them as one body and record the outcome. A 2xx answer moves the
cursor past them (and past any changes of kinds the webhook does not want); anything else
(connection refused, timeout, another status) keeps the cursor, counts the failure and puts
the next attempt off by ``2**failures`` seconds, at most ``webhook_backoff_max_s``.

Limitations: delivery is at least once. A receiver whose 2xx answer is lost, or a process
that stops between the POST and recording its answer, makes the same changes be sent
again; receivers can drop repeats by change id (``X-Larza-Delivery`` names the first and
last). Redirects are not followed: a 3xx answer counts as a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from api.routers.stream import change_data
from stations.webhooks import (
    changed_rows,
    claim_webhook,
    due_webhook_ids,
    pending_changes,
    record_failure,
    record_success,
    webhook_kinds,
)

__all__ = ["BATCH", "WebhookDelivery", "sign"]

log = logging.getLogger("larza.webhooks")

BATCH = 100
"""Most changes in one delivery."""


def sign(secret: str, body: bytes) -> str:
    """The ``X-Larza-Signature`` value of ``body``: ``sha256=`` and the HMAC's hex digest."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx answer is then raised as an HTTPError: a failed delivery


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> str | None:
    """POST ``body``; None when the receiver answered 2xx, otherwise why not, in words."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            code = int(response.status)
    except urllib.error.HTTPError as e:
        e.close()
        return f"HTTP {e.code} {e.reason}"
    except urllib.error.URLError as e:
        return f"cannot reach the receiver: {e.reason}"
    except (OSError, http.client.HTTPException) as e:  # timeouts, resets, bad answers
        return f"delivery failed: {type(e).__name__}: {e}"
    return None if 200 <= code < 300 else f"HTTP {code}"


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


class WebhookDelivery:
    """Delivers webhooks from a thread of its own; :meth:`start` and :meth:`stop` it."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        poll_s: float,
        timeout_s: float,
        backoff_max_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._factory = factory
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._lease = timedelta(seconds=2 * timeout_s + 60)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="larza-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the delivery in progress, if any (at most about ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database is away, say: log it and try again next round
                log.exception("webhook delivery round failed")
            self._stop.wait(self._poll_s)

    def run_once(self) -> int:
        """One round over the due webhooks; returns how many deliveries were attempted."""
        with self._factory() as session:
            due = due_webhook_ids(session, now=self._clock())
        attempted = 0
        for webhook_id in due:
            if self._stop.is_set():
                break
            attempted += self._deliver(webhook_id)
        return attempted

    def _deliver(self, webhook_id: int) -> int:
        with self._factory() as session:
            hold_lock = session.get_bind().dialect.name == "postgresql"
            with session.begin():
                work = self._claim(session, webhook_id, self._clock())
                if work is None:
                    return 0
                if work.first is None:  # only changes of kinds it does not want
                    record_success(session, webhook_id=webhook_id, cursor=work.cursor)
                    return 0
                if hold_lock:  # the row stays locked until this transaction ends
                    self._record(session, work, self._send(work))
                    return 1
            # SQLite: the lease is committed; deliver outside any transaction
            error = self._send(work)
            with session.begin():
                self._record(session, work, error)
            return 1

    def _claim(self, session: Session, webhook_id: int, now: datetime) -> _Work | None:
        webhook = claim_webhook(session, webhook_id=webhook_id, now=now, lease=self._lease)
        if webhook is None:
            return None
        page = pending_changes(
            session, after_id=webhook.cursor, kinds=webhook_kinds(webhook), limit=BATCH
        )
        rows = changed_rows(session, changes=page.changes)
        changes = []
        for change in page.changes:
            data = change_data(rows.get((change.kind, change.ref_id)))
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
            first=page.changes[0].id if page.changes else None,
            last=page.changes[-1].id if page.changes else None,
            body=body.encode(),
        )

    def _send(self, work: _Work) -> str | None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Larza-Webhooks/1",
            "X-Larza-Signature": sign(work.secret, work.body),
            "X-Larza-Delivery": f"{work.first}-{work.last}",
        }
        return post(work.url, work.body, headers, self._timeout_s)

    def _record(self, session: Session, work: _Work, error: str | None) -> None:
        if error is None:
            record_success(session, webhook_id=work.webhook_id, cursor=work.cursor)
            log.info("webhook %d: delivered changes %s-%s", work.webhook_id, work.first, work.last)
            return
        failures = work.failures + 1
        retry = record_failure(
            session,
            webhook_id=work.webhook_id,
            failures=failures,
            error=error,
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
            error,
        )
