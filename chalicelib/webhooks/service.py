"""Webhook use cases behind the routes: register, list, read, change, delete, rotate, test, deliveries.

Plain functions taking their collaborators (repository, secret box, queue, clock), raising domain
errors only. Secrets are generated here, sealed with the box before they reach storage, and shown
to the caller exactly twice in an endpoint's life: in the answer to its creation and to each
rotation. Only the caller's own endpoints exist for them (the repository keys endpoints by owner).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

import msgspec

from chalicelib import outbound
from chalicelib.domain import canonical_id, format_time, new_id
from chalicelib.errors import FieldError, ValidationFailed, WebhookNotFound
from chalicelib.ports import (
    DeliveryPage,
    DeliveryQueue,
    DeliveryRecord,
    SecretBox,
    WebhookEndpoint,
    WebhookPage,
    WebhookRepository,
)
from chalicelib.services import Caller
from chalicelib.webhooks import fanout, signing

MAX_ENDPOINTS: Final = 10
MAX_DESCRIPTION: Final = 500
ROTATION_OVERLAP: Final = timedelta(hours=24)
# Deliveries are kept (and listed) this long, then DynamoDB's TTL removes them.
DELIVERY_RETENTION: Final = timedelta(days=30)

Clock = Callable[[], datetime]
EventType = Literal["people.person.created", "people.person.updated", "people.person.deleted"]


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- what the API shows -----------------------------------------------------------------------


class WebhookView(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A webhook endpoint as its owner sees it; `secret` only in the answers that create it."""

    id: str
    url: str
    description: str
    events: list[str] | None
    scope: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    failing_since: datetime | None = None
    disabled_reason: str | None = None
    previous_secret_expires_at: datetime | None = None
    secret: str | msgspec.UnsetType = msgspec.UNSET


class AttemptView(msgspec.Struct, frozen=True):
    """One attempt: when, the HTTP status or the error, how long it took."""

    at: datetime
    status: int | None
    error: str | None
    duration_ms: int


class DeliveryView(msgspec.Struct, frozen=True, kw_only=True):
    """One event's delivery to the endpoint."""

    id: str
    event_id: str
    event_type: str
    state: str
    attempts: list[AttemptView]
    next_attempt_at: datetime | None
    failure_reason: str | None
    created_at: datetime


class SentTest(msgspec.Struct, frozen=True):
    """The answer to `POST /webhooks/{id}/test`."""

    delivery_id: str


def view(endpoint: WebhookEndpoint, secret: str | None = None, *, now: datetime | None = None) -> WebhookView:
    """What the owner sees; `previous_secret_expires_at` only while the old secret still signs."""
    expires = endpoint.previous_secret_expires_at
    moment = now or utc_now()
    live_previous = endpoint.previous_secret is not None and expires is not None and moment < expires
    return WebhookView(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        events=sorted(endpoint.events) if endpoint.events is not None else None,
        scope=endpoint.scope,
        enabled=endpoint.enabled,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        failing_since=endpoint.failing_since,
        disabled_reason=endpoint.disabled_reason,
        previous_secret_expires_at=expires if live_previous else None,
        secret=secret if secret is not None else msgspec.UNSET,
    )


def delivery_view(delivery: DeliveryRecord) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        state=delivery.state,
        attempts=[AttemptView(a.at, a.status, a.error, a.duration_ms) for a in delivery.attempts],
        next_attempt_at=delivery.next_attempt_at,
        failure_reason=delivery.failure_reason,
        created_at=delivery.created_at,
    )


