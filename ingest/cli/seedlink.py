"""``larza seedlink``: look at a SeedLink server before ingesting from it.

``larza seedlink info HOST:PORT [--level stations|streams|id]`` asks the server what it holds
(``INFO STATIONS``, ``INFO STREAMS`` or ``INFO ID``) and prints it as a table. It uses
EarthScope's ``seedlink-client`` and its INFO support, which speaks whichever version the
server offers: v4 answers are JSON, v3 answers XML; both are shown the same way (sequence
numbers in decimal, times in ISO form).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer

seedlink_app = typer.Typer(help="SeedLink servers: what they offer.", no_args_is_help=True)


@seedlink_app.callback()
def _group() -> None:
    """SeedLink servers: what they offer (a group even with one command)."""


class Level(StrEnum):
    stations = "stations"
    streams = "streams"
    id = "id"


class Version(StrEnum):
    auto = "auto"
    v3 = "3"
    v4 = "4"


@seedlink_app.command("info")
def info(
    address: Annotated[str, typer.Argument(help="the SeedLink server as HOST:PORT")],
    level: Annotated[Level, typer.Option(help="what to list")] = Level.stations,
    protocol: Annotated[
        Version, typer.Option(help="SeedLink version: auto (v4 if offered), 3 or 4")
    ] = Version.auto,
    timeout: Annotated[float, typer.Option(min=0.1, help="network timeout, seconds")] = 10.0,
) -> None:
    """List the stations (or streams) a SeedLink server holds, or show its identity."""
    from seedlink_client import Protocol, SeedLink, SeedLinkError

    chosen = {"auto": None, "3": Protocol.V3, "4": Protocol.V4}[protocol.value]
    try:
        client = SeedLink.from_server_string(address, timeout=timeout, protocol=chosen)
        with client as sl:
            version = sl.protocol.value if sl.protocol is not None else "?"
            answer = sl.info_dict(level.value.upper())
    except (SeedLinkError, OSError, ValueError) as e:
        typer.echo(f"error: {address}: {e}", err=True)
        raise typer.Exit(code=1) from e
    typer.echo(f"{sl.server_id} at {address}, SeedLink v{version}: {sl.organization}")
    if level is Level.id:
        return
    stations = station_rows(answer)
    header: tuple[str, ...]
    rows: list[tuple[object, ...]]
    if level is Level.stations:
        header = ("NET", "STA", "DESCRIPTION", "FIRST SEQ", "LAST SEQ")
        rows = [(s["net"], s["sta"], s["description"], s["first"], s["last"]) for s in stations]
    else:
        header = ("NET", "STA", "LOC", "CHA", "START", "END")
        rows = [
            (s["net"], s["sta"], loc or "--", cha, start, end)
            for s in stations
            for loc, cha, start, end in s["streams"]
        ]
    typer.echo(table(header, rows))
    typer.echo(f"{len(rows)} {level.value}")


def station_rows(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Stations from a v4 JSON answer or a v3 XML answer (as ``info_dict`` returns them)."""
    if "seedlink" in answer:  # v3: {"seedlink": {..., "station": [{attributes, "stream": []}]}}
        return [_v3_station(s) for s in answer["seedlink"].get("station", [])]
    return [_v4_station(s) for s in answer.get("station", [])]


def _v4_station(s: Mapping[str, Any]) -> dict[str, Any]:
    net, _, sta = str(s["id"]).partition("_")
    streams = []
    for st in s.get("stream", []):
        loc, _, rest = str(st["id"]).partition("_")
        streams.append((loc, rest.replace("_", ""), st["start_time"], st["end_time"]))
    end_seq = int(s["end_seq"])  # v4: the next sequence number
    return {
        "net": net,
        "sta": sta,
        "description": s.get("description", ""),
        "first": str(s["start_seq"]) if end_seq > int(s["start_seq"]) else "-",
        "last": str(end_seq - 1) if end_seq > int(s["start_seq"]) else "-",
        "streams": streams,
    }


def _v3_station(s: Mapping[str, Any]) -> dict[str, Any]:
    streams = [
        (
            st.get("location", ""),
            st.get("seedname", ""),
            _v3_time(st.get("begin_time", "")),
            _v3_time(st.get("end_time", "")),
        )
        for st in s.get("stream", [])
    ]
    return {
        "net": s.get("network", ""),
        "sta": s.get("name", ""),
        "description": s.get("description", ""),
        "first": str(int(s.get("begin_seq", "0"), 16)),  # v3: six hex digits
        "last": str(int(s.get("end_seq", "0"), 16)),
        "streams": streams,
    }


def _v3_time(text: str) -> str:
    """``YYYY/MM/DD hh:mm:ss.ffff`` (v3 INFO) as ``YYYY-MM-DDThh:mm:ss.ffffZ``."""
    return text.replace("/", "-").replace(" ", "T") + "Z" if text else ""


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(header), *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )
