"""The people repository: the port the use cases need, and its PynamoDB adapter."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.domain import Person
from chalicelib.errors import (
    IdempotencyKeyReused,
    IdempotentRequestInFlight,
    PersonNotFound,
    ServiceUnavailable,
    VersionMismatch,
)

if TYPE_CHECKING:
    from chalicelib.models import PersonModel


class Guard(msgspec.Struct, frozen=True):
    """Conditions a write must meet: the owner (None = any, for admins) and acceptable versions."""

    owner: str | None
    versions: frozenset[int] | None = None


class IdempotencyKey(msgspec.Struct, frozen=True):
    """An Idempotency-Key as stored: whose it is, its hash, the request's fingerprint, its expiry."""

    owner: str
    key_hash: str
    fingerprint: str
    expires_at: datetime


class Created(msgspec.Struct, frozen=True):
    """The outcome of an idempotent create: the person of the original response, and whether
    this call replayed it rather than creating it."""

    person: Person
    replayed: bool


class Page(msgspec.Struct, frozen=True):
    """One page of a listing; `last` is the key to continue after when `more` is true."""

    items: list[Person]
    more: bool

    @property
    def last(self) -> str | None:
        return self.items[-1].id if self.more and self.items else None


class PeopleRepository(abc.ABC):
    """What the use cases need from storage. Every method is one storage request."""

    @abc.abstractmethod
    def add(self, person: Person, *, actor: str) -> None:
        """Store a new person."""

    @abc.abstractmethod
    def add_once(self, person: Person, *, actor: str, key: IdempotencyKey) -> Created:
        """Store a new person unless `key` was used already; then return the original person.

        Raises IdempotencyKeyReused if the key was used with another fingerprint, and
        IdempotentRequestInFlight if another request holding the key is being written.
        """

    @abc.abstractmethod
    def get(self, person_id: str) -> Person | None:
        """The live person with this id, whoever owns it."""

    @abc.abstractmethod
    def list_by_owner(self, owner: str, *, limit: int, after: str | None) -> Page:
        """Up to `limit` live people of `owner` with ids after `after`, oldest first."""

    @abc.abstractmethod
    def update(
        self, person_id: str, changes: Mapping[str, Any], *, actor: str, at: str, guard: Guard
    ) -> Person:
        """Set (or, for None, clear) fields and bump the version atomically; returns the result.

        Raises PersonNotFound if the person is absent, deleted or fails the owner guard,
        VersionMismatch if only the version guard fails.
        """

    @abc.abstractmethod
    def delete(self, person_id: str, *, actor: str, at: str, guard: Guard) -> Person:
        """Delete the person under the same guard rules as update; returns its last state."""


_PERSON_FIELDS = Person.__struct_fields__

_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# A transaction reports these per item in its CancellationReasons.
_TRANSACTION_THROTTLED = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
_person_json = msgspec.json.Encoder()
_person_decoder = msgspec.json.Decoder(Person)


def error_code(exc: Any) -> str | None:
    """The DynamoDB error code behind a PynamoDB exception, or None for transport errors.

    PynamoDB's own `cause_response_code` raises AttributeError when the cause is a timeout
    (botocore's ReadTimeoutError carries `response = None`), turning a 503 into a 500.
    """
    response = getattr(getattr(exc, "cause", None), "response", None)
    if not isinstance(response, dict):
        return None
    code = (response.get("Error") or {}).get("Code")
    return code if isinstance(code, str) else None