class WebhookInput(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The body of `POST /webhooks` (its schema in the API document; `_validate` checks it)."""

    url: Annotated[
        str, msgspec.Meta(max_length=2000, description="https:// (the local stage: also loopback)")
    ]
    events: list[EventType] | None = None
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""
    scope: Literal["own", "all"] = "own"


class WebhookPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The body of `PATCH /webhooks/{id}`: any of these fields (`events: null` means every type)."""

    url: Annotated[str, msgspec.Meta(max_length=2000)] | msgspec.UnsetType = msgspec.UNSET
    events: list[EventType] | msgspec.UnsetType | None = msgspec.UNSET
    description: Annotated[str, msgspec.Meta(max_length=500)] | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


# --- validation -------------------------------------------------------------------------------

_CREATE_FIELDS: Final = ("url", "events", "description", "scope")
_PATCH_FIELDS: Final = ("url", "events", "description", "enabled")


def _validate(
    body: Mapping[str, Any], allowed: tuple[str, ...], caller: Caller, policy: outbound.Policy
) -> dict[str, Any]:
    """The body's fields, checked; ValidationFailed listing every bad field."""
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    for name in body:
        if name not in allowed:
            errors.append(FieldError(name, f"unknown field; allowed: {', '.join(allowed)}"))
    if "url" in body:
        url = body["url"]
        if not isinstance(url, str):
            errors.append(FieldError("url", "must be a string"))
        elif len(url) > outbound.MAX_URL_LENGTH:
            errors.append(FieldError("url", f"at most {outbound.MAX_URL_LENGTH} characters"))
        elif (problem := outbound.validate_url(url, policy)) is not None:
            errors.append(FieldError("url", problem))
        else:
            changes["url"] = url
    if "events" in body:
        events = body["events"]
        if events is not None and not (isinstance(events, list) and all(isinstance(e, str) for e in events)):
            errors.append(FieldError("events", "must be a list of event types, or null for every type"))
        else:
            try:
                parsed = fanout.parse_events(events)
            except ValueError as exc:
                errors.append(FieldError("events", str(exc)))
            else:
                changes["events"] = tuple(sorted(parsed)) if parsed is not None else None
    if "description" in body:
        description = body["description"]
        if description is not None and not isinstance(description, str):
            errors.append(FieldError("description", "must be a string"))
        elif description is not None and len(description) > MAX_DESCRIPTION:
            errors.append(FieldError("description", f"at most {MAX_DESCRIPTION} characters"))
        else:
            changes["description"] = description or ""
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            errors.append(FieldError("enabled", "must be true or false"))
        else:
            changes["enabled"] = body["enabled"]
    if "scope" in body:
        scope = body["scope"]
        if scope not in ("own", "all"):
            errors.append(FieldError("scope", "must be 'own' or 'all'"))
        elif scope == "all" and not caller.is_admin:
            errors.append(
                FieldError("scope", "only members of the admins group may receive everyone's events")
            )
        else:
            changes["scope"] = scope
    if errors:
        raise ValidationFailed(errors)
    return changes


def webhook_id(raw: str) -> str:
    """The canonical id a path names; WebhookNotFound if it cannot be an id."""
    canonical = canonical_id(raw)
    if canonical is None:
        raise WebhookNotFound(f"no webhook with id {raw[:64]!r}")
    return canonical


def _context(endpoint_id: str, owner: str) -> dict[str, str]:
    """What a sealed secret is bound to: decrypting it for another endpoint fails."""
    return {"webhook": endpoint_id, "owner": owner}


def open_secrets(endpoint: WebhookEndpoint, box: SecretBox, now: datetime) -> list[str]:
    """The plaintext secrets to sign with now: the current one, and the previous one for 24 h."""
    context = _context(endpoint.id, endpoint.owner)
    previous = []
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret is not None and expires is not None and now < expires:
        previous.append((box.open(endpoint.previous_secret, context), expires))
    return signing.live_secrets(box.open(endpoint.secret, context), previous, now)


# --- use cases --------------------------------------------------------------------------------


def create_webhook(
    caller: Caller,
    body: Mapping[str, Any],
    repo: WebhookRepository,
    box: SecretBox,
    policy: outbound.Policy,
    *,
    clock: Clock = utc_now,
) -> WebhookView:
    """Register an endpoint for the caller; the answer carries its secret, never shown again."""
    fields = _validate(body, _CREATE_FIELDS, caller, policy)
    if "url" not in fields:
        raise ValidationFailed([FieldError("url", "required")])
    now = clock()
    endpoint_id = new_id()
    secret = signing.generate_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        owner=caller.sub,
        url=fields["url"],
        description=fields.get("description", ""),
        events=fields.get("events"),
        scope=fields.get("scope", "own"),
        secret=box.seal(secret, _context(endpoint_id, caller.sub)),
        created_at=now,
        updated_at=now,
    )
    repo.add(endpoint, limit=MAX_ENDPOINTS)
    return view(endpoint, secret)


