"""``/api/v1/webhooks``: receivers that Larza POSTs changes to (an API key is needed).

A key sees, reads and deletes the webhooks it registered only; another key's webhook is a
404, as if it did not exist. Webhooks registered before they had owners are every key's.

Each delivery is one JSON body ``{"webhook": id, "changes": [{"id", "kind", "time",
"data"}, ...]}`` signed with the webhook's secret in ``X-Larza-Signature: sha256=<hex>``
(HMAC-SHA256 of the exact body bytes); ``X-Larza-Delivery`` names the first and last change
id. Changes arrive in order; a receiver that is down gets them when it is back.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from api.auth import WriteKey
from api.deps import SessionDep, SettingsDep
from api.errors import BAD_REQUEST
from api.pagination import MAX_ID
from api.schemas import ChangeKindName, WebhookCreated, WebhookIn, WebhookOut
from api.webhook_targets import TargetRefused, WebhookUrlError, parse_webhook_url, resolve
from stations.models import ChangeKind, Webhook
from stations.webhooks import (
    create_webhook,
    delete_webhook,
    get_webhook,
    list_webhooks,
    webhook_kinds,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=BAD_REQUEST)

WebhookId = Annotated[int, Path(ge=1, le=MAX_ID)]
_UNAUTHORIZED: dict[int | str, dict[str, str]] = {
    401: {"description": "no API key sent"},
    403: {"description": "the API key is not valid or is revoked"},
}


def webhook_out(w: Webhook) -> WebhookOut:
    kinds: list[ChangeKindName] = [k.value for k in webhook_kinds(w)]
    return WebhookOut(
        id=w.id,
        url=w.url,
        kinds=kinds,
        api_key_id=w.api_key_id,
        created_at=w.created_at,
        active=w.active,
        cursor=w.cursor,
        failures=w.failures,
        next_attempt_at=w.next_attempt_at,
        last_error=w.last_error,
    )


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Register a webhook; it receives the changes made from now on",
    description="The URL is checked whole, and its host's addresses too: a loopback, "
    "private, link-local or multicast address is refused unless the operator allows its "
    "network (the same check is made again at each delivery).",
    responses={
        **_UNAUTHORIZED,
        400: {"description": "the URL is not valid, or its host is not an allowed address"},
    },
)
def webhook_create(
    body: WebhookIn, session: SessionDep, settings: SettingsDep, key: WriteKey
) -> WebhookCreated:
    try:
        resolve(parse_webhook_url(body.url), settings.webhook_allow_networks)
    except (WebhookUrlError, TargetRefused) as e:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"url: {e}") from e
    secret = body.secret or secrets.token_urlsafe(32)
    webhook = create_webhook(
        session,
        url=body.url,
        secret=secret,
        kinds={ChangeKind(k) for k in body.kinds},
        api_key_id=key.id,
        now=datetime.now(UTC),
    )
    session.commit()
    return WebhookCreated(**webhook_out(webhook).model_dump(), secret=secret)


@router.get(
    "",
    response_model=list[WebhookOut],
    summary="The key's webhooks with their delivery state (secrets are never shown)",
    responses=_UNAUTHORIZED,
)
def webhooks_index(session: SessionDep, key: WriteKey) -> list[WebhookOut]:
    return [webhook_out(w) for w in list_webhooks(session, api_key_id=key.id)]


@router.get(
    "/{webhook_id}",
    response_model=WebhookOut,
    summary="One webhook with its delivery state",
    responses={**_UNAUTHORIZED, 404: {"description": "no such webhook, or another key's"}},
)
def webhook_detail(session: SessionDep, key: WriteKey, webhook_id: WebhookId) -> WebhookOut:
    return webhook_out(get_webhook(session, webhook_id=webhook_id, api_key_id=key.id))


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop delivering to a webhook and forget it",
    responses={**_UNAUTHORIZED, 404: {"description": "no such webhook, or another key's"}},
)
def webhook_delete(session: SessionDep, key: WriteKey, webhook_id: WebhookId) -> Response:
    delete_webhook(session, webhook_id=webhook_id, api_key_id=key.id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
