"""Collaborators the entry points hand to the use cases: created on first use, then reused."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.config import settings

if TYPE_CHECKING:
    from chalicelib.events import SnsPublisher
    from chalicelib.history import HistoryRepository
    from chalicelib.http import CursorCodec
    from chalicelib.repository import PeopleRepository


@cache
def people_repo() -> PeopleRepository:
    from chalicelib import models
    from chalicelib.repository import PynamoPeopleRepository

    models.bind(settings())
    return PynamoPeopleRepository()


@cache
def cursors() -> CursorCodec:
    from chalicelib.http import CursorCodec

    return CursorCodec(settings().cursor_secret)


@cache
def history_repo() -> HistoryRepository:
    from chalicelib.history import PynamoHistoryRepository

    # Binds the models, and shares the person model's botocore client (models.HistoryModel._get_connection).
    people_repo()
    return PynamoHistoryRepository()


@cache
def sns_client() -> Any:
    """The SNS client, with the same bounded timeouts and retries as DynamoDB's."""
    import botocore.session
    from botocore.config import Config

    s = settings()
    config = Config(  # type: ignore[no-untyped-call]
        connect_timeout=s.ddb_connect_timeout,
        read_timeout=s.ddb_read_timeout,
        retries={"max_attempts": s.ddb_max_attempts, "mode": "standard"},
    )
    session = botocore.session.get_session()  # type: ignore[no-untyped-call]
    return session.create_client("sns", region_name=s.region, config=config)


@cache
def change_publisher() -> SnsPublisher:
    from chalicelib.events import SnsPublisher

    return SnsPublisher(sns_client(), settings().events.topic_arn)
