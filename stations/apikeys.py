"""API keys: who may write through the Larza API (and read, when reading needs a key).

A key is ``larza_`` followed by 32 random bytes, URL-safe base64 encoded. Larza keeps only
its first 12 characters (the prefix, shown in listings so an operator can tell keys apart)
and the SHA-256 digest of the whole key. A key of 256 random bits cannot be guessed or
brute-forced from its digest, so no slow password hash (bcrypt, scrypt, Argon2) is needed:
those exist to protect low-entropy passwords, and would only slow every request down.

Like every query module: keyword-only arguments, ``flush`` but never ``commit``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stations.errors import LarzaError, NotFoundError
from stations.models import ApiKey, Webhook

__all__ = [
    "KEY_PREFIX",
    "PREFIX_LENGTH",
    "create_api_key",
    "list_api_keys",
    "revoke_api_key",
    "verify_api_key",
]

KEY_PREFIX = "larza_"
PREFIX_LENGTH = 12
"""Characters of a key kept in clear: ``larza_`` and six random ones."""
_NAME_MAX = 200
_KEY_MAX = 200


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, *, name: str, now: datetime) -> tuple[ApiKey, str]:
    """A new key named ``name``: its row, and the key itself, which is not stored.

    The caller shows the key to its owner once; it cannot be recovered afterwards.
    """
    name = name.strip()
    if not name or len(name) > _NAME_MAX:
        raise LarzaError(f"an API key needs a name of 1 to {_NAME_MAX} characters, got {name!r}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=key[:PREFIX_LENGTH], secret_hash=_digest(key), created_at=now)
    session.add(row)
    session.flush()
    return row, key


def verify_api_key(session: Session, *, key: str) -> ApiKey | None:
    """The key's row when ``key`` is a valid, unrevoked key; otherwise None.

    Digests are compared in constant time. Unknown and revoked keys are refused alike.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > _KEY_MAX:
        return None
    digest = _digest(key)
    found = None
    for row in session.scalars(select(ApiKey).where(ApiKey.prefix == key[:PREFIX_LENGTH])):
        if hmac.compare_digest(row.secret_hash, digest) and row.revoked_at is None:
            found = row
    return found


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    """Every key, revoked ones too, oldest first."""
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def revoke_api_key(session: Session, *, key_id: int, now: datetime) -> ApiKey:
    """Refuse the key from now on, and stop delivering to the webhooks it registered (they
    stay listed, inactive, for ``larza webhook list``). Revoking it again keeps the first
    revocation time."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError("API key", str(key_id))
    if row.revoked_at is None:
        row.revoked_at = now
    session.execute(update(Webhook).where(Webhook.api_key_id == key_id).values(active=False))
    session.flush()
    return row
