"""The tag entries on DynamoDB (`TagEntryModel`): one conditional write per entry, ordered by version."""

from __future__ import annotations

import msgspec

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import error_code, storage_errors
from chalicelib.adapters.models import TagEntryModel
from chalicelib.domain import Person
from chalicelib.ports import TagIndex

_person_json = msgspec.json.Encoder()


class PynamoTagIndex(TagIndex):
    """Tag entries in the people table, written by the stream handler (never on the request path)."""

    def write(self, tag: str, person: Person) -> bool:
        from pynamodb.exceptions import PutError

        m = TagEntryModel
        entry = m(
            keys.tag_pk(person.owner, tag),
            person.id,
            version=person.version,
            person=_person_json.encode(person).decode(),
        )
        with storage_errors():
            try:
                entry.save(condition=m.pk.does_not_exist() | (m.version < person.version))
            except PutError as exc:
                if not _condition_failed(exc):
                    raise
                return False  # this change or a newer one is already there
        return True

    def remove(self, owner: str, tag: str, person_id: str, *, version: int) -> bool:
        from pynamodb.exceptions import DeleteError

        m = TagEntryModel
        entry = m(keys.tag_pk(owner, tag), person_id)
        with storage_errors():
            try:
                entry.delete(condition=m.pk.exists() & (m.version < version))
            except DeleteError as exc:
                if not _condition_failed(exc):
                    raise
                return False  # gone already, or written by a newer change
        return True


def _condition_failed(exc: Exception) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"
