"""Request bodies read with a bound: refused as soon as they pass it, never held whole."""

from __future__ import annotations

from fastapi import Request

__all__ = ["read_bounded"]


async def read_bounded(request: Request, max_bytes: int, too_large: Exception) -> bytes:
    """The request's body; ``too_large`` is raised at once when its declared
    ``Content-Length`` passes ``max_bytes``, or as soon as the bytes received do."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