def _old_item(exc: BaseException) -> dict[str, Any] | None:
    """The item DynamoDB returned with a failed condition (ReturnValuesOnConditionCheckFailure)."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and "Item" in response:
            item: dict[str, Any] = response["Item"]
            return item
        seen = seen.__cause__ or getattr(seen, "cause", None)
    return None


def _ask_for_old_item(params: dict[str, Any], **_: Any) -> None:
    # Free on DynamoDB's side, and it lets one failed conditional write tell 404 from 412.
    if "ConditionExpression" in params:
        params.setdefault("ReturnValuesOnConditionCheckFailure", "ALL_OLD")


@contextmanager
def storage_errors() -> Iterator[None]:
    """Throttling and unreachable storage (after the SDK's retries) become ServiceUnavailable."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import ReadTimeoutError
    from pynamodb.exceptions import PynamoDBException

    try:
        yield
    except PynamoDBException as exc:
        if isinstance(exc.cause, (BotoConnectionError, ReadTimeoutError)) or error_code(exc) in _THROTTLED:
            raise ServiceUnavailable("the data store is busy; retry shortly") from exc
        raise


class PynamoPeopleRepository(PeopleRepository):
    """People in DynamoDB through the PynamoDB models."""

    def __init__(self) -> None:
        from chalicelib import models

        self._models = models
        self.model = models.PersonModel

    def _ensure_old_item_hook(self) -> None:
        # PynamoDB may replace its botocore client (rebinding, expired credentials), so the
        # hook is (re)attached to whichever client is current; unique_id makes it idempotent.
        events = self.model._get_connection().connection.client.meta.events
        events.register(
            "before-parameter-build.dynamodb.UpdateItem", _ask_for_old_item, unique_id="people-api-old-item"
        )

    def _storage_errors(self) -> AbstractContextManager[None]:
        return storage_errors()

    def _to_person(self, item: PersonModel) -> Person:
        values = {name: getattr(item, name) for name in _PERSON_FIELDS}
        values["tags"] = tuple(str(tag) for tag in item.tags or ())
        values["version"] = int(item.version)
        return Person(**values)

    def _key(self, person_id: str) -> PersonModel:
        return self.model(self._models.person_pk(person_id), self._models.PERSON_SK)

    def _item(self, person: Person, actor: str) -> PersonModel:
        values: dict[str, Any] = msgspec.structs.asdict(person)
        values["tags"] = list(person.tags) or None
        return self.model(
            self._models.person_pk(person.id),
            self._models.PERSON_SK,
            **values,
            list_owner=person.owner,  # puts the person in the by-owner index
            actor=actor,
        )

    def add(self, person: Person, *, actor: str) -> None:
        item = self._item(person, actor)
        with self._storage_errors():
            item.save(condition=self.model.pk.does_not_exist())

    def add_once(self, person: Person, *, actor: str, key: IdempotencyKey) -> Created:
        """One TransactWriteItems: the idempotency record and the person, both conditional.

        The record comes first, so the first cancellation reason is the key's. A failed
        condition on it returns the record (ALL_OLD), which holds the original response:
        a replay or a key reuse costs that one request and no read.
        """
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        models = self._models
        record_model = models.IdempotencyModel
        record = record_model(
            models.idempotency_pk(key.owner, key.key_hash),
            models.IDEMPOTENCY_SK,
            fingerprint=key.fingerprint,
            person_id=person.id,
            response=_person_json.encode(person).decode(),
            created_at=person.created_at,
            expires_at=key.expires_at,
        )
        # TTL deletes lazily: a record past its expiry may still exist, and no longer counts.
        unused = record_model.pk.does_not_exist() | (
            record_model.expires_at < datetime.fromisoformat(person.created_at)
        )
        connection = self.model._get_connection().connection
        with self._storage_errors():
            try:
                with TransactWrite(connection=connection) as transaction:
                    transaction.save(record, condition=unused, return_values="ALL_OLD")
                    transaction.save(self._item(person, actor), condition=self.model.pk.does_not_exist())
            except TransactWriteError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = exc.cancellation_reasons
                codes = {reason.code for reason in reasons if reason is not None}
                if codes & _TRANSACTION_THROTTLED:
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
        old = self._models.IdempotencyModel.from_raw_data(raw)
        if old.fingerprint != key.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request body; use a new key"
            )
        return Created(person=_person_decoder.decode(old.response), replayed=True)

    def get(self, person_id: str) -> Person | None:
        with self._storage_errors():
            try:
                item = self.model.get(
                    self._models.person_pk(person_id), self._models.PERSON_SK, consistent_read=True
                )
            except self.model.DoesNotExist:
                return None
        return None if item.deleted_at else self._to_person(item)

    def list_by_owner(self, owner: str, *, limit: int, after: str | None) -> Page:
        index = self.model.by_owner
        condition = self.model.id > after if after else None
        with self._storage_errors():
            items = list(index.query(owner, range_key_condition=condition, limit=limit + 1))
        people = [self._to_person(item) for item in items[:limit]]
        return Page(items=people, more=len(items) > limit)

    def _conditional_update(self, person_id: str, actions: list[Any], guard: Guard) -> PersonModel:
        from pynamodb.exceptions import UpdateError

        m = self.model
        condition = m.pk.exists() & m.deleted_at.does_not_exist()
        if guard.owner is not None:
            condition &= m.owner == guard.owner
        if guard.versions is not None:
            # An If-Match naming no usable version can never match (but 404 still wins).
            condition &= m.version.is_in(*guard.versions) if guard.versions else m.version == -1
        item = self._key(person_id)
        self._ensure_old_item_hook()
        with self._storage_errors():
            try:
                item.update(actions=actions, condition=condition)
            except UpdateError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                old = _old_item(exc)
                if (
                    old is None
                    or "deleted_at" in old
                    or (guard.owner is not None and old.get("owner", {}).get("S") != guard.owner)
                ):
                    raise PersonNotFound(f"no person with id {person_id!r}") from None
                version = old.get("version", {}).get("N")
                raise VersionMismatch(f"person {person_id} is at version {version}") from None
        return item

    def _common_actions(self, actor: str, at: str) -> list[Any]:
        m = self.model
        return [m.updated_at.set(at), m.actor.set(actor), m.version.add(1)]

    def update(
        self, person_id: str, changes: Mapping[str, Any], *, actor: str, at: str, guard: Guard
    ) -> Person:
        m = self.model
        actions = self._common_actions(actor, at)
        for field, value in changes.items():
            attribute = getattr(m, field)
            if value is None:
                actions.append(attribute.remove())
            else:
                actions.append(attribute.set(list(value) if field == "tags" else value))
        return self._to_person(self._conditional_update(person_id, actions, guard))

    def delete(self, person_id: str, *, actor: str, at: str, guard: Guard) -> Person:
        m = self.model
        actions = [
            *self._common_actions(actor, at),
            m.deleted_at.set(at),
            m.list_owner.remove(),
            # Eligible for TTL removal at once; reads already treat it as gone.
            m.expires_at.set(datetime.fromisoformat(at)),
        ]
        return self._to_person(self._conditional_update(person_id, actions, guard))
