"""``larza drill report``: the alert timeline of a drill (``larza feed --scenario``) against
its truth, from the database's alerts and their versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ingest.cli.common import DatabaseUrl, database, fail
from stations.errors import LarzaError

drill_app = typer.Typer(
    help="Drills: scenario quakes and their alert timeline.", no_args_is_help=True
)


@drill_app.command("report")
def drill_report_command(
    truth: Annotated[
        Path | None,
        typer.Option(
            help="the truth 'larza feed --scenario' wrote (its --truth; default "
            "var/drill-truth.json)"
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            help="a replay of archived data ('larza feed --replay' or '--sds'), no truth: "
            "the alerts created since this time (UTC if no zone), estimates only"
        ),
    ] = None,
    worker_log: Annotated[
        Path | None,
        typer.Option(help="the worker's log: its suppressed candidates are listed"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON, for scripts")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the alert timeline: first alert at T0 + x s, magnitude and location per version,
    warning time at each site against the ideal, all against the scenario's truth. With
    --since (a replay of archived data, no truth): every alert's versions and estimates."""
    from ingest.alerts.drill import (
        drill_report,
        read_suppressed,
        read_truth,
        replay_report,
        replay_text,
        report_text,
    )
    from stations.alerts import list_alerts
    from stations.db import make_session_factory

    if since is not None and truth is not None:
        raise fail("give --truth (a scenario drill) or --since (a replay), not both")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    truth_path = truth or Path("var/drill-truth.json")
    known: dict[str, Any] = {}
    try:
        if since is None:
            known = read_truth(truth_path)
            start = datetime.fromisoformat(known.get("feed_start", known["origin_time"]))
        else:
            start = since
        suppressed = read_suppressed(worker_log, start) if worker_log is not None else []
    except LarzaError as e:
        raise fail(str(e)) from e
    except ValueError as e:
        raise fail(f"{truth_path}: not a truth file: {e}") from e
    with database(database_url) as engine, make_session_factory(engine)() as session:
        alerts = []
        after: int | None = None
        while True:  # every alert, a page at a time; the report keeps the drill's
            page = list_alerts(session, after_id=after, limit=500)
            alerts += [a for a in page if a.created_at >= start]
            if len(page) < 500:
                break
            after = page[-1].id
        if since is None:
            report = drill_report(known, alerts, suppressed)
        else:
            report = replay_report(alerts, start, suppressed)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo((report_text if since is None else replay_text)(report), nl=False)
