"""The webhook handlers' plain attribute maps are exactly what WebhookModel and DeliveryModel
write, and every value read from an item is what the models read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters import keys
from chalicelib.adapters import webhook_items as codec
from chalicelib.adapters.models import DeliveryModel, WebhookModel
from chalicelib.ports import AttemptRecord, DeliveryRecord, WebhookEndpoint

texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)
optional = st.none() | texts
offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
# Any instant, in any fixed offset or naive (taken as UTC), years before 1000 included (padded).
times = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.none() | st.just(UTC) | offsets,
)
aware_times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC) | offsets
)

endpoints = st.builds(
    WebhookEndpoint,
    id=texts,
    owner=texts,
    url=texts,
    description=st.just("") | texts,
    events=st.none() | st.lists(texts, max_size=4).map(tuple),
    scope=st.sampled_from(["own", "all"]),
    enabled=st.booleans(),
    secret=texts,
    previous_secret=optional,
    previous_secret_expires_at=st.none() | times,
    created_at=times,
    updated_at=times,
    failing_since=st.none() | times,
    disabled_at=st.none() | times,
    disabled_reason=optional,
)
attempts = st.builds(
    AttemptRecord,
    at=aware_times,
    status=st.none() | st.integers(min_value=100, max_value=599),
    error=optional,
    duration_ms=st.integers(min_value=0, max_value=10**6),
)
deliveries = st.builds(
    DeliveryRecord,
    id=texts,
    endpoint_id=texts,
    owner=texts,
    event_id=texts,
    event_type=texts,
    event_time=texts,
    created_at=times,
    state=st.sampled_from(["pending", "succeeded", "failed"]),
    attempts=st.lists(attempts, max_size=3).map(tuple),
    next_attempt_at=st.none() | times,
    failure_reason=optional,
    payload=st.just("") | texts,
)

_ENDPOINT_OPTIONAL = (
    "list_owner",
    "description",
    "events",
    "previous_secret",
    "previous_secret_expires_at",
    "failing_since",
    "disabled_at",
    "disabled_reason",
)
_DELIVERY_OPTIONAL = ("attempts", "next_attempt_at", "failure_reason")


def endpoint_model(endpoint: WebhookEndpoint) -> WebhookModel:
    """The endpoint item as WebhookModel builds it."""
    values: dict[str, Any] = msgspec.structs.asdict(endpoint)
    values["description"] = endpoint.description or None
    values["events"] = list(endpoint.events) if endpoint.events is not None else None
    return WebhookModel(
        keys.owner_pk(endpoint.owner),
        keys.webhook_sk(endpoint.id),
        **values,
        list_owner=keys.SCOPE_ALL_LISTING if endpoint.scope == "all" else None,
    )


def delivery_model(delivery: DeliveryRecord, expires_at: datetime, *, stored: bool) -> DeliveryModel:
    """The delivery item as DeliveryModel builds it: as the fan-out adds it, or `stored` with its
    attempts and failure reason as an attempt leaves them."""
    return DeliveryModel(
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
        attempts=codec.attempts_text(delivery.attempts) if stored else None,
        attempt_count=len(delivery.attempts),
        next_attempt_at=delivery.next_attempt_at,
        failure_reason=delivery.failure_reason if stored else None,
        payload=delivery.payload,
        expires_at=expires_at,
    )


def with_nulls(raw: dict[str, Any], optional_names: tuple[str, ...], nulls: list[bool]) -> dict[str, Any]:
    """The item with some absent optional attributes stored as NULL instead (both read as None)."""
    raw = dict(raw)
    for name, null in zip(optional_names, nulls, strict=False):
        if null and name not in raw:
            raw[name] = {"NULL": True}
    return raw


def model_endpoint(item: WebhookModel) -> WebhookEndpoint:
    """The endpoint of an endpoint item, read through the PynamoDB model."""
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


def model_delivery(item: DeliveryModel) -> DeliveryRecord:
    """The delivery of a delivery item, read through the PynamoDB model."""
    return DeliveryRecord(
        id=item.id,
        endpoint_id=item.endpoint_id,
        owner=item.owner,
        event_id=item.event_id,
        event_type=item.event_type,
        event_time=item.event_time,
        created_at=item.created_at,
        state=item.state,
        attempts=msgspec.json.decode(item.attempts, type=tuple[AttemptRecord, ...]) if item.attempts else (),
        next_attempt_at=item.next_attempt_at,
        failure_reason=item.failure_reason,
        payload=item.payload,
    )


@given(endpoints)
def test_an_endpoint_item_is_what_the_model_writes(endpoint: WebhookEndpoint) -> None:
    assert codec.endpoint_item(endpoint) == endpoint_model(endpoint).serialize()


@given(endpoints, st.lists(st.booleans(), min_size=8, max_size=8))
def test_an_endpoint_read_from_an_item_is_what_the_model_reads(
    endpoint: WebhookEndpoint, nulls: list[bool]
) -> None:
    raw = with_nulls(endpoint_model(endpoint).serialize(), _ENDPOINT_OPTIONAL, nulls)
    read = codec.endpoint_of(raw)
    assert read == model_endpoint(WebhookModel.from_raw_data(raw))
    # The same endpoint, with its times in UTC.
    assert read.created_at == endpoint.created_at.replace(tzinfo=endpoint.created_at.tzinfo or UTC)


@given(deliveries, aware_times)
def test_a_delivery_item_is_what_the_model_writes(delivery: DeliveryRecord, expires_at: datetime) -> None:
    model = delivery_model(delivery, expires_at, stored=False)
    assert codec.delivery_item(delivery, expires_at=expires_at) == model.serialize()


@given(deliveries, aware_times, st.lists(st.booleans(), min_size=3, max_size=3))
def test_a_delivery_read_from_an_item_is_what_the_model_reads(
    delivery: DeliveryRecord, expires_at: datetime, nulls: list[bool]
) -> None:
    raw = with_nulls(delivery_model(delivery, expires_at, stored=True).serialize(), _DELIVERY_OPTIONAL, nulls)
    read = codec.delivery_of(raw)
    assert read == model_delivery(DeliveryModel.from_raw_data(raw))
    assert read.attempts == delivery.attempts and read.failure_reason == delivery.failure_reason


@given(aware_times)
def test_the_expiry_is_the_models_epoch_seconds(expires_at: datetime) -> None:
    raw = DeliveryModel.expires_at.serialize(expires_at)
    assert codec.epoch_seconds(expires_at) == int(raw)
    assert DeliveryModel.expires_at.deserialize(raw) <= expires_at


@pytest.mark.parametrize(
    "text",
    ["2026-01-01T00:00:00.000000+00:00", "2026-01-01 00:00:00.000000+0000", "2026-01-01T00:00:00+0000", "x"],
)
def test_a_time_in_another_form_is_refused_as_the_model_refuses_it(text: str) -> None:
    with pytest.raises(ValueError, match="does not match format"):
        WebhookModel.created_at.deserialize(text)
    with pytest.raises(ValueError, match="does not match format"):
        codec.parse_utc(text)


def test_a_naive_expiry_is_refused_as_the_model_refuses_it() -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        DeliveryModel.expires_at.serialize(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        codec.epoch_seconds(naive)
