"""The plain attribute maps of the timed paths are exactly what the PynamoDB models write and read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters import items, keys
from chalicelib.adapters.history import history_item
from chalicelib.adapters.models import HistoryModel, PersonModel, TagEntryModel
from chalicelib.domain import Person
from chalicelib.ports import Change, HistoryEntry
from chalicelib.search import name_key

texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)
optional = st.none() | texts
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))

people = st.builds(
    Person,
    id=st.from_regex(r"\A[0-9A-HJKMNP-TV-Z]{26}\Z"),
    owner=st.uuids().map(str),
    name=texts,
    email=optional,
    phone=optional,
    notes=optional,
    tags=st.lists(texts, max_size=5, unique=True).map(tuple),
    created_at=texts,
    updated_at=texts,
    version=st.integers(min_value=1, max_value=10**9),
)


def model_item(person: Person, actor: str) -> PersonModel:
    """The person item as the PynamoDB model builds it."""
    values: dict[str, Any] = msgspec.structs.asdict(person)
    values["tags"] = list(person.tags) or None
    return PersonModel(
        keys.person_pk(person.id),
        keys.PERSON_SK,
        **values,
        list_owner=person.owner,
        name_key=name_key(person.name, person.id),
        actor=actor,
    )


def model_person(item: PersonModel) -> Person:
    """The public person of a person item, read through the PynamoDB model."""
    values = {name: getattr(item, name) for name in Person.__struct_fields__}
    values["tags"] = tuple(item.tags or ())
    values["version"] = int(item.version)
    return Person(**values)


@given(people, texts)
def test_a_created_person_item_is_what_the_model_writes(person: Person, actor: str) -> None:
    assert items.person_item(person, actor=actor) == model_item(person, actor).serialize()


@given(people, texts, st.none() | times)
def test_a_person_read_from_an_item_is_what_the_model_reads(
    person: Person, actor: str, deleted: datetime | None
) -> None:
    item = model_item(person, actor)
    if deleted is not None:  # a tombstone, as delete() leaves it
        item.deleted_at = deleted.isoformat()
        item.list_owner = item.name_key = None
        item.expires_at = deleted + timedelta(days=90)
    raw = item.serialize()
    model = PersonModel.from_raw_data(raw)
    assert items.person_of(raw) == model_person(model) == person
    assert items.is_deleted(raw) is (model.deleted_at is not None)
    assert items.version_of(raw) == model.version


def test_nulls_and_empty_lists_read_as_the_model_reads_them() -> None:
    raw = model_item(
        Person(id="0" * 26, owner="o", name="n", created_at="t", updated_at="t", version=3), "a"
    ).serialize()
    raw |= {"email": {"NULL": True}, "tags": {"L": []}}
    model = PersonModel.from_raw_data(raw)
    assert items.person_of(raw) == model_person(model)
    assert items.person_of(raw).email is None and items.person_of(raw).tags == ()


@given(texts, people)
def test_a_tag_entry_is_what_the_model_writes(tag: str, person: Person) -> None:
    entry = TagEntryModel(
        keys.tag_pk(person.owner, tag),
        person.id,
        version=person.version,
        person=msgspec.json.encode(person).decode(),
    )
    assert items.tag_entry(tag, person) == entry.serialize()


@given(people, st.none() | people, st.none() | texts, st.lists(texts, max_size=4), times)
def test_a_history_entry_is_what_the_model_writes(
    after: Person, before: Person | None, actor: str | None, fields: list[str], expires: datetime
) -> None:
    entry = HistoryEntry(
        id="e1", type="person.updated", time="t", actor=actor,
        changed_fields=fields, before=before, after=after,
    )  # fmt: skip
    change = Change(person_id=after.id, owner=after.owner, version=after.version, entry=entry)
    model = HistoryModel(
        keys.person_pk(change.person_id),
        keys.history_sk(change.version),
        owner=change.owner,
        event_id=entry.id,
        type=entry.type,
        time=entry.time,
        actor=entry.actor,
        changed_fields=list(entry.changed_fields) or None,
        before=msgspec.json.encode(before).decode() if before is not None else None,
        after=msgspec.json.encode(after).decode(),
        expires_at=expires,
    )
    assert history_item(change, expires_at=expires) == model.serialize()
