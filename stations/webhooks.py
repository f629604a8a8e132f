"""Webhooks and the reading of the change log for its consumers (webhooks, the SSE stream).

A webhook belongs to the API key that registered it: a key sees and deletes its own
webhooks only (and those registered before webhooks had owners, which every key sees).

A webhook's ``cursor`` is the last change its receiver acknowledged. Delivery claims a due
webhook, sends the changes after its cursor and records the outcome: the cursor moves on
an acknowledgement; otherwise the failure is counted and the next attempt put off. A
webhook whose key is revoked receives nothing more.

Like every query module: keyword-only arguments, ``flush`` but never ``commit``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session, selectinload

from stations.changes import changes_after, last_change_id
from stations.errors import LarzaError, NotFoundError
from stations.models import (
    AlertVersion,
    ApiKey,
    Change,
    ChangeKind,
    Channel,
    Detection,
    Event,
    StateChange,
    Station,
    Webhook,
)

__all__ = [
    "ChangePage",
    "ChangedRow",
    "all_webhooks",
    "changed_rows",
    "claim_webhook",
    "create_webhook",
    "delete_webhook",
    "due_webhook_ids",
    "get_webhook",
    "list_webhooks",
    "pending_changes",
    "record_failure",
    "record_success",
    "release_webhook",
    "remove_webhook",
    "webhook_kinds",
]

ChangedRow = Event | Detection | StateChange | AlertVersion


@dataclass(frozen=True)
class ChangePage:
    """Changes of the wanted kinds, in ``id`` order, and where the next page starts.

    ``cursor`` is past every change read, of any kind: changes of kinds nobody asked for
    are skipped for good, not read again on the next page.
    """

    changes: Sequence[Change]
    cursor: int


def pending_changes(
    session: Session,
    *,
    after_id: int,
    kinds: Collection[ChangeKind] | None = None,
    limit: int = 100,
) -> ChangePage:
    """Up to ``limit`` changes of ``kinds`` (all when None) after ``after_id``."""
    upto = last_change_id(session)
    found = changes_after(
        session, after_id=after_id, kinds=None if kinds is None else list(kinds), limit=limit
    )
    # A change committed between the two reads is left for the next page (see
    # stations.changes: every id up to ``upto`` is committed already).
    wanted = [c for c in found if c.id <= upto]
    if len(found) == limit and len(wanted) == limit:
        return ChangePage(wanted, wanted[-1].id)
    return ChangePage(wanted, max(after_id, upto))


def changed_rows(
    session: Session, *, changes: Iterable[Change]
) -> dict[tuple[ChangeKind, int], ChangedRow]:
    """The event, detection or state change each change refers to, loaded for display.

    A row that no longer exists is left out.
    """
    ids: dict[ChangeKind, set[int]] = {kind: set() for kind in ChangeKind}
    for change in changes:
        ids[change.kind].add(change.ref_id)
    out: dict[tuple[ChangeKind, int], ChangedRow] = {}
    if ids[ChangeKind.EVENT]:
        stmt = (
            select(Event)
            .where(Event.id.in_(ids[ChangeKind.EVENT]))
            .options(
                selectinload(Event.detections)
                .selectinload(Detection.channel)
                .selectinload(Channel.station)
                .selectinload(Station.network)
            )
        )
        out.update(((ChangeKind.EVENT, e.id), e) for e in session.scalars(stmt))
    if ids[ChangeKind.DETECTION]:
        stmt_d = (
            select(Detection)
            .where(Detection.id.in_(ids[ChangeKind.DETECTION]))
            .options(
                selectinload(Detection.channel)
                .selectinload(Channel.station)
                .selectinload(Station.network)
            )
        )
        out.update(((ChangeKind.DETECTION, d.id), d) for d in session.scalars(stmt_d))
    if ids[ChangeKind.STATE]:
        stmt_s = (
            select(StateChange)
            .where(StateChange.id.in_(ids[ChangeKind.STATE]))
            .options(selectinload(StateChange.station).selectinload(Station.network))
        )
        out.update(((ChangeKind.STATE, s.id), s) for s in session.scalars(stmt_s))
    if ids[ChangeKind.ALERT]:
        stmt_a = (
            select(AlertVersion)
            .where(AlertVersion.id.in_(ids[ChangeKind.ALERT]))
            .options(selectinload(AlertVersion.alert))
        )
        out.update(((ChangeKind.ALERT, a.id), a) for a in session.scalars(stmt_a))
    return out


def webhook_kinds(webhook: Webhook) -> tuple[ChangeKind, ...]:
    """The change kinds a webhook receives, in their canonical order."""
    stored = set(webhook.kinds.split(","))
    return tuple(kind for kind in ChangeKind if kind.value in stored)


def create_webhook(
    session: Session,
    *,
    url: str,
    secret: str,
    kinds: Collection[ChangeKind],
    api_key_id: int | None,
    now: datetime,
) -> Webhook:
    """A new webhook that receives only changes made from now on.

    The row is written before the change log is read: on SQLite the transaction then holds
    the write lock already, so it cannot fail on a snapshot another writer made stale, and
    no change can be committed between reading the end of the log and storing the cursor.
    """
    if not kinds:
        raise LarzaError("a webhook needs at least one change kind")
    webhook = Webhook(
        url=url,
        secret=secret,
        kinds=",".join(kind.value for kind in ChangeKind if kind in set(kinds)),
        api_key_id=api_key_id,
        created_at=now,
        active=True,
        cursor=0,
        failures=0,
    )
    session.add(webhook)
    session.flush()
    webhook.cursor = last_change_id(session)
    session.flush()
    return webhook


def _visible_to(api_key_id: int) -> ColumnElement[bool]:
    return or_(Webhook.api_key_id == api_key_id, Webhook.api_key_id.is_(None))


def list_webhooks(session: Session, *, api_key_id: int) -> Sequence[Webhook]:
    """The webhooks the key ``api_key_id`` registered, and those registered before webhooks
    had owners (no key): a key sees no other key's webhooks."""
    stmt = select(Webhook).where(_visible_to(api_key_id)).order_by(Webhook.id)
    return session.scalars(stmt).all()


