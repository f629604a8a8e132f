"""What every FDSN service shares: parameter parsing, the error document, 204 vs 404."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response

SERVICE_VERSION = "1.1.0"


class FdsnError(Exception):
    """A request the service refuses: answered with the FDSN plain-text error document."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_TITLES = {400: "Bad Request", 404: "Not Found", 413: "Request Entity Too Large"}


def error_document(request: Request, status: int, message: str, service: str) -> Response:
    body = (
        f"Error {status}: {_TITLES.get(status, 'Error')}\n\n{message}\n\n"
        f"Usage details are available from /fdsnws/{service}/1/\n\n"
        f"Request:\n{request.url}\n\n"
        f"Request Submitted:\n{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S')}\n\n"
        f"Service version:\n{SERVICE_VERSION}\n"
    )
    return PlainTextResponse(body, status_code=status)


def no_data(nodata: int) -> Response:
    return Response(status_code=nodata)


def canonical(
    query: Mapping[str, str], aliases: Mapping[str, str], known: set[str]
) -> dict[str, str]:
    """Query parameters under their long names; unknown or repeated ones are a 400."""
    out: dict[str, str] = {}
    for raw, value in query.items():
        name = aliases.get(raw.lower(), raw.lower())
        if name not in known:
            raise FdsnError(400, f"Unsupported parameter: {raw}")
        if name in out:
            raise FdsnError(400, f"Parameter given twice: {name}")
        out[name] = value
    return out


def parse_time(name: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FdsnError(400, f"Bad value for {name}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise FdsnError(400, f"Bad value for {name}: {value!r} is out of range") from None


def parse_float(name: str, value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise FdsnError(400, f"Bad value for {name}: {value!r} is not a number") from None
    if not low <= number <= high:
        raise FdsnError(400, f"Bad value for {name}: {number} is outside [{low}, {high}]")
    return number


def parse_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value.lower() not in choices:
        raise FdsnError(400, f"Bad value for {name}: {value!r}; one of {', '.join(choices)}")
    return value.lower()


def parse_int(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise FdsnError(400, f"Bad value for {name}: {value!r} is not an integer") from None
    if not low <= number <= high:
        raise FdsnError(400, f"Bad value for {name}: {number} is outside [{low}, {high}]")
    return number


def parse_bool(name: str, value: str) -> bool:
    return parse_choice(name, value, ("true", "false")) == "true"


_CODE_PATTERN = re.compile(r"[A-Za-z0-9?*-]*")


def code_patterns(name: str, value: str) -> list[str]:
    """Comma-separated SEED code patterns (``?``, ``*``; ``--`` is the empty location)."""
    patterns = []
    for code in value.split(","):
        if not _CODE_PATTERN.fullmatch(code):
            raise FdsnError(400, f"Bad value for {name}: {value!r} is not a list of codes")
        patterns.append("" if code == "--" else code.upper())
    return patterns


def code_matches(code: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(code.upper(), p) for p in patterns)


def wadl_param(name: str, kind: str, doc: str, required: bool = False) -> str:
    """One query parameter of a WADL document."""
    flag = ' required="true"' if required else ""
    param = f'<param name="{name}" style="query" type="{kind}"{flag}>'
    return f'        {param}<doc title="{doc}"/></param>'


def _get(media_type: str) -> str:
    return (
        f'      <method name="GET"><response><representation mediaType="{media_type}"/>'
        "</response>\n      </method>"
    )


def wadl_response(
    service: str,
    params: Iterable[str],
    media_types: Sequence[str],
    *,
    errors: str = "204 400 404 413",
    post: bool = False,
    xml_resources: Sequence[str] = (),
) -> Response:
    """The ``application.wadl`` of one FDSN service: its ``query`` (GET with ``params``,
    answering ``media_types``; optionally POST with a request body), the extra resources
    answering XML (the event service's catalogs and contributors), ``version`` and itself.
    ObsPy's client reads the parameters from it and needs ``base`` to name the service."""
    answers = "\n".join(f'          <representation mediaType="{m}"/>' for m in media_types)
    ok = f'        <response status="200">\n{answers}\n        </response>'
    error = (
        f'        <response status="{errors}"><representation mediaType="text/plain"/></response>'
    )
    methods = [
        '      <method name="GET" id="query">\n        <request>\n'
        + "\n".join(params)
        + f"\n        </request>\n{ok}\n{error}\n      </method>"
    ]
    if post:
        methods.append(
            '      <method name="POST" id="queryPOST">\n'
            '        <request><representation mediaType="text/plain"/></request>\n'
            f"{ok}\n{error}\n      </method>"
        )
    resources = ['    <resource path="query">\n' + "\n".join(methods) + "\n    </resource>"]
    resources += [
        f'    <resource path="{p}">\n{_get("application/xml")}\n    </resource>'
        for p in xml_resources
    ]
    resources.append(f'    <resource path="version">\n{_get("text/plain")}\n    </resource>')
    resources.append(
        f'    <resource path="application.wadl">\n{_get("application/xml")}\n    </resource>'
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<application xmlns="http://wadl.dev.java.net/2009/02"\n'
        '             xmlns:xs="http://www.w3.org/2001/XMLSchema">\n'
        f'  <doc title="Larza FDSN {service} web service {SERVICE_VERSION}"/>\n'
        f'  <resources base="/fdsnws/{service}/1">\n'
        + "\n".join(resources)
        + "\n  </resources>\n</application>\n"
    )
    return Response(body, media_type="application/xml")


# The OpenAPI description of an FDSN query: its parameters (as the WADL lists them) with
# the values each accepts, so that the OpenAPI schema and the code agree on what is valid.

_CODES = r"^[A-Za-z0-9?*\-]*(,[A-Za-z0-9?*\-]*)*$"
_FDSN_ERRORS = {
    400: "bad parameters: the FDSN error document says which",
    413: "the request asks for too much: the FDSN error document says how much is allowed",
}


def openapi_parameters(
    params: Mapping[str, tuple[Any, ...]],
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    choices: Mapping[str, Sequence[str | int]] | None = None,
    required: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """OpenAPI query parameters from a service's WADL table ``name -> (type, doc, ...)``."""
    bounds = bounds or {}
    choices = choices or {}
    needed = set(required)
    out = []
    for name, (kind, doc, *_rest) in params.items():
        schema: dict[str, Any]
        if name in choices:
            values = list(choices[name])
            schema = {"enum": values}
        elif kind == "xs:date":
            schema = {"type": "string", "format": "date-time"}
        elif kind == "xs:double":
            schema = {"type": "number"}
        elif kind in ("xs:int", "xs:long"):
            schema = {"type": "integer"}
        elif kind == "xs:boolean":
            schema = {"type": "boolean"}
        elif name in ("network", "station", "location", "channel"):
            schema = {"type": "string", "pattern": _CODES}
        else:
            schema = {"type": "string"}
        if name in bounds:
            schema["minimum"], schema["maximum"] = bounds[name]
        out.append(
            {
                "name": name,
                "in": "query",
                "required": name in needed,
                "description": doc,
                "schema": schema,
            }
        )
    return out


def openapi_responses(media_types: Sequence[str]) -> dict[int | str, dict[str, Any]]:
    """The answers of an FDSN query: the data, no data (204), and the error document."""
    text = {"text/plain": {"schema": {"type": "string"}}}
    responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "the data", "content": {m: {} for m in media_types}},
        204: {"description": "nothing matches (the FDSN default)"},
        404: {"description": "nothing matches, and nodata=404 was asked"},
    }
    responses.update(
        {code: {"description": why, "content": text} for code, why in _FDSN_ERRORS.items()}
    )
    return responses
