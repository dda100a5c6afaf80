"""The people repository on DynamoDB: one request per operation.

Gets, creates and lists are plain attribute maps (`items.py`) on one botocore client;
conditional updates are one UpdateItem on the same client with the expressions PynamoDB
builds, and the idempotent create is PynamoDB's TransactWrite. Both import PynamoDB on first
use: a cold start that only reads never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.adapters import items, keys
from chalicelib.adapters.dynamo import (
    CAPACITY,
    TRANSACTION_THROTTLED,
    ConditionFailed,
    conditional_update,
    error_code,
    get_item,
    storage_errors,
)
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

_person_json = msgspec.json.Encoder()
_person_decoder = msgspec.json.Decoder(Person)


class PynamoPeopleRepository(PeopleRepository):
    """People in DynamoDB: plain items on `client`, PynamoDB where it builds the request.

    `client` is the process's botocore DynamoDB client. `connection` returns PynamoDB's public
    low-level `Connection` for the idempotent create's transaction, and `bind_models` points
    the PynamoDB models at the stage's table; both are called only by the paths that need them.
    A deleted person's item stays (as a tombstone every read treats as absent) for
    `tombstone_days`, as long as its history: the history's owner is always the table's word.
    """

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        connection: Callable[[], Connection],
        bind_models: Callable[[], None],
        tombstone_days: int,
    ) -> None:
        self._client = client
        self._table = table
        self._connection = connection
        self._bind_models = bind_models
        self._tombstone = timedelta(days=tombstone_days)

    def add(self, person: Person, *, actor: str) -> None:
        with storage_errors():
            self._client.put_item(
                TableName=self._table,
                Item=items.person_item(person, actor=actor),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnConsumedCapacity=CAPACITY,
            )

    def add_once(self, person: Person, *, actor: str, key: IdempotencyKey) -> Created:
        """One TransactWriteItems: the idempotency record and the person, both conditional.

        The record comes first, so the first cancellation reason is the key's. A failed
        condition on it returns the record (ALL_OLD), which holds the original response:
        a replay or a key reuse costs that one request and no read.
        """
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        from chalicelib.adapters.models import IdempotencyModel, PersonModel

        self._bind_models()
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
        item = PersonModel.from_raw_data(items.person_item(person, actor=actor))
        with storage_errors():
            try:
                with TransactWrite(connection=self._connection()) as transaction:
                    transaction.save(record, condition=unused, return_values="ALL_OLD")
                    transaction.save(item, condition=PersonModel.pk.does_not_exist())
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
        if items.text_of(raw, "fingerprint") != key.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request body; use a new key"
            )
        return Created(person=_person_decoder.decode(raw["response"]["S"]), replayed=True)

    def get(self, person_id: str) -> Person | None:
        found = get_item(self._client, self._table, items.person_key(person_id))
        return None if found is None or items.is_deleted(found) else items.person_of(found)

    def _query(
        self,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        limit: int,
        *,
        index: str | None = None,
        start: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One Query page of at most `limit` raw items."""
        params: dict[str, Any] = {}
        if index is not None:
            params["IndexName"] = index
        if start is not None:
            params["ExclusiveStartKey"] = start
        with storage_errors():
            found: list[dict[str, Any]] = self._client.query(
                TableName=self._table,
                KeyConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                Limit=limit,
                ReturnConsumedCapacity=CAPACITY,
                **params,
            )["Items"]
        return found

    def list_by_owner(self, owner: str, *, limit: int, after: str | None) -> Page:
        names = {"#h": "list_owner"}
        condition, values = "#h = :h", {":h": items.text(owner)}
        if after:
            names["#r"] = "id"
            condition, values[":r"] = "#h = :h AND #r > :r", items.text(after)
        found = self._query(condition, names, values, limit + 1, index="by-owner")
        return Page(items=items.people_of(found[:limit]), more=len(found) > limit)

    def list_by_name(self, owner: str, *, prefix: str, limit: int, after: str | None) -> Page:
        """One Query on by-owner-name: begins_with for a prefix, continuing after the cursor's key."""
        names = {"#h": "list_owner"}
        condition, values = "#h = :h", {":h": items.text(owner)}
        if prefix:
            names["#r"] = "name_key"
            condition, values[":r"] = "#h = :h AND begins_with(#r, :r)", items.text(prefix)
        start = None
        if after is not None:
            start = {
                "list_owner": items.text(owner),
                "name_key": items.text(after),
                **items.person_key(id_of_name_key(after)),
            }
        found = self._query(condition, names, values, limit + 1, index="by-owner-name", start=start)
        kept = found[:limit]
        position = kept[-1]["name_key"]["S"] if kept and len(found) > limit else None
        return Page(items=items.people_of(kept), more=len(found) > limit, position=position)

    def list_by_tag(self, owner: str, tag: str, *, limit: int, after: str | None) -> Page:
        names = {"#h": "pk"}
        condition, values = "#h = :h", {":h": items.text(keys.tag_pk(owner, tag))}
        if after:
            names["#r"] = "sk"
            condition, values[":r"] = "#h = :h AND #r > :r", items.text(after)
        found = self._query(condition, names, values, limit + 1)
        people = [_person_decoder.decode(entry["person"]["S"]) for entry in found[:limit]]
        return Page(items=people, more=len(found) > limit)

    def _conditional_update(self, person_id: str, actions: list[Any], guard: Guard) -> Person:
        from chalicelib.adapters.models import PersonModel as m

        condition = m.pk.exists() & m.deleted_at.does_not_exist()
        if guard.owner is not None:
            condition &= m.owner == guard.owner
        precondition = guard.precondition
        if precondition is not None and not precondition.any_version:
            # An If-Match naming no usable version can never match (but 404 still wins).
            versions = precondition.versions
            condition &= m.version.is_in(*versions) if versions else m.version == -1
        key = items.person_key(person_id)
        try:
            raw = conditional_update(self._client, self._table, key, actions, condition)
        except ConditionFailed as failed:
            old = failed.item
            if old is None or items.is_deleted(old) or not guard.admits(items.person_of(old)):
                raise PersonNotFound(f"no person with id {person_id!r}") from None
            raise VersionMismatch(f"person {person_id} is at version {items.version_of(old)}") from None
        return items.person_of(raw)

    @staticmethod
    def _common_actions(actor: str, at: str) -> list[Any]:
        from chalicelib.adapters.models import PersonModel as m

        return [m.updated_at.set(at), m.actor.set(actor), m.version.add(1)]

    def update(
        self, person_id: str, changes: Mapping[str, Any], *, actor: str, at: str, guard: Guard
    ) -> Person:
        from chalicelib.adapters.models import PersonModel as m

        actions = self._common_actions(actor, at)
        for field, value in changes.items():
            attribute = getattr(m, field)
            if value is None:
                actions.append(attribute.remove())
            else:
                actions.append(attribute.set(list(value) if field == "tags" else value))
            if field == "name":  # the name index's key follows the name in the same request
                actions.append(m.name_key.set(name_key(value, person_id)))
        return self._conditional_update(person_id, actions, guard)

    def delete(self, person_id: str, *, actor: str, at: str, guard: Guard) -> Person:
        from chalicelib.adapters.models import PersonModel as m

        actions = [
            *self._common_actions(actor, at),
            m.deleted_at.set(at),
            m.list_owner.remove(),
            m.name_key.remove(),
            # Reads already treat it as gone; TTL purges it once its history has expired too.
            m.expires_at.set(datetime.fromisoformat(at) + self._tombstone),
        ]
        return self._conditional_update(person_id, actions, guard)
