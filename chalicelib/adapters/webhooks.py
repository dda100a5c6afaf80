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
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.adapters import keys
from chalicelib.adapters import webhook_items as codec
from chalicelib.adapters.dynamo import (
    CAPACITY,
    TRANSACTION_THROTTLED,
    ConditionFailed,
    condition_held,
    conditional_update,
    error_code,
    get_item,
    storage_errors,
)
from chalicelib.adapters.items import number, text
from chalicelib.errors import ServiceUnavailable, TooManyWebhooks, WebhookNotFound
from chalicelib.ports import (
    DeliveryPage,
    DeliveryRecord,
    WebhookEndpoint,
    WebhookPage,
    WebhookRepository,
)

if TYPE_CHECKING:
    from pynamodb.connection import Connection


def _transaction_refused(exc: Exception) -> list[Any]:
    """The cancellation reasons of a cancelled transaction; re-raises anything else."""
    if error_code(exc) != "TransactionCanceledException":
        raise exc
    reasons = list(getattr(exc, "cancellation_reasons", None) or [])
    if {r.code for r in reasons if r is not None} & TRANSACTION_THROTTLED:
        raise ServiceUnavailable("the data store is busy; retry shortly") from exc
    return reasons


class PynamoWebhookRepository(WebhookRepository):
    """Webhook endpoints and deliveries in the people table.

    Reads, queries and single-item writes are plain items (`webhook_items.py`) on `client`, the
    process's botocore DynamoDB client; updates of an endpoint use the expressions PynamoDB
    builds. The add and delete transactions use the PynamoDB models: `bind_models` points them
    at the stage's table and `connection` returns PynamoDB's low-level `Connection`; both are
    called, and PynamoDB imported, only by the paths that need them.
    """

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        connection: Callable[[], Connection],
        bind_models: Callable[[], None],
    ) -> None:
        self._client = client
        self._table = table
        self._connection = connection
        self._bind_models = bind_models

    def _query(
        self,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        *,
        limit: int | None = None,
        **params: Any,
    ) -> list[Any]:
        """The items a Query finds, page after page: all of them, or the first `limit`."""
        found: list[Any] = []
        while True:
            if limit is not None:
                params["Limit"] = limit - len(found)
            with storage_errors():
                answer = self._client.query(
                    TableName=self._table,
                    KeyConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnConsumedCapacity=CAPACITY,
                    **params,
                )
            found += answer["Items"]
            if "LastEvaluatedKey" not in answer or (limit is not None and len(found) >= limit):
                return found
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # -- endpoints ------------------------------------------------------------------------

    def add(self, endpoint: WebhookEndpoint, *, limit: int) -> None:
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        from chalicelib.adapters.models import WebhookCounterModel, WebhookModel

        self._bind_models()
        # A new endpoint has no health or previous secret yet, whatever `endpoint` carries.
        fresh = msgspec.structs.replace(
            endpoint,
            previous_secret=None,
            previous_secret_expires_at=None,
            failing_since=None,
            disabled_at=None,
            disabled_reason=None,
        )
        item = WebhookModel.from_raw_data(codec.endpoint_item(fresh))
        counter = WebhookCounterModel(keys.owner_pk(endpoint.owner), keys.WEBHOOK_COUNTER_SK)
        c = WebhookCounterModel.endpoints
        with storage_errors():
            try:
                with TransactWrite(connection=self._connection()) as transaction:
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
        found = get_item(self._client, self._table, codec.endpoint_key(owner, endpoint_id))
        return None if found is None else codec.endpoint_of(found)

    def page(self, owner: str, *, limit: int, after: str | None) -> WebhookPage:
        start = keys.webhook_sk(after + "\x00") if after is not None else keys.WEBHOOK_PREFIX
        found = self._query(
            "#pk = :pk AND #sk BETWEEN :start AND :end",
            {"#pk": "pk", "#sk": "sk"},
            {
                ":pk": text(keys.owner_pk(owner)),
                ":start": text(start),
                ":end": text(keys.WEBHOOK_PREFIX + "\U0010ffff"),
            },
            limit=limit + 1,
        )
        return WebhookPage(items=[codec.endpoint_of(i) for i in found[:limit]], more=len(found) > limit)

    def _update(self, owner: str, endpoint_id: str, actions: list[Any]) -> WebhookEndpoint:
        """One UpdateItem of PynamoDB `actions` on an endpoint that exists; the endpoint after it."""
        from chalicelib.adapters.models import WebhookModel

        key = codec.endpoint_key(owner, endpoint_id)
        try:
            raw = conditional_update(self._client, self._table, key, actions, WebhookModel.pk.exists())
        except ConditionFailed:
            raise WebhookNotFound(f"no webhook with id {endpoint_id!r}") from None
        return codec.endpoint_of(raw)

    def update(
        self, owner: str, endpoint_id: str, changes: Mapping[str, Any], *, at: datetime
    ) -> WebhookEndpoint:
        from chalicelib.adapters.models import WebhookModel as m

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
        from chalicelib.adapters.models import WebhookModel as m

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

        from chalicelib.adapters.models import WebhookCounterModel, WebhookModel

        self._bind_models()
        item = WebhookModel(keys.owner_pk(owner), keys.webhook_sk(endpoint_id))
        counter = WebhookCounterModel(keys.owner_pk(owner), keys.WEBHOOK_COUNTER_SK)
        with storage_errors():
            try:
                with TransactWrite(connection=self._connection()) as transaction:
                    transaction.delete(item, condition=WebhookModel.pk.exists())
                    transaction.update(counter, actions=[WebhookCounterModel.endpoints.add(-1)])
            except TransactWriteError as exc:
                reasons = _transaction_refused(exc)
                if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                    raise WebhookNotFound(f"no webhook with id {endpoint_id!r}") from None
                raise

    def owned_by(self, owner: str) -> list[WebhookEndpoint]:
        found = self._query(
            "#pk = :pk AND begins_with(#sk, :sk)",
            {"#pk": "pk", "#sk": "sk"},
            {":pk": text(keys.owner_pk(owner)), ":sk": text(keys.WEBHOOK_PREFIX)},
        )
        return [codec.endpoint_of(item) for item in found]

    def scope_all(self) -> list[WebhookEndpoint]:
        found = self._query(
            "#h = :h",
            {"#h": "list_owner"},
            {":h": text(keys.SCOPE_ALL_LISTING)},
            IndexName="by-owner",
        )
        return [codec.endpoint_of(item) for item in found]

    def set_health(
        self,
        owner: str,
        endpoint_id: str,
        *,
        failing_since: datetime | None,
        disabled_at: datetime | None,
        disabled_reason: str | None,
    ) -> None:
        from chalicelib.adapters.models import WebhookModel as m

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
        with storage_errors():
            return condition_held(
                self._client.put_item,
                TableName=self._table,
                Item=codec.delivery_item(delivery, expires_at=expires_at),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": "pk"},
            )

    def get_delivery(self, endpoint_id: str, key: str) -> DeliveryRecord | None:
        found = get_item(self._client, self._table, codec.delivery_key(endpoint_id, key))
        return None if found is None else codec.delivery_of(found)

    def save_delivery(self, delivery: DeliveryRecord, *, attempts_before: int) -> bool:
        names = {
            "#pk": "pk",
            "#state": "state",
            "#attempts": "attempts",
            "#count": "attempt_count",
            "#next": "next_attempt_at",
            "#reason": "failure_reason",
        }
        values: dict[str, Any] = {
            ":state": text(delivery.state),
            ":attempts": text(codec.attempts_text(delivery.attempts)),
            ":count": number(len(delivery.attempts)),
            # The attempt count before this one: a second copy of the message finds it moved on.
            ":before": number(attempts_before),
            ":pending": text("pending"),
        }
        sets = ["#state = :state", "#attempts = :attempts", "#count = :count"]
        removes = []
        if delivery.next_attempt_at is None:
            removes.append("#next")
        else:
            sets.append("#next = :next")
            values[":next"] = text(codec.utc_text(delivery.next_attempt_at))
        if delivery.failure_reason is None:
            removes.append("#reason")
        else:
            sets.append("#reason = :reason")
            values[":reason"] = text(delivery.failure_reason)
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        with storage_errors():
            return condition_held(
                self._client.update_item,
                TableName=self._table,
                Key=codec.delivery_key(delivery.endpoint_id, delivery.key),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(#pk) AND #count = :before AND #state = :pending",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def deliveries(self, endpoint_id: str, *, limit: int, after: str | None) -> DeliveryPage:
        end = keys.delivery_sk(after) if after is not None else keys.DELIVERY_PREFIX + "\U0010ffff"
        # BETWEEN is inclusive: the item at `after` was the previous page's last; skip it below.
        found = [
            item
            for item in self._query(
                "#pk = :pk AND #sk BETWEEN :start AND :end",
                {"#pk": "pk", "#sk": "sk"},
                {
                    ":pk": text(keys.deliveries_pk(endpoint_id)),
                    ":start": text(keys.DELIVERY_PREFIX),
                    ":end": text(end),
                },
                limit=limit + 1 + (after is not None),
                ScanIndexForward=False,
            )
            if after is None or item["sk"]["S"] != keys.delivery_sk(after)
        ]
        return DeliveryPage(items=[codec.delivery_of(i) for i in found[:limit]], more=len(found) > limit)
