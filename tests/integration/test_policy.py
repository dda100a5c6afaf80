"""Each function's policy grants exactly what its code does, on that stage's resources only."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack import ROOT
from infra import deploy


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


def exercise_every_route(chalice_app: Any, token_for: Callable[..., str], hook_url: str = "") -> None:
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
        # Tags that a PATCH changes and a PUT clears: the stream handler adds and removes tag entries.
        bodies = {
            "PUT": {"name": "Ada L"},
            "PATCH": {"notes": "x", "tags": ["b", "c"]},
            "POST": {"name": "Cy"},
        }
        if hook_url:  # a webhook the later changes are delivered to, and one deleted at once
            hook = client.http.post("/webhooks", headers=headers(owner), body=json.dumps({"url": hook_url}))
            assert hook.status_code == 201, hook.body
            spare = client.http.post("/webhooks", headers=headers(owner), body=json.dumps({"url": hook_url}))
            spare_id, hook_id = spare.json_body["id"], hook.json_body["id"]
            assert client.http.delete(f"/webhooks/{spare_id}", headers=headers(owner)).status_code == 200
            for action in ("test", "secret"):
                sent = client.http.post(f"/webhooks/{hook_id}/{action}", headers=headers(owner), body=b"{}")
                assert sent.status_code in (200, 202), sent.body
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
    """IAM actions per resource kind: the table itself, the by-owner index, or another service."""
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


def stage_policies(stage: str) -> dict[str, dict[str, Any]]:
    """Each function's committed policy file, as config.json names it."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]
    files = {handler: spec["iam_policy_file"] for handler, spec in config["lambda_functions"].items()}
    return {handler: json.loads((ROOT / ".chalice" / name).read_text()) for handler, name in files.items()}


def split_calls(
    calls: list[tuple[str, str, dict[str, Any]]], spans: list[tuple[int, int, str]]
) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    out: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for start, end, function in spans:
        out.setdefault(function, []).extend(calls[start:end])
    return out


