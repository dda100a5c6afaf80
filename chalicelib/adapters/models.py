"""PynamoDB models of the one table (keys in `adapters/keys.py`), keyed for one-request operations.

- person (`PersonModel`): get, create, replace, patch and delete are each one request by primary
  key, for the owner and for admins alike; ownership is a condition on the write, not a lookup
  before it. The GSI `by-owner` (hash `list_owner`, range `id`, projection ALL) lists a user's
  people in creation order (ids are ULIDs). Only live people carry `list_owner`, so the index is
  sparse and deleted people drop out of it in the same write that deletes them.
  Deletion is a soft delete: one UpdateItem marks the item deleted (recording who did it),
  removes it from the index, and sets `expires_at` so DynamoDB's TTL purges it. Every read
  treats a marked item as absent.
- history (`HistoryModel`), in the person's partition: the person's version is bumped by every
  write, so it orders a person's changes exactly as DynamoDB applied them and names each change
  once: the conditional put that records an event cannot add a second entry for a redelivered
  one. Entries expire by TTL, independently of the person. Querying the partition backwards from
  sk = "PERSON" yields the person item first (its owner, even after a soft delete) and then the
  history newest first: one Query per page.
- name search: the GSI `by-owner-name` (hash `list_owner`, range `name_key`, projection ALL)
  lists a user's people in name order and finds a name prefix with begins_with; `name_key` is
  set with the name in the same write, so it costs no extra request.
- tag entries (`TagEntryModel`), one partition per user and tag, kept by the stream handler.
- webhooks (`WebhookModel`, `WebhookCounterModel`, `DeliveryModel`): see `adapters/webhooks.py`.
- idempotency (`IdempotencyModel`), in its own partition per caller and key: a fingerprint of
  the request body and the response it got (the person as created), expiring by TTL after
  24 hours. Written in the same transaction as the person, so neither exists without the other.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import STREAM_NEW_AND_OLD_IMAGE
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.config import Settings


class OwnerIndex(GlobalSecondaryIndex["PersonModel"]):  # type: ignore[no-untyped-call]
    """A user's live people, oldest first."""

    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    list_owner = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class NameIndex(GlobalSecondaryIndex["PersonModel"]):  # type: ignore[no-untyped-call]
    """A user's live people in name order (`search.name_key`): name prefix search and sort=name."""

    class Meta:
        index_name = "by-owner-name"
        projection = AllProjection()

    list_owner = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)


class PersonModel(Model):
    """A person item (live or soft-deleted)."""

    class Meta:
        table_name = "unbound"  # set by bind() from the stage's settings
        billing_mode = "PAY_PER_REQUEST"
        # The stream feeds the change publisher (app.py `publish_changes`).
        stream_view_type = STREAM_NEW_AND_OLD_IMAGE

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    owner = UnicodeAttribute()
    list_owner = UnicodeAttribute(null=True)
    # The folded name and the id (`search.name_key`), written with the name in the same request.
    name_key = UnicodeAttribute(null=True)
    name = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    notes = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute()
    # The sub of whoever made the latest change, so the table's stream carries the actor.
    actor = UnicodeAttribute(null=True)
    deleted_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    by_owner = OwnerIndex()
    by_owner_name = NameIndex()


class HistoryModel(Model):
    """One recorded change event of a person.

    Every attribute but the keys is nullable because the history query also returns the
    person item of the same partition, read through this model for its `owner` only.
    """

    class Meta:
        table_name = "unbound"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    owner = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)
    type = UnicodeAttribute(null=True)
    time = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    changed_fields = ListAttribute(of=UnicodeAttribute, null=True)
    # The person's public fields before and after the change, as JSON text (null when absent).
    before = UnicodeAttribute(null=True)
    after = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class IdempotencyModel(Model):
    """What an Idempotency-Key of a user produced: the request's fingerprint and the response."""

    class Meta:
        table_name = "unbound"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    fingerprint = UnicodeAttribute()
    person_id = UnicodeAttribute()
    # The created person as JSON text: a replay answers from this, with no further read.
    response = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute()


class TagEntryModel(Model):
    """One person under one of their tags (`keys.tag_pk`), written by the stream handler.

    Holds the whole public person, so a tag page is one Query with no follow-up reads, and the
    person's version, the condition that keeps an older change from overwriting a newer one.
    """

    class Meta:
        table_name = "unbound"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    version = NumberAttribute()
    # The person's public fields as JSON text.
    person = UnicodeAttribute()


class ScopeAllIndex(GlobalSecondaryIndex["WebhookModel"]):  # type: ignore[no-untyped-call]
    """The `by-owner` index again, read for admins' scope-all webhook endpoints (see keys.py)."""

    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    list_owner = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class WebhookModel(Model):
    """A webhook endpoint, in its owner's partition: owner-only access is the key itself.

    `secret` and `previous_secret` hold ciphertext (KMS, bound to the endpoint), never the
    plaintext; `events` is null for every change type.
    """

    class Meta:
        table_name = "unbound"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    owner = UnicodeAttribute()
    list_owner = UnicodeAttribute(null=True)  # set only for scope `all`
    url = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    events = ListAttribute(of=UnicodeAttribute, null=True)
    scope = UnicodeAttribute()
    enabled = BooleanAttribute()
    secret = UnicodeAttribute()
    previous_secret = UnicodeAttribute(null=True)
    previous_secret_expires_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    failing_since = UTCDateTimeAttribute(null=True)
    disabled_at = UTCDateTimeAttribute(null=True)
    disabled_reason = UnicodeAttribute(null=True)

    scope_all = ScopeAllIndex()


class WebhookCounterModel(Model):
    """How many endpoints an owner has: changed in the same transaction as each add and delete."""

    class Meta:
        table_name = "unbound"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    endpoints = NumberAttribute(null=True)


class DeliveryModel(Model):
    """One event's delivery to one endpoint, in the endpoint's delivery partition (newest last)."""

    class Meta:
        table_name = "unbound"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    endpoint_id = UnicodeAttribute()
    owner = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    event_time = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    state = UnicodeAttribute()
    attempts = UnicodeAttribute(null=True)  # JSON list of attempts
    attempt_count = NumberAttribute()
    next_attempt_at = UTCDateTimeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    payload = UnicodeAttribute()
    expires_at = TTLAttribute()


MODELS: tuple[type[Model], ...] = (
    PersonModel,
    HistoryModel,
    IdempotencyModel,
    TagEntryModel,
    WebhookModel,
    WebhookCounterModel,
    DeliveryModel,
)


def bind(settings: Settings) -> None:
    """Point every model at the stage's table with bounded SDK timeouts and retries.

    PynamoDB creates a model's connection on first use from these Meta values, and again
    whenever the table name changes.
    """
    for model in MODELS:
        meta = model.Meta
        meta.table_name = settings.table_name
        meta.region = settings.region
        meta.connect_timeout_seconds = settings.ddb_connect_timeout  # type: ignore[assignment]
        meta.read_timeout_seconds = settings.ddb_read_timeout  # type: ignore[assignment]
        meta.max_retry_attempts = settings.ddb_max_attempts
