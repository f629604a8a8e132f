"""Request dependencies: the database session and the settings, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from api.settings import ApiSettings


def get_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


async def get_app_settings(request: Request) -> ApiSettings:
    """A coroutine: it needs no worker thread (the probes use none)."""
    settings: ApiSettings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[ApiSettings, Depends(get_app_settings)]