def get_webhook(session: Session, *, webhook_id: int, api_key_id: int) -> Webhook:
    """One webhook the key ``api_key_id`` may see; another key's is ``NotFoundError`` (as if it
    did not exist)."""
    stmt = select(Webhook).where(Webhook.id == webhook_id, _visible_to(api_key_id))
    found = session.scalars(stmt).one_or_none()
    if found is None:
        raise NotFoundError("webhook", str(webhook_id))
    return found


def delete_webhook(session: Session, *, webhook_id: int, api_key_id: int) -> None:
    """Delete a webhook the key ``api_key_id`` may see (another key's is ``NotFoundError``);
    a delivery in progress may still reach the receiver once, and records nothing."""
    result = session.execute(
        delete(Webhook).where(Webhook.id == webhook_id, _visible_to(api_key_id))
    )
    if not getattr(result, "rowcount", 0):
        raise NotFoundError("webhook", str(webhook_id))
    session.flush()


def all_webhooks(session: Session) -> list[tuple[Webhook, ApiKey | None]]:
    """Every webhook, whoever registered it, with its key (None: registered before webhooks
    had owners): what an operator administers with ``larza webhook``."""
    stmt = select(Webhook, ApiKey).outerjoin(ApiKey, Webhook.api_key_id == ApiKey.id)
    return [(webhook, key) for webhook, key in session.execute(stmt.order_by(Webhook.id))]


def remove_webhook(session: Session, *, webhook_id: int) -> Webhook:
    """Delete any webhook (an operator's command, not a key's); returns the row deleted."""
    found = session.get(Webhook, webhook_id)
    if found is None:
        raise NotFoundError("webhook", str(webhook_id))
    session.delete(found)
    session.flush()
    return found


def _due(now: datetime) -> list[ColumnElement[bool]]:
    revoked = select(ApiKey.id).where(
        ApiKey.id == Webhook.api_key_id, ApiKey.revoked_at.is_not(None)
    )
    return [
        Webhook.active.is_(True),
        or_(Webhook.next_attempt_at.is_(None), Webhook.next_attempt_at <= now),
        ~revoked.exists(),
    ]


def due_webhook_ids(session: Session, *, now: datetime) -> list[int]:
    """Active webhooks whose next attempt is due and that have changes to hear about."""
    end = last_change_id(session)
    stmt = select(Webhook.id).where(*_due(now), Webhook.cursor < end).order_by(Webhook.id)
    return list(session.scalars(stmt))


def claim_webhook(
    session: Session, *, webhook_id: int, now: datetime, lease: timedelta
) -> Webhook | None:
    """The webhook, if still due and no other process is delivering to it; else None.

    The webhook is leased: its next attempt is put off by ``lease`` in the caller's short
    transaction, committed before delivering (no transaction or row lock is held over a
    delivery, however long a receiver takes). The update is conditional on the webhook
    being due, so of two processes claiming it at once one gets it (on PostgreSQL the second
    update waits for the first to commit, then finds the webhook no longer due).
    :func:`record_success` or :func:`record_failure` replace the lease afterwards, and
    :func:`release_webhook` gives it back unused.
    """
    result = session.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id, *_due(now))
        .values(next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return session.scalars(
        select(Webhook).where(Webhook.id == webhook_id).execution_options(populate_existing=True)
    ).one()


def release_webhook(session: Session, *, webhook_id: int, lease_until: datetime) -> None:
    """Give back a webhook claimed with a lease to ``lease_until`` and not delivered to (the
    process is stopping): its next attempt is due at once. A lease since replaced by an
    outcome is left alone."""
    session.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id, Webhook.next_attempt_at == lease_until)
        .values(next_attempt_at=None)
    )
    session.flush()


def record_success(session: Session, *, webhook_id: int, cursor: int) -> None:
    """The receiver acknowledged every change up to ``cursor``."""
    session.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id)
        .values(cursor=cursor, failures=0, next_attempt_at=None, last_error=None)
    )
    session.flush()


def record_failure(
    session: Session,
    *,
    webhook_id: int,
    failures: int,
    error: str,
    now: datetime,
    backoff_max_s: float,
) -> datetime:
    """The ``failures``-th delivery in a row failed: try again after ``2**failures`` seconds
    (at most ``backoff_max_s``); returns when. The cursor stays where it was."""
    delay = min(2.0 ** min(failures, 62), backoff_max_s)
    next_attempt = now + timedelta(seconds=delay)
    session.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id)
        .values(failures=failures, next_attempt_at=next_attempt, last_error=error[:1000])
    )
    session.flush()
    return next_attempt