def list_webhooks(caller: Caller, repo: WebhookRepository, *, limit: int, after: str | None) -> WebhookPage:
    """One page of the caller's endpoints, oldest first."""
    return repo.page(caller.sub, limit=limit, after=after)


def get_webhook(caller: Caller, raw_id: str, repo: WebhookRepository) -> WebhookEndpoint:
    """The caller's endpoint; WebhookNotFound for anyone else's."""
    endpoint = repo.get(caller.sub, webhook_id(raw_id))
    if endpoint is None:
        raise WebhookNotFound(f"no webhook with id {raw_id[:64]!r}")
    return endpoint


def update_webhook(
    caller: Caller,
    raw_id: str,
    body: Mapping[str, Any],
    repo: WebhookRepository,
    policy: outbound.Policy,
    *,
    clock: Clock = utc_now,
) -> WebhookEndpoint:
    """Change url, events, description or enabled; enabling again forgets past failures."""
    endpoint_id = webhook_id(raw_id)
    changes = _validate(body, _PATCH_FIELDS, caller, policy)
    if not changes:
        return get_webhook(caller, endpoint_id, repo)
    return repo.update(caller.sub, endpoint_id, changes, at=clock())


def delete_webhook(caller: Caller, raw_id: str, repo: WebhookRepository) -> None:
    """Remove the caller's endpoint; nothing more is delivered to it."""
    repo.delete(caller.sub, webhook_id(raw_id))


def rotate_secret(
    caller: Caller, raw_id: str, repo: WebhookRepository, box: SecretBox, *, clock: Clock = utc_now
) -> WebhookView:
    """A new secret, returned once; deliveries carry both signatures for the next 24 hours."""
    endpoint_id = webhook_id(raw_id)
    now = clock()
    secret = signing.generate_secret()
    sealed = box.seal(secret, _context(endpoint_id, caller.sub))
    endpoint = repo.rotate(
        caller.sub, endpoint_id, sealed, previous_expires_at=now + ROTATION_OVERLAP, at=now
    )
    return view(endpoint, secret, now=now)


def webhook_test_event(endpoint: WebhookEndpoint, source: str, now: datetime) -> tuple[str, str]:
    """A `webhook.test` CloudEvent for this endpoint: its id and its JSON text."""
    event_id = uuid.uuid4().hex
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": fanout.TEST_TYPE,
        "time": format_time(now),
        "subject": endpoint.id,
        "datacontenttype": "application/json",
        "data": {"webhook_id": endpoint.id, "message": "a test event sent with POST /webhooks/{id}/test"},
    }
    return event_id, msgspec.json.encode(event).decode()


def new_delivery(
    endpoint: WebhookEndpoint, event_id: str, event_type: str, event_time: str, payload: str, now: datetime
) -> DeliveryRecord:
    """A pending delivery of one event to one endpoint, under its stable webhook-id."""
    return DeliveryRecord(
        id=fanout.delivery_id(event_id, endpoint.id),
        endpoint_id=endpoint.id,
        owner=endpoint.owner,
        event_id=event_id,
        event_type=event_type,
        event_time=event_time,
        created_at=now,
        next_attempt_at=now,
        payload=payload,
    )


def send_test(
    caller: Caller,
    raw_id: str,
    repo: WebhookRepository,
    queue: DeliveryQueue,
    *,
    source: str,
    clock: Clock = utc_now,
) -> SentTest:
    """Queue a `webhook.test` delivery to the caller's endpoint; its id, to find it in deliveries."""
    from chalicelib.webhooks import pipeline

    endpoint = get_webhook(caller, raw_id, repo)
    now = clock()
    event_id, payload = webhook_test_event(endpoint, source, now)
    delivery = new_delivery(endpoint, event_id, fanout.TEST_TYPE, format_time(now), payload, now)
    repo.add_delivery(delivery, expires_at=now + DELIVERY_RETENTION)
    queue.send(pipeline.message_for(delivery, attempt=1), delay_seconds=0)
    return SentTest(delivery.id)


def list_deliveries(
    caller: Caller, raw_id: str, repo: WebhookRepository, *, limit: int, after: str | None
) -> DeliveryPage:
    """One page of the caller's endpoint's deliveries, newest first."""
    endpoint = get_webhook(caller, raw_id, repo)
    return repo.deliveries(endpoint.id, limit=limit, after=after)
