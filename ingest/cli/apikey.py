"""``larza apikey``: create, list and revoke the keys that may write through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ingest.cli.common import DatabaseUrl, database, fail
from stations.errors import LarzaError

apikey_app = typer.Typer(
    help="API keys: needed to register webhooks (and to read, with read_requires_key).",
    no_args_is_help=True,
)


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="who or what the key is for, e.g. 'alerting'")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key and print it, once."""
    from stations.apikeys import create_api_key
    from stations.db import make_session_factory

    with database(database_url) as engine:
        try:
            with make_session_factory(engine)() as session, session.begin():
                row, key = create_api_key(session, name=name, now=datetime.now(UTC))
        except LarzaError as e:
            raise fail(str(e)) from e
    typer.echo(f"API key {row.id} ({row.name}):")
    typer.echo(key)
    typer.echo("Keep it now: it is not shown again (Larza stores only a hash of it).")


@apikey_app.command("list")
def apikey_list(database_url: DatabaseUrl = None) -> None:
    """Print every key: id, name, prefix, created, revoked (never the key itself)."""
    from stations.apikeys import list_api_keys
    from stations.db import make_session_factory

    with database(database_url) as engine, make_session_factory(engine)() as session:
        rows = list_api_keys(session)
    typer.echo("id\tname\tprefix\tcreated\trevoked")
    for row in rows:
        revoked = f"{row.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if row.revoked_at else "-"
        typer.echo(
            f"{row.id}\t{row.name}\t{row.prefix}...\t{row.created_at:%Y-%m-%dT%H:%M:%SZ}\t{revoked}"
        )


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[int, typer.Argument(metavar="ID", help="the key's id, from 'list'")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: requests with it are refused from now on, and its webhooks stop."""
    from stations.apikeys import revoke_api_key
    from stations.db import make_session_factory

    with database(database_url) as engine:
        try:
            with make_session_factory(engine)() as session, session.begin():
                row = revoke_api_key(session, key_id=key_id, now=datetime.now(UTC))
        except LarzaError as e:
            raise fail(str(e)) from e
    typer.echo(f"revoked API key {row.id} ({row.name}); its webhooks receive nothing more")
