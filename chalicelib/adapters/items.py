"""Items of the one table as plain DynamoDB attribute maps: the timed paths' codec.

The PynamoDB models (`models.py`) define the table. Building a `Model` instance to read or
write one item costs more than the request itself on the paths `make bench` times (a list page
of 50 is 51 instances of 17 attribute descriptors each; a create serialises one attribute by
attribute), and importing PynamoDB is a tenth of a cold start. So the paths every request or
event takes (get, create and list a person, the stream handler's images and tag entries, the
SNS handler's history entry) read and write these maps on one botocore client instead, and
import no PynamoDB. `tests/unit/test_items.py` checks that every map here is exactly what the
models write and that every person read here is what the models read, for any person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec

from chalicelib.adapters import keys
from chalicelib.domain import Person
from chalicelib.search import name_key

Item = dict[str, Any]
RawItem = Mapping[str, Mapping[str, Any]]

_OPTIONAL_TEXT: Final = ("email", "phone", "notes")
_person_json = msgspec.json.Encoder()


def text(value: str) -> dict[str, str]:
    return {"S": value}


def number(value: int) -> dict[str, str]:
    return {"N": str(value)}


def text_of(raw: RawItem, name: str) -> str | None:
    """A string attribute, or None when it is absent (or a NULL)."""
    value = raw.get(name)
    return None if not value or "NULL" in value else str(value["S"])


def person_key(person_id: str) -> Item:
    return {"pk": text(keys.person_pk(person_id)), "sk": text(keys.PERSON_SK)}


def person_item(person: Person, *, actor: str) -> Item:
    """The person item a create writes: indexed in `by-owner` and `by-owner-name`."""
    item: Item = {
        **person_key(person.id),
        "id": text(person.id),
        "owner": text(person.owner),
        "list_owner": text(person.owner),
        "name_key": text(name_key(person.name, person.id)),
        "name": text(person.name),
        "created_at": text(person.created_at),
        "updated_at": text(person.updated_at),
        "version": number(person.version),
        "actor": text(actor),
    }
    for field in _OPTIONAL_TEXT:
        value = getattr(person, field)
        if value is not None:
            item[field] = text(value)
    if person.tags:
        item["tags"] = {"L": [text(tag) for tag in person.tags]}
    return item


def person_values(raw: RawItem) -> dict[str, Any]:
    """The public fields of a person item (KeyError or TypeError when it is not one)."""
    tags = raw.get("tags")
    return {
        "id": raw["id"]["S"],
        "owner": raw["owner"]["S"],
        "name": raw["name"]["S"],
        "email": text_of(raw, "email"),
        "phone": text_of(raw, "phone"),
        "notes": text_of(raw, "notes"),
        "tags": tuple(tag["S"] for tag in tags["L"]) if tags and "L" in tags else (),
        "created_at": raw["created_at"]["S"],
        "updated_at": raw["updated_at"]["S"],
        "version": int(raw["version"]["N"]),
    }


def person_of(raw: RawItem) -> Person:
    """The public person of a person item the table returned."""
    return Person(**person_values(raw))


def people_of(raws: Iterable[RawItem]) -> list[Person]:
    return [Person(**person_values(raw)) for raw in raws]


def is_deleted(raw: RawItem) -> bool:
    """Whether a person item is a soft-deleted tombstone (every read treats it as absent)."""
    return text_of(raw, "deleted_at") is not None


def version_of(raw: RawItem) -> int:
    return int(raw["version"]["N"])


def tag_entry(tag: str, person: Person) -> Item:
    """One person under one of their (folded) tags, holding the whole public person."""
    return {
        "pk": text(keys.tag_pk(person.owner, tag)),
        "sk": text(person.id),
        "version": number(person.version),
        "person": text(_person_json.encode(person).decode()),
    }
