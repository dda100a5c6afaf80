"""`make backfill-search STAGE=dev`: index the people written before search existed.

People created before search have no `name_key` (so they are missing from the by-owner-name
index) and no tag entries. For each such live person this writes both in one transaction:
`name_key` set on the person item on condition that it is still at the version that was read
(and still live and still without a key), and one entry per folded tag, each on the usual
version condition. The person's version is not bumped, so the stream handler publishes no
change for it (a write that keeps the version is not a change). A person changed meanwhile
cancels its transaction and is read again; a re-run finds only what is still missing.

This is an operator's one-off, not a request path: it Scans the table (with the operator's own
credentials, not the functions' roles).

Usage: python -m infra.backfill_search --stage dev
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, NamedTuple

from infra.deploy import ROOT, Project

ATTEMPTS = 3


class Outcome(NamedTuple):
    indexed: int
    skipped: int  # deleted or indexed meanwhile
    failed: list[str]  # ids still changing after ATTEMPTS tries: run again


def _missing(client: Any, table_name: str) -> Iterator[dict[str, Any]]:
    """Live person items without a name key, as raw DynamoDB items."""
    paginator = client.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table_name,
        FilterExpression=(
            "sk = :person AND attribute_not_exists(deleted_at) AND attribute_not_exists(name_key)"
        ),
        ExpressionAttributeValues={":person": {"S": "PERSON"}},
        ConsistentRead=True,
    )
    for page in pages:
        yield from page.get("Items", [])


def _index_one(connection: Any, raw: dict[str, Any]) -> bool:
    """One transaction for one person; False if the person changed since `raw` was read."""
    import msgspec
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    from chalicelib.adapters import items, keys
    from chalicelib.adapters.models import PersonModel, TagEntryModel
    from chalicelib.search import folded_tags, name_key

    item = PersonModel.from_raw_data(raw)
    person = items.person_of(raw)
    m, t = PersonModel, TagEntryModel
    unchanged = (m.version == person.version) & m.deleted_at.does_not_exist() & m.name_key.does_not_exist()
    encoded = msgspec.json.encode(person).decode()  # as the stream handler writes it
    try:
        with TransactWrite(connection=connection) as transaction:
            transaction.update(
                item, actions=[m.name_key.set(name_key(person.name, person.id))], condition=unchanged
            )
            for tag in sorted(folded_tags(person.tags)):
                entry = t(keys.tag_pk(person.owner, tag), person.id, version=person.version, person=encoded)
                # `<=`: the stream handler may have written this version's entry already (a person
                # changed after the deploy without a rename); rewriting it is harmless.
                transaction.save(entry, condition=t.pk.does_not_exist() | (t.version <= person.version))
    except TransactWriteError as exc:
        if not any(r is not None and r.code == "ConditionalCheckFailed" for r in exc.cancellation_reasons):
            raise
        return False
    return True


def backfill(connection: Any, table_name: str) -> Outcome:
    """Index every live person that lacks a name key (see the module docstring)."""
    client = connection.client
    indexed, skipped, failed = 0, 0, []
    for raw in _missing(client, table_name):
        for _ in range(ATTEMPTS):
            if _index_one(connection, raw):
                indexed += 1
                break
            current = client.get_item(
                TableName=table_name, Key={"pk": raw["pk"], "sk": raw["sk"]}, ConsistentRead=True
            )
            raw = current.get("Item") or {}
            if not raw or "deleted_at" in raw or "name_key" in raw:
                skipped += 1
                break
        else:
            failed.append(raw["id"]["S"])
    return Outcome(indexed, skipped, failed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    config = Project(ROOT).chalice_dir / "config.json"
    stage = json.loads(config.read_text())["stages"].get(args.stage) or {}
    table_name = (stage.get("environment_variables") or {}).get("TABLE_NAME")
    if not table_name:
        print(
            f"stage {args.stage!r} has no TABLE_NAME in .chalice/config.json: run make deploy first",
            file=sys.stderr,
        )
        return 1
    from pynamodb.connection import Connection

    from chalicelib.adapters import models
    from chalicelib.config import load_settings

    settings = load_settings({**os.environ, "TABLE_NAME": table_name, "CURSOR_SECRET": "unused"})
    models.bind(settings)
    outcome = backfill(Connection(region=settings.region), table_name)
    print(f"indexed {outcome.indexed} people; {outcome.skipped} changed meanwhile and need nothing")
    if outcome.failed:
        print(f"still changing, run again: {', '.join(outcome.failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
