"""The webhook repository on DynamoDB: endpoints, the per-owner counter and deliveries (keys.py).

- An endpoint lives in its owner's partition, so get, update, rotate and delete are one request
  by a key that includes the caller: another user's endpoint is simply absent (404), with no
  read before the write. Listing is one Query of that partition.
- The limit of endpoints per user is kept atomically: add and delete are one TransactWriteItems
  each, writing the endpoint and the owner's counter item together; the counter's condition
  (`endpoints < limit`) refuses the eleventh even when two requests race. A read-then-write count
  would let both racers in.
- Admins' scope-all endpoints also carry `list_owner`, which puts them in the sparse `by-owner`
  index under one key: the fan-out finds them all with one Query.
- A delivery is keyed by its endpoint and `<event time>#<delivery id>`: created with a
  conditional put (a redelivered event creates nothing twice), read backwards for newest first,
  and every attempt is stored with a condition on the attempt count, so two copies of one queue
  message cannot both record the same attempt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import TRANSACTION_THROTTLED, error_code, storage_errors
from chalicelib.adapters.models import DeliveryModel, WebhookCounterModel, WebhookModel
from chalicelib.errors import ServiceUnavailable, TooManyWebhooks, WebhookNotFound
from chalicelib.ports import (
    AttemptRecord,
    DeliveryPage,
    DeliveryRecord,
    WebhookEndpoint,
    WebhookPage,
    WebhookRepository,
)

if TYPE_CHECKING:
    from pynamodb.connection import Connection

_attempts_encoder = msgspec.json.Encoder()
_attempts_decoder = msgspec.json.Decoder(tuple[AttemptRecord, ...])


def _endpoint(item: WebhookModel) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=item.id,
        owner=item.owner,
        url=item.url,
        description=item.description or "",
        events=tuple(str(e) for e in item.events) if item.events is not None else None,
        scope=item.scope,
        enabled=bool(item.enabled),
        secret=item.secret,
        previous_secret=item.previous_secret,
        previous_secret_expires_at=item.previous_secret_expires_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
        failing_since=item.failing_since,
        disabled_at=item.disabled_at,
        disabled_reason=item.disabled_reason,
    )


def _delivery(item: DeliveryModel) -> DeliveryRecord:
    return DeliveryRecord(
        id=item.id,
        endpoint_id=item.endpoint_id,
        owner=item.owner,
        event_id=item.event_id,
        event_type=item.event_type,
        event_time=item.event_time,
        created_at=item.created_at,
        state=item.state,
        attempts=_attempts_decoder.decode(item.attempts) if item.attempts else (),
        next_attempt_at=item.next_attempt_at,
        failure_reason=item.failure_reason,
        payload=item.payload,
    )


def _transaction_refused(exc: Exception) -> list[Any]:
    """The cancellation reasons of a cancelled transaction; re-raises anything else."""
    if error_code(exc) != "TransactionCanceledException":
        raise exc
    reasons = list(getattr(exc, "cancellation_reasons", None) or [])
    if {r.code for r in reasons if r is not None} & TRANSACTION_THROTTLED:
        raise ServiceUnavailable("the data store is busy; retry shortly") from exc
    return reasons


class PynamoWebhookRepository(WebhookRepository):
    """Webhook endpoints and deliveries in the people table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # -- endpoints ------------------------------------------------------------------------

    def add(self, endpoint: WebhookEndpoint, *, limit: int) -> None:
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        item = WebhookModel(
            keys.owner_pk(endpoint.owner),
            keys.webhook_sk(endpoint.id),
            id=endpoint.id,
            owner=endpoint.owner,
            list_owner=keys.SCOPE_ALL_LISTING if endpoint.scope == "all" else None,
            url=endpoint.url,
            description=endpoint.description or None,
            events=list(endpoint.events) if endpoint.events is not None else None,
            scope=endpoint.scope,
            enabled=endpoint.enabled,
            secret=endpoint.secret,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )
        counter = WebhookCounterModel(keys.owner_pk(endpoint.owner), keys.WEBHOOK_COUNTER_SK)
        c = WebhookCounterModel.endpoints
        with storage_errors():
            try:
                with TransactWrite(connection=self._connection) as transaction:
                    transaction.update(
                        counter, actions=[c.add(1)], condition=c.does_not_exist() | (c < limit)
                    )
                    transaction.save(item, condition=WebhookModel.pk.does_not_exist())
            except TransactWriteError as exc:
                # PynamoDB sends puts before updates: the counter's reason is the second.
                reasons = _transaction_refused(exc)
                if (
                    len(reasons) > 1
                    and reasons[1] is not None
                    and reasons[1].code == "ConditionalCheckFailed"
                ):
                    raise TooManyWebhooks(f"a user may have at most {limit} webhook endpoints") from None
                raise

    def get(self, owner: str, endpoint_id: str) -> WebhookEndpoint | None:
        with storage_errors():
            try:
                item = WebhookModel.get(
                    keys.owner_pk(owner), keys.webhook_sk(endpoint_id), consistent_read=True
                )
            except WebhookModel.DoesNotExist:
                return None
        return _endpoint(item)

    def page(self, owner: str, *, limit: int, after: str | None) -> WebhookPage:
        m = WebhookModel
        start = keys.webhook_sk(after + "\x00") if after is not None else keys.WEBHOOK_PREFIX
        condition = m.sk.between(start, keys.WEBHOOK_PREFIX + "\U0010ffff")
        with storage_errors():
            found = list(
                m.query(
                    keys.owner_pk(owner),
                    range_key_condition=condition,
                    limit=limit + 1,
                    page_size=limit + 1,
                )
            )
        return WebhookPage(items=[_endpoint(i) for i in found[:limit]], more=len(found) > limit)

    def _update(self, owner: str, endpoint_id: str, actions: list[Any]) -> WebhookEndpoint:
        from pynamodb.exceptions import UpdateError

        item = WebhookModel(keys.owner_pk(owner), keys.webhook_sk(endpoint_id))
        with storage_errors():
            try:
                item.update(actions=actions, condition=WebhookModel.pk.exists())
            except UpdateError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                raise WebhookNotFound(f"no webhook with id {endpoint_id!r}") from None
        return _endpoint(item)

    def update(
        self, owner: str, endpoint_id: str, changes: Mapping[str, Any], *, at: datetime
    ) -> WebhookEndpoint:
        m = WebhookModel
        actions: list[Any] = [m.updated_at.set(at)]
        for name, value in changes.items():
            attribute = getattr(m, name)
            if name == "events":
                value = list(value) if value is not None else None
            elif name == "description":
                value = value or None
            actions.append(attribute.remove() if value is None else attribute.set(value))
        if changes.get("enabled") is True:
            # Re-enabling starts the endpoint's health afresh (retry.py).
            actions += [m.failing_since.remove(), m.disabled_at.remove(), m.disabled_reason.remove()]
        return self._update(owner, endpoint_id, actions)

    def rotate(
        self, owner: str, endpoint_id: str, sealed: str, *, previous_expires_at: datetime, at: datetime
    ) -> WebhookEndpoint:
        m = WebhookModel
        # SET previous_secret = secret copies the stored ciphertext within the one UpdateItem.
        actions = [
            m.previous_secret.set(m.secret),
            m.previous_secret_expires_at.set(previous_expires_at),
            m.secret.set(sealed),
            m.updated_at.set(at),
        ]
        return self._update(owner, endpoint_id, actions)

    def delete(self, owner: str, endpoint_id: str) -> None:
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        item = WebhookModel(keys.owner_pk(owner), keys.webhook_sk(endpoint_id))
        counter = WebhookCounterModel(keys.owner_pk(owner), keys.WEBHOOK_COUNTER_SK)
        with storage_errors():
            try:
                with TransactWrite(connection=self._connection) as transaction:
                    transaction.delete(item, condition=WebhookModel.pk.exists())
                    transaction.update(counter, actions=[WebhookCounterModel.endpoints.add(-1)])
            except TransactWriteError as exc:
                reasons = _transaction_refused(exc)
                if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                    raise WebhookNotFound(f"no webhook with id {endpoint_id!r}") from None
                raise

    def owned_by(self, owner: str) -> list[WebhookEndpoint]:
        with storage_errors():
            found = WebhookModel.query(
                keys.owner_pk(owner), range_key_condition=WebhookModel.sk.startswith(keys.WEBHOOK_PREFIX)
            )
            return [_endpoint(item) for item in found]

    def scope_all(self) -> list[WebhookEndpoint]:
        with storage_errors():
            return [_endpoint(item) for item in WebhookModel.scope_all.query(keys.SCOPE_ALL_LISTING)]

    def set_health(
        self,
        owner: str,
        endpoint_id: str,
        *,
        failing_since: datetime | None,
        disabled_at: datetime | None,
        disabled_reason: str | None,
    ) -> None:
        m = WebhookModel
        actions: list[Any] = [
            m.failing_since.remove() if failing_since is None else m.failing_since.set(failing_since),
            m.disabled_reason.remove() if disabled_reason is None else m.disabled_reason.set(disabled_reason),
        ]
        if disabled_at is None:
            actions.append(m.disabled_at.remove())
        else:
            actions += [m.disabled_at.set(disabled_at), m.enabled.set(False)]
        with contextlib.suppress(WebhookNotFound):  # deleted meanwhile: nothing to record
            self._update(owner, endpoint_id, actions)

    # -- deliveries -----------------------------------------------------------------------

    def add_delivery(self, delivery: DeliveryRecord, *, expires_at: datetime) -> bool:
        from pynamodb.exceptions import PutError

        item = DeliveryModel(
            keys.deliveries_pk(delivery.endpoint_id),
            keys.delivery_sk(delivery.key),
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            owner=delivery.owner,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            event_time=delivery.event_time,
            created_at=delivery.created_at,
            state=delivery.state,
            attempts=None,
            attempt_count=len(delivery.attempts),
            next_attempt_at=delivery.next_attempt_at,
            payload=delivery.payload,
            expires_at=expires_at,
        )
        with storage_errors():
            try:
                item.save(condition=DeliveryModel.pk.does_not_exist())
            except PutError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                return False
        return True

    def get_delivery(self, endpoint_id: str, key: str) -> DeliveryRecord | None:
        with storage_errors():
            try:
                item = DeliveryModel.get(
                    keys.deliveries_pk(endpoint_id), keys.delivery_sk(key), consistent_read=True
                )
            except DeliveryModel.DoesNotExist:
                return None
        return _delivery(item)

    def save_delivery(self, delivery: DeliveryRecord, *, attempts_before: int) -> bool:
        from pynamodb.exceptions import UpdateError

        m = DeliveryModel
        made = len(delivery.attempts)
        item = DeliveryModel(keys.deliveries_pk(delivery.endpoint_id), keys.delivery_sk(delivery.key))
        actions: list[Any] = [
            m.state.set(delivery.state),
            m.attempts.set(_attempts_encoder.encode(delivery.attempts).decode()),
            m.attempt_count.set(made),
            m.next_attempt_at.remove()
            if delivery.next_attempt_at is None
            else m.next_attempt_at.set(delivery.next_attempt_at),
            m.failure_reason.remove()
            if delivery.failure_reason is None
            else m.failure_reason.set(delivery.failure_reason),
        ]
        # The attempt count before this one: a second copy of the message finds it moved on.
        condition = m.pk.exists() & (m.attempt_count == attempts_before) & (m.state == "pending")
        with storage_errors():
            try:
                item.update(actions=actions, condition=condition)
            except UpdateError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                return False
        return True

    def deliveries(self, endpoint_id: str, *, limit: int, after: str | None) -> DeliveryPage:
        m = DeliveryModel
        end = keys.delivery_sk(after) if after is not None else keys.DELIVERY_PREFIX + "\U0010ffff"
        # `between` is inclusive: the item at `after` was the previous page's last; skip it below.
        condition = m.sk.between(keys.DELIVERY_PREFIX, end)
        wanted = limit + 1 + (after is not None)
        with storage_errors():
            found = [
                item
                for item in m.query(
                    keys.deliveries_pk(endpoint_id),
                    range_key_condition=condition,
                    scan_index_forward=False,
                    limit=wanted,
                    page_size=wanted,
                )
                if after is None or item.sk != keys.delivery_sk(after)
            ]
        return DeliveryPage(items=[_delivery(i) for i in found[:limit]], more=len(found) > limit)