def run_every_function(
    chalice_app: Any, token_for: Callable[..., str], stack: Any, calls: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, dict[str, set[str]]]:
    """Run the API (every route), then the stream and SNS handlers as the pump invokes them;
    the AWS calls each function's code makes, as IAM actions."""
    import app as app_module
    from devstack.pump import Pump

    spans: list[tuple[int, int, str]] = []

    def traced(function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(event: Any, context: Any) -> Any:
            start = len(calls)
            try:
                return handler(event, context)
            finally:
                spans.append((start, len(calls), function))

        return run

    from tests.receivers import answer, http_receiver

    # The receiver fails, so the deliverer also schedules a retry (its SendMessage).
    with http_receiver(answer(500)) as receiver:
        start = len(calls)
        exercise_every_route(chalice_app, token_for, receiver.url)
        spans.append((start, len(calls), "api_handler"))
        pump = Pump(
            stack,
            traced("publish_changes", app_module.publish_changes),
            traced("record_notification", app_module.record_notification),
            fanout_handler=traced("fan_out_webhooks", app_module.fan_out_webhooks),
            delivery_handler=traced("deliver_webhooks", app_module.deliver_webhooks),
        )
        for _ in range(200):
            pump.pump_stream()
            pump.pump_queue(wait_seconds=0)
            pump.pump_fanout(wait_seconds=0)
            pump.pump_deliveries(wait_seconds=0)
            # Done once a person change (not only the test event) has been fanned out and tried.
            changes = [r for r in receiver.received if b'"people.person.' in r.body]
            if set(deploy.HANDLERS) <= {f for _, _, f in spans} and changes:
                break
    by_function = split_calls(calls, spans)
    return {f: observed_actions([c for c in fc if c[0] != "cognito-idp"]) for f, fc in by_function.items()}


# What Lambda does with the function's role on the code's behalf (not observable by running
# the code): the stream event source mapping reads the stream; failed events go to the queues.
PLATFORM = {
    "publish_changes": {"TableStream": set(deploy.STREAM_ACTIONS), "FailureQueue": {"sqs:SendMessage"}},
    "record_notification": {"FailureQueue": {"sqs:SendMessage"}},
    "fan_out_webhooks": {"FailureQueue": {"sqs:SendMessage"}},
    # The SQS event source mapping polls the delivery queue with the deliverer's role.
    "deliver_webhooks": {"DeliveryQueueSource": set(deploy.SQS_SOURCE_ACTIONS)},
    "api_handler": {},
}
# Calls to other services the code makes, and the statement that grants each, per function.
OTHER_STATEMENTS = {
    "api_handler": {
        "ssm:GetParameter": "CursorKey",
        "kms:Encrypt": "SecretsKey",
        "sqs:SendMessage": "DeliveryQueue",
    },
    "publish_changes": {"sns:Publish": "ChangesTopic"},
    "record_notification": {},
    "fan_out_webhooks": {"sqs:SendMessage": "DeliveryQueue"},
    "deliver_webhooks": {"kms:Decrypt": "SecretsKey", "sqs:SendMessage": "DeliveryQueues"},
}
LOGS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


def test_each_function_is_granted_exactly_the_actions_its_code_uses(
    chalice_app: Any,
    token_for: Callable[..., str],
    stack: Any,
    aws_calls: list[tuple[str, str, dict[str, Any]]],
) -> None:
    observed = run_every_function(chalice_app, token_for, stack, aws_calls)
    assert set(observed) == set(deploy.HANDLERS)
    for stage in ("dev", "prod"):
        policies = stage_policies(stage)
        assert set(policies) == set(deploy.HANDLERS)
        for function, seen in observed.items():
            granted = statement_actions(policies[function])
            expected: dict[str, set[str]] = {"Logs": LOGS, **PLATFORM[function]}
            if seen["table"]:
                expected["Table"] = seen["table"]
            if seen["index"]:
                expected["OwnerIndex"] = seen["index"]
            others = seen["other"]
            statements = OTHER_STATEMENTS[function]
            assert others <= set(statements), (function, others)
            for action in others:
                expected.setdefault(statements[action], set()).add(action)
            # The cursor key is read from SSM on first use (the local stage has its own key).
            if function == "api_handler":
                expected["CursorKey"] = {"ssm:GetParameter"}
            assert granted == expected, (stage, function)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_policies_name_only_the_stages_resources(stage: str) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]
    assert config["autogen_policy"] is False
    assert "iam_policy_file" not in config  # each function names its own
    env = config["environment_variables"]
    table_arn = env["TABLE_STREAM_ARN"].split("/stream/")[0]
    assert table_arn.endswith(f":table/{env['TABLE_NAME']}")
    policies = stage_policies(stage)
    by_sid = {f: {s["Sid"]: s["Resource"] for s in p["Statement"]} for f, p in policies.items()}
    assert by_sid["api_handler"]["Table"] == [table_arn]
    assert by_sid["api_handler"]["OwnerIndex"] == [
        f"{table_arn}/index/by-owner",
        f"{table_arn}/index/by-owner-name",
    ]
    assert by_sid["publish_changes"]["Table"] == [table_arn]  # tag entries only
    assert by_sid["api_handler"]["CursorKey"] == [
        f"arn:aws:ssm:us-east-1:000000000000:parameter/people-api/{stage}/cursor-secret"
    ]
    assert by_sid["publish_changes"]["TableStream"] == [env["TABLE_STREAM_ARN"]]
    assert by_sid["publish_changes"]["ChangesTopic"] == [env["CHANGES_TOPIC_ARN"]]
    assert by_sid["publish_changes"]["FailureQueue"][0].endswith(f":people-api-{stage}-stream-failures")
    assert by_sid["record_notification"]["Table"] == [table_arn]
    assert by_sid["record_notification"]["FailureQueue"][0].endswith(f":people-api-{stage}-subscriber-dlq")
    for function, policy in policies.items():
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            for resource in statement["Resource"]:
                assert "*" not in resource.split(":")[:6], (function, resource)
                # A KMS key's ARN holds no name: it must be the stage's own key (from its stack).
                stages_own = resource == env["WEBHOOK_SECRETS_KEY"]
                assert f"people-api-{stage}" in resource or f"people-api/{stage}/" in resource or stages_own
        logs = {s["Sid"]: s["Resource"] for s in policy["Statement"]}["Logs"][0]
        assert logs.endswith(f":log-group:/aws/lambda/{deploy.function_name(stage, function)}"), logs


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_committed_policies_and_placeholders_come_from_the_deploy_script(stage: str) -> None:
    """Placeholder ARNs are defined once (deploy.placeholder_outputs); the files follow from it."""
    outputs = deploy.placeholder_outputs(stage)
    assert stage_policies(stage) == deploy.policy_documents(outputs, stage)
    env = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage][
        "environment_variables"
    ]
    assert deploy.stage_env_from(outputs, stage).items() <= env.items()
