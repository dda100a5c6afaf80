"""Collaborators the entry points hand to the use cases: created on first use, then reused."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from chalicelib.config import settings

if TYPE_CHECKING:
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
