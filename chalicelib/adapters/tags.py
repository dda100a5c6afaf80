"""The tag entries on DynamoDB (`TagEntryModel`'s items): one conditional write per entry, by version."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import items, keys
from chalicelib.adapters.dynamo import condition_held, storage_errors
from chalicelib.domain import Person
from chalicelib.ports import TagIndex


class PynamoTagIndex(TagIndex):
    """Tag entries in the people table, written by the stream handler (never on the request path).

    Plain items (`items.tag_entry`) on the process's botocore client: see `items.py`.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def write(self, tag: str, person: Person) -> bool:
        # Only an absent entry or one of an older version is overwritten.
        return self._conditional(
            self._client.put_item,
            Item=items.tag_entry(tag, person),
            ConditionExpression="attribute_not_exists(pk) OR #v < :v",
            ExpressionAttributeValues={":v": items.number(person.version)},
        )

    def remove(self, owner: str, tag: str, person_id: str, *, version: int) -> bool:
        # Gone already, or written by a newer change: nothing to do.
        return self._conditional(
            self._client.delete_item,
            Key={"pk": items.text(keys.tag_pk(owner, tag)), "sk": items.text(person_id)},
            ConditionExpression="attribute_exists(pk) AND #v < :v",
            ExpressionAttributeValues={":v": items.number(version)},
        )

    def _conditional(self, request: Any, **params: Any) -> bool:
        """One conditional write; False when its condition did not hold."""
        with storage_errors():
            return condition_held(
                request, TableName=self._table, ExpressionAttributeNames={"#v": "version"}, **params
            )
