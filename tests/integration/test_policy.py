"""The stage policies grant exactly what the code does, on that stage's resources only."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack import ROOT
from infra import deploy

# Operations Lambda performs with the function's role on the code's behalf (not observable
# by running the API): the stream event source mapping reads the stream, and failed events
# go to the failure queues; the stream handler publishes one message per change.
PLATFORM_ACTIONS = {
    "stream": set(deploy.STREAM_ACTIONS),
    "topic": {"sns:Publish"},
    "queues": {"sqs:SendMessage"},
}


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every AWS API call any botocore client makes: (service, operation, params)."""
    from botocore.client import BaseClient

    calls: list[tuple[str, str, dict[str, Any]]] = []
    original = BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append((self.meta.service_model.endpoint_prefix, operation, dict(params)))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    yield calls


PAGED = {"/people", "/people/{person_id}/history"}  # the routes that take `limit`
# Every index the listing reads: creation order, name order (and prefix), the tag entries.
LISTINGS = ("", "&sort=name", "&name=ad", "&tag=policy")


def exercise_every_route(chalice_app: Any, token_for: Callable[..., str]) -> None:
    """Call every route the app registers, as owner and as admin, so every code path runs."""
    from chalice.test import Client

    def headers(token: str, **more: str) -> dict[str, str]:
        return {"Authorization": token, "Content-Type": "application/json", **more}

    with Client(chalice_app, stage_name="local", project_dir=str(ROOT)) as client:
        owner, admin = token_for("policy-owner"), token_for("policy-admin", "admins")
        created = client.http.post(
            "/people", headers=headers(owner), body=json.dumps({"name": "Ada", "tags": ["policy"]})
        )
        assert created.status_code == 201
        person_id = created.json_body["id"]
        client.http.post("/people", headers=headers(owner), body=json.dumps({"name": "Bob"}))
        for _ in range(2):  # the idempotent create, then its replay
            replayable = headers(owner, **{"Idempotency-Key": "policy-key"})
            assert client.http.post("/people", headers=replayable, body=b'{"name": "Di"}').status_code == 201
        bodies = {"PUT": {"name": "Ada L"}, "PATCH": {"notes": "x"}, "POST": {"name": "Cy"}}
        for path, entry in sorted(chalice_app.routes.items()):
            concrete = re.sub(r"\{[^}]+\}", person_id, path)
            for method in sorted(entry, key=lambda m: m == "DELETE"):
                body = bodies.get(method)
                queries = [""]
                if method == "GET" and path in PAGED:
                    queries = [f"?limit=1{q}" for q in (LISTINGS if path == "/people" else ("",))]
                for token in (owner, admin):
                    for query in queries:
                        client.http.request(
                            method,
                            concrete + query,
                            headers=headers(token),
                            body=json.dumps(body).encode() if body else b"",
                        )


# IAM authorises each item of a transaction as the operation it performs (there is no
# TransactWriteItems action): see "Using IAM with DynamoDB transactions" in the DynamoDB guide.
TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def observed_actions(calls: list[tuple[str, str, dict[str, Any]]]) -> dict[str, set[str]]:
    """IAM actions per resource kind: the table itself, or its indexes."""
    kinds: dict[str, set[str]] = {"table": set(), "index": set(), "other": set()}
    for service, operation, params in calls:
        if service == "dynamodb" and operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((kind, _),) = item.items()
                kinds["table"].add(TRANSACTION_ITEM_ACTIONS[kind])
        elif service == "dynamodb":
            kind = "index" if params.get("IndexName") in deploy.INDEXES else "table"
            kinds[kind].add(f"dynamodb:{operation}")
        else:
            kinds["other"].add(f"{service}:{operation}")
    return kinds


def statement_actions(policy: dict[str, Any]) -> dict[str, set[str]]:
    return {s["Sid"]: set(s["Action"]) for s in policy["Statement"]}


def test_api_uses_exactly_the_table_and_index_actions_the_policy_grants(
    chalice_app: Any,
    token_for: Callable[..., str],
    aws_calls: list[tuple[str, str, dict[str, Any]]],
    stack: Any,
) -> None:
    exercise_every_route(chalice_app, token_for)
    observed = observed_actions([c for c in aws_calls if c[0] != "cognito-idp"])
    assert observed["other"] == set()
    # The stream handler shares the role: it writes and removes tag entries (tags changed above).
    from devstack.pump import app_pump

    del aws_calls[:]
    pump = app_pump(stack)
    while pump.pump_stream():  # the whole stream so far, this test's changes included
        pass
    handler = observed_actions([c for c in aws_calls if c[0] == "dynamodb"])
    assert handler["table"] >= {"dynamodb:PutItem", "dynamodb:DeleteItem"}
    for stage in ("dev", "prod"):
        granted = statement_actions(json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text()))
        assert granted["Table"] == observed["table"] | handler["table"]
        assert granted["OwnerIndex"] == observed["index"]
        assert granted["TableStream"] == PLATFORM_ACTIONS["stream"]
        assert granted["ChangesTopic"] == PLATFORM_ACTIONS["topic"]
        assert granted["FailureQueues"] == PLATFORM_ACTIONS["queues"]
        assert granted["Logs"] == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_policy_names_only_the_stages_resources(stage: str) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]
    assert config["autogen_policy"] is False
    assert config["iam_policy_file"] == f"policy-{stage}.json"
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    env = config["environment_variables"]
    by_sid = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    table_arn = env["TABLE_STREAM_ARN"].split("/stream/")[0]
    assert table_arn.endswith(f":table/{env['TABLE_NAME']}")
    assert by_sid["Table"] == [table_arn]
    assert by_sid["OwnerIndex"] == [f"{table_arn}/index/by-owner", f"{table_arn}/index/by-owner-name"]
    assert by_sid["TableStream"] == [env["TABLE_STREAM_ARN"]]
    assert by_sid["ChangesTopic"] == [env["CHANGES_TOPIC_ARN"]]
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for resource in statement["Resource"]:
            assert "*" not in resource.split(":")[:6] or statement["Sid"] == "Logs"
            assert f"people-api-{stage}" in resource or statement["Sid"] == "Logs"
