"""The table's stream records (as Lambda delivers them) read as person changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from chalicelib.adapters import items, keys
from chalicelib.domain import Person
from chalicelib.ports import CREATED, DELETED, UPDATED, ChangeKind, PersonChange


class MalformedRecord(ValueError):
    """A stream record that is not a person change this reader can describe."""


def _person(image: Mapping[str, Any], what: str) -> Person:
    """Only the public fields: internal attributes (keys, list_owner, TTL) never leave the table."""
    try:
        return msgspec.convert(items.person_values(image), Person)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise MalformedRecord(f"{what} is not a person item: {exc!r}") from None
    except msgspec.ValidationError as exc:
        raise MalformedRecord(f"{what} is not a person: {exc}") from None


def read_change(record: Mapping[str, Any]) -> PersonChange | None:
    """The person change of one stream record, or None for records that are not person changes.

    INSERT -> created; MODIFY -> updated, or deleted when the new image is soft-deleted.
    Ignored: REMOVE (only DynamoDB's TTL purge of an already deleted person removes items),
    items other than persons (history entries, idempotency records and tag entries share the
    table), changes to an item that was already deleted, and writes that keep the version.
    """
    try:
        name = record["eventName"]
        stream = record["dynamodb"]
        sort_key = stream["Keys"]["sk"]["S"]
        event_id = str(record["eventID"])
    except (KeyError, TypeError) as exc:
        raise MalformedRecord(f"not a DynamoDB stream record: {exc!r}") from None
    if sort_key != keys.PERSON_SK or name == "REMOVE":
        return None
    if not stream.get("NewImage"):
        raise MalformedRecord(f"{name} record {event_id} has no NewImage (is the stream NEW_AND_OLD_IMAGES?)")
    new_image = stream["NewImage"]
    new = _person(new_image, "NewImage")
    deleted_at = items.text_of(new_image, "deleted_at")
    kind: ChangeKind
    before: Person | None
    if name == "INSERT":
        kind, before = CREATED, None
    elif name == "MODIFY":
        if not stream.get("OldImage"):
            raise MalformedRecord(f"MODIFY record {event_id} has no OldImage")
        old_image = stream["OldImage"]
        before = _person(old_image, "OldImage")
        # Every change of a person bumps its version; a write that does not (the search
        # backfill setting `name_key`) changes no field a client sees.
        if items.is_deleted(old_image) or before.version == new.version:
            return None
        kind = DELETED if deleted_at else UPDATED
    else:
        raise MalformedRecord(f"unknown eventName {name!r}")
    return PersonChange(
        id=event_id,
        kind=kind,
        time=deleted_at or new.updated_at,
        person_id=new.id,
        owner=new.owner,
        actor=items.text_of(new_image, "actor"),
        version=new.version,
        before=before,
        after=None if kind == DELETED else new,
    )
