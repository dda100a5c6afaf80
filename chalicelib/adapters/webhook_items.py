"""Webhook endpoint and delivery items as plain DynamoDB attribute maps: the webhook handlers' codec.

The same reason as `items.py`: each PynamoDB model class makes its own botocore session and
client on first use (a fresh session loads the service model again), so a cold fan-out or
delivery that touched `WebhookModel` and `DeliveryModel` paid for two of them and for
importing PynamoDB. The handlers' reads and writes use these maps on the one client instead.
`tests/unit/test_webhook_items.py` checks that every map here is exactly what `WebhookModel`
and `DeliveryModel` write, and that every value read here is what they read, for any value.

The attribute forms are PynamoDB's: `UTCDateTimeAttribute` is the text
`%Y-%m-%dT%H:%M:%S.%f+0000` (UTC, zero-padded to 31 characters), `TTLAttribute` whole epoch
seconds, `NumberAttribute` JSON text, `BooleanAttribute` `BOOL`, a list of strings `L` of `S`;
an attribute that is None is left out, and one stored as NULL reads as None.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from chalicelib.adapters import keys
from chalicelib.adapters.items import Item, RawItem, number, text, text_of
from chalicelib.ports import AttemptRecord, DeliveryRecord, WebhookEndpoint

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND: Final = timedelta(seconds=1)
_attempts_encoder = msgspec.json.Encoder()
_attempts_decoder = msgspec.json.Decoder(tuple[AttemptRecord, ...])


# --- attribute values ------------------------------------------------------------------------


def utc_text(value: datetime) -> str:
    """A datetime as UTCDateTimeAttribute stores it (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # strftime does not pad years before 1000 on every platform: PynamoDB pads the whole text.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000").zfill(31)


def parse_utc(value: str) -> datetime:
    """The datetime of a UTCDateTimeAttribute text, parsed exactly as PynamoDB parses it."""
    s = value.zfill(31)
    if (
        len(s) != 31
        or s[4] != "-"
        or s[7] != "-"
        or s[10] != "T"
        or s[13] != ":"
        or s[16] != ":"
        or s[19] != "."
        or s[26:31] != "+0000"
    ):
        raise ValueError(f"Datetime string {value!r} does not match format '%Y-%m-%dT%H:%M:%S.%f+0000'")
    return datetime(
        int(s[0:4]),
        int(s[5:7]),
        int(s[8:10]),
        int(s[11:13]),
        int(s[14:16]),
        int(s[17:19]),
        int(s[20:26]),
        UTC,
    )


def epoch_seconds(value: datetime) -> int:
    """A timezone-aware datetime as TTLAttribute stores it: whole seconds since the epoch."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return (value - _EPOCH) // _SECOND


def _present(raw: RawItem, name: str) -> Any:
    """The attribute value map of `name`, or None when absent or NULL (as PynamoDB reads)."""
    value = raw.get(name)
    return None if not value or "NULL" in value else value


def _time(raw: RawItem, name: str) -> datetime | None:
    value = _present(raw, name)
    return None if value is None else parse_utc(value["S"])


def _put_text(item: Item, name: str, value: str | None) -> None:
    if value is not None:
        item[name] = text(value)


def _put_time(item: Item, name: str, value: datetime | None) -> None:
    if value is not None:
        item[name] = text(utc_text(value))


# --- endpoints -------------------------------------------------------------------------------


def endpoint_key(owner: str, endpoint_id: str) -> Item:
    return {"pk": text(keys.owner_pk(owner)), "sk": text(keys.webhook_sk(endpoint_id))}


def endpoint_item(endpoint: WebhookEndpoint) -> Item:
    """The endpoint item an add writes: scope-all endpoints are also listed in `by-owner`."""
    item: Item = {
        **endpoint_key(endpoint.owner, endpoint.id),
        "id": text(endpoint.id),
        "owner": text(endpoint.owner),
    }
    if endpoint.scope == "all":
        item["list_owner"] = text(keys.SCOPE_ALL_LISTING)
    item["url"] = text(endpoint.url)
    _put_text(item, "description", endpoint.description or None)
    if endpoint.events is not None:
        item["events"] = {"L": [text(event) for event in endpoint.events]}
    item["scope"] = text(endpoint.scope)
    item["enabled"] = {"BOOL": bool(endpoint.enabled)}
    item["secret"] = text(endpoint.secret)
    _put_text(item, "previous_secret", endpoint.previous_secret)
    _put_time(item, "previous_secret_expires_at", endpoint.previous_secret_expires_at)
    item["created_at"] = text(utc_text(endpoint.created_at))
    item["updated_at"] = text(utc_text(endpoint.updated_at))
    _put_time(item, "failing_since", endpoint.failing_since)
    _put_time(item, "disabled_at", endpoint.disabled_at)
    _put_text(item, "disabled_reason", endpoint.disabled_reason)
    return item


def endpoint_of(raw: RawItem) -> WebhookEndpoint:
    """The endpoint of an endpoint item the table returned (KeyError when it is not one)."""
    events = _present(raw, "events")
    enabled = _present(raw, "enabled")
    return WebhookEndpoint(
        id=raw["id"]["S"],
        owner=raw["owner"]["S"],
        url=raw["url"]["S"],
        description=text_of(raw, "description") or "",
        events=tuple(str(e["S"]) for e in events["L"]) if events is not None else None,
        scope=raw["scope"]["S"],
        enabled=enabled is not None and bool(enabled["BOOL"]),
        secret=raw["secret"]["S"],
        previous_secret=text_of(raw, "previous_secret"),
        previous_secret_expires_at=_time(raw, "previous_secret_expires_at"),
        created_at=parse_utc(raw["created_at"]["S"]),
        updated_at=parse_utc(raw["updated_at"]["S"]),
        failing_since=_time(raw, "failing_since"),
        disabled_at=_time(raw, "disabled_at"),
        disabled_reason=text_of(raw, "disabled_reason"),
    )


# --- deliveries ------------------------------------------------------------------------------


def delivery_key(endpoint_id: str, key: str) -> Item:
    return {"pk": text(keys.deliveries_pk(endpoint_id)), "sk": text(keys.delivery_sk(key))}


def delivery_item(delivery: DeliveryRecord, *, expires_at: datetime) -> Item:
    """The delivery item the fan-out writes: its count of attempts, and no attempts or failure
    reason (each attempt stores them: `save_delivery`)."""
    item: Item = {
        **delivery_key(delivery.endpoint_id, delivery.key),
        "id": text(delivery.id),
        "endpoint_id": text(delivery.endpoint_id),
        "owner": text(delivery.owner),
        "event_id": text(delivery.event_id),
        "event_type": text(delivery.event_type),
        "event_time": text(delivery.event_time),
        "created_at": text(utc_text(delivery.created_at)),
        "state": text(delivery.state),
        "attempt_count": number(len(delivery.attempts)),
    }
    _put_time(item, "next_attempt_at", delivery.next_attempt_at)
    item["payload"] = text(delivery.payload)
    item["expires_at"] = number(epoch_seconds(expires_at))
    return item


def attempts_text(attempts: tuple[AttemptRecord, ...]) -> str:
    """The attempts as the delivery item's `attempts` holds them: JSON text."""
    return _attempts_encoder.encode(attempts).decode()


def delivery_of(raw: RawItem) -> DeliveryRecord:
    """The delivery of a delivery item the table returned (KeyError when it is not one)."""
    attempts = text_of(raw, "attempts")
    return DeliveryRecord(
        id=raw["id"]["S"],
        endpoint_id=raw["endpoint_id"]["S"],
        owner=raw["owner"]["S"],
        event_id=raw["event_id"]["S"],
        event_type=raw["event_type"]["S"],
        event_time=raw["event_time"]["S"],
        created_at=parse_utc(raw["created_at"]["S"]),
        state=raw["state"]["S"],
        attempts=_attempts_decoder.decode(attempts) if attempts else (),
        next_attempt_at=_time(raw, "next_attempt_at"),
        failure_reason=text_of(raw, "failure_reason"),
        payload=raw["payload"]["S"],
    )
