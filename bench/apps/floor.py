"""The floor: a bare Chalice app whose routes each make one raw botocore DynamoDB call.

Anything the real app does beyond this (validation, models, conditions, ETags, problem+json)
is what the benchmarks call overhead. The client is created on first use, as the app's is.
"""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Chalice

app = Chalice(app_name="bench-floor")
TABLE = os.environ.get("TABLE_NAME", "people")
_client: Any = None


def client() -> Any:
    """The one DynamoDB client, created on first use."""
    global _client
    if _client is None:
        import botocore.session

        _client = botocore.session.get_session().create_client(  # type: ignore[no-untyped-call]
            "dynamodb", region_name=os.environ.get("AWS_REGION", "us-east-1")
        )
    return _client


@app.route("/people/{person_id}", methods=["GET"])
def get_person(person_id: str) -> Any:
    key = {"pk": {"S": f"PERSON#{person_id}"}, "sk": {"S": "PERSON"}}
    return client().get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")


@app.route("/people", methods=["GET"])
def list_people() -> Any:
    request = app.current_request
    assert request is not None
    owner = request.context["authorizer"]["claims"]["sub"]
    return client().query(
        TableName=TABLE,
        IndexName="by-owner",
        KeyConditionExpression="list_owner = :o",
        ExpressionAttributeValues={":o": {"S": owner}},
        Limit=51,
    )["Items"]


@app.route("/people", methods=["POST"])
def create_person() -> Any:
    request = app.current_request
    assert request is not None
    body = request.json_body
    item = {"pk": {"S": "PERSON#x"}, "sk": {"S": "PERSON"}, "name": {"S": str(body["name"])}}
    client().put_item(TableName=TABLE, Item=item)
    return body
