"""``larza drill report``: the alert timeline of a drill (``larza feed --scenario``) against
its truth, from the database's alerts and their versions."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from ingest.cli.common import DatabaseUrl, database, fail
from stations.errors import LarzaError

drill_app = typer.Typer(
    help="Drills: scenario quakes and their alert timeline.", no_args_is_help=True
)


@drill_app.command("report")
def drill_report_command(
    truth: Annotated[
        Path, typer.Option(help="the truth 'larza feed --scenario' wrote (its --truth)")
    ] = Path("var/drill-truth.json"),
    worker_log: Annotated[
        Path | None,
        typer.Option(help="the worker's log: its suppressed candidates are listed"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON, for scripts")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the alert timeline: first alert at T0 + x s, magnitude and location per version,
    warning time at each site against the ideal, all against the scenario's truth."""
    from ingest.alerts.drill import drill_report, read_suppressed, read_truth, report_text
    from stations.alerts import list_alerts
    from stations.db import make_session_factory

    try:
        known = read_truth(truth)
        start = datetime.fromisoformat(known.get("feed_start", known["origin_time"]))
        suppressed = read_suppressed(worker_log, start) if worker_log is not None else []
    except LarzaError as e:
        raise fail(str(e)) from e
    except ValueError as e:
        raise fail(f"{truth}: not a truth file: {e}") from e
    with database(database_url) as engine, make_session_factory(engine)() as session:
        alerts = []
        after: int | None = None
        while True:  # every alert, a page at a time; the report keeps the drill's
            page = list_alerts(session, after_id=after, limit=500)
            alerts += [a for a in page if a.created_at >= start]
            if len(page) < 500:
                break
            after = page[-1].id
        report = drill_report(known, alerts, suppressed)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(report_text(report), nl=False)
