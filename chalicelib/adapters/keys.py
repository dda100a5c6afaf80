"""The table's key schema, defined once: the models, the repositories and the stream reader use it.

One table, `pk` (hash) + `sk` (range):
- person:      pk = "PERSON#<id>",                         sk = "PERSON"
- history:     pk = "PERSON#<id>",                         sk = "HISTORY#<version, zero-padded>"
- idempotency: pk = "IDEMPOTENCY#<caller sub>#<sha256 of the key>", sk = "IDEMPOTENCY"
- tag entry:   pk = "TAG#<owner sub>#<folded tag>",        sk = "<person id>"
  (owner subs are Cognito UUIDs, so the first "#" after the prefix ends the owner)

Indexes (sparse: only live people carry `list_owner`):
- by-owner:      list_owner + id        a user's people in creation order
- by-owner-name: list_owner + name_key  in name order, `search.name_key` (folded name, 0x1F, id)
- webhooks:    see below
"""

from __future__ import annotations

from typing import Final

PERSON_PREFIX: Final = "PERSON#"
PERSON_SK: Final = "PERSON"
HISTORY_PREFIX: Final = "HISTORY#"
IDEMPOTENCY_SK: Final = "IDEMPOTENCY"
_VERSION_DIGITS: Final = 10


def person_pk(person_id: str) -> str:
    return f"{PERSON_PREFIX}{person_id}"


def idempotency_pk(owner: str, key_hash: str) -> str:
    return f"IDEMPOTENCY#{owner}#{key_hash}"


TAG_PREFIX: Final = "TAG#"


def tag_pk(owner: str, tag: str) -> str:
    """The partition of one user's entries for one (folded) tag: one Query lists them by id."""
    return f"{TAG_PREFIX}{owner}#{tag}"


def history_sk(version: int) -> str:
    return f"{HISTORY_PREFIX}{version:0{_VERSION_DIGITS}d}"


def version_of(history_sort_key: str) -> int:
    """The version a history entry's sort key names."""
    return int(history_sort_key.removeprefix(HISTORY_PREFIX))


# Webhooks (see adapters/webhooks.py):
# - endpoint:  pk = "OWNER#<owner sub>",          sk = "WEBHOOK#<endpoint id>"
# - counter:   pk = "OWNER#<owner sub>",          sk = "WEBHOOKS" (how many endpoints the owner has)
# - delivery:  pk = "DELIVERIES#<endpoint id>",    sk = "DELIVERY#<event time>#<delivery id>"
# Admins' scope-all endpoints also carry list_owner = SCOPE_ALL_LISTING, so the sparse `by-owner`
# index finds them all with one Query (people's list_owner is a Cognito sub, never this value).
WEBHOOK_PREFIX: Final = "WEBHOOK#"
WEBHOOK_COUNTER_SK: Final = "WEBHOOKS"
DELIVERY_PREFIX: Final = "DELIVERY#"
SCOPE_ALL_LISTING: Final = "WEBHOOKS#SCOPE#ALL"


def owner_pk(owner: str) -> str:
    return f"OWNER#{owner}"


def webhook_sk(endpoint_id: str) -> str:
    return f"{WEBHOOK_PREFIX}{endpoint_id}"


def deliveries_pk(endpoint_id: str) -> str:
    return f"DELIVERIES#{endpoint_id}"


def delivery_sk(delivery_key: str) -> str:
    """`delivery_key` is `<event time>#<delivery id>`: newest first when read backwards."""
    return f"{DELIVERY_PREFIX}{delivery_key}"
