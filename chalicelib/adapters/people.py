"""The people repository on DynamoDB: PynamoDB models, one request per operation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import (
    TRANSACTION_THROTTLED,
    ConditionFailed,
    conditional_update,
    error_code,
    storage_errors,
)
from chalicelib.adapters.models import IdempotencyModel, PersonModel, TagEntryModel
from chalicelib.domain import Person
from chalicelib.errors import (
    IdempotencyKeyReused,
    IdempotentRequestInFlight,
    PersonNotFound,
    ServiceUnavailable,
    VersionMismatch,
)
from chalicelib.ports import Created, Guard, IdempotencyKey, Page, PeopleRepository
from chalicelib.search import id_of_name_key, name_key

if TYPE_CHECKING:
    from pynamodb.connection import Connection

_PERSON_FIELDS = Person.__struct_fields__
_person_json = msgspec.json.Encoder()
_person_decoder = msgspec.json.Decoder(Person)


def to_person(item: PersonModel) -> Person:
    """The public person of a person item."""
    values = {name: getattr(item, name) for name in _PERSON_FIELDS}
    values["tags"] = tuple(str(tag) for tag in item.tags or ())
    values["version"] = int(item.version)
    return Person(**values)


class PynamoPeopleRepository(PeopleRepository):
    """People in DynamoDB through the PynamoDB models.

    `connection` (PynamoDB's public low-level `Connection`) carries the two requests the
    models cannot make themselves: the idempotent create's transaction and conditional updates.
    A deleted person's item stays (as a tombstone every read treats as absent) for
    `tombstone_days`, as long as its history: the history's owner is always the table's word.
    """

    def __init__(self, connection: Connection, *, tombstone_days: int) -> None:
        self._connection = connection
        self._tombstone = timedelta(days=tombstone_days)

    def _item(self, person: Person, actor: str) -> PersonModel:
        values: dict[str, Any] = msgspec.structs.asdict(person)
        values["tags"] = list(person.tags) or None
        return PersonModel(
            keys.person_pk(person.id),
            keys.PERSON_SK,
            **values,
            list_owner=person.owner,  # puts the person in the by-owner index
            name_key=name_key(person.name, person.id),  # and in by-owner-name
            actor=actor,
        )

    def add(self, person: Person, *, actor: str) -> None:
        item = self._item(person, actor)
        with storage_errors():
            item.save(condition=PersonModel.pk.does_not_exist())

    def add_once(self, person: Person, *, actor: str, key: IdempotencyKey) -> Created:
        """One TransactWriteItems: the idempotency record and the person, both conditional.

        The record comes first, so the first cancellation reason is the key's. A failed
        condition on it returns the record (ALL_OLD), which holds the original response:
        a replay or a key reuse costs that one request and no read.
        """
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        record = IdempotencyModel(
            keys.idempotency_pk(key.owner, key.key_hash),
            keys.IDEMPOTENCY_SK,
            fingerprint=key.fingerprint,
            person_id=person.id,
            response=_person_json.encode(person).decode(),
            created_at=person.created_at,
            expires_at=key.expires_at,
        )
        # TTL deletes lazily: a record past its expiry may still exist, and no longer counts.
        unused = IdempotencyModel.pk.does_not_exist() | (
            IdempotencyModel.expires_at < datetime.fromisoformat(person.created_at)
        )
        with storage_errors():
            try:
                with TransactWrite(connection=self._connection) as transaction:
                    transaction.save(record, condition=unused, return_values="ALL_OLD")
                    transaction.save(self._item(person, actor), condition=PersonModel.pk.does_not_exist())
            except TransactWriteError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = exc.cancellation_reasons
                codes = {reason.code for reason in reasons if reason is not None}
                if codes & TRANSACTION_THROTTLED:
                    raise ServiceUnavailable("the data store is busy; retry shortly") from exc
                first = reasons[0] if reasons else None
                if first is not None and first.code == "TransactionConflict":
                    raise IdempotentRequestInFlight(
                        "a request with this Idempotency-Key is in progress; retry shortly"
                    ) from None
                if first is None or first.code != "ConditionalCheckFailed" or not first.raw_item:
                    raise
                return self._replay(first.raw_item, key)
        return Created(person=person, replayed=False)

    def _replay(self, raw: dict[str, Any], key: IdempotencyKey) -> Created:
        old = IdempotencyModel.from_raw_data(raw)
        if old.fingerprint != key.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request body; use a new key"
            )
        return Created(person=_person_decoder.decode(old.response), replayed=True)

    def get(self, person_id: str) -> Person | None:
        with storage_errors():
            try:
                item = PersonModel.get(keys.person_pk(person_id), keys.PERSON_SK, consistent_read=True)
            except PersonModel.DoesNotExist:
                return None
        return None if item.deleted_at else to_person(item)

    def list_by_owner(self, owner: str, *, limit: int, after: str | None) -> Page:
        condition = PersonModel.id > after if after else None
        with storage_errors():
            items = list(PersonModel.by_owner.query(owner, range_key_condition=condition, limit=limit + 1))
        return Page(items=[to_person(item) for item in items[:limit]], more=len(items) > limit)

    def list_by_name(self, owner: str, *, prefix: str, limit: int, after: str | None) -> Page:
        """One Query on by-owner-name: begins_with for a prefix, continuing after the cursor's key."""
        index = PersonModel.by_owner_name
        condition = PersonModel.name_key.startswith(prefix) if prefix else None
        start = None
        if after is not None:
            person_id = id_of_name_key(after)
            start = {
                "list_owner": {"S": owner},
                "name_key": {"S": after},
                "pk": {"S": keys.person_pk(person_id)},
                "sk": {"S": keys.PERSON_SK},
            }
        with storage_errors():
            items = list(
                index.query(owner, range_key_condition=condition, limit=limit + 1, last_evaluated_key=start)
            )
        kept = items[:limit]
        position = kept[-1].name_key if kept and len(items) > limit else None
        return Page(items=[to_person(item) for item in kept], more=len(items) > limit, position=position)

    def list_by_tag(self, owner: str, tag: str, *, limit: int, after: str | None) -> Page:
        condition = TagEntryModel.sk > after if after else None
        with storage_errors():
            items = list(
                TagEntryModel.query(keys.tag_pk(owner, tag), range_key_condition=condition, limit=limit + 1)
            )
        people = [_person_decoder.decode(item.person) for item in items[:limit]]
        return Page(items=people, more=len(items) > limit)

    def _conditional_update(self, person_id: str, actions: list[Any], guard: Guard) -> Person:
        m = PersonModel
        condition = m.pk.exists() & m.deleted_at.does_not_exist()
        if guard.owner is not None:
            condition &= m.owner == guard.owner
        precondition = guard.precondition
        if precondition is not None and not precondition.any_version:
            # An If-Match naming no usable version can never match (but 404 still wins).
            versions = precondition.versions
            condition &= m.version.is_in(*versions) if versions else m.version == -1
        key = {"pk": {"S": keys.person_pk(person_id)}, "sk": {"S": keys.PERSON_SK}}
        try:
            raw = conditional_update(self._connection.client, m.Meta.table_name, key, actions, condition)
        except ConditionFailed as failed:
            old = PersonModel.from_raw_data(failed.item) if failed.item else None
            if old is None or old.deleted_at or not guard.admits(to_person(old)):
                raise PersonNotFound(f"no person with id {person_id!r}") from None
            raise VersionMismatch(f"person {person_id} is at version {int(old.version)}") from None
        return to_person(PersonModel.from_raw_data(raw))

    def _common_actions(self, actor: str, at: str) -> list[Any]:
        m = PersonModel
        return [m.updated_at.set(at), m.actor.set(actor), m.version.add(1)]

    def update(
        self, person_id: str, changes: Mapping[str, Any], *, actor: str, at: str, guard: Guard
    ) -> Person:
        actions = self._common_actions(actor, at)
        for field, value in changes.items():
            attribute = getattr(PersonModel, field)
            if value is None:
                actions.append(attribute.remove())
            else:
                actions.append(attribute.set(list(value) if field == "tags" else value))
            if field == "name":  # the name index's key follows the name in the same request
                actions.append(PersonModel.name_key.set(name_key(value, person_id)))
        return self._conditional_update(person_id, actions, guard)

    def delete(self, person_id: str, *, actor: str, at: str, guard: Guard) -> Person:
        m = PersonModel
        actions = [
            *self._common_actions(actor, at),
            m.deleted_at.set(at),
            m.list_owner.remove(),
            m.name_key.remove(),
            # Reads already treat it as gone; TTL purges it once its history has expired too.
            m.expires_at.set(datetime.fromisoformat(at) + self._tombstone),
        ]
        return self._conditional_update(person_id, actions, guard)
