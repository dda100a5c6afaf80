"""Use cases. Plain functions taking their collaborators; they raise domain errors only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from chalicelib.domain import Person, Precondition, canonical_id, new_id, utc_now, validate_body
from chalicelib.errors import ForbiddenOwner, PersonNotFound, VersionMismatch
from chalicelib.ports import Guard, IdempotencyKey
from chalicelib.search import ALL_PEOPLE, PeopleQuery

if TYPE_CHECKING:
    from chalicelib.ports import Created, HistoryPage, HistoryRepository, Page, PeopleRepository

IDEMPOTENCY_WINDOW = timedelta(hours=24)


class Caller(msgspec.Struct, frozen=True):
    """Who is calling: the Cognito `sub` and whether they are in the `admins` group."""

    sub: str
    is_admin: bool = False


def _guard(caller: Caller, precondition: Precondition | None) -> Guard:
    return Guard(owner=None if caller.is_admin else caller.sub, precondition=precondition)


def person_id(raw: str) -> str:
    """The canonical id a path names; PersonNotFound if it cannot be an id."""
    canonical = canonical_id(raw)
    if canonical is None:
        raise PersonNotFound(f"no person with id {raw[:64]!r}")
    return canonical


def fingerprint(body: Mapping[str, Any]) -> str:
    """A digest of a JSON body that ignores key order and whitespace (but not values)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def create_person(
    caller: Caller,
    body: Mapping[str, Any],
    repo: PeopleRepository,
    *,
    clock: Callable[[], str] = utc_now,
    make_id: Callable[[], str] = new_id,
) -> Person:
    """Validate and store a new person owned by the caller."""
    person = _new_person(caller, body, clock(), make_id())
    repo.add(person, actor=caller.sub)
    return person


def create_person_once(
    caller: Caller,
    body: Mapping[str, Any],
    idempotency_key: str,
    repo: PeopleRepository,
    *,
    clock: Callable[[], str] = utc_now,
    make_id: Callable[[], str] = new_id,
) -> Created:
    """Create a person, unless this caller sent this key within 24 hours: then the original result.

    The same key with a different body is an error (IdempotencyKeyReused), never a new person.
    """
    person = _new_person(caller, body, clock(), make_id())
    key = IdempotencyKey(
        owner=caller.sub,
        key_hash=hashlib.sha256(idempotency_key.encode()).hexdigest(),
        fingerprint=fingerprint(body),
        expires_at=datetime.fromisoformat(person.created_at) + IDEMPOTENCY_WINDOW,
    )
    return repo.add_once(person, actor=caller.sub, key=key)


def _new_person(caller: Caller, body: Mapping[str, Any], now: str, person_id: str) -> Person:
    changes = validate_body(body, "create")
    return Person(
        id=person_id,
        owner=caller.sub,
        name=changes["name"],
        email=changes["email"],
        phone=changes["phone"],
        notes=changes["notes"],
        tags=changes["tags"] or (),
        created_at=now,
        updated_at=now,
        version=1,
    )


def get_person(caller: Caller, raw_id: str, repo: PeopleRepository) -> Person:
    """The person, if it exists and the caller may see it."""
    person = repo.get(person_id(raw_id))
    if person is None or not (caller.is_admin or person.owner == caller.sub):
        raise PersonNotFound(f"no person with id {raw_id!r}")
    return person


def listing_owner(caller: Caller, owner: str | None) -> str:
    """Whose people a listing shows: the caller's by default; only admins may name another owner."""
    target = owner or caller.sub
    if target != caller.sub and not caller.is_admin:
        raise ForbiddenOwner("only members of the admins group may list another user's people")
    return target


def list_people(
    caller: Caller,
    repo: PeopleRepository,
    *,
    owner: str | None,
    limit: int,
    after: str | None,
    query: PeopleQuery = ALL_PEOPLE,
) -> Page:
    """One page of `owner`'s people (from `listing_owner`) that `query` asks for: all of them
    oldest first, in name order (with a name prefix or without), or those with a tag."""
    target = listing_owner(caller, owner)
    if query.kind == "name":
        return repo.list_by_name(target, prefix=query.value, limit=limit, after=after)
    if query.kind == "tag":
        return repo.list_by_tag(target, query.value, limit=limit, after=after)
    return repo.list_by_owner(target, limit=limit, after=after)


def update_person(
    caller: Caller,
    raw_id: str,
    body: Mapping[str, Any],
    repo: PeopleRepository,
    precondition: Precondition | None,
    *,
    mode: Literal["replace", "patch"],
    clock: Callable[[], str] = utc_now,
) -> Person:
    """Replace every client-writable field (`replace`: omitted optional fields are cleared) or apply
    a JSON Merge Patch (`patch`: an empty patch changes nothing), as one conditional update."""
    target = person_id(raw_id)
    changes = validate_body(body, mode)
    guard = _guard(caller, precondition)
    if not changes:  # nothing to write: answer as a read would, precondition included
        person = get_person(caller, target, repo)
        if not guard.matches(person.version):
            raise VersionMismatch(f"person {target} is at version {person.version}")
        return person
    return repo.update(target, changes, actor=caller.sub, at=clock(), guard=guard)


def delete_person(
    caller: Caller,
    raw_id: str,
    repo: PeopleRepository,
    precondition: Precondition | None,
    *,
    clock: Callable[[], str] = utc_now,
) -> Person:
    """Delete the person; returns it as it was just before deletion."""
    return repo.delete(person_id(raw_id), actor=caller.sub, at=clock(), guard=_guard(caller, precondition))


def person_history(
    caller: Caller,
    raw_id: str,
    history: HistoryRepository,
    *,
    limit: int,
    before: int | None,
    owner: str | None = None,
) -> HistoryPage:
    """One page of a person's change history, newest first; owner or admin only, even after deletion.

    The first page reads the owner from the person item (the table's word, never an entry's);
    a later page (`before`) is given the owner the first page found, carried by its signed cursor.
    """
    page = history.page(person_id(raw_id), limit=limit, before=before)
    known = page.owner if before is None else owner
    if known is None or not (caller.is_admin or known == caller.sub):
        raise PersonNotFound(f"no person with id {raw_id!r}")
    return msgspec.structs.replace(page, owner=known)
