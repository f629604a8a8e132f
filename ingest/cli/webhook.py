"""``larza webhook``: every webhook, whichever key registered it, for the operator: list
them with their delivery state, remove one."""

from __future__ import annotations

from typing import Annotated

import typer

from ingest.cli.common import DatabaseUrl, database, fail
from stations.errors import LarzaError

webhook_app = typer.Typer(
    help="Webhooks of every API key: list them, remove one.", no_args_is_help=True
)


@webhook_app.command("list")
def webhook_list(database_url: DatabaseUrl = None) -> None:
    """Print every webhook: id, key, active, failures in a row, URL, last error."""
    from stations.db import make_session_factory
    from stations.webhooks import all_webhooks

    with database(database_url) as engine, make_session_factory(engine)() as session:
        rows = all_webhooks(session)
    typer.echo("id\tkey\tactive\tfailures\turl\tlast error")
    for webhook, key in rows:
        revoked = ", revoked" if key is not None and key.revoked_at else ""
        owner = "-" if key is None else f"{key.id} ({key.name}{revoked})"
        active = "yes" if webhook.active else "no"
        error = webhook.last_error or "-"
        typer.echo(f"{webhook.id}\t{owner}\t{active}\t{webhook.failures}\t{webhook.url}\t{error}")


@webhook_app.command("remove")
def webhook_remove(
    webhook_id: Annotated[int, typer.Argument(metavar="ID", help="the webhook's id, from 'list'")],
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a webhook, whichever key registered it: nothing more is delivered to it."""
    from stations.db import make_session_factory
    from stations.webhooks import remove_webhook

    with database(database_url) as engine:
        try:
            with make_session_factory(engine)() as session, session.begin():
                removed = remove_webhook(session, webhook_id=webhook_id)
        except LarzaError as e:
            raise fail(str(e)) from e
    typer.echo(f"removed webhook {removed.id} ({removed.url})")
