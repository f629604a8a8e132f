"""``ETag`` and ``If-None-Match``: a poller that sees an unchanged list gets 304, no body."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel


def etag_response(request: Request, model: BaseModel) -> Response:
    """``model`` as JSON with a strong ETag of its bytes, or 304 if the client has it."""
    body = model.model_dump_json().encode()
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    wanted = request.headers.get("if-none-match", "")
    candidates = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    if tag in candidates or "*" in candidates:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)
